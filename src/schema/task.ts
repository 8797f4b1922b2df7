// Task: the type, its progress and flow, the task connection, the queries that read tasks
// (tasks, task, taskTree, waitForTask) and the mutations that start and control them.
import { queryFromInfo } from "@pothos/plugin-prisma";
import DataLoader from "dataloader";
import { type GraphQLResolveInfo, Kind } from "graphql";
import { taskActions } from "../domain/actions";
import { TaskgraphError, badInput } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { flowEdges } from "../domain/flow";
import { categoryOf, isEnded } from "../domain/states";
import type { Task } from "../generated/prisma/client";
import { parseCountInput, testTaskType } from "../modules/test";
import { MAX_WAIT_SECONDS, type StartTaskRequest } from "../runtime/manager";
import type { TaskQuery } from "../store";
import type { TaskPage } from "../store/task-reads";
import { builder, type Context } from "./builder";
import { OrderDirectionEnum, StepStateEnum, TaskActionEnum, TaskCategoryEnum, TaskKindEnum, TaskOrderFieldEnum, TaskStateEnum } from "./enums";
import { checkedMaxSize } from "./pagination";

/** Per request, made on first use: does a task have a pending descendant? (one query per batch) */
const pendingLoaders = new WeakMap<Context, DataLoader<string, boolean>>();
function pendingBelow(ctx: Context): DataLoader<string, boolean> {
  let loader = pendingLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const pending = await ctx.store.withPendingDescendants(ids);
      return ids.map((id) => pending.has(id));
    });
    pendingLoaders.set(ctx, loader);
  }
  return loader;
}

interface ProgressShape {
  units: string | null;
  total: number | null;
  completed: number;
}

export const ProgressType = builder.objectRef<ProgressShape>("Progress").implement({
  description: "How far the task is, in its own units (ScyllaDB's progress_units/total/completed).",
  fields: (t) => ({
    units: t.exposeString("units", { nullable: true, description: "What is counted: rounds, bytes, partitions, …" }),
    total: t.exposeFloat("total", { nullable: true, description: "Null while the total is unknown." }),
    completed: t.exposeFloat("completed"),
    fraction: t.float({
      nullable: true,
      description: "completed / total between 0 and 1; null while the total is unknown or 0.",
      resolve: (p) => (p.total ? Math.min(1, p.completed / p.total) : null),
    }),
  }),
});

interface FlowNodeShape {
  key: string;
  name: string;
  index: number;
  state: (typeof StepStateEnum)["$inferType"];
}

const FlowNodeType = builder.objectRef<FlowNodeShape>("FlowNode").implement({
  fields: (t) => ({
    key: t.exposeString("key"),
    name: t.exposeString("name"),
    index: t.exposeInt("index"),
    state: t.expose("state", { type: StepStateEnum }),
  }),
});

const FlowEdgeType = builder.objectRef<{ from: string; to: string }>("FlowEdge").implement({
  description: "`to` waits for `from`.",
  fields: (t) => ({ from: t.exposeString("from"), to: t.exposeString("to") }),
});

const FlowType = builder.objectRef<{ nodes: FlowNodeShape[]; edges: { from: string; to: string }[] }>("Flow").implement({
  description: "The steps as a graph (OCP's flow view).",
  fields: (t) => ({
    nodes: t.field({ type: [FlowNodeType], resolve: (f) => f.nodes }),
    edges: t.field({ type: [FlowEdgeType], resolve: (f) => f.edges }),
  }),
});

const STEP_ORDER = { orderBy: { index: "asc" } } as const;

