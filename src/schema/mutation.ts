// Mutations: start tasks, and every control the source systems give people. Each
// refuses the wrong state with a clear code and changes nothing (the store checks the same
// availableActions the API shows).
import { TaskgraphError } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { parseCountInput, testTaskType } from "../modules/test";
import type { Store } from "../store";
import { builder } from "./builder";
import { SettingsType } from "./settings";

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

const DrainModuleResult = builder.objectRef<{ deletedIds: string[] }>("DrainModuleResult").implement({
  fields: (t) => ({
    deletedCount: t.int({ resolve: (r) => r.deletedIds.length }),
    deletedIds: t.exposeIDList("deletedIds"),
  }),
});

builder.mutationFields((t) => {
  /** The three OCP step actions: (taskId, stepKey) → the task after the change. */
  const stepMutation = (description: string, act: (store: Store, taskId: string, stepKey: string) => Promise<{ id: string }>) =>
    t.prismaField({
      type: "Task",
      description,
      args: { taskId: t.arg.id({ required: true }), stepKey: t.arg.string({ required: true }) },
      resolve: async (query, _root, args, ctx) =>
        ctx.store.getTask((await act(ctx.store, parseUuid(String(args.taskId), "taskId"), args.stepKey)).id, query),
    });
  return {
  createTestTask: t.prismaField({
    type: "Task",
    args: { input: t.arg({ type: CreateTestTaskInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const parsed = parseCountInput({ ...input, roundMs: input.roundMs ?? 1000 });
      const type = testTaskType(parsed);
      if (!ctx.manager.registry.get("test", type)) {
        throw new TaskgraphError("NOT_FOUND", "This server has no test module: a program embedding taskgraph adds it with defineTestModule(manager)");
      }
      const task = await ctx.manager.startTask({
        module: "test",
        type,
        input: parsed,
        runAt: input.runAt ?? null,
        userStarted: true,
        createdBy: ctx.principal.name,
      });
      return ctx.store.getTask(task.id, query);
    },
  }),
  startTask: t.prismaField({
    type: "Task",
    description: "The async variant of any defined operation: returns the new task at once.",
    args: { input: t.arg({ type: StartTaskInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const task = await ctx.manager.startTask({
        module: input.module,
        type: input.type,
        input: input.input,
        name: input.name ?? undefined,
        target: input.target ?? null,
        labels: input.labels ?? null,
        runAt: input.runAt ?? null,
        userStarted: true,
        createdBy: ctx.principal.name,
      });
      return ctx.store.getTask(task.id, query);
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
  rerunStep: stepMutation("A FAILED step: roll back, execute again, continue on success.", (store, taskId, key) =>
    store.rerunStep(taskId, key),
  ),
  markStepSucceeded: stepMutation("A FAILED step becomes SKIPPED (set to successful) and the flow continues.", (store, taskId, key) =>
    store.markStepSucceeded(taskId, key),
  ),
  terminateStep: stepMutation('A RUNNING step becomes FAILED ("terminated"), and so does the task.', (store, taskId, key) =>
    store.terminateStep(taskId, key),
  ),
  setTaskTtl: t.field({
    type: SettingsType,
    authScopes: { admin: true },
    description: "How long finished tasks are kept (seconds; 0 = removed at once): system-started (ttlSeconds) and user-started (userTtlSeconds).",
    args: { ttlSeconds: t.arg.int(), userTtlSeconds: t.arg.int() },
    resolve: (_root, args, ctx) =>
      ctx.store.writeSettings({ taskTtlSeconds: args.ttlSeconds ?? undefined, userTaskTtlSeconds: args.userTtlSeconds ?? undefined }),
  }),
  drainModule: t.field({
    type: DrainModuleResult,
    authScopes: { admin: true },
    description: "Removes every finished task of the module now.",
    args: { module: t.arg.string({ required: true }) },
    resolve: async (_root, { module }, ctx) => ({ deletedIds: await ctx.store.drainModule(module) }),
  }),
  };
});
