// Task and step state machines as tables (docs/architecture.md draws them). Pure: no I/O.
//
// Task:  SCHEDULED → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELED
//        FAILED → RUNNING (retry, rerun step, mark step succeeded); FAILED → CANCELED (abort with rollback)
//        FAILED → SCHEDULED (an automatic retry of a plain task, waiting for its time)
//        pending → CANCELED (abort before it ran) and pending → FAILED (openATTIC: deleted while pending)
//        A task whose worker's lease expired stays RUNNING: another worker claims it as it is.
// Step:  WAITING → RUNNING → SUCCEEDED | FAILED; FAILED → SKIPPED (set to successful)
//        SUCCEEDED | FAILED → ROLLING_BACK → ROLLED_BACK (or FAILED when the rollback fails)
//        FAILED | ROLLED_BACK → RUNNING (rerun: a new attempt)
import { TaskgraphError } from "./errors";

export const TASK_STATES = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const STEP_STATES = ["WAITING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "ROLLING_BACK", "ROLLED_BACK"] as const;
export type StepState = (typeof STEP_STATES)[number];

/** The console's tabs, in the order they are shown: every state belongs to exactly one. */
export const TASK_CATEGORIES = ["SCHEDULED", "PENDING", "FAILED", "FINISHED"] as const;
export type TaskCategory = (typeof TASK_CATEGORIES)[number];

const TASK_TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  SCHEDULED: ["QUEUED", "CANCELED", "FAILED"],
  QUEUED: ["RUNNING", "CANCELED", "FAILED"],
  RUNNING: ["SUCCEEDED", "FAILED", "CANCELED"],
  SUCCEEDED: [],
  FAILED: ["RUNNING", "CANCELED", "SCHEDULED"],
  CANCELED: [],
};

const STEP_TRANSITIONS: Record<StepState, readonly StepState[]> = {
  WAITING: ["RUNNING"],
  RUNNING: ["SUCCEEDED", "FAILED"],
  SUCCEEDED: ["ROLLING_BACK"],
  FAILED: ["SKIPPED", "ROLLING_BACK", "RUNNING"],
  SKIPPED: [],
  ROLLING_BACK: ["ROLLED_BACK", "FAILED"],
  ROLLED_BACK: ["RUNNING"],
};

/** Disjoint: SCHEDULED (Kafka's Scheduled tab) is not PENDING (openATTIC's pending = waiting for or held by a worker). */
export const CATEGORY_STATES: Record<TaskCategory, readonly TaskState[]> = {
  SCHEDULED: ["SCHEDULED"],
  PENDING: ["QUEUED", "RUNNING"],
  FAILED: ["FAILED", "CANCELED"],
  FINISHED: ["SUCCEEDED"],
};

/** The states a task will not leave by itself (SUCCEEDED, FAILED, CANCELED). */
export const ENDED_STATES: readonly TaskState[] = [...CATEGORY_STATES.FINISHED, ...CATEGORY_STATES.FAILED];

/**
 * Pending in the broad sense the runtime means: not ended yet (SCHEDULED, QUEUED, RUNNING). Wider
 * than the PENDING category (a tab), which leaves SCHEDULED to its own tab.
 */
export const PENDING_STATES: readonly TaskState[] = TASK_STATES.filter((state) => !ENDED_STATES.includes(state));

/** Steps an abort with rollback rolls back: those that ran (or are rolling back already). */
export const ROLLBACK_STEP_STATES: readonly StepState[] = ["SUCCEEDED", "FAILED", "ROLLING_BACK"];

export function categoryOf(state: TaskState): TaskCategory {
  return TASK_CATEGORIES.find((category) => CATEGORY_STATES[category].includes(state))!;
}

/** Not ended (SCHEDULED, QUEUED or RUNNING): see PENDING_STATES; not the same as the PENDING category. */
export const isPending = (state: TaskState) => PENDING_STATES.includes(state);
/** Finished in the broad sense: it will not change again by itself (SUCCEEDED, FAILED, CANCELED). */
export const isEnded = (state: TaskState) => !isPending(state);

export const canTransitionTask = (from: TaskState, to: TaskState) => TASK_TRANSITIONS[from].includes(to);
export const canTransitionStep = (from: StepState, to: StepState) => STEP_TRANSITIONS[from].includes(to);

export function assertTaskTransition(from: TaskState, to: TaskState, taskId?: string): void {
  if (!canTransitionTask(from, to)) {
    throw new TaskgraphError("INVALID_STATE", `Task${taskId ? ` ${taskId}` : ""} is ${from} and cannot become ${to}`, { from, to, taskId });
  }
}

export function assertStepTransition(from: StepState, to: StepState, stepKey?: string): void {
  if (!canTransitionStep(from, to)) {
    throw new TaskgraphError("INVALID_STATE", `Step${stepKey ? ` "${stepKey}"` : ""} is ${from} and cannot become ${to}`, { from, to, stepKey });
  }
}

/** Every (from, to) pair, for tests and docs. */
export const taskTransitions = () => TASK_STATES.flatMap((from) => TASK_TRANSITIONS[from].map((to) => [from, to] as const));
export const stepTransitions = () => STEP_STATES.flatMap((from) => STEP_TRANSITIONS[from].map((to) => [from, to] as const));

/** The error recorded on a step attempt whose run lost the task while the step ran. */
export const LOST_STEP_ERROR = "The worker running this step stopped (it crashed or shut down) before the step finished";
/**
 * The error recorded on a step still running when its task, failed by a forced delete, was aborted:
 * the run that aborts holds the task, so the run of the step can no longer record its outcome.
 */
export const UNRECORDED_STEP_ERROR = "The task was aborted while this step still ran (the task had been deleted while pending): the step's outcome is not recorded";
