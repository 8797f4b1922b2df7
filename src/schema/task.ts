// Task: the type, its progress and flow, the task connection, the queries that read tasks
// (tasks, task, taskTree, waitForTask) and the mutations that start and control them.
import { queryFromInfo } from "@pothos/plugin-prisma";
import { type GraphQLResolveInfo, Kind, type SelectionNode } from "graphql";
import { taskActions } from "../domain/actions";
import { TaskgraphError, badInput } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { flowEdges } from "../domain/flow";
import { categoryOf, isEnded, isPending, type TaskState } from "../domain/states";
import type { Module, Step, Task } from "../generated/prisma/client";
import { parseCountInput, testTaskType } from "../modules/test";
import { MAX_WAIT_SECONDS, type StartTaskRequest } from "../runtime/manager";
import { encodeEventCursor, type JournalCursor } from "../store/journal-reader";
import type { TaskColumn } from "../store/task-tree";
import { asksForRelations, type PageArgs, type TaskFilter, type TaskOrder, type TaskQuery } from "../store";
import { builder, type Context } from "./builder";
import { ExclusiveModeEnum, FailureCodeEnum, OrderDirectionEnum, StepStateEnum, TaskActionEnum, TaskCategoryEnum, TaskKindEnum, TaskOrderFieldEnum, TaskStateEnum } from "./enums";
import { hasPendingBelow, keyHolder, moduleByName, taskById, workerByName } from "./loaders";
import { ModuleType } from "./module";
import { checkedMaxSize, totalCountIsExactOptions, totalCountOptions } from "./pagination";
import { LOG_CONNECTION, LOG_ORDER, LogEntryConnection, LogFilterInput, logWhere, StepNode } from "./step";
import { WorkerNode } from "./worker";
import { RetryPolicyInput, RetryPolicyRef, retryPolicyOf } from "./retry";
import type { FullRetryPolicy } from "../domain/retry";

interface ProgressShape {
  taskId: string;
  units: string | null;
  total: number | null;
  completed: number;
}

const progressOf = (task: Task): ProgressShape => ({
  taskId: task.id,
  units: task.progressUnits,
  total: task.progressTotal,
  completed: task.progressCompleted,
});

export const ProgressType = builder.objectRef<ProgressShape>("Progress");
builder.node(ProgressType, {
  description:
    "How far a task is, in its own units (ScyllaDB's progress_units/total/completed). Its id is `Progress:<task id>`, so a client cache updates it in place.",
  id: { resolve: (p) => p.taskId },
  loadMany: async (ids, ctx) => (await taskById(ctx).loadMany(ids)).map((task) => (task && !(task instanceof Error) ? progressOf(task) : null)),
  fields: (t) => ({
    units: t.exposeString("units", { nullable: true, description: "What is counted: rounds, bytes, partitions, …" }),
    total: t.exposeFloat("total", { nullable: true, description: "Null while the total is unknown." }),
    completed: t.exposeFloat("completed", { description: "How many units are done." }),
    fraction: t.float({
      nullable: true,
      description: "completed / total between 0 and 1; null while the total is unknown or 0.",
      resolve: (p) => (p.total ? Math.min(1, p.completed / p.total) : null),
    }),
  }),
});

interface FlowShape {
  taskId: string;
  steps: Step[];
}

const FlowEdgeType = builder.objectRef<{ from: Step; to: Step }>("FlowEdge").implement({
  description: "A dependency between two steps of a flow: `to` waits for `from`.",
  fields: (t) => ({
    from: t.field({ type: StepNode, description: "The step waited for.", resolve: (e) => e.from }),
    to: t.field({ type: StepNode, description: "The step that waits.", resolve: (e) => e.to }),
  }),
});

const FlowType = builder.objectRef<FlowShape>("Flow");
builder.node(FlowType, {
  description: "A task's steps as a graph (OCP's flow view). Its id is `Flow:<task id>`.",
  id: { resolve: (f) => f.taskId },
  loadMany: async (ids, ctx) => {
    const tasks = await Promise.all(ids.map((id) => ctx.store.findTask(id, { include: { steps: STEP_ORDER } })));
    return tasks.map((task) => (task ? { taskId: task.id, steps: (task as Task & { steps: Step[] }).steps } : null));
  },
  fields: (t) => ({
    nodes: t.field({ type: [StepNode], description: "The steps, in the order they were defined.", resolve: (f) => f.steps }),
    edges: t.field({
      type: [FlowEdgeType],
      description: "Which step waits for which.",
      resolve: (f) => {
        const byKey = new Map(f.steps.map((step) => [step.key, step]));
        return flowEdges(f.steps).map((e) => ({ from: byKey.get(e.from)!, to: byKey.get(e.to)! }));
      },
    }),
  }),
});

