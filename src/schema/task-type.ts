// The task-type catalogue: every type some process defines (TaskType), which live workers serve
// it, and the links Module.taskTypes, Worker.taskTypes and Task.taskType.
import type { Task, TaskType } from "../generated/prisma/client";
import type { FlowStep } from "../store";
import { taskTypeKey } from "../store";
import { builder } from "./builder";
import { ExclusiveModeEnum, TaskKindEnum } from "./enums";
import { ModuleType } from "./module";
import { concurrencyLimit, taskTypeByKey, taskTypeServed } from "./loaders";
import { typeScope } from "../store/task-types";
import { TaskNode, taskConnectionField } from "./task";
import { RetryPolicyRef } from "./retry";
import type { FullRetryPolicy } from "../domain/retry";

/**
 * A task whose type has no catalogue entry (created straight through the store, never through a
 * process that defines or looked up its type): what the task itself tells about it.
 */
function entryFromTask(task: Task): TaskType {
  return {
    key: taskTypeKey(task.moduleName, task.type),
    moduleName: task.moduleName,
    name: task.type,
    description: "",
    kind: task.kind,
    abortable: null,
    progressUnits: task.progressUnits,
    hasSteps: false,
    flow: null,
    inputSchema: null,
    exclusive: null,
    priority: 0,
    retry: null,
    updatedAt: task.createdAt,
  };
}

const TaskTypeStep = builder.objectRef<FlowStep>("TaskTypeStep").implement({
  description: "One step of a task type's fixed flow (the template every task of the type gets).",
  fields: (t) => ({
    key: t.exposeString("key", { description: "The step's key, unique in the flow." }),
    name: t.exposeString("name", { description: "The step's display name." }),
    dependsOn: t.exposeStringList("dependsOn", { description: "Keys of the steps it waits for ([]: none)." }),
  }),
});

interface ExclusiveShape {
  by: "target" | "input";
  mode: "WAIT" | "REFUSE";
}

const ExclusiveKeySourceEnum = builder.enumType("ExclusiveKeySource", {
  description: "Where a task type takes its tasks' exclusive key from.",
  values: {
    TARGET: { description: "The task's target: one operation per target at a time." },
    INPUT: { description: "Computed from the input by the type's definition (only a process that defines the type can start one with its key)." },
  } as const,
});

const ExclusivePolicyRef = builder.objectRef<ExclusiveShape>("ExclusivePolicy").implement({
  description: "A task type's exclusive targets: its tasks with the same key never run at once, across every worker.",
  fields: (t) => ({
    keyFrom: t.field({ type: ExclusiveKeySourceEnum, description: "Where the key comes from.", resolve: (p) => (p.by === "target" ? "TARGET" : "INPUT") }),
    mode: t.field({ type: ExclusiveModeEnum, description: "Whether a task waits for the key (WAIT) or is refused while it is held (REFUSE).", resolve: (p) => p.mode }),
  }),
});

