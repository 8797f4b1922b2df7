// Which control mutations would be accepted now (`availableActions` on Task and Step). Pure; the
// mutations check the same functions, so the list and the behaviour cannot disagree.
import type { StepState, TaskState } from "./states";
import { isEnded, isPending } from "./states";

export const TASK_ACTIONS = ["ABORT", "DELETE", "FORCE_DELETE", "RETRY"] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];

export const STEP_ACTIONS = ["RERUN", "MARK_SUCCEEDED", "TERMINATE"] as const;
export type StepAction = (typeof STEP_ACTIONS)[number];

export interface TaskActionSubject {
  state: TaskState;
  isAbortable: boolean;
  /** Set once an abort was accepted and a worker has yet to finish it (cancel, or roll back). */
  abortRequestedAt?: Date | null;
  /** Some task below it is still pending: the tree cannot be deleted yet. */
  hasPendingDescendants?: boolean;
}

export function taskActions(task: TaskActionSubject): TaskAction[] {
  if (task.abortRequestedAt) {
    // Aborting: nothing more to ask, except removing a pending abortable task (openATTIC).
    return isPending(task.state) && task.isAbortable ? ["FORCE_DELETE"] : [];
  }
  const actions: TaskAction[] = [];
  // Pending: ScyllaDB's abort (refused when not abortable). FAILED: OCP's "Abort Task" (roll back, then CANCELED).
  if ((isPending(task.state) && task.isAbortable) || task.state === "FAILED") actions.push("ABORT");
  // Kafka: delete only tasks that are Successful, Failed or Canceled.
  if (isEnded(task.state) && !task.hasPendingDescendants) actions.push("DELETE");
  // openATTIC: deleting a pending task cancels its follow-up work; it needs force and abortability.
  if (isPending(task.state) && task.isAbortable) actions.push("FORCE_DELETE");
  if (task.state === "FAILED") actions.push("RETRY");
  return actions;
}

export function stepActions(
  step: { state: StepState },
  task: { state: TaskState; isAbortable?: boolean; abortRequestedAt?: Date | null },
): StepAction[] {
  if (task.abortRequestedAt) return [];
  // OCP: waiting steps allow no action; failed steps can be rerun or set to successful; running ones terminated.
  if (step.state === "FAILED" && task.state === "FAILED") return ["RERUN", "MARK_SUCCEEDED"];
  // Terminating interrupts running work, which a type that is not abortable forbids (like abort).
  if (step.state === "RUNNING" && task.state === "RUNNING" && task.isAbortable !== false) return ["TERMINATE"];
  return [];
}