const STEP_ORDER = { orderBy: { index: "asc" } } as const;


export const TaskNode = builder.prismaNode("Task", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "A background operation. Tasks form trees (root = the whole operation) and may carry ordered steps.",
  fields: (t) => ({
    module: t.field({
      type: ModuleType,
      description: "The module the task's type belongs to.",
      // A live event's task comes with its module (read with the batch). A selection the module's
      // name answers (a list's usual `module { id name }`) reads nothing; otherwise one batched read per request.
      resolve: async (task, _args, ctx, info) => {
        const loaded = (task as Task & { module?: Module }).module;
        if (loaded) return loaded;
        const fields = selectedFields(info);
        if (fields && [...fields].every((field) => MODULE_FIELDS_FROM_NAME.has(field))) return { name: task.moduleName } as Module;
        return (await moduleByName(ctx).load(task.moduleName))!;
      },
    }),
    type: t.exposeString("type", { description: "The task type's name within its module (see taskType)." }),
    name: t.exposeString("name", { description: "For people: given at start, or made by the type from the input; default the type." }),
    kind: t.expose("kind", { type: TaskKindEnum, description: "Whether it runs on one node or spans the cluster." }),
    scope: t.exposeString("scope", { description: "The granularity of its target: node, cluster, keyspace, table, topic, …" }),
    target: t.exposeString("target", { nullable: true, description: "What the task acts on (broker-3, keyspace.table, …)." }),
    labels: t.field({ type: "JSONObject", description: "String labels given at start (filter with TaskFilter.labels).", resolve: (task) => task.labels as Record<string, unknown> }),
    state: t.expose("state", { type: TaskStateEnum, description: "Where the task is now." }),
    category: t.field({ type: TaskCategoryEnum, description: "The console tab its state belongs to.", resolve: (task) => categoryOf(task.state) }),
    isAbortable: t.exposeBoolean("isAbortable", { description: "Whether its type allows abortTask while it is pending." }),
    isInternal: t.exposeBoolean("isInternal", { description: "A detail of its parent's work: hidden from lists unless asked for, folded once it succeeds." }),
    sequenceNumber: t.exposeInt("sequenceNumber", { description: "Per module; shared by the whole tree." }),
    input: t.expose("input", { type: "JSON", nullable: true, description: "The input it was started with (as validated by its type)." }),
    result: t.expose("result", { type: "JSON", nullable: true, description: "What its run returned, once SUCCEEDED." }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed or was canceled (the message only; the stack is in its ERROR log line)." }),
    errorCode: t.expose("errorCode", {
      type: FailureCodeEnum,
      nullable: true,
      description: "Why it failed, when the runtime knows: TIMEOUT (it, or the step that failed it, ran past its time limit). Null when its code threw, or it did not fail.",
    }),
    timeoutMs: t.exposeInt("timeoutMs", { nullable: true, description: "Each run's time limit in ms as started (null: the type's, if any)." }),
    retryPolicy: t.field({
      type: RetryPolicyRef,
      nullable: true,
      description: "The automatic-retry policy it was started with (null: its type's, TaskType.retry, and its steps' own).",
      resolve: (task) => (task.retryPolicy as FullRetryPolicy | null) ?? null,
    }),
    automaticRetries: t.exposeInt("automaticRetries", {
      description: "How many times its run was retried automatically since it started or was last retried by hand (a flow's steps count their own: Step.automaticRetries).",
    }),
    nextAttemptAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When an automatic retry runs it again: SCHEDULED after a failed attempt (its error is that attempt's). Null otherwise.",
      select: { state: true, automaticRetries: true, scheduledFor: true },
      resolve: (task) => (task.state === "SCHEDULED" && task.automaticRetries > 0 ? task.scheduledFor : null),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    scheduledFor: t.expose("scheduledFor", {
      type: "DateTime",
      nullable: true,
      description: "The runAt it was started with, or the time of its automatic retry (nextAttemptAt); null for a task that ran at once.",
    }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true, description: "When it first started running." }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true, description: "When it ended; null while pending." }),
    createdBy: t.exposeString("createdBy", {
      nullable: true,
      description: "Who started it: the name of the API token (`local` in protected mode); null when the system did. A name, not an edge: tokens are visible to ADMINs only.",
    }),
    node: t.exposeString("node", { nullable: true, description: "The node the task runs on." }),
    depth: t.exposeInt("depth", { description: "0 for a root task." }),
    version: t.exposeInt("version", { description: "Bumped by every change; events carry it too." }),
    priority: t.exposeInt("priority", {
      description: "Claimed before tasks of lower priority (-1,000 to 1,000; default the type's, else 0; a child gets its parent's); equal priorities oldest first.",
    }),
    exclusiveKey: t.exposeString("exclusiveKey", {
      nullable: true,
      description: "Tasks with the same key never run at once, across every worker (an exclusive target, e.g. a broker); null: none.",
    }),
    blockedBy: t.prismaField({
      type: "Task",
      nullable: true,
      description:
        "While it waits for its exclusiveKey (QUEUED, or resumed after a retry): the task holding the key (the one running on that target); null otherwise.",
      resolve: async (_query, task, _args, ctx) => {
        if (!task.exclusiveKey || !isPending(task.state as TaskState)) return null;
        const holder = await keyHolder(ctx).load(task.exclusiveKey);
        return holder && holder !== task.id ? taskById(ctx).load(holder) : null;
      },
    }),
    progress: t.field({
      type: ProgressType,
      description:
        "How far the task is: what its `run` reports, or for a flow (run by a worker) the steps done plus the running steps' fractions (Step.progress), of the number of steps.",
      resolve: progressOf,
    }),
    availableActions: t.field({
      type: [TaskActionEnum],
      description: "Exactly the control mutations that would be accepted now.",
      // Only an ended task needs the (batched) look below it: DELETE waits for the whole tree.
      resolve: async (task, _args, ctx) =>
        taskActions({ ...task, hasPendingDescendants: isEnded(task.state) && (await hasPendingBelow(ctx).load(task.id)) }),
    }),
    parent: t.relation("parent", { nullable: true, description: "The task that spawned it; null for a root." }),
    steps: t.relation("steps", { query: STEP_ORDER, description: "Its steps in the order defined (empty for a task without steps)." }),
    flow: t.field({
      type: FlowType,
      description: "The steps as a graph (empty for a task without steps).",
      select: { steps: STEP_ORDER },
      resolve: (task) => ({ taskId: task.id, steps: task.steps }),
    }),
    logs: t.relatedConnection(
      "logs",
      {
        ...LOG_CONNECTION,
        description: "The task's log, oldest first: its own lines and (unless includeSteps is false) its steps' attempts' lines.",
        args: {
          filter: t.arg({ type: LogFilterInput, description: 'Which lines (every field narrows them), e.g. `{ stepKey: "move", attempt: 2, minLevel: WARN }`.' }),
          includeSteps: t.arg.boolean({ defaultValue: true, description: "false: the task's own lines only (those of no step); filter.stepKey is then refused." }),
        },
        query: (args) => {
          const where = logWhere(args.filter, "task");
          if (args.includeSteps !== false) return { ...LOG_ORDER, where };
          if (args.filter?.stepKey != null) throw badInput("filter.stepKey names a step, but includeSteps is false (the task's own lines only)");
          return { ...LOG_ORDER, where: { ...where, stepId: null } };
        },
      },
      LogEntryConnection,
    ),
  }),
});

