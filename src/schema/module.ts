// Modules with task counts per state (ScyllaDB's module list): the Module type, the modules and
// module queries, and drainModule.
import { notFound } from "../domain/errors";
import { TASK_STATES } from "../domain/states";
import type { ModuleStats } from "../store/task-reads";
import { builder } from "./builder";
import { TaskStateEnum } from "./enums";

const StateCount = builder.objectRef<{ state: (typeof TASK_STATES)[number]; count: number }>("StateCount").implement({
  fields: (t) => ({ state: t.expose("state", { type: TaskStateEnum }), count: t.exposeInt("count") }),
});

export const ModuleType = builder.objectRef<ModuleStats>("Module").implement({
  description: "A group of task types.",
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastSequenceNumber: t.exposeInt("lastSequenceNumber", { description: "The sequenceNumber of the module's newest task tree." }),
    taskCounts: t.field({
      type: [StateCount],
      description: "Visible (non-internal) tasks in each state, every state listed.",
      resolve: (m) => TASK_STATES.map((state) => ({ state, count: m.counts[state] ?? 0 })),
    }),
    totalTasks: t.int({
      description: "Visible (non-internal) tasks in all states.",
      resolve: (m) => Object.values(m.counts).reduce((a, b) => a + (b ?? 0), 0),
    }),
  }),
});

builder.queryFields((t) => ({
  modules: t.field({
    type: [ModuleType],
    description: "Every module, by name.",
    resolve: (_root, _args, ctx) => ctx.store.moduleStats(),
  }),
  module: t.field({
    type: ModuleType,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      const [found] = await ctx.store.moduleStats(name);
      if (!found) throw notFound("Module", name);
      return found;
    },
  }),
}));

const DrainModuleResult = builder.objectRef<{ deletedIds: string[] }>("DrainModuleResult").implement({
  fields: (t) => ({
    deletedCount: t.int({ resolve: (r) => r.deletedIds.length }),
    deletedIds: t.exposeIDList("deletedIds"),
  }),
});

builder.mutationFields((t) => ({
  drainModule: t.field({
    type: DrainModuleResult,
    authScopes: { admin: true },
    description: "Removes every finished task of the module now.",
    args: { module: t.arg.string({ required: true }) },
    resolve: async (_root, { module }, ctx) => ({ deletedIds: await ctx.store.drainModule(module) }),
  }),
}));
