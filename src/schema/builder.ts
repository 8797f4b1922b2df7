// The one Pothos builder (Pothos examples: one builder.ts, one schema file per domain).
import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from "graphql-scalars";
import type { Principal } from "../auth/principal";
import type { Config } from "../config";
import { TaskgraphError } from "../domain/errors";
import { isUuid } from "../domain/ids";
import type PrismaTypes from "../generated/pothos-types";
import { getDatamodel } from "../generated/pothos-types";
import type { TaskManager } from "../runtime/manager";
import type { Store } from "../store";
import ArgValidationPlugin from "./arg-validation";

export interface Context {
  store: Store;
  config: Config;
  manager: TaskManager;
  /** Who is asking (auth/principal.ts): authenticated before the request runs. */
  principal: Principal;
}

/**
 * Access roles of API tokens: VIEWER reads and subscribes; TASK_MANAGER also starts and controls tasks;
 * ADMIN also changes TTLs, drains modules and manages tokens. Each role has the scopes below it.
 */
export const ROLE_SCOPES = {
  VIEWER: { viewer: true, taskManager: false, admin: false },
  TASK_MANAGER: { viewer: true, taskManager: true, admin: false },
  ADMIN: { viewer: true, taskManager: true, admin: true },
} as const;
export const SCOPE_ROLES = { viewer: "VIEWER", taskManager: "TASK_MANAGER", admin: "ADMIN" } as const;
export type Scope = keyof typeof SCOPE_ROLES;

/** FORBIDDEN for `Type.field`, naming the role it needs. */
export function forbidden(typeName: string, fieldName: string, principal: Principal, scope: Scope): TaskgraphError {
  const needed = SCOPE_ROLES[scope];
  return new TaskgraphError(
    "FORBIDDEN",
    `${typeName}.${fieldName} needs the ${needed} role${needed === "ADMIN" ? "" : " or above"}; ${principal.name} has ${principal.role}`,
    { requiredRole: needed },
  );
}

/** The first scope named in a scope-auth failure (type-level failures nest their field's). */
function failedScope(failure: unknown): Scope | undefined {
  if (!failure || typeof failure !== "object") return undefined;
  const f = failure as { scope?: string; failures?: unknown[] };
  if (f.scope && f.scope in SCOPE_ROLES) return f.scope as Scope;
  for (const inner of f.failures ?? []) {
    const found = failedScope(inner);
    if (found) return found;
  }
  return undefined;
}

/**
 * The types `node(id)` can return, with the check their key must pass. Global ids are
 * "<Type>:<key>", readable in logs and URLs, except a Task's: its plain UUID (the id in logs, the
 * CLI and URLs). A key is a UUID, a journal position, or a name (module, "module/type", worker).
 */
const NAME_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:#-]{0,199}$/;
const NODE_KEYS: Record<string, (key: string) => boolean> = {
  Task: isUuid,
  Step: isUuid,
  StepAttempt: isUuid,
  LogEntry: isUuid,
  ApiToken: isUuid,
  Schedule: isUuid,
  Progress: isUuid,
  StepProgress: isUuid,
  Flow: isUuid,
  TaskEvent: (key) => /^[1-9][0-9]{0,18}$/.test(key),
  Module: (key) => NAME_KEY.test(key),
  TaskType: (key) => /^[^/]+\/[^/]+$/.test(key) && key.split("/").every((part) => NAME_KEY.test(part)),
  Worker: (key) => NAME_KEY.test(key),
};

/** A "Type:key" id into its parts, or BAD_USER_INPUT naming the id. */
export function decodeNodeId(globalID: string): { typename: string; id: string } {
  if (isUuid(globalID)) return { typename: "Task", id: globalID.toLowerCase() };
  const colon = globalID.indexOf(":");
  const typename = globalID.slice(0, colon);
  const key = globalID.slice(colon + 1);
  const valid = colon > 0 && Object.hasOwn(NODE_KEYS, typename) && NODE_KEYS[typename]!(key);
  if (!valid) {
    throw new GraphQLError(`"${globalID.slice(0, 80)}" is not an id returned by this API`, { extensions: { code: "BAD_USER_INPUT" } });
  }
  return { typename, id: isUuid(key) ? key.toLowerCase() : key };
}

/**
 * Node types whose objects only some roles may see (the type's own authScopes). node(id) checks them
 * by the id's type before loading anything: a caller without the role learns nothing, not even
 * whether such an object exists (selecting only __typename would otherwise reveal it).
 */
