// GraphQL enums, from the domain's lists so the two cannot drift.
import { STEP_ACTIONS, TASK_ACTIONS } from "../domain/actions";
import { ERROR_CODE_MEANINGS, ERROR_CODES } from "../domain/errors";
import { STEP_STATES, TASK_CATEGORIES, TASK_STATES } from "../domain/states";
import { ORDER_FIELDS } from "../store/pagination";
import { builder } from "./builder";

/** Enum values with a description each, checked against the domain's list so the two cannot drift. */
const described = <V extends string>(_values: readonly V[], descriptions: Record<V, string>) =>
  Object.fromEntries(Object.entries(descriptions).map(([value, description]) => [value, { description }])) as Record<V, { description: string }>;

export const TaskStateEnum = builder.enumType("TaskState", {
  description: "SCHEDULED → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELED.",
  values: described(TASK_STATES, {
    SCHEDULED: "Waiting for its runAt time.",
    QUEUED: "Waiting for a worker.",
    RUNNING: "A worker runs it.",
    SUCCEEDED: "Ended well.",
    FAILED: "Ended with an error (retryTask or abortTask with rollback may follow).",
    CANCELED: "Aborted (and rolled back when asked).",
  }),
});
export const TaskCategoryEnum = builder.enumType("TaskCategory", {
  description:
    "The console's tabs: every state belongs to exactly one category, so a task is in one tab at a time.",
  values: described(TASK_CATEGORIES, {
    SCHEDULED: "SCHEDULED: waiting for its runAt time (Kafka's Scheduled tab).",
    PENDING: "QUEUED or RUNNING: waiting for or held by a worker.",
    FAILED: "FAILED or CANCELED.",
    FINISHED: "SUCCEEDED.",
  }),
});
export const FailureCodeEnum = builder.enumType("FailureCode", {
  description: "Why a task or step failed, when the runtime knows (when its code threw, there is none: see error).",
  values: {
    TIMEOUT: { description: "It ran past its time limit (timeoutMs): its signal was aborted, and it failed once it stopped or after the grace period." },
  } as const,
});

export const ExclusiveModeEnum = builder.enumType("ExclusiveMode", {
  description: "What a task does when another pending task has its exclusive key.",
  values: {
    WAIT: { description: "It waits its turn: QUEUED (Task.blockedBy names the holder) until the key is free." },
    REFUSE: { description: "It is refused at once with CONFLICT (extensions.blockedBy names the task in the way)." },
  } as const,
});

export const TaskKindEnum = builder.enumType("TaskKind", {
  description: "Where a task runs.",
  values: {
    NODE: { description: "Runs on one node." },
    CLUSTER: { description: "Spans the cluster; always a root, never internal." },
  } as const,
});
export const StepStateEnum = builder.enumType("StepState", {
  description: "WAITING → RUNNING → SUCCEEDED | FAILED; FAILED → SKIPPED (set to successful) or RUNNING (rerun); rollback: ROLLING_BACK → ROLLED_BACK.",
  values: described(STEP_STATES, {
    WAITING: "Waits for the steps it depends on, or for its task to run.",
    RUNNING: "An attempt runs now.",
    SUCCEEDED: "Its latest execution succeeded.",
    FAILED: "Its latest attempt failed (or it was terminated).",
    SKIPPED: "Set to successful by markStepSucceeded after a failure.",
    ROLLING_BACK: "Its rollback runs now.",
    ROLLED_BACK: "Its effects were undone.",
  }),
});
export const AttemptKindEnum = builder.enumType("AttemptKind", {
  description: "Why a step attempt ran.",
  values: {
    EXECUTE: { description: "The step's first run." },
    RETRY: { description: "A later run (retryTask, rerunStep, or a resumed run after a worker was lost)." },
    ROLLBACK: { description: "Undoing the step." },
  } as const,
});
export const AttemptStateEnum = builder.enumType("AttemptState", {
  description: "Where a step attempt is.",
  values: {
    RUNNING: { description: "Running now." },
    SUCCEEDED: { description: "Ended well." },
    FAILED: { description: "Ended with an error." },
  } as const,
});
export const LogLevelEnum = builder.enumType("LogLevel", {
  description: "How serious a log line is.",
  values: {
    DEBUG: { description: "Detail for whoever debugs the task type." },
    INFO: { description: "What the task is doing." },
    WARN: { description: "Something unexpected that the task survived." },
    ERROR: { description: "A failure (its stack is in LogEntry.stack)." },
  } as const,
});
export const ErrorCodeEnum = builder.enumType("ErrorCode", {
  description: "The code of every error the API sends, in `errors[].extensions.code`.",
  values: described(ERROR_CODES, ERROR_CODE_MEANINGS),
});
export const TaskActionEnum = builder.enumType("TaskAction", {
  description: "A control mutation a task accepts now.",
  values: {
    ABORT: { description: "abortTask is accepted (rollback on a FAILED task)." },
    DELETE: { description: "deleteTask is accepted (the task has ended)." },
    FORCE_DELETE: { description: "deleteTask(force: true) is accepted (pending and abortable)." },
    RETRY: { description: "retryTask is accepted." },
  } satisfies Record<(typeof TASK_ACTIONS)[number], unknown>,
});
export const StepActionEnum = builder.enumType("StepAction", {
  description: "A step mutation a step accepts now.",
  values: {
    RERUN: { description: "rerunStep is accepted." },
    MARK_SUCCEEDED: { description: "markStepSucceeded is accepted." },
    TERMINATE: { description: "terminateStep is accepted." },
  } satisfies Record<(typeof STEP_ACTIONS)[number], unknown>,
});
export const TaskOrderFieldEnum = builder.enumType("TaskOrderField", {
  description: "What a task list is sorted by (ties: newest first).",
  values: described(ORDER_FIELDS, {
    CREATED_AT: "Creation time.",
    STARTED_AT: "Start time (tasks not started yet last).",
    ENDED_AT: "End time (tasks not ended yet last).",
    STATE: "State, in the order of TaskState.",
    MODULE: "Module name.",
  }),
});
export const OrderDirectionEnum = builder.enumType("OrderDirection", {
  description: "Sort direction.",
  values: { ASC: { description: "Smallest or oldest first." }, DESC: { description: "Largest or newest first." } } as const,
});
