// Authorization per operation: before an operation runs, every root field it selects is checked
// against the caller's role, from the same authScopes the schema declares for scope-auth (on the
// root type and on the field). One field beyond the role refuses the whole operation with FORBIDDEN
// for each such field, and nothing runs — scope-auth alone checks each field as it is reached, so
// in a mutation the fields before a forbidden one would already have run. Scope-auth still checks
// every field as it resolves (nested fields, and scopes this cannot evaluate).
import {
  type DocumentNode,
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  Kind,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Principal } from "../auth/principal";
import { forbidden, ROLE_SCOPES, type Scope, SCOPE_ROLES } from "./builder";

type Scopes = Record<string, boolean>;

/**
 * The first scope that `authScopes` (scope-auth's form: a map of scopes, any of which is enough,
 * or `$all`/`$any` groups) requires and `granted` lacks; null when it is satisfied, or undefined
 * when it cannot be judged here (a function: left to scope-auth at resolve time).
 */
function missingScope(authScopes: unknown, granted: Scopes, all = false): Scope | null | undefined {
  if (authScopes === undefined) return null;
  if (typeof authScopes !== "object" || authScopes === null) return undefined;
  let firstMissing: Scope | undefined;
  let entries = 0;
  for (const [key, value] of Object.entries(authScopes)) {
    entries++;
    let missing: Scope | null | undefined;
    if (key === "$all" || key === "$any") missing = missingScope(value, granted, key === "$all");
    else if (value !== true || !(key in SCOPE_ROLES)) return undefined;
    else missing = granted[key] ? null : (key as Scope);
    if (missing === undefined) return undefined;
    if (missing === null && !all) return null;
    if (missing !== null) firstMissing ??= missing;
  }
  if (entries === 0) return null;
  return firstMissing ?? null;
}

/** The root fields an operation selects (through fragments, minus @skip/@include'd ones), by response key. */
function rootFields(
  selectionSet: SelectionSetNode,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  out = new Map<string, string>(),
  seen = new Set<string>(),
): Map<string, string> {
  for (const selection of selectionSet.selections) {
    if (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true) continue;
    if (getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if === false) continue;
    if (selection.kind === Kind.FIELD) {
      out.set(selection.alias?.value ?? selection.name.value, selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      rootFields(selection.selectionSet, document, variables, out, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) rootFields(fragment.selectionSet, document, variables, out, seen);
    }
  }
  return out;
}

/** FORBIDDEN errors for the root fields of the operation the caller may not run (none: it may run). */
export function forbiddenRootFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined,
  principal: Principal,
): GraphQLError[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  const rootType: GraphQLObjectType | null | undefined =
    operation.operation === "query" ? schema.getQueryType() : operation.operation === "mutation" ? schema.getMutationType() : schema.getSubscriptionType();
  if (!rootType) return [];
  // @skip/@include depend on the variables, with their defaults; bad ones are refused by execution.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return [];
  const granted: Scopes = { ...ROLE_SCOPES[principal.role] };
  const typeScopes = (rootType.extensions.pothosOptions as { authScopes?: unknown } | undefined)?.authScopes;
  const errors: GraphQLError[] = [];
  for (const [key, name] of rootFields(operation.selectionSet, document, coerced.coerced)) {
    const field = rootType.getFields()[name];
    if (!field) continue; // __typename, or refused by validation already
    const fieldScopes = (field.extensions.pothosOptions as { authScopes?: unknown } | undefined)?.authScopes;
    const missing = missingScope(typeScopes, granted) ?? missingScope(fieldScopes, granted);
    if (!missing) continue;
    const error = forbidden(rootType.name, name, principal, missing);
    errors.push(new GraphQLError(error.message, { path: [key], extensions: error.extensions }));
  }
  return errors;
}

/** Envelop plugin: refuses an operation before it runs when any of its root fields is beyond the caller's role. */
export function useOperationAuthorization(): Plugin<{ principal: Principal }> {
  const check = ({ args, setResultAndStopExecution }: { args: any; setResultAndStopExecution: (result: any) => void }) => {
    const principal = args.contextValue?.principal as Principal | undefined;
    if (!principal) return;
    const errors = forbiddenRootFields(args.schema, args.document, args.operationName, args.variableValues, principal);
    if (errors.length) setResultAndStopExecution({ data: null, errors });
  };
  return { onExecute: check, onSubscribe: check };
}