const NODE_SCOPES: Partial<Record<string, Scope>> = { ApiToken: "admin" };

function nodeAccessError(typename: string, ctx: Context, field: "node" | "nodes"): TaskgraphError | null {
  const scope = NODE_SCOPES[typename];
  return scope && !ROLE_SCOPES[ctx.principal.role][scope] ? forbidden("Query", `${field} of a ${typename}`, ctx.principal, scope) : null;
}

function checkNodeAccess(typename: string, ctx: Context, field: "node" | "nodes"): void {
  const error = nodeAccessError(typename, ctx, field);
  if (error) throw error;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { viewer: boolean; taskManager: boolean; admin: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
}>({
  // Arguments are checked first (arg-validation.ts); then scope-auth, so nothing else runs for a
  // field the caller may not use.
  plugins: [ArgValidationPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ROLE_SCOPES[ctx.principal.role],
    unauthorizedError: (_parent, ctx, info, result) =>
      forbidden(info.parentType.name, info.fieldName, ctx.principal, failedScope(result.failure) ?? "viewer"),
  },
  prisma: {
    // Per request, so several apps (tests, embedding programs) can share one process.
    client: (ctx) => ctx.store.prismaForSchema,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    cursorType: "String",
    // Task ids are the plain UUIDs used everywhere else (CLI, logs); other nodes are "Type:key".
    encodeGlobalID: (typename, id) => (typename === "Task" ? String(id) : `${typename}:${id}`),
    decodeGlobalID: decodeNodeId,
    // Descriptions of what the plugin generates: the docs pane documents every field.
    idFieldOptions: { description: "Globally unique: refetch it with node(id). A task's id is its plain UUID; others are `<Type>:<key>`." },
    nodeTypeOptions: { description: "Anything with a globally unique id, refetchable with node(id) (Relay's Node)." },
    pageInfoTypeOptions: { description: "Where a page is in its list (Relay's PageInfo)." },
    nodeQueryOptions: {
      description: "Anything by its id (a Task's UUID, or `<Type>:<key>`); null when it does not exist. The same role rules apply as for the type itself.",
      args: { id: { description: "An id returned by this API." } },
      resolve: (_root, { id }, ctx, _info, resolveNode) => {
        checkNodeAccess(id.typename, ctx, "node");
        return resolveNode(id);
      },
    },
    nodesQueryOptions: {
      description: "Several nodes by id, in the order asked; null for each one that does not exist (FORBIDDEN for each the caller may not see).",
      args: { ids: { description: "Ids returned by this API." } },
      // (Pothos's resolveNodes loads every id asked for, whatever list it is given: the ones the
      // caller may not see are loaded, then replaced by their error.)
      resolve: (_root, { ids }, ctx, _info, resolveNodes) => {
        const loaded = Promise.resolve(resolveNodes(ids));
        return ids.map((id, i) => {
          const error = nodeAccessError(id.typename, ctx, "nodes");
          return error ? Promise.reject(error) : loaded.then((nodes) => nodes[i]);
        });
      },
    },
    cursorFieldOptions: { description: "Pass as `after` (or `before`) to page on from this item." },
    nodeFieldOptions: { description: "The item." },
    edgesFieldOptions: { description: "The items of this page, each with its cursor." },
    pageInfoFieldOptions: { description: "Whether there are more pages, and the cursors to reach them." },
    hasNextPageFieldOptions: { description: "More items follow this page." },
    hasPreviousPageFieldOptions: { description: "More items come before this page." },
    startCursorFieldOptions: { description: "The cursor of the page's first item." },
    endCursorFieldOptions: { description: "The cursor of the page's last item." },
    firstArgOptions: { description: "Page forward: at most this many items (up to TASKGRAPH_MAX_PAGE_SIZE)." },
    afterArgOptions: { description: "Page forward from after this cursor." },
    lastArgOptions: { description: "Page backward: at most this many items (up to TASKGRAPH_MAX_PAGE_SIZE)." },
    beforeArgOptions: { description: "Page backward from before this cursor." },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSON", JSONResolver);
builder.addScalarType("JSONObject", JSONObjectResolver);

builder.queryType({ description: "Read tasks, modules and settings (VIEWER and above).", authScopes: { viewer: true } });
builder.mutationType({
  description: "Start and control tasks (TASK_MANAGER and above); TTL, drain and tokens need ADMIN.",
  authScopes: { taskManager: true },
});
