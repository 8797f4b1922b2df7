// The validator the form generator (rjsf) is given. rjsf's own (@rjsf/validator-ajv8) compiles
// schemas into code with `new Function`, which the console's Content-Security-Policy
// (`script-src 'self'`, no 'unsafe-eval') refuses; @cfworker/json-schema interprets a schema
// instead (drafts 4 to 2020-12). rjsf asks it which branch of a oneOf / anyOf / if-then-else the
// data fits (isValid). The form is submitted unchecked (noValidate): the server checks the input
// against the type's schema and its refusal is shown next to the fields, so validateFormData
// reports nothing.
import { type Schema, Validator } from "@cfworker/json-schema";
import type { RJSFSchema, ValidationData, ValidatorType } from "@rjsf/utils";

/** The schema as a document whose local $refs (#/$defs/…, #/definitions/…) resolve against the root's. */
function withRootDefinitions(schema: RJSFSchema, rootSchema: RJSFSchema | undefined): Schema {
  if (!rootSchema || schema === rootSchema) return schema as Schema;
  return { ...schema, $defs: rootSchema.$defs, definitions: rootSchema.definitions } as Schema;
}

function draftOf(schema: RJSFSchema | undefined): "2020-12" | "2019-09" | "7" | "4" {
  const uri = typeof schema?.$schema === "string" ? schema.$schema : "";
  if (uri.includes("draft-04")) return "4";
  if (uri.includes("draft-07") || uri.includes("draft-06")) return "7";
  if (uri.includes("2019-09")) return "2019-09";
  return "2020-12";
}

export function createSchemaValidator(rootDraftSource?: RJSFSchema): ValidatorType {
  const draft = draftOf(rootDraftSource);
  const run = (schema: RJSFSchema, data: unknown, rootSchema?: RJSFSchema) => {
    try {
      return new Validator(withRootDefinitions(schema, rootSchema), draft, false).validate(data);
    } catch (error) {
      return { valid: false, errors: [{ keyword: "schema", keywordLocation: "#", instanceLocation: "#", error: String(error) }] };
    }
  };
  return {
    isValid: (schema, formData, rootSchema) => run(schema, formData, rootSchema).valid,
    validateFormData: (): ValidationData<unknown> => ({ errors: [], errorSchema: {} }),
    rawValidation: <Result>(schema: RJSFSchema, formData?: unknown) => ({ errors: run(schema, formData).errors as unknown as Result[] }),
  };
}