/** One connection type for every list of tasks (tasks, children, Module.tasks, TaskType.tasks). */
export const TaskConnection = builder.connectionObject(
  {
    type: TaskNode,
    name: "TaskConnection",
    description: "A page of tasks.",
    fields: (t) => ({
      totalCount: t.int(
        totalCountOptions(
          "Tasks matching the filter, on all pages: exact up to 1,000; above that (`tasks` only, see totalCountIsExact) PostgreSQL's estimate, at least 1,001.",
        ),
      ),
      totalCountIsExact: t.boolean(
        totalCountIsExactOptions(
          "Whether totalCount is exact. false when more than 1,000 tasks match a `tasks` filter: totalCount is then the planner's estimate (from table statistics, can be off by a wide margin; show it as approximate, e.g. \"about 79,000\" or \"1,000+\"). Counting exactly would read every matching row on each page.",
        ),
      ),
      journalCursor: t.string({
        description:
          "A taskEvents cursor from just before this page was read: subscribe with `after: journalCursor` (and the same filter as `task`) and no change made since is missed; an event the page already shows may come again (compare `version`). On `children`, taken when this field is read.",
        resolve: async (connection, _args, ctx) =>
          encodeEventCursor((connection as { journalCursor?: JournalCursor }).journalCursor ?? (await ctx.store.journalHead())),
      }),
    }),
  },
  { name: "TaskEdge", description: "A task in a page, with its cursor." },
);

builder.prismaObjectField(TaskNode, "children", (t) =>
  t.relatedConnection(
      "children",
      {
        cursor: "id",
        description: "Direct children in creation order. Internal ones only with includeInternal.",
        args: { includeInternal: t.arg.boolean({ defaultValue: false, description: "Include internal children (hidden by default)." }) },
        query: (args) => ({ where: args.includeInternal ? {} : { isInternal: false }, orderBy: { id: "asc" } }),
        maxSize: checkedMaxSize,
        totalCount: true,
      },
      TaskConnection,
    )
);

