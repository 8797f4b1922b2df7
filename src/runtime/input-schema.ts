// Task inputs checked against a schema: a Standard Schema (zod 4, valibot, arktype, …) where the
// type is defined here, or the JSON Schema the catalogue publishes (ajv) where it is not. Both
// refuse with BAD_USER_INPUT naming each bad field's path ("input.replicas: …") and carrying
// `issues: [{ path, message }]` in the extensions.
import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import { TaskgraphError, badInput } from "../domain/errors";

export interface InputIssue {
  /** Where in the input: "input" itself, "input.replicas", "input.items[2].name". */
  path: string;
  message: string;
}

/** "input" followed by the path's segments. */
export function issuePath(segments: readonly (PropertyKey | { key: PropertyKey })[] | undefined): string {
  let path = "input";
  for (const segment of segments ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") path += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) path += `.${key}`;
    else path += `[${JSON.stringify(String(key))}]`;
  }
  return path;
}

/** BAD_USER_INPUT naming every issue. */
export function invalidInput(what: string, issues: InputIssue[]): TaskgraphError {
  const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  return badInput(`Invalid input for ${what}: ${list}`, { issues });
}

/** Validates with a Standard Schema; returns its output (the value the task gets). */
export async function validateStandard<Output>(schema: StandardSchemaV1<unknown, Output>, value: unknown, what: string): Promise<Output> {
  const result = await schema["~standard"].validate(value);
  if (result.issues) throw invalidInput(what, result.issues.map((i) => ({ path: issuePath(i.path), message: i.message })));
  return result.value;
}

/** The JSON Schema (draft 2020-12) of a Standard Schema's input, when its library publishes one (Standard JSON Schema). */
export function standardJsonSchema(schema: unknown): Record<string, unknown> | null {
  const standard = (schema as Partial<StandardJSONSchemaV1>)?.["~standard"];
  if (!standard || typeof standard.jsonSchema?.input !== "function") return null;
  try {
    return standard.jsonSchema.input({ target: "draft-2020-12" });
  } catch {
    return null; // a schema the library cannot express in JSON Schema (a transform, a refinement, …)
  }
}

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
const compiled = new Map<string, { source: string; validate: ValidateFunction }>();

/** Validates against a JSON Schema from the catalogue; `cacheKey` names the schema (its type). */
export function validateJsonSchema(schema: Record<string, unknown>, value: unknown, what: string, cacheKey: string): void {
  const source = JSON.stringify(schema);
  let entry = compiled.get(cacheKey);
  if (!entry || entry.source !== source) {
    let validate: ValidateFunction;
    try {
      const { $schema: _ignored, ...rest } = schema; // any draft is read as 2020-12
      validate = ajv.compile(rest);
    } catch (error) {
      throw badInput(`The input schema of ${what} in the catalogue cannot be used: ${(error as Error).message}`);
    }
    entry = { source, validate };
    compiled.set(cacheKey, entry);
  }
  if (entry.validate(value)) return;
  throw invalidInput(what, (entry.validate.errors ?? []).map(ajvIssue));
}

function ajvIssue(error: ErrorObject): InputIssue {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s): PropertyKey => (/^\d+$/.test(s) ? Number(s) : s));
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (error.keyword === "required" && params.missingProperty) return { path: issuePath([...segments, params.missingProperty]), message: "is required" };
  if (error.keyword === "additionalProperties" && params.additionalProperty) {
    return { path: issuePath([...segments, params.additionalProperty]), message: "is not allowed" };
  }
  return { path: issuePath(segments), message: error.message ?? "is invalid" };
}