export const TaskNode = builder.prismaNode("Task", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "A background operation. Tasks form trees (root = the whole operation) and may carry ordered steps.",
  fields: (t) => ({
    module: t.exposeString("moduleName", { description: "The module the task type belongs to." }),
    type: t.exposeString("type"),
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: TaskKindEnum }),
    scope: t.exposeString("scope"),
    target: t.exposeString("target", { nullable: true, description: "What the task acts on (broker-3, keyspace.table, …)." }),
    labels: t.field({ type: "JSONObject", resolve: (task) => task.labels as Record<string, unknown> }),
    state: t.expose("state", { type: TaskStateEnum }),
    category: t.field({ type: TaskCategoryEnum, resolve: (task) => categoryOf(task.state) }),
    isAbortable: t.exposeBoolean("isAbortable"),
    isInternal: t.exposeBoolean("isInternal"),
    sequenceNumber: t.exposeInt("sequenceNumber", { description: "Per module; shared by the whole tree." }),
    input: t.expose("input", { type: "JSON", nullable: true }),
    result: t.expose("result", { type: "JSON", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    scheduledFor: t.expose("scheduledFor", { type: "DateTime", nullable: true }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true }),
    createdBy: t.exposeString("createdBy", { nullable: true }),
    node: t.exposeString("node", { nullable: true, description: "The node the task runs on." }),
    depth: t.exposeInt("depth", { description: "0 for a root task." }),
    rootId: t.exposeID("rootId"),
    version: t.exposeInt("version", { description: "Bumped by every change; events carry it too." }),
    progress: t.field({
      type: ProgressType,
      resolve: (task) => ({ units: task.progressUnits, total: task.progressTotal, completed: task.progressCompleted }),
    }),
    availableActions: t.field({
      type: [TaskActionEnum],
      description: "Exactly the control mutations that would be accepted now.",
      // Only an ended task needs the (batched) look below it: DELETE waits for the whole tree.
      resolve: async (task, _args, ctx) =>
        taskActions({ ...task, hasPendingDescendants: isEnded(task.state) && (await pendingBelow(ctx).load(task.id)) }),
    }),
    parent: t.relation("parent", { nullable: true }),
    children: t.relatedConnection("children", {
      cursor: "id",
      description: "Direct children in creation order. Internal ones only with includeInternal.",
      args: { includeInternal: t.arg.boolean({ defaultValue: false }) },
      query: (args) => ({ where: args.includeInternal ? {} : { isInternal: false }, orderBy: { id: "asc" } }),
      maxSize: checkedMaxSize,
      totalCount: true,
    }),
    steps: t.relation("steps", { query: STEP_ORDER }),
    flow: t.field({
      type: FlowType,
      select: { steps: STEP_ORDER },
      resolve: (task) => ({
        nodes: task.steps.map((s) => ({ key: s.key, name: s.name, index: s.index, state: s.state })),
        edges: flowEdges(task.steps),
      }),
    }),
    logs: t.relatedConnection("logs", {
      cursor: "id",
      description: "The task's log, oldest first, including its steps' logs.",
      query: { orderBy: { id: "asc" } },
      maxSize: checkedMaxSize,
      totalCount: true,
    }),
  }),
});

builder.prismaObjectField(TaskNode, "descendants", (t) =>
  t.field({
    type: [TaskNode],
    description: "Every task below this one, breadth-first, siblings in creation order; succeeded internal tasks are folded unless includeFolded.",
    args: {
      maxDepth: t.arg.int({ description: "Levels below this task; omitted = all." }),
      includeFolded: t.arg.boolean({ defaultValue: false }),
    },
    resolve: async (task, args, ctx, info) => {
      const tree = await ctx.store.taskTree(task.id, {
        maxDepth: args.maxDepth,
        includeFolded: args.includeFolded,
        query: queryFromInfo({ context: ctx, info }),
      });
      return tree.slice(1);
    },
  }),
);

const ChildStatusType = builder
  .objectRef<{ id: string; type: string; node: string | null; state: Task["state"]; isInternal: boolean }>("ChildStatus")
  .implement({
    description: "A direct child as its parent reports it (ScyllaDB's children_ids with the node), folded internal ones included.",
    fields: (t) => ({
      id: t.exposeID("id"),
      type: t.exposeString("type"),
      node: t.exposeString("node", { nullable: true }),
      state: t.expose("state", { type: TaskStateEnum }),
      isInternal: t.exposeBoolean("isInternal"),
    }),
  });

builder.prismaObjectField(TaskNode, "childrenStatus", (t) =>
  t.field({
    type: [ChildStatusType],
    select: { children: { select: { id: true, type: true, node: true, state: true, isInternal: true }, orderBy: { id: "asc" } } },
    resolve: (task) => task.children,
  }),
);

export const TaskConnection = builder.connectionObject(
  {
    type: TaskNode,
    name: "TaskConnection",
    fields: (t) => ({
      totalCount: t.int({
        description: "Tasks matching the filter, on all pages.",
        resolve: (connection) => (connection as unknown as TaskPage).totalCount(),
      }),
    }),
  },
  { name: "TaskEdge" },
);

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

/** Starts a task for the caller (user-started, recorded as theirs) and reads it with the selection asked for. */
async function startForCaller(ctx: Context, query: TaskQuery, request: Omit<StartTaskRequest, "userStarted" | "createdBy">) {
  const task = await ctx.manager.startTask({ ...request, userStarted: true, createdBy: ctx.principal.name });
  return ctx.store.getTask(task.id, query);
}

