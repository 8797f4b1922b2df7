// Run-time settings (TTL of finished tasks): the Settings type, the settings query and setTaskTtl.
import type { Settings } from "../store/settings";
import { builder } from "./builder";

export const SettingsType = builder.objectRef<Settings>("Settings").implement({
  description: "Settings changed at run time (by setTaskTtl); they apply to every process at once.",
  fields: (t) => ({
    taskTtlSeconds: t.exposeInt("taskTtlSeconds", { description: "How long a finished task started by the system is kept. 0 = removed at once." }),
    userTaskTtlSeconds: t.exposeInt("userTaskTtlSeconds", { description: "How long a finished task started by a user is kept. 0 = removed at once." }),
  }),
});

builder.queryFields((t) => ({
  settings: t.field({ type: SettingsType, description: "How long finished tasks are kept.", resolve: (_root, _args, ctx) => ctx.store.settings() }),
}));

builder.mutationFields((t) => ({
  setTaskTtl: t.field({
    type: SettingsType,
    authScopes: { admin: true },
    description: "How long finished tasks are kept (seconds; 0 = removed at once): system-started (ttlSeconds) and user-started (userTtlSeconds).",
    args: {
      ttlSeconds: t.arg.int({ description: "For tasks the system started; omitted: unchanged." }),
      userTtlSeconds: t.arg.int({ description: "For tasks a user started (API, CLI); omitted: unchanged." }),
    },
    resolve: (_root, args, ctx) =>
      ctx.store.writeSettings({ taskTtlSeconds: args.ttlSeconds ?? undefined, userTaskTtlSeconds: args.userTtlSeconds ?? undefined }),
  }),
}));
