// Modules with task counts per state (ScyllaDB's module list): the Module node, its tasks, the
// modules and module queries, and drainModule.
import { TASK_STATES } from "../domain/states";
import { builder } from "./builder";
import { TaskStateEnum } from "./enums";
import { concurrencyLimit, moduleTaskCounts } from "./loaders";
import { moduleScope } from "../store/task-types";
import { taskConnectionField } from "./task";

export const StateCount = builder.objectRef<{ state: (typeof TASK_STATES)[number]; count: number }>("StateCount").implement({
  description: "How many tasks are in one state.",
  fields: (t) => ({
    state: t.expose("state", { type: TaskStateEnum, description: "The state counted." }),
    count: t.exposeInt("count", { description: "Tasks in that state." }),
  }),
});

export const ModuleType = builder.prismaNode("Module", {
  id: { field: "name" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "A group of task types (kafka, storage, …), with its tasks. Its id is `Module:<name>`.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "The module's name, as filters and startTask take it." }),
    description: t.exposeString("description", { description: "What the module's tasks are about (may be empty)." }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When a process first defined the module." }),
    lastSequenceNumber: t.exposeInt("lastSequenceNumber", { description: "The sequenceNumber of the module's newest task tree." }),
    concurrencyLimit: t.int({
      nullable: true,
      description: "At most this many of its tasks run at once, across every worker (ModuleDefinition.concurrency); null: no limit.",
      resolve: (m, _args, ctx) => concurrencyLimit(ctx).load(moduleScope(m.name)),
    }),
    taskCounts: t.field({
      type: [StateCount],
      description: "Visible (non-internal) tasks in each state, every state listed.",
      resolve: async (m, _args, ctx) => {
        const counts = await moduleTaskCounts(ctx).load(m.name);
        return TASK_STATES.map((state) => ({ state, count: counts[state] ?? 0 }));
      },
    }),
    totalTasks: t.int({
      description: "Visible (non-internal) tasks in all states.",
      resolve: async (m, _args, ctx) => Object.values(await moduleTaskCounts(ctx).load(m.name)).reduce((a, b) => a + (b ?? 0), 0),
    }),
  }),
});

builder.prismaObjectField(ModuleType, "tasks", (t) =>
  taskConnectionField<{ name: string }>(t, {
    description: "The module's tasks matching the filter (as `tasks`, within this module), newest first unless orderBy says otherwise.",
    scope: (module) => ({ module: module.name }),
  }),
);

builder.queryFields((t) => ({
  modules: t.prismaField({
    type: ["Module"],
    description: "Every module, by name.",
    resolve: (query, _root, _args, ctx) => ctx.store.listModules(query),
  }),
  module: t.prismaField({
    type: "Module",
    nullable: true,
    description: "One module by name; null when there is none.",
    args: { name: t.arg.string({ required: true, description: "The module's name." }) },
    resolve: (query, _root, { name }, ctx) => ctx.store.findModule(name, query),
  }),
}));

const DrainModuleResult = builder.objectRef<{ deletedIds: string[] }>("DrainModuleResult").implement({
  description: "What drainModule removed.",
  fields: (t) => ({
    deletedCount: t.int({ description: "How many tasks were removed.", resolve: (r) => r.deletedIds.length }),
    deletedIds: t.exposeIDList("deletedIds", { description: "The ids of the removed tasks." }),
  }),
});

builder.mutationFields((t) => ({
  drainModule: t.field({
    type: DrainModuleResult,
    authScopes: { admin: true },
    description: "Removes every finished task of the module now.",
    args: { module: t.arg.string({ required: true, description: "The module's name." }) },
    resolve: async (_root, { module }, ctx) => ({ deletedIds: await ctx.store.drainModule(module) }),
  }),
}));