builder.queryFields((t) => ({
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
        return ctx.store.listTasks({
          filter: args.filter ?? {},
          orderBy: args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? "DESC" } : null,
          page: { first: args.first, after: args.after, last: args.last, before: args.before },
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
}));

const CreateTestTaskInput = builder.inputType("CreateTestTaskInput", {
  description: "openATTIC's test task: counts `rounds` rounds of `roundMs`. `steps` makes it a flow, `children` a tree.",
  fields: (t) => ({
    rounds: t.int({ required: true, description: "1 to 100,000." }),
    roundMs: t.int({ defaultValue: 1000, description: "0 to 60,000 ms per round." }),
    failAtRound: t.int({ description: "Fail at this round (counted over the whole flow), on the first attempt only." }),
    steps: t.int({ description: "A flow of this many steps (up to 50), each counting `rounds` rounds, each with a rollback." }),
    children: t.int({ description: "A CLUSTER root with this many node tasks (up to 1,000), each with an internal grandchild." }),
    abortable: t.boolean({ defaultValue: true }),
    runAt: t.field({ type: "DateTime", description: "Run at this time (SCHEDULED until then)." }),
  }),
});

const StartTaskInput = builder.inputType("StartTaskInput", {
  fields: (t) => ({
    module: t.string({ required: true }),
    type: t.string({ required: true }),
    input: t.field({ type: "JSON" }),
    name: t.string(),
    target: t.string(),
    labels: t.field({ type: "JSONObject", description: "String values only." }),
    runAt: t.field({ type: "DateTime" }),
  }),
});

const DeleteTaskResult = builder
  .objectRef<{ deletedIds: string[]; task: unknown }>("DeleteTaskResult")
  .implement({
    description: "deletedIds lists what was removed; task is set instead when a pending task was failed (openATTIC) and remains.",
    fields: (t) => ({
      deleted: t.boolean({ resolve: (r) => r.deletedIds.length > 0 }),
      deletedIds: t.exposeIDList("deletedIds"),
    }),
  });

builder.objectField(DeleteTaskResult, "task", (t) =>
  t.prismaField({
    type: "Task",
    nullable: true,
    resolve: (query, result, _args, ctx) => (result.task ? ctx.store.findTask((result.task as { id: string }).id, query) : null),
  }),
);

builder.mutationFields((t) => ({
  createTestTask: t.prismaField({
    type: "Task",
    args: { input: t.arg({ type: CreateTestTaskInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const parsed = parseCountInput({ ...input, roundMs: input.roundMs ?? 1000 });
      const type = testTaskType(parsed);
      if (!ctx.manager.registry.get("test", type)) {
        throw new TaskgraphError("NOT_FOUND", "This server has no test module: a program embedding taskgraph adds it with defineTestModule(manager)");
      }
      return startForCaller(ctx, query, { module: "test", type, input: parsed, runAt: input.runAt ?? null });
    },
  }),
  startTask: t.prismaField({
    type: "Task",
    description: "The async variant of any defined operation: returns the new task at once.",
    args: { input: t.arg({ type: StartTaskInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      return startForCaller(ctx, query, {
        module: input.module,
        type: input.type,
        input: input.input,
        name: input.name ?? undefined,
        target: input.target ?? null,
        labels: input.labels ?? null,
        runAt: input.runAt ?? null,
      });
    },
  }),
  abortTask: t.prismaField({
    type: "Task",
    description:
      "Pending: cancels the task and its descendants (cooperatively; NOT_ABORTABLE when its type is not abortable); with rollback, completed steps are rolled back in reverse order. FAILED: rolls back every step from the failed one back to the first, then CANCELED.",
    args: { id: t.arg.id({ required: true }), rollback: t.arg.boolean({ defaultValue: false }) },
    resolve: async (query, _root, { id, rollback }, ctx) => {
      const task = await ctx.store.abortTask(parseUuid(String(id)), { rollback: rollback ?? false });
      return ctx.store.getTask(task.id, query);
    },
  }),
  deleteTask: t.field({
    type: DeleteTaskResult,
    description:
      "Removes an ended task with its subtree. A pending one needs force (else TASK_NOT_FINISHED): its follow-up work is canceled, nothing is reverted, and it becomes FAILED; delete it again to remove it.",
    args: { id: t.arg.id({ required: true }), force: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, { id, force }, ctx) => ctx.store.deleteTask(parseUuid(String(id)), { force: force ?? false }),
  }),
  retryTask: t.prismaField({
    type: "Task",
    description: "FAILED → rolls back the failed steps, runs them again, continues (OCP Retry).",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => ctx.store.getTask((await ctx.store.retryTask(parseUuid(String(id)))).id, query),
  }),
}));

export type { Task };
