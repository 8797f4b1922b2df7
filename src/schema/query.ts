// Root queries: modules, tasks (filtered, ordered, paginated), a task and its tree, settings, node.
import { queryFromInfo } from "@pothos/plugin-prisma";
import { type GraphQLResolveInfo, Kind } from "graphql";
import { badInput, notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { MAX_WAIT_SECONDS } from "../runtime/manager";
import { listTasks } from "../store/task-reads";
import { builder } from "./builder";
import { OrderDirectionEnum, TaskCategoryEnum, TaskKindEnum, TaskOrderFieldEnum, TaskStateEnum } from "./enums";
import { ModuleType } from "./module";
import { SettingsType } from "./settings";
import { TaskConnection, TaskNode } from "./task";

/** Whether the connection's selection may include totalCount (a fragment might: then yes). */
function asksForTotalCount(info: GraphQLResolveInfo): boolean {
  return info.fieldNodes.some((node) => node.selectionSet?.selections.some((s) => s.kind !== Kind.FIELD || s.name.value === "totalCount"));
}

const TaskFilterInput = builder.inputType("TaskFilter", {
  description: "Every field narrows the list (AND). Internal tasks are hidden unless includeInternal.",
  fields: (t) => ({
    module: t.string(),
    types: t.stringList(),
    states: t.field({ type: [TaskStateEnum] }),
    category: t.field({ type: TaskCategoryEnum }),
    kind: t.field({ type: TaskKindEnum }),
    includeInternal: t.boolean({ defaultValue: false }),
    target: t.string({ description: "Exact target." }),
    targetPrefix: t.string({ description: "Targets starting with this." }),
    labels: t.field({ type: "JSONObject", description: 'Every label given must match, e.g. {"env": "prod"}.' }),
    search: t.string({ description: "Keyword over name, type, module and target (case-insensitive), or a task id." }),
    createdAfter: t.field({ type: "DateTime", description: "Created at or after." }),
    createdBefore: t.field({ type: "DateTime", description: "Created before." }),
    parentId: t.id({ description: "Direct children of this task." }),
    rootsOnly: t.boolean({ description: "Only root tasks (no parent)." }),
    scheduled: t.boolean({ description: "true: only tasks created with a runAt (the Scheduled tab); false: only the others." }),
  }),
});

const TaskOrderInput = builder.inputType("TaskOrder", {
  fields: (t) => ({
    field: t.field({ type: TaskOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: "DESC" }),
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
  tasks: t.connection(
    {
      type: TaskNode,
      description: "Tasks matching the filter, newest first unless orderBy says otherwise.",
      args: {
        filter: t.arg({ type: TaskFilterInput }),
        orderBy: t.arg({ type: TaskOrderInput }),
      },
      resolve: async (_root, args, ctx, info) => {
        // Straight to the store's reader (Store.listTasks takes no `count`): the count starts with the page.
        return listTasks(ctx.store.prisma, {
          filter: args.filter ?? {},
          orderBy: args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? "DESC" } : null,
          page: { first: args.first, after: args.after, last: args.last, before: args.before },
          maxPageSize: ctx.store.config.maxPageSize,
          query: queryFromInfo({ context: ctx, info, path: ["edges", "node"] }),
          count: asksForTotalCount(info),
        });
      },
    },
    TaskConnection,
  ),
  task: t.prismaField({
    type: "Task",
    description: "One task by id. NOT_FOUND when there is none.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.store.getTask(String(id), query),
  }),
  taskTree: t.field({
    type: [TaskNode],
    description: "The task and its descendants, breadth-first, siblings in creation order (ScyllaDB's recursive status).",
    args: {
      id: t.arg.id({ required: true }),
      maxDepth: t.arg.int({ description: "Levels below the task; omitted = all." }),
      includeFolded: t.arg.boolean({
        defaultValue: false,
        description: "Internal tasks that succeeded are folded into their parent (left out) unless this is true; failed ones always show.",
      }),
    },
    resolve: (_root, { id, maxDepth, includeFolded }, ctx, info) => {
      if (maxDepth != null && maxDepth < 0) throw badInput("maxDepth must be ≥ 0");
      return ctx.store.taskTree(parseUuid(String(id)), { maxDepth, includeFolded, query: queryFromInfo({ context: ctx, info }) });
    },
  }),
  waitForTask: t.prismaField({
    type: "Task",
    description: "Resolves when the task has ended (ScyllaDB's wait), or fails with TIMEOUT.",
    args: {
      id: t.arg.id({ required: true }),
      timeoutSeconds: t.arg.int({ defaultValue: 30, description: `0 to ${MAX_WAIT_SECONDS}.` }),
    },
    resolve: async (query, _root, { id, timeoutSeconds }, ctx) => {
      const task = await ctx.manager.waitForTask(String(id), timeoutSeconds ?? 30);
      return ctx.store.getTask(task.id, query);
    },
  }),
  settings: t.field({ type: SettingsType, resolve: (_root, _args, ctx) => ctx.store.settings() }),
}));
