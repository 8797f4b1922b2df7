// A Pothos plugin that checks every argument of every field before its resolver (or subscribe)
// runs, by the argument's GraphQL type: each String and ID — also inside input objects and lists —
// is bounded and free of NUL, and each JSON value is free of NUL (domain/input.ts). New fields and
// arguments are covered without doing anything. Formats (UUIDs, cursors) are checked where they are
// decoded; this catches what would otherwise reach PostgreSQL and fail there.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import {
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLResolveInfo,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { checkJson, checkString, MAX_ID_LENGTH } from "../domain/input";

const JSON_SCALARS = new Set(["JSON", "JSONObject"]);

function checkValue(where: string, type: GraphQLInputType, value: unknown): void {
  if (value === null || value === undefined) return;
  if (isNonNullType(type)) return checkValue(where, type.ofType, value);
  if (isListType(type)) {
    if (Array.isArray(value)) value.forEach((item, i) => checkValue(`${where}[${i}]`, type.ofType, item));
    return;
  }
  if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) {
      checkValue(`${where}.${field.name}`, field.type, (value as Record<string, unknown>)[field.name]);
    }
    return;
  }
  if (!isScalarType(type)) return; // enums are checked by GraphQL itself
  if (type.name === "String" && typeof value === "string") checkString(where, value);
  else if (type.name === "ID" && typeof value === "string") checkString(where, value, MAX_ID_LENGTH);
  else if (JSON_SCALARS.has(type.name)) checkJson(where, value);
}

/** Every argument of the field being resolved, against its declared type. */
export function checkArguments(info: GraphQLResolveInfo, args: Record<string, unknown>): void {
  const field = info.parentType.getFields()[info.fieldName];
  for (const arg of field?.args ?? []) checkValue(arg.name, arg.type, args[arg.name]);
}

export class ArgValidationPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  // Outside the argument mappers (relay's global-id decoding) and the other plugins' wrappers.
  override wrapArgMappers(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> | undefined {
    if (!resolver || Object.keys(fieldConfig.args).length === 0) return resolver;
    return (parent, args, context, info) => {
      checkArguments(info, args as Record<string, unknown>);
      return resolver(parent, args, context, info);
    };
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      argValidation: ArgValidationPlugin<Types>;
    }
  }
}

const pluginName = "argValidation";
SchemaBuilder.registerPlugin(pluginName, ArgValidationPlugin);
export default pluginName;
