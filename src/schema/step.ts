// Steps of a flow, their attempts (execute, retry, rollback) and log entries, and the step
// mutations (rerunStep, markStepSucceeded, terminateStep).
import { stepActions } from "../domain/actions";
import { badInput, notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import type { Store } from "../store";
import { builder, type Context, decodeNodeId } from "./builder";
import { AttemptKindEnum, AttemptStateEnum, LogLevelEnum, StepActionEnum, StepStateEnum } from "./enums";
import { checkedMaxSize, totalCountOptions } from "./pagination";

const LOG_ORDER = { orderBy: { id: "asc" } } as const;

export const LogEntryNode = builder.prismaNode("LogEntry", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "One log line of a task, or of a step attempt. Its id is `LogEntry:<uuid>`.",
  fields: (t) => ({
    level: t.expose("level", { type: LogLevelEnum, description: "How serious the line is." }),
    message: t.exposeString("message", { description: "The text of the line (for an error: its message only)." }),
    stack: t.exposeString("stack", {
      nullable: true,
      description:
        "The stack trace of the error this line reports (ERROR lines of a failed task, step or rollback), file paths relative to the project root; null for other lines. `message` holds only the error's message.",
    }),
    time: t.expose("time", { type: "DateTime", description: "When it was written." }),
    task: t.relation("task", { description: "The task the line belongs to." }),
    step: t.relation("step", { nullable: true, description: "The step that wrote it; null for a line of the task itself." }),
    attempt: t.relation("attempt", { nullable: true, description: "The step attempt that wrote it; null for a line of the task itself." }),
  }),
});

/** One connection type for every list of log lines (of a task, a step, an attempt). */
export const LogEntryConnection = builder.connectionObject(
  {
    type: LogEntryNode,
    name: "LogEntryConnection",
    description: "A page of log lines, oldest first.",
    fields: (t) => ({
      totalCount: t.int(totalCountOptions("Lines in the whole log, on all pages.")),
    }),
  },
  { name: "LogEntryEdge", description: "A log line in a page, with its cursor." },
);

/** A `logs` connection over a relation of log lines, oldest first. */
const logsOptions = (description: string) =>
  ({ cursor: "id", description, query: LOG_ORDER, maxSize: checkedMaxSize, totalCount: true }) as const;

export const StepNode = builder.prismaNode("Step", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "One step of a task's flow. Its id is `Step:<uuid>`.",
  fields: (t) => ({
    key: t.exposeString("key", { description: "Unique within the task's flow; stable across runs." }),
    name: t.exposeString("name", { description: "What the step does, for people." }),
    index: t.exposeInt("index", { description: "Position in the flow as defined." }),
    state: t.expose("state", { type: StepStateEnum, description: "Where the step is now." }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true, description: "When its latest attempt started." }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true, description: "When it ended; null while waiting or running." }),
    error: t.exposeString("error", { nullable: true, description: "Why its latest attempt failed." }),
    task: t.relation("task", { description: "The task whose flow this step is part of." }),
    attempts: t.relation("attempts", { query: { orderBy: { number: "asc" } }, description: "Its executions, retries and rollbacks, in order." }),
    availableActions: t.field({
      type: [StepActionEnum],
      description: "Exactly the step mutations that would be accepted now (none while WAITING).",
      select: { task: { select: { state: true, isAbortable: true, abortRequestedAt: true } } },
      resolve: (step) => stepActions(step, step.task),
    }),
  }),
});

builder.prismaObjectField(StepNode, "dependsOn", (t) =>
  t.field({
    type: [StepNode],
    description: "The steps this one waits for.",
    select: { dependsOn: true, task: { select: { steps: true } } },
    resolve: (step) => step.task.steps.filter((other) => step.dependsOn.includes(other.key)),
  }),
);

builder.prismaObjectField(StepNode, "logs", (t) =>
  t.relatedConnection("logs", logsOptions("The step's log lines, every attempt's, oldest first."), LogEntryConnection),
);

const StepAttemptNode = builder.prismaNode("StepAttempt", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "One execution, retry or rollback of a step, with its own logs. Its id is `StepAttempt:<uuid>`.",
  fields: (t) => ({
    number: t.exposeInt("number", { description: "1, 2, … in the order the attempts started." }),
    kind: t.expose("kind", { type: AttemptKindEnum, description: "Execution, retry or rollback." }),
    state: t.expose("state", { type: AttemptStateEnum, description: "Running, or how it ended." }),
    startedAt: t.expose("startedAt", { type: "DateTime", description: "When it started." }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true, description: "When it ended; null while running." }),
    error: t.exposeString("error", { nullable: true, description: "Why it failed." }),
    step: t.relation("step", { description: "The step it is an attempt of." }),
  }),
});

builder.prismaObjectField(StepAttemptNode, "logs", (t) =>
  t.relatedConnection("logs", logsOptions("The attempt's own log lines, oldest first."), LogEntryConnection),
);

/** The step a mutation names: by its id, or by its task's id and its key. */
async function stepTarget(ctx: Context, args: { stepId?: string | number | null; taskId?: string | number | null; stepKey?: string | null }) {
  if (args.stepId != null) {
    if (args.taskId != null || args.stepKey != null) throw badInput("Name the step by stepId, or by taskId and stepKey, not both");
    const { typename, id } = decodeNodeId(String(args.stepId));
    if (typename !== "Step") throw badInput(`stepId must be a Step's id, got a ${typename}'s`, { stepId: args.stepId });
    const step = await ctx.store.findStep(id);
    if (!step) throw notFound("Step", String(args.stepId));
    return { taskId: step.taskId, stepKey: step.key };
  }
  if (args.taskId == null || args.stepKey == null) throw badInput("Name the step by stepId, or by taskId and stepKey");
  return { taskId: parseUuid(String(args.taskId), "taskId"), stepKey: args.stepKey };
}

builder.mutationFields((t) => {
  /** The three OCP step actions: a step (by id, or task id and key) → its task after the change. */
  const stepMutation = (description: string, act: (store: Store, taskId: string, stepKey: string) => Promise<{ id: string }>) =>
    t.prismaField({
      type: "Task",
      description: `${description} Name the step by stepId, or by taskId and stepKey.`,
      args: {
        stepId: t.arg.id({ description: "The step's id (`Step:<uuid>`)." }),
        taskId: t.arg.id({ description: "The task's id, with stepKey." }),
        stepKey: t.arg.string({ description: "The step's key in that task's flow, with taskId." }),
      },
      resolve: async (query, _root, args, ctx) => {
        const { taskId, stepKey } = await stepTarget(ctx, args);
        return ctx.store.getTask((await act(ctx.store, taskId, stepKey)).id, query);
      },
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