/**
 * The Task columns each field of Task reads, for the fields that need no relation. A tree
 * (taskTree, descendants) that selects only these reads only these columns in one statement; any
 * other field (a relation) loads whole rows with what plugin-prisma asks for.
 */
const TREE_FIELD_COLUMNS: Partial<Record<string, readonly TaskColumn[]>> = {
  __typename: [],
  id: ["id"],
  ...Object.fromEntries(
    (["type", "name", "kind", "scope", "target", "labels", "state", "isAbortable", "isInternal", "sequenceNumber", "input", "result", "error",
      "createdAt", "scheduledFor", "startedAt", "endedAt", "createdBy", "node", "depth", "version", "priority", "exclusiveKey", "errorCode", "timeoutMs",
      "retryPolicy", "automaticRetries"] as const).map((column) => [column, [column]]),
  ),
  nextAttemptAt: ["state", "automaticRetries", "scheduledFor"],
  category: ["state"],
  progress: ["progressUnits", "progressTotal", "progressCompleted"],
  availableActions: ["state", "isAbortable", "abortRequestedAt"],
  worker: ["state", "leaseOwner"],
  module: ["moduleName"],
};

/** The columns a list of tasks needs for the selection in `info`, or null when it asks for a relation. */
function treeColumns(info: GraphQLResolveInfo): TaskColumn[] | null {
  const fields = selectedFields(info);
  if (!fields) return null;
  const columns = new Set<TaskColumn>();
  for (const field of fields) {
    const needs = TREE_FIELD_COLUMNS[field];
    if (!needs) return null;
    for (const column of needs) columns.add(column);
  }
  return [...columns];
}

/** Module's fields that need only its name (the rest read its row). */
const MODULE_FIELDS_FROM_NAME = new Set(["__typename", "id", "name", "concurrencyLimit", "taskCounts", "totalTasks", "tasks"]);

/** selectedFields of each field's nodes: the same for every item of a list, so worked out once. */
const selectedByFieldNodes = new WeakMap<GraphQLResolveInfo["fieldNodes"], Set<string> | null>();

/** The names of the fields selected on the value of the field `info` resolves, through fragments; null when a fragment is unknown. */
function selectedFields(info: GraphQLResolveInfo): Set<string> | null {
  let names = selectedByFieldNodes.get(info.fieldNodes);
  if (names === undefined) {
    names = collectSelectedFields(info);
    selectedByFieldNodes.set(info.fieldNodes, names);
  }
  return names;
}

function collectSelectedFields(info: GraphQLResolveInfo): Set<string> | null {
  const names = new Set<string>();
  const collect = (selections: readonly SelectionNode[]): boolean =>
    selections.every((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) return collect(selection.selectionSet.selections);
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = info.fragments[selection.name.value];
        return fragment !== undefined && collect(fragment.selectionSet.selections);
      }
      names.add(selection.name.value);
      return true;
    });
  return info.fieldNodes.every((node) => collect(node.selectionSet?.selections ?? [])) ? names : null;
}

/** What taskTree reads for the selection: only the columns it needs, or whole rows with the relations. */
const treeRead = (ctx: Context, info: GraphQLResolveInfo) => {
  const columns = treeColumns(info);
  return columns ? { columns } : { query: queryFromInfo({ context: ctx, info }) };
};

builder.prismaObjectField(TaskNode, "descendants", (t) =>
  t.field({
    type: [TaskNode],
    description: "Every task below this one, breadth-first, siblings in creation order; succeeded internal tasks are folded unless includeFolded.",
    args: {
      maxDepth: t.arg.int({ description: "Levels below this task; omitted = all." }),
      includeFolded: t.arg.boolean({ defaultValue: false, description: "Include succeeded internal tasks too." }),
    },
    resolve: async (task, args, ctx, info) => {
      const tree = await ctx.store.taskTree(task.id, {
        maxDepth: args.maxDepth,
        includeFolded: args.includeFolded,
        ...treeRead(ctx, info),
      });
      return tree.slice(1);
    },
  }),
);

builder.prismaObjectField(TaskNode, "root", (t) =>
  t.field({
    type: TaskNode,
    description: "The root of the task's tree (the task itself for a root).",
    resolve: async (task, _args, ctx) => (task.rootId === task.id ? task : ((await taskById(ctx).load(task.rootId)) ?? task)),
  }),
);

builder.prismaObjectField(TaskNode, "worker", (t) =>
  t.field({
    type: WorkerNode,
    nullable: true,
    description: "The worker process running the task now; null unless it is RUNNING (or the worker has gone).",
    select: { leaseOwner: true },
    resolve: (task, _args, ctx) => {
      if (task.state !== "RUNNING" || !task.leaseOwner) return null;
      return workerByName(ctx).load(task.leaseOwner.slice(0, task.leaseOwner.lastIndexOf("#")));
    },
  }),
);

