// The control mutations of the source systems (ScyllaDB, OCP, openATTIC, Kafka): abort, delete, retry, rerun a step, mark a step
// succeeded, terminate a step. Each runs in one transaction, checks the same availableActions
// that the API shows, and changes nothing when it refuses. Work that needs task code (rolling a
// step back, running it again) is handed to the workers: the task is released (no lease) and
// the workers are woken by the change notification.
import type { StepAction, TaskAction } from "../domain/actions";
import { stepActions, taskActions } from "../domain/actions";
import { TaskgraphError, notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import type { TaskState } from "../domain/states";
import { isPending } from "../domain/states";
import type { Step, Task } from "../generated/prisma/client";
import type { Tx } from "./events";
import { appendEvents } from "./events";
import { appendLog, lockWithoutChange, transitionStep, transitionTask } from "./task-writes";

export const DELETED_WHILE_PENDING = "Deleted while pending";

function refuseTask(task: Task, action: TaskAction): never {
  const state = task.state as TaskState;
  if (action === "ABORT" && isPending(state) && !task.isAbortable) {
    throw new TaskgraphError("NOT_ABORTABLE", `Task ${task.id} (${task.type}) cannot be aborted`, { taskId: task.id });
  }
  if (task.abortRequestedAt) {
    throw new TaskgraphError("INVALID_STATE", `Task ${task.id} is being aborted`, { taskId: task.id, state });
  }
  throw new TaskgraphError("INVALID_STATE", `Task ${task.id} is ${state}: ${action.toLowerCase()} is not possible now`, { taskId: task.id, state });
}

async function lockStep(tx: Tx, task: Task, stepKey: string, action: StepAction): Promise<Step> {
  const step = await tx.step.findUnique({ where: { taskId_key: { taskId: task.id, key: stepKey } } });
  if (!step) throw notFound(`Step "${stepKey}" of task`, task.id);
  if (!stepActions(step, task).includes(action)) {
    throw new TaskgraphError(
      "INVALID_STATE",
      `Step "${stepKey}" is ${step.state} in a ${task.state} task: ${action.toLowerCase().replace("_", " ")} is not possible now`,
      { taskId: task.id, stepKey, state: step.state },
    );
  }
  return step;
}

/**
 * Locks the task and its descendants top-down, breadth-first, and returns them as they are now.
 * Children are read only after their parent is locked: a child created concurrently is either
 * seen here, or its creation waited for our lock and sees what we did to the parent.
 */
async function lockSubtree(tx: Tx, root: Task): Promise<Task[]> {
  const locked: Task[] = [root];
  for (let i = 0; i < locked.length; i++) {
    const children = await tx.task.findMany({ where: { parentId: locked[i]!.id }, select: { id: true }, orderBy: { id: "asc" } });
    for (const child of children) locked.push(await lockWithoutChange(tx, child.id));
  }
  return locked;
}

/**
 * abortTask. Pending: QUEUED/SCHEDULED tasks of the subtree are CANCELED at once; RUNNING ones get
 * an abort request that their worker honours (signal, then CANCELED, after rolling back completed
 * steps when `rollback`). FAILED (OCP's Abort Task): a worker rolls back every step from the
 * failed one back to the first, then the task is CANCELED.
 */
export async function abortTask(tx: Tx, id: string, options: { rollback?: boolean; by?: string | null } = {}): Promise<Task> {
  const task = await lockWithoutChange(tx, id);
  if (!taskActions(task).includes("ABORT")) refuseTask(task, "ABORT");
  const by = options.by ? ` by ${options.by}` : "";
  if (task.state === "FAILED") {
    const done = await tx.step.count({ where: { taskId: task.id, state: { in: ["SUCCEEDED", "FAILED", "ROLLING_BACK"] } } });
    if (done === 0) return transitionTask(tx, task.id, "CANCELED", { error: `Aborted${by} after: ${task.error ?? "failure"}` });
    await tx.task.update({ where: { id: task.id }, data: { abortRequestedAt: new Date(), rollbackOnAbort: true, leaseOwner: null, leaseExpiresAt: null } });
    await appendLog(tx, task.id, { level: "WARN", message: `Abort requested${by}: rolling back the steps, then CANCELED` }, { wake: true, control: true });
    return tx.task.findUniqueOrThrow({ where: { id: task.id } });
  }
  for (const t of await lockSubtree(tx, task)) {
    if (!isPending(t.state as TaskState) || t.abortRequestedAt) continue;
    if (t.state === "RUNNING") {
      await tx.task.update({ where: { id: t.id }, data: { abortRequestedAt: new Date(), rollbackOnAbort: options.rollback ?? false } });
      await appendLog(tx, t.id, { level: "WARN", message: `Abort requested${by}${options.rollback ? " (with rollback)" : ""}` }, { control: true });
    } else {
      await transitionTask(tx, t.id, "CANCELED", { error: `Aborted${by}` });
    }
  }
  return tx.task.findUniqueOrThrow({ where: { id: task.id } });
}

export type DeleteResult = { deletedIds: string[]; task: Task | null };

/**
 * deleteTask. A task whose whole subtree has ended is removed with it (Kafka: only Successful,
 * Failed or Canceled). Anything pending needs `force` (else TASK_NOT_FINISHED) and abortability
 * (else NOT_ABORTABLE); then openATTIC: follow-up work is canceled, a running step is not killed,
 * nothing is reverted, and the pending tasks become FAILED; a second delete removes them.
 */
export async function deleteTask(tx: Tx, id: string, options: { force?: boolean; by?: string | null } = {}): Promise<DeleteResult> {
  const task = await lockWithoutChange(tx, id);
  if (task.abortRequestedAt && task.state === "FAILED") refuseTask(task, "DELETE");
  const tree = await lockSubtree(tx, task);
  const pending = tree.filter((t) => isPending(t.state as TaskState));
  if (pending.length === 0) {
    await appendEvents(
      tx,
      tree.map((t) => ({ task: { ...t, version: t.version + 1 }, type: "DELETED" as const, payload: { state: t.state } })),
    );
    await tx.task.deleteMany({ where: { id: { in: tree.map((t) => t.id) } } });
    return { deletedIds: tree.map((t) => t.id), task: null };
  }
  if (!options.force) {
    const what = isPending(task.state as TaskState) ? `is ${task.state}` : `has ${pending.length} pending descendant(s)`;
    throw new TaskgraphError("TASK_NOT_FINISHED", `Task ${task.id} ${what}: abort it first, or delete with force`, { taskId: task.id });
  }
  const locked = pending.find((t) => !t.isAbortable);
  if (locked) {
    throw new TaskgraphError("NOT_ABORTABLE", `Task ${locked.id} (${locked.type}) cannot be aborted, so it cannot be deleted while pending`, { taskId: locked.id });
  }
  const by = options.by ? ` by ${options.by}` : "";
  for (const t of pending) {
    await transitionTask(tx, t.id, "FAILED", { error: `${DELETED_WHILE_PENDING}${by}` });
    // A rollback handed to the workers is not started now (nothing is reverted): close it.
    const handedBack = await tx.step.findMany({ where: { taskId: t.id, state: "ROLLING_BACK" }, select: { key: true } });
    for (const step of handedBack) {
      await transitionStep(tx, t.id, step.key, "FAILED", { error: `Rollback not done: ${DELETED_WHILE_PENDING.toLowerCase()}` });
    }
  }
  return { deletedIds: [], task: await tx.task.findUniqueOrThrow({ where: { id: task.id } }) };
}

/** Hands a FAILED task back to the workers, RUNNING with no lease. */
function resume(tx: Tx, task: Task) {
  return transitionTask(tx, task.id, "RUNNING", { error: null, releaseLease: true });
}

/** retryTask (OCP Retry): roll back the failed steps, run them again, continue. */
export async function retryTask(tx: Tx, id: string): Promise<Task> {
  const task = await lockWithoutChange(tx, id);
  if (!taskActions(task).includes("RETRY")) refuseTask(task, "RETRY");
  const failed = await tx.step.findMany({ where: { taskId: task.id, state: "FAILED" }, orderBy: { index: "desc" } });
  for (const step of failed) await transitionStep(tx, task.id, step.key, "ROLLING_BACK");
  return resume(tx, task);
}

/** rerunStep (OCP): roll the failed step back, execute it again, continue on success. */
export async function rerunStep(tx: Tx, taskId: string, stepKey: string): Promise<Task> {
  const task = await lockWithoutChange(tx, taskId);
  await lockStep(tx, task, stepKey, "RERUN");
  await transitionStep(tx, task.id, stepKey, "ROLLING_BACK");
  return resume(tx, task);
}

/** markStepSucceeded (OCP "set to successful"): the failed step is SKIPPED and the flow continues. */
export async function markStepSucceeded(tx: Tx, taskId: string, stepKey: string, by?: string | null): Promise<Task> {
  const task = await lockWithoutChange(tx, taskId);
  await lockStep(tx, task, stepKey, "MARK_SUCCEEDED");
  await transitionStep(tx, task.id, stepKey, "SKIPPED");
  await appendLog(tx, task.id, { level: "WARN", stepKey, message: `Step "${stepKey}" set to successful${by ? ` by ${by}` : ""}` });
  return resume(tx, task);
}

/** terminateStep (OCP): the running step becomes FAILED ("terminated") and so does the task. */
export async function terminateStep(tx: Tx, taskId: string, stepKey: string, by?: string | null): Promise<Task> {
  const task = await lockWithoutChange(tx, parseUuid(taskId, "taskId"));
  await lockStep(tx, task, stepKey, "TERMINATE");
  const reason = `Terminated${by ? ` by ${by}` : ""}`;
  await transitionStep(tx, task.id, stepKey, "FAILED", { error: reason });
  return transitionTask(tx, task.id, "FAILED", { error: `Step "${stepKey}" failed: ${reason}` });
}


