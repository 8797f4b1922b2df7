// Steps of a flow, their attempts (execute, retry, rollback) and log entries, and the step
// mutations (rerunStep, markStepSucceeded, terminateStep).
import { stepActions } from "../domain/actions";
import { badInput, checkText, notFound } from "../domain/errors";
import { LIMITS } from "../domain/limits";
import type { LogLevel, Prisma, Step } from "../generated/prisma/client";
import { parseUuid } from "../domain/ids";
import type { Store } from "../store";
import { builder, type Context, decodeNodeId } from "./builder";
import { AttemptKindEnum, AttemptStateEnum, FailureCodeEnum, LogLevelEnum, StepActionEnum, StepStateEnum } from "./enums";
import { checkedMaxSize, totalCountOptions } from "./pagination";

const LOG_LEVELS: LogLevel[] = ["DEBUG", "INFO", "WARN", "ERROR"];

export const LogFilterInput = builder.inputType("LogFilter", {
  description:
    'Which log lines to list; every field narrows the list (AND). Example: `{ minLevel: WARN, stepKey: "move", attempt: 2, search: "timeout", since: "2026-11-30T10:00:00Z" }`.',
  fields: (t) => ({
    minLevel: t.field({ type: LogLevelEnum, description: "This level and the more serious ones, e.g. `WARN` gives WARN and ERROR lines." }),
    stepKey: t.string({
      description: 'Task.logs only: the lines of this step (by key, e.g. `"move"`), every attempt\'s unless `attempt` says which. Refused on Step.logs and StepAttempt.logs.',
    }),
    attempt: t.int({
      description:
        "The lines of this attempt of the step (its number: 1, 2, …; e.g. `2` after one rerun), as StepAttempt.number counts them. On Task.logs only together with stepKey; refused on StepAttempt.logs.",
    }),
    search: t.string({ description: 'Lines whose message contains this text, ignoring case, e.g. `"timeout"`.' }),
    since: t.field({ type: "DateTime", description: 'Lines written at or after this time, e.g. `"2026-11-30T10:00:00Z"`.' }),
    until: t.field({ type: "DateTime", description: 'Lines written before this time (not at it), e.g. `"2026-11-30T11:00:00Z"`.' }),
  }),
});

export interface LogFilter {
  minLevel?: LogLevel | null;
  stepKey?: string | null;
  attempt?: number | null;
  search?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/**
 * A LogFilter as the `where` of a log relation, checked for the level it is asked on: `stepKey`
 * only on a task's log, `attempt` on a task's (with stepKey) or a step's. Refusals are BAD_USER_INPUT.
 */
export function logWhere(filter: LogFilter | null | undefined, on: "task" | "step" | "attempt"): Prisma.LogEntryWhereInput {
  const f = filter ?? {};
  const where: Prisma.LogEntryWhereInput = {};
  if (f.stepKey != null) {
    if (on !== "task") throw badInput(`filter.stepKey is for Task.logs: these are the lines of one ${on === "step" ? "step" : "attempt"} already`);
    checkText("filter.stepKey", f.stepKey, LIMITS.nameLength);
    where.step = { key: f.stepKey };
  }
  if (f.attempt != null) {
    if (on === "attempt") throw badInput("filter.attempt is for Task.logs and Step.logs: these are the lines of one attempt already");
    if (on === "task" && f.stepKey == null) throw badInput("filter.attempt needs filter.stepKey on Task.logs: attempts are numbered per step");
    if (!Number.isInteger(f.attempt) || f.attempt < 1) throw badInput("filter.attempt must be an attempt number ≥ 1");
    where.attempt = { number: f.attempt };
  }
  if (f.minLevel != null) where.level = { in: LOG_LEVELS.slice(LOG_LEVELS.indexOf(f.minLevel)) };
  if (f.search != null) {
    checkText("filter.search", f.search, LIMITS.searchLength);
    where.message = { contains: f.search, mode: "insensitive" };
  }
  if (f.since != null || f.until != null) where.time = { ...(f.since ? { gte: f.since } : {}), ...(f.until ? { lt: f.until } : {}) };
  return where;
}


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

/** What every `logs` connection shares: oldest first, stable cursors (UUIDv7 ids), totalCount of the filtered lines. */
export const LOG_CONNECTION = { cursor: "id", maxSize: checkedMaxSize, totalCount: true } as const;
export const LOG_ORDER = { orderBy: { id: "asc" } } as const;

interface StepProgressShape {
  stepId: string;
  total: number | null;
  completed: number;
}

const stepProgressOf = (step: Pick<Step, "id" | "progressCompleted" | "progressTotal">): StepProgressShape => ({
  stepId: step.id,
  total: step.progressTotal,
  completed: step.progressCompleted,
});

const StepProgressType = builder.objectRef<StepProgressShape>("StepProgress");
builder.node(StepProgressType, {
  description:
    "How far a step's current attempt is, as its code reports it (ctx.progress inside the step); back to 0 when an attempt opens. Its id is `StepProgress:<step uuid>`, so a client cache updates it in place.",
  id: { resolve: (p) => p.stepId },
  loadMany: async (ids, ctx) => {
    const steps = new Map((await ctx.store.stepsByIds(ids)).map((step) => [step.id, step]));
    return ids.map((id) => {
      const step = steps.get(id);
      return step ? stepProgressOf(step) : null;
    });
  },
  fields: (t) => ({
    total: t.exposeFloat("total", { nullable: true, description: "How much there is to do; null until the step's code says." }),
    completed: t.exposeFloat("completed", { description: "How much is done." }),
    fraction: t.float({
      nullable: true,
      description: "completed / total between 0 and 1; null while the total is unknown or 0.",
      resolve: (p) => (p.total ? Math.min(1, p.completed / p.total) : null),
    }),
  }),
});

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
    errorCode: t.expose("errorCode", {
      type: FailureCodeEnum,
      nullable: true,
      description: "Why its latest attempt failed, when the runtime knows: TIMEOUT (it ran past its time limit). Null when its code threw.",
    }),
    nextAttemptAt: t.expose("nextAttemptAt", {
      type: "DateTime",
      nullable: true,
      description: "FAILED with an automatic retry to come (its retry policy): when the next attempt starts. Null otherwise, and once the task has ended.",
    }),
    automaticRetries: t.exposeInt("automaticRetries", {
      description: "How many times it was retried automatically since it first ran or was last rolled back (a manual Retry or Rerun starts the count again).",
    }),
    progress: t.field({
      type: StepProgressType,
      description: "How far its current attempt is (ctx.progress in the step). The task's progress counts the running steps' fractions.",
      resolve: (step) => stepProgressOf(step),
    }),
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
  t.relatedConnection(
    "logs",
    {
      ...LOG_CONNECTION,
      description: "The step's log lines, every attempt's (or one's: filter.attempt), oldest first.",
      args: { filter: t.arg({ type: LogFilterInput, description: "Which lines (every field narrows them); filter.stepKey is refused here." }) },
      query: (args) => ({ ...LOG_ORDER, where: logWhere(args.filter, "step") }),
    },
    LogEntryConnection,
  ),
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
  t.relatedConnection(
    "logs",
    {
      ...LOG_CONNECTION,
      description: "The attempt's own log lines, oldest first.",
      args: {
        filter: t.arg({ type: LogFilterInput, description: "Which lines (every field narrows them); filter.stepKey and filter.attempt are refused here." }),
      },
      query: (args) => ({ ...LOG_ORDER, where: logWhere(args.filter, "attempt") }),
    },
    LogEntryConnection,
  ),
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