const ChildStatusType = builder
  .objectRef<Task>("ChildStatus")
  .implement({
    description:
      "A direct child as its parent reports it (ScyllaDB's children_ids with the node), folded internal ones included. Not a node of its own: `task` is the child.",
    fields: (t) => ({
      task: t.field({ type: TaskNode, description: "The child task.", resolve: (child) => child }),
      type: t.exposeString("type", { description: "The child's task type." }),
      node: t.exposeString("node", { nullable: true, description: "The node the child runs on." }),
      state: t.expose("state", { type: TaskStateEnum, description: "The child's state." }),
      isInternal: t.exposeBoolean("isInternal", { description: "Whether the child is internal (hidden from lists by default)." }),
    }),
  });

builder.prismaObjectField(TaskNode, "childrenStatus", (t) =>
  t.field({
    type: [ChildStatusType],
    description: "Every direct child with its type, node and state, internal ones included, in creation order.",
    select: { children: { orderBy: { id: "asc" } } },
    resolve: (task) => task.children,
  }),
);

/** Whether the connection's selection may include the field `name` (a fragment might: then yes). */
function asksFor(info: GraphQLResolveInfo, name: string): boolean {
  return info.fieldNodes.some((node) => node.selectionSet?.selections.some((s) => s.kind !== Kind.FIELD || s.name.value === name));
}

export const TaskFilterInput = builder.inputType("TaskFilter", {
  description:
    "Which tasks: every field given narrows the set (AND); a list field means any of its values (an empty list: none). Internal tasks are hidden unless includeInternal. `tasks`, `taskCounts` and the tabs read the same filter the same way. Times: *After is inclusive, *Before exclusive; After later than Before is BAD_USER_INPUT.",
  fields: (t) => ({
    module: t.string({ description: 'Tasks of this module (by name), e.g. "kafka".' }),
    modules: t.stringList({
      description: 'Tasks of any of these modules, e.g. ["kafka", "scylla"]. With `module` as well, a task must satisfy both.',
    }),
    types: t.stringList({ description: 'Tasks of any of these types, e.g. ["restart-broker", "reassign-partitions"].' }),
    states: t.field({ type: [TaskStateEnum], description: "Tasks in any of these states, e.g. [QUEUED, RUNNING]." }),
    category: t.field({
      type: TaskCategoryEnum,
      description: "Tasks in this category (a console tab), e.g. FAILED. Categories are disjoint: SCHEDULED is not part of PENDING.",
    }),
    kind: t.field({ type: TaskKindEnum, description: "NODE or CLUSTER tasks only, e.g. CLUSTER." }),
    includeInternal: t.boolean({ defaultValue: false, description: "Include internal tasks (hidden by default), e.g. true." }),
    target: t.string({ description: 'Exact target, e.g. "broker-3".' }),
    targetPrefix: t.string({ description: 'Targets starting with this (case-sensitive), e.g. "shop." for every table of keyspace shop.' }),
    labels: t.field({ type: "JSONObject", description: 'Every label given must match exactly, e.g. {"env": "prod"}.' }),
    search: t.string({
      description:
        'A keyword, e.g. "broker" or "timed out": found (case-insensitive) in the name, type, module, target or error text. Also a task id: a whole one, or a prefix of at least 8 hex digits as pasted from a log, with or without the dashes, e.g. "0199ab12" or "0199ab12-3c4d". Fewer than 8 digits are only a keyword.',
    }),
    createdAfter: t.field({ type: "DateTime", description: 'Created at or after this time, e.g. "2026-11-30T00:00:00Z".' }),
    createdBefore: t.field({ type: "DateTime", description: 'Created before this time, e.g. "2026-12-01T00:00:00Z".' }),
    startedAfter: t.field({
      type: "DateTime",
      description: 'Started at or after this time, e.g. "2026-11-30T12:00:00Z" (a task that never started does not match).',
    }),
    startedBefore: t.field({ type: "DateTime", description: 'Started before this time, e.g. "2026-11-30T13:00:00Z".' }),
    endedAfter: t.field({
      type: "DateTime",
      description: 'Ended at or after this time, e.g. an hour ago for "failed in the last hour" with category FAILED (a task not ended does not match).',
    }),
    endedBefore: t.field({ type: "DateTime", description: 'Ended before this time, e.g. "2026-11-30T13:00:00Z".' }),
    parentId: t.id({ description: 'Direct children of this task, e.g. "0199ab12-3c4d-7e5f-8a6b-1c2d3e4f5a6b".' }),
    rootsOnly: t.boolean({ description: "Only root tasks (no parent), e.g. true." }),
    createdWithRunAt: t.boolean({
      description:
        "true: only tasks created with a runAt (Task.scheduledFor is set), whatever their state now; false: only the others. For tasks waiting for their time, use category SCHEDULED.",
    }),
    scheduled: t.boolean({
      description: "The former name of createdWithRunAt, with the same meaning, e.g. true.",
      deprecationReason: "Use createdWithRunAt (the same filter), or category: SCHEDULED for tasks still waiting for their time.",
    }),
  }),
});