export const TaskTypeNode = builder.prismaNode("TaskType", {
  id: { field: "key" },
  nullable: true,
  description:
    "A task type some process defines (the catalogue): what it does, its input's JSON Schema, and which live workers run it. Any process can start it, even one that does not define it.",
  fields: (t) => ({
    module: t.relation("module", { description: "The module the type belongs to." }),
    name: t.exposeString("name", { description: "The type's name within its module (Task.type)." }),
    description: t.exposeString("description", { description: "What a task of this type does." }),
    kind: t.expose("kind", { type: TaskKindEnum, description: "NODE or CLUSTER (a CLUSTER task is always a root)." }),
    abortable: t.exposeBoolean("abortable", {
      nullable: true,
      description: "Whether abortTask is accepted for its tasks; null when that depends on the input.",
    }),
    progressUnits: t.exposeString("progressUnits", { nullable: true, description: "What its tasks' progress counts (rounds, bytes, …)." }),
    isFlow: t.exposeBoolean("hasSteps", { description: "A flow of steps rather than one piece of work." }),
    steps: t.field({
      type: [TaskTypeStep],
      nullable: true,
      description: "The fixed step template; null when the steps depend on the input, or for a type without steps.",
      resolve: (type) => (type.flow as FlowStep[] | null) ?? null,
    }),
    inputSchema: t.field({
      type: "JSON",
      nullable: true,
      description: "The JSON Schema (draft 2020-12) startTask checks the input against; null when the type publishes none.",
      resolve: (type) => type.inputSchema ?? null,
    }),
    exclusive: t.field({
      type: ExclusivePolicyRef,
      nullable: true,
      description: "One task per key at a time (exclusive targets); null: its tasks may run at once (a startTask may still give a key).",
      resolve: (type) => (type.exclusive as ExclusiveShape | null) ?? null,
    }),
    priority: t.exposeInt("priority", { description: "Its tasks' priority unless startTask gives one (higher is claimed first)." }),
    retry: t.field({
      type: RetryPolicyRef,
      nullable: true,
      description: "Automatic retries of its tasks' runs, and of their steps without their own policy, unless startTask gives one; null: none.",
      resolve: (type) => (type.retry as FullRetryPolicy | null) ?? null,
    }),
    concurrencyLimit: t.int({
      nullable: true,
      description:
        "At most this many of its tasks run at once, across every worker (TaskDefinition.concurrency); the others wait QUEUED. Null: no limit (its module's may still apply).",
      resolve: (type, _args, ctx) => concurrencyLimit(ctx).load(typeScope(type.moduleName, type.name)),
    }),
    workers: t.prismaField({
      type: ["Worker"],
      description: "Live workers (heartbeat within the last 60 s) that run this type, most recent heartbeat first.",
      resolve: (query, type, _args, ctx) => ctx.store.workersServing(type.key, query),
    }),
    served: t.boolean({
      description: "Whether a live worker runs this type. When none does, its tasks are accepted and wait QUEUED.",
      resolve: (type, _args, ctx) => taskTypeServed(ctx).load(type.key),
    }),
  }),
});

builder.queryFields((t) => ({
  taskTypes: t.prismaField({
    type: ["TaskType"],
    description: "Every task type some process defines, by module then name.",
    args: { module: t.arg.string({ description: "Only this module's types." }) },
    resolve: (query, _root, args, ctx) => ctx.store.listTaskTypes({ module: args.module ?? null, query }),
  }),
  taskType: t.prismaField({
    type: "TaskType",
    nullable: true,
    description: "One task type; null when no process defines it.",
    args: {
      module: t.arg.string({ required: true, description: "The type's module." }),
      name: t.arg.string({ required: true, description: "The type's name within the module." }),
    },
    resolve: (query, _root, args, ctx) => ctx.store.findTaskType(taskTypeKey(args.module, args.name), query),
  }),
}));

builder.prismaObjectField(ModuleType, "taskTypes", (t) =>
  t.relation("taskTypes", { description: "The module's task types, by name.", query: { orderBy: { name: "asc" } } }),
);

builder.prismaObjectField(TaskTypeNode, "tasks", (t) =>
  taskConnectionField<TaskType>(t, {
    description: "Tasks of this type matching the filter (as `tasks`, within this type), newest first unless orderBy says otherwise.",
    scope: (type) => ({ module: type.moduleName, type: type.name }),
  }),
);

builder.prismaObjectField("Worker", "taskTypes", (t) =>
  t.prismaField({
    type: ["TaskType"],
    description: "The task types this worker runs, by module then name.",
    resolve: (query, worker, _args, ctx) => ctx.store.listTaskTypes({ keys: worker.taskTypes, query }),
  }),
);

builder.prismaObjectField(TaskNode, "taskType", (t) =>
  t.field({
    type: TaskTypeNode,
    description: "The task's type in the catalogue.",
    resolve: async (task, _args, ctx) => (await taskTypeByKey(ctx).load(taskTypeKey(task.moduleName, task.type))) ?? entryFromTask(task),
  }),
);
