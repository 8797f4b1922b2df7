// API tokens and access roles in the API: `me` (who am I, what may I do), and for ADMIN
// `apiTokens`, `createApiToken` (the secret is in this one response only) and `revokeApiToken`.
import type { Principal } from "../auth/principal";
import type { ApiToken } from "../store/tokens";
import { builder } from "./builder";

export const RoleEnum = builder.enumType("Role", {
  values: {
    VIEWER: { description: "Queries and subscriptions." },
    TASK_MANAGER: { description: "VIEWER + start, abort, retry, rerun, mark succeeded, terminate and delete tasks." },
    ADMIN: { description: "TASK_MANAGER + task TTL, drainModule and API tokens." },
  } as const,
});

const PrincipalType = builder.objectRef<Principal>("Principal").implement({
  description: "Who a request runs as: a token, or `local` (protected mode: no token exists, loopback clients are ADMIN).",
  fields: (t) => ({
    name: t.exposeString("name", { description: "What tasks started by this caller record as createdBy." }),
    role: t.field({ type: RoleEnum, resolve: (p) => p.role }),
    protectedMode: t.boolean({ description: "True for the local ADMIN of protected mode.", resolve: (p) => p.tokenId === null }),
  }),
});

const ApiTokenType = builder.objectRef<ApiToken>("ApiToken").implement({
  description: "An API token. Its secret is shown once, by createApiToken; only a hash is stored.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    role: t.field({ type: RoleEnum, resolve: (token) => token.role }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    createdBy: t.exposeString("createdBy", { nullable: true }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true, description: "Updated at most once a minute." }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
  }),
});

const CreatedApiToken = builder.objectRef<{ token: ApiToken; secret: string }>("CreatedApiToken").implement({
  fields: (t) => ({
    token: t.field({ type: ApiTokenType, resolve: (r) => r.token }),
    secret: t.exposeString("secret", { description: "Send as `Authorization: Bearer <secret>`. Shown only here, never again." }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({ type: PrincipalType, description: "The caller: name and role (a console can hide what it may not do).", resolve: (_root, _args, ctx) => ctx.principal }),
  apiTokens: t.field({
    type: [ApiTokenType],
    authScopes: { admin: true },
    description: "Every token, revoked ones included (oldest first).",
    resolve: (_root, _args, ctx) => ctx.store.listApiTokens(),
  }),
}));

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiToken,
    authScopes: { admin: true },
    description: "Creates a token. Creating the first one ends protected mode: from then on every request needs a token.",
    args: { name: t.arg.string({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, { name, role }, ctx) => ctx.store.createApiToken({ name, role, createdBy: ctx.principal.name }),
  }),
  revokeApiToken: t.field({
    type: ApiTokenType,
    authScopes: { admin: true },
    description: "Revokes a token at once (its name stays taken). Revoking the last one returns to protected mode.",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.store.revokeApiToken(name),
  }),
}));