const TaskOrderInput = builder.inputType("TaskOrder", {
  description: "How a task list is sorted.",
  fields: (t) => ({
    field: t.field({ type: TaskOrderFieldEnum, required: true, description: "What to sort by." }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: "DESC", description: "Which way." }),
  }),
});

/** Starts a task for the caller (user-started, recorded as theirs) and answers with it, read again only for relations the selection asks for. */
async function startForCaller(ctx: Context, query: TaskQuery, request: Omit<StartTaskRequest, "userStarted" | "createdBy">) {
  const task = await ctx.manager.startTask({ ...request, userStarted: true, createdBy: ctx.principal.name });
  return asksForRelations(query) ? ctx.store.getTask(task.id, query) : task;
}

/** Narrows a client's filter to a parent's tasks (Module.tasks, TaskType.tasks); a filter that contradicts it is refused. */
function withinScope(filter: TaskFilter, scope: TaskScope): TaskFilter {
  if (scope.module && filter.module && filter.module !== scope.module) {
    throw badInput(`filter.module is "${filter.module}", but these are the tasks of module "${scope.module}"`);
  }
  if (scope.module && filter.modules && !filter.modules.includes(scope.module)) {
    throw badInput(`filter.modules leaves out "${scope.module}", the module whose tasks these are`);
  }
  if (scope.type && filter.types && !filter.types.includes(scope.type)) {
    throw badInput(`filter.types leaves out "${scope.type}", the type whose tasks these are`);
  }
  return { ...filter, ...(scope.module ? { module: scope.module } : {}), ...(scope.type ? { types: [scope.type] } : {}) };
}

/** What a parent narrows its `tasks` connection to. */
export interface TaskScope {
  module?: string;
  type?: string;
}

