// Task, its progress and flow, and the task connection (the API's central type).
import { queryFromInfo } from "@pothos/plugin-prisma";
import DataLoader from "dataloader";
import { taskActions } from "../domain/actions";
import { flowEdges } from "../domain/flow";
import { categoryOf, isEnded } from "../domain/states";
import type { Task } from "../generated/prisma/client";
import type { TaskPage } from "../store/task-reads";
import { builder, type Context } from "./builder";
import { StepStateEnum, TaskActionEnum, TaskCategoryEnum, TaskKindEnum, TaskStateEnum } from "./enums";
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

export type { Task };
