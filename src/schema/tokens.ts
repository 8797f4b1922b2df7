// API tokens and access roles in the API: `me` (who am I, what may I do), and for ADMIN
// `apiTokens`, `createApiToken` (the secret is in this one response only) and `revokeApiToken`.
import type { Principal } from "../auth/principal";
import type { ApiToken } from "../store/tokens";
import { builder } from "./builder";

export const RoleEnum = builder.enumType("Role", {
  description: "What an API token may do; each role includes the ones below it.",
  values: {
    VIEWER: { description: "Queries and subscriptions." },
    TASK_MANAGER: { description: "VIEWER + start, abort, retry, rerun, mark succeeded, terminate and delete tasks; create, change, pause, resume and delete schedules." },
    ADMIN: { description: "TASK_MANAGER + task TTL, drainModule and API tokens." },
  } as const,
});

const PrincipalType = builder.objectRef<Principal>("Principal").implement({
  description: "Who a request runs as: a token, or `local` (protected mode: no token exists, loopback clients are ADMIN).",
  fields: (t) => ({
    name: t.exposeString("name", { description: "What tasks started by this caller record as createdBy." }),
    role: t.field({ type: RoleEnum, description: "What the caller may do.", resolve: (p) => p.role }),
    protectedMode: t.boolean({ description: "True for the local ADMIN of protected mode.", resolve: (p) => p.tokenId === null }),
  }),
});

const ApiTokenType = builder.prismaNode("ApiToken", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  // Only an ADMIN sees tokens, however it reaches one (apiTokens, node(id)).
  authScopes: { admin: true },
  description: "An API token (ADMIN only). Its secret is shown once, by createApiToken; only a hash is stored. Its id is `ApiToken:<uuid>`.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Unique; what tasks started with the token record as createdBy." }),
    role: t.field({ type: RoleEnum, description: "What the token may do.", resolve: (token) => token.role }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    createdBy: t.exposeString("createdBy", { nullable: true, description: "Who created it (a token's name, or `local`)." }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true, description: "Updated at most once a minute." }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true, description: "When it was revoked; null while it is valid." }),
  }),
});

const CreatedApiToken = builder.objectRef<{ token: ApiToken; secret: string }>("CreatedApiToken").implement({
  description: "A new token with its secret.",
  fields: (t) => ({
    token: t.field({ type: ApiTokenType, description: "The token as stored.", resolve: (r) => r.token }),
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
    args: {
      name: t.arg.string({ required: true, description: "Unique: letters, digits and . _ @ : - (what createdBy will show)." }),
      role: t.arg({ type: RoleEnum, required: true, description: "What the token may do." }),
    },
    resolve: (_root, { name, role }, ctx) => ctx.store.createApiToken({ name, role, createdBy: ctx.principal.name }),
  }),
  revokeApiToken: t.field({
    type: ApiTokenType,
    authScopes: { admin: true },
    description: "Revokes a token at once (its name stays taken). Revoking the last one returns to protected mode.",
    args: { name: t.arg.string({ required: true, description: "The token's name." }) },
    resolve: (_root, { name }, ctx) => ctx.store.revokeApiToken(name),
  }),
}));