/**
 * A `tasks(filter, orderBy, first/after/last/before)` connection: Query.tasks, and Module.tasks and
 * TaskType.tasks, which narrow it to their own tasks. One resolver, so every list filters, orders,
 * pages and counts the same way. (`t` is any object's field builder: Pothos types them per parent.)
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
export function taskConnectionField<Parent>(t: any, options: { description: string; scope?: (parent: Parent) => TaskScope }) {
  return t.connection(
    {
      type: TaskNode,
      description: options.description,
      args: {
        filter: t.arg({ type: TaskFilterInput, description: "What to list (every field narrows it); omitted: every visible task." }),
        orderBy: t.arg({ type: TaskOrderInput, description: "The order; omitted: newest first." }),
      },
      resolve: async (parent: Parent, args: TaskConnectionArgs, ctx: Context, info: GraphQLResolveInfo) => {
        // Before the page is read: the events from there on include every change the page misses.
        const journalCursor = asksFor(info, "journalCursor") ? await ctx.store.journalHead() : undefined;
        // Straight to the store's reader (Store.listTasks takes no `count`): the count starts with the page.
        const page = await ctx.store.listTasks({
          filter: options.scope ? withinScope(args.filter ?? {}, options.scope(parent)) : (args.filter ?? {}),
          orderBy: args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? "DESC" } : null,
          page: { first: args.first, after: args.after, last: args.last, before: args.before },
          query: queryFromInfo({ context: ctx, info, path: ["edges", "node"] }),
          count: asksFor(info, "totalCount") || asksFor(info, "totalCountIsExact"),
        });
        return { ...page, journalCursor };
      },
    },
    TaskConnection,
  );
}

interface TaskConnectionArgs extends PageArgs {
  filter?: TaskFilter | null;
  orderBy?: { field: TaskOrder["field"]; direction?: TaskOrder["direction"] | null } | null;
}

builder.queryFields((t) => ({
  tasks: taskConnectionField(t, { description: "Tasks matching the filter, newest first unless orderBy says otherwise." }),
  task: t.prismaField({
    type: "Task",
    nullable: true,
    description: "One task by id; null when there is none (a malformed id is BAD_USER_INPUT).",
    args: { id: t.arg.id({ required: true, description: "The task's id (a UUID)." }) },
    resolve: (query, _root, { id }, ctx) => ctx.store.findTask(parseUuid(String(id)), query),
  }),
  taskTree: t.field({
    type: [TaskNode],
    nullable: true,
    description:
      "The task and its descendants, breadth-first, siblings in creation order (ScyllaDB's recursive status); null when there is no such task.",
    args: {
      id: t.arg.id({ required: true, description: "The id of the task at the top." }),
      maxDepth: t.arg.int({ description: "Levels below the task; omitted = all." }),
      includeFolded: t.arg.boolean({
        defaultValue: false,
        description: "Internal tasks that succeeded are folded into their parent (left out) unless this is true; failed ones always show.",
      }),
    },
    resolve: async (_root, { id, maxDepth, includeFolded }, ctx, info) => {
      if (maxDepth != null && maxDepth < 0) throw badInput("maxDepth must be ≥ 0");
      try {
        return await ctx.store.taskTree(parseUuid(String(id)), { maxDepth, includeFolded, ...treeRead(ctx, info) });
      } catch (error) {
        if (error instanceof TaskgraphError && error.code === "NOT_FOUND") return null; // a lookup by id: null, as task(id)
        throw error;
      }
    },
  }),
  waitForTask: t.prismaField({
    type: "Task",
    description: "Resolves when the task has ended (ScyllaDB's wait), or fails with TIMEOUT.",
    args: {
      id: t.arg.id({ required: true, description: "The task's id." }),
      timeoutSeconds: t.arg.int({ defaultValue: 30, description: `0 to ${MAX_WAIT_SECONDS}.` }),
    },
    resolve: async (query, _root, { id, timeoutSeconds }, ctx) => {
      const task = await ctx.manager.waitForTask(String(id), timeoutSeconds ?? 30);
      return ctx.store.getTask(task.id, query);
    },
  }),
}));

type InputFieldBuilder = PothosSchemaTypes.InputFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, "InputObject">;

/** The operation-policy fields of StartTaskInput and CreateTestTaskInput. */
function policyInputFields(t: InputFieldBuilder) {
  return {
    priority: t.int({ description: "-1,000 to 1,000: a higher priority is claimed first (an emergency restart jumps the queue); default the type's, else 0." }),
    exclusiveKey: t.string({
      description: "Tasks with the same key never run at once (e.g. the broker an operation acts on); default the type's (its target, when the type says so).",
    }),
    exclusiveMode: t.field({
      type: ExclusiveModeEnum,
      description: "With a key: WAIT (default) queues the task until the key is free; REFUSE fails at once with CONFLICT while a pending task has the key.",
    }),
    timeoutMs: t.int({
      description:
        "Each run's time limit in ms (1 to 604,800,000; default the type's): past it the run's signal is aborted and the task fails with errorCode TIMEOUT.",
    }),
    retry: t.field({
      type: RetryPolicyInput,
      description: "Automatic retries of its run (a plain task) or of each of its steps without their own policy (a flow); default the type's.",
    }),
  };
}

const CreateTestTaskInput = builder.inputType("CreateTestTaskInput", {
  description: "openATTIC's test task: counts `rounds` rounds of `roundMs`. `steps` makes it a flow, `children` a tree.",
  fields: (t) => ({
    rounds: t.int({ required: true, description: "1 to 100,000." }),
    roundMs: t.int({ defaultValue: 1000, description: "0 to 60,000 ms per round." }),
    failAtRound: t.int({ description: "Fail at this round (counted over the whole flow), on the first attempt only (or the first failAttempts)." }),
    failAttempts: t.int({ description: "How many attempts failAtRound fails (1 to 100; default 1): with `retry`, watch automatic retries fail, then succeed or give up." }),
    steps: t.int({ description: "A flow of this many steps (up to 50), each counting `rounds` rounds, each with a rollback." }),
    children: t.int({ description: "A CLUSTER root with this many node tasks (up to 1,000), each with an internal grandchild." }),
    abortable: t.boolean({ defaultValue: true, description: "Whether abortTask is accepted." }),
    runAt: t.field({ type: "DateTime", description: "Run at this time (SCHEDULED until then)." }),
    ...policyInputFields(t),
  }),
});

const StartTaskInput = builder.inputType("StartTaskInput", {
  description: "A task to start: its type, input and what it acts on.",
  fields: (t) => ({
    module: t.string({ required: true, description: "The module of the type." }),
    type: t.string({ required: true, description: "The task type's name (taskTypes lists them)." }),
    input: t.field({ type: "JSON", description: "The input, checked against the type's input schema (TaskType.inputSchema)." }),
    name: t.string({ description: "A name for people; default: the type's." }),
    target: t.string({ description: "What the task acts on (broker-3, keyspace.table, …)." }),
    labels: t.field({ type: "JSONObject", description: "String values only." }),
    runAt: t.field({ type: "DateTime", description: "Run at this time (SCHEDULED until then); omitted or past: now." }),
    ...policyInputFields(t),
  }),
});

