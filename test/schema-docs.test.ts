// The schema documents itself: GraphiQL's docs pane is where users learn the API. The same rules as
// graphql-schema-linter's description rules (types, fields, arguments, enum values, input fields).
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isScalarType, isUnionType } from "graphql";
import { expect, test } from "vitest";
import { ERROR_CODES } from "../src/domain/errors";
import { schema } from "../src/schema";

/** Every schema element without a description, as "Type", "Type.field", "Type.field(arg)" or "Enum.VALUE". */
function undocumented(): string[] {
  const missing: string[] = [];
  const none = (text: string | null | undefined) => !text?.trim();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    if (none(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (none(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (none(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (none(field.description)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (none(value.description)) missing.push(`${type.name}.${value.name}`);
    } else if (!isScalarType(type) && !isUnionType(type)) {
      missing.push(`${(type as { name: string }).name} (unexpected kind)`);
    }
  }
  return missing.sort();
}

test("every type, field, argument, enum value and input field has a description", () => {
  expect(undocumented()).toEqual([]);
});

test("error codes are an enum in the schema, one value per code the API sends", () => {
  const errorCode = schema.getType("ErrorCode");
  expect(errorCode && isEnumType(errorCode)).toBe(true);
  if (!errorCode || !isEnumType(errorCode)) return;
  expect(errorCode.getValues().map((v) => v.name).sort()).toEqual([...ERROR_CODES].sort());
});
