// Steps of a flow, their attempts (execute, retry, rollback) and log entries, and the step
// mutations (rerunStep, markStepSucceeded, terminateStep).
import { stepActions } from "../domain/actions";
import { parseUuid } from "../domain/ids";
import type { Store } from "../store";
import { builder } from "./builder";
import { AttemptKindEnum, AttemptStateEnum, LogLevelEnum, StepActionEnum, StepStateEnum } from "./enums";
import { checkedMaxSize } from "./pagination";

const LOG_ORDER = { orderBy: { id: "asc" } } as const;

builder.prismaNode("Step", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "One step of a task's flow.",
  fields: (t) => ({
    key: t.exposeString("key"),
    name: t.exposeString("name"),
    index: t.exposeInt("index", { description: "Position in the flow as defined." }),
    dependsOn: t.exposeStringList("dependsOn", { description: "Keys of the steps this one waits for." }),
    state: t.expose("state", { type: StepStateEnum }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    task: t.relation("task"),
    attempts: t.relation("attempts", { query: { orderBy: { number: "asc" } } }),
    availableActions: t.field({
      type: [StepActionEnum],
      description: "Exactly the step mutations that would be accepted now (none while WAITING).",
      select: { task: { select: { state: true, isAbortable: true, abortRequestedAt: true } } },
      resolve: (step) => stepActions(step, step.task),
    }),
    logs: t.relatedConnection("logs", { cursor: "id", query: LOG_ORDER, maxSize: checkedMaxSize, totalCount: true }),
  }),
});

builder.prismaNode("StepAttempt", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "One execution, retry or rollback of a step, with its own logs.",
  fields: (t) => ({
    number: t.exposeInt("number", { description: "1, 2, … in the order the attempts started." }),
    kind: t.expose("kind", { type: AttemptKindEnum }),
    state: t.expose("state", { type: AttemptStateEnum }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    step: t.relation("step"),
    logs: t.relatedConnection("logs", { cursor: "id", query: LOG_ORDER, maxSize: checkedMaxSize, totalCount: true }),
  }),
});

builder.prismaObject("LogEntry", {
  description: "One log line of a task, or of a step attempt.",
  fields: (t) => ({
    id: t.exposeID("id"),
    level: t.expose("level", { type: LogLevelEnum }),
    message: t.exposeString("message"),
    stack: t.exposeString("stack", {
      nullable: true,
      description:
        "The stack trace of the error this line reports (ERROR lines of a failed task, step or rollback), file paths relative to the project root; null for other lines. `message` holds only the error's message.",
    }),
    time: t.expose("time", { type: "DateTime" }),
    taskId: t.exposeID("taskId"),
    step: t.relation("step", { nullable: true }),
    attempt: t.relation("attempt", { nullable: true }),
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
    rerunStep: stepMutation("A FAILED step: roll back, execute again, continue on success.", (store, taskId, key) =>
      store.rerunStep(taskId, key),
    ),
    markStepSucceeded: stepMutation("A FAILED step becomes SKIPPED (set to successful) and the flow continues.", (store, taskId, key) =>
      store.markStepSucceeded(taskId, key),
    ),
    terminateStep: stepMutation('A RUNNING step becomes FAILED ("terminated"), and so does the task.', (store, taskId, key) =>
      store.terminateStep(taskId, key),
    ),
  };
});