/** What policyInputFields asked, for startTask. */
function policyOf(input: {
  priority?: number | null;
  exclusiveKey?: string | null;
  exclusiveMode?: "WAIT" | "REFUSE" | null;
  timeoutMs?: number | null;
  retry?: Parameters<typeof retryPolicyOf>[0] | null;
}) {
  return {
    priority: input.priority ?? null,
    exclusiveKey: input.exclusiveKey ?? null,
    exclusiveMode: input.exclusiveMode ?? null,
    timeoutMs: input.timeoutMs ?? null,
    retry: input.retry ? retryPolicyOf(input.retry) : null,
  };
}

const DeleteTaskResult = builder
  .objectRef<{ deletedIds: string[]; task: unknown }>("DeleteTaskResult")
  .implement({
    description: "deletedIds lists what was removed; task is set instead when a pending task was failed (openATTIC) and remains.",
    fields: (t) => ({
      deleted: t.boolean({ description: "Whether anything was removed.", resolve: (r) => r.deletedIds.length > 0 }),
      deletedIds: t.exposeIDList("deletedIds", { description: "The ids of the removed tasks (the task and its subtree)." }),
    }),
  });

builder.objectField(DeleteTaskResult, "task", (t) =>
  t.prismaField({
    type: "Task",
    nullable: true,
    description: "The task when it remains (a forced delete of a pending task fails it instead).",
    resolve: (query, result, _args, ctx) => (result.task ? ctx.store.findTask((result.task as { id: string }).id, query) : null),
  }),
);

builder.mutationFields((t) => ({
  createTestTask: t.prismaField({
    type: "Task",
    description: "Starts a task of the built-in test module (when the server has it): counts rounds, optionally as a flow or a tree, optionally failing.",
    args: { input: t.arg({ type: CreateTestTaskInput, required: true, description: "What the test task does." }) },
    resolve: async (query, _root, { input }, ctx) => {
      const parsed = parseCountInput({ ...input, roundMs: input.roundMs ?? 1000 });
      const type = testTaskType(parsed);
      if (!ctx.manager.registry.get("test", type)) {
        throw new TaskgraphError("NOT_FOUND", "This server has no test module: a program embedding taskgraph adds it with defineTestModule(manager)");
      }
      return startForCaller(ctx, query, { module: "test", type, input: parsed, runAt: input.runAt ?? null, ...policyOf(input) });
    },
  }),
  startTask: t.prismaField({
    type: "Task",
    description: "The async variant of any defined operation: returns the new task at once.",
    args: { input: t.arg({ type: StartTaskInput, required: true, description: "The task to start." }) },
    resolve: async (query, _root, { input }, ctx) => {
      return startForCaller(ctx, query, {
        module: input.module,
        type: input.type,
        input: input.input,
        name: input.name ?? undefined,
        target: input.target ?? null,
        labels: input.labels ?? null,
        runAt: input.runAt ?? null,
        ...policyOf(input),
      });
    },
  }),
  abortTask: t.prismaField({
    type: "Task",
    description:
      "Pending: cancels the task and its descendants (cooperatively; NOT_ABORTABLE when its type is not abortable); with rollback, completed steps are rolled back in reverse order. FAILED: rolls back every step from the failed one back to the first, then CANCELED.",
    args: {
      id: t.arg.id({ required: true, description: "The task's id." }),
      rollback: t.arg.boolean({ defaultValue: false, description: "Roll back the completed steps too." }),
    },
    resolve: async (query, _root, { id, rollback }, ctx) => {
      const task = await ctx.store.abortTask(parseUuid(String(id)), { rollback: rollback ?? false });
      return ctx.store.getTask(task.id, query);
    },
  }),
  deleteTask: t.field({
    type: DeleteTaskResult,
    description:
      "Removes an ended task with its subtree. A pending one needs force (else TASK_NOT_FINISHED): its follow-up work is canceled, nothing is reverted, and it becomes FAILED; delete it again to remove it.",
    args: {
      id: t.arg.id({ required: true, description: "The task's id." }),
      force: t.arg.boolean({ defaultValue: false, description: "Also a pending task (it is failed, not removed)." }),
    },
    resolve: (_root, { id, force }, ctx) => ctx.store.deleteTask(parseUuid(String(id)), { force: force ?? false }),
  }),
  retryTask: t.prismaField({
    type: "Task",
    description: "FAILED → rolls back the failed steps, runs them again, continues (OCP Retry).",
    args: { id: t.arg.id({ required: true, description: "The task's id." }) },
    resolve: async (query, _root, { id }, ctx) => ctx.store.getTask((await ctx.store.retryTask(parseUuid(String(id)))).id, query),
  }),
}));

export type { Task };
