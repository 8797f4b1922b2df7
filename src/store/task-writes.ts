// Every write to tasks, steps, attempts and logs. Each function runs inside the caller's
// transaction (Store wraps them, composite operations share one): it locks the task row, checks
// the state machine, bumps Task.version and appends the TaskEvent — all or nothing.
import { checkLabels } from "../domain/input";
import { TaskgraphError, badInput, checkText, notFound } from "../domain/errors";
import type { StepSpec } from "../domain/flow";
import { resolveFlow } from "../domain/flow";
import { newId, parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import type { StepState, TaskState } from "../domain/states";
import { assertStepTransition, assertTaskTransition, isEnded, LOST_STEP_ERROR } from "../domain/states";
import type { LogLevel, Step, Task, TaskKind } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import { PREPARED } from "../db/prepared";
import { actorCte } from "./actor";
import type { ChangeNotice, Tx } from "./journal-writer";
import { appendEvents, eventType, journalWrite, noticeOf, noticeText } from "./journal-writer";

export interface NewTask {
  module: string;
  type: string;
  name?: string;
  kind?: TaskKind;
  scope?: string;
  target?: string | null;
  labels?: Record<string, string>;
  input?: Prisma.InputJsonValue | null;
  isAbortable?: boolean;
  isInternal?: boolean;
  /** Started by a person or program through the API (user TTL) rather than by the system. */
  isUserTask?: boolean;
  createdBy?: string | null;
  node?: string | null;
  /** In the future: SCHEDULED until then. Otherwise QUEUED at once. */
  runAt?: Date | null;
  progressUnits?: string | null;
  progressTotal?: number | null;
  steps?: StepSpec[];
  children?: NewChildTask[];
  /** A child's stable key within its parent (unique there): see spawnChild. */
  spawnKey?: string | null;
  /** Created from the catalogue: the claiming worker parses the input and creates input-dependent steps first. */
  needsSetup?: boolean;
}

/** A child is in its parent's module unless it says otherwise. */
export type NewChildTask = Omit<NewTask, "module"> & { module?: string };

export interface TaskPatch {
  error?: string | null;
  result?: Prisma.InputJsonValue | null;
  node?: string | null;
  /** Hand the task back to the workers: clear the lease (and wake them). */
  releaseLease?: boolean;
  /** Refuse with CONFLICT unless this worker still holds the task's lease. */
  ifLeaseOwner?: string;
  /** Refuse with CONFLICT (details.reason "abortRequested") when an abort is pending. */
  ifNotAborted?: boolean;
}

const jsonOrNull = (value: Prisma.InputJsonValue | null | undefined) => (value === null ? ("DbNull" as const) : value);

/** Locks the task row for the rest of the transaction and bumps its version: returns the row as it was, with the new version. */
export async function lockAndBump(tx: Tx, taskId: string): Promise<Task> {
  const rows = await tx.task.updateManyAndReturn({ where: { id: parseUuid(taskId, "taskId") }, data: { version: { increment: 1 } } });
  const task = rows[0];
  if (!task) throw notFound("Task", taskId);
  return task;
}

/**
 * Locks the task row (so it cannot change meanwhile) without changing it, and reads it fresh.
 * NO KEY UPDATE, the lock an UPDATE takes: it does not conflict with the KEY SHARE lock that a
 * write to a child takes on its parent (foreign-key check), which FOR UPDATE would deadlock with.
 */
export async function lockWithoutChange(tx: Tx, taskId: string): Promise<Task> {
  const id = parseUuid(taskId, "taskId");
  await tx.$queryRaw`SELECT 1 FROM "Task" WHERE id = ${id}::uuid FOR NO KEY UPDATE`;
  const task = await tx.task.findUnique({ where: { id } });
  if (!task) throw notFound("Task", taskId);
  return task;
}

function checkTaskSpec(spec: NewChildTask, parent: { kind: TaskKind } | null) {
  if (!spec.type) throw badInput("type must not be empty");
  checkText("type", spec.type, LIMITS.nameLength);
  if (spec.name != null) checkText("name", spec.name, LIMITS.nameLength);
  if (spec.target != null) checkText("target", spec.target, LIMITS.targetLength);
  if (spec.node != null) checkText("node", spec.node, LIMITS.nameLength);
  if (spec.kind === "CLUSTER" && parent) throw badInput("A CLUSTER task is always a root: it cannot have a parent");
  if (spec.kind === "CLUSTER" && spec.isInternal) throw badInput("A CLUSTER task is never internal");
  if ((spec.children?.length ?? 0) > LIMITS.childrenPerTask) throw badInput(`A task has at most ${LIMITS.childrenPerTask} children`);
  checkLabels("labels", spec.labels);
  if (spec.progressTotal != null && !(Number.isFinite(spec.progressTotal) && spec.progressTotal >= 0)) {
    throw badInput("progressTotal must be a finite number ≥ 0");
  }
}

/**
 * Creates a task with its steps and its whole subtree of children in one transaction. With
 * `parentId` the new task joins that task's tree (its root, module sequence number, depth + 1).
 * Returns the new (sub)tree's root.
 */
export async function createTask(tx: Tx, spec: NewTask, options: { parentId?: string } = {}): Promise<Task> {
  const [root] = await createTasks(tx, [spec], options);
  return root!;
}

/**
 * Creates the child of `parentId` known by `spawnKey`, or returns the one already there: a run
 * resumed after a crash spawns its children again and must get the same ones back. The parent's
 * row lock serialises spawns of one parent; the unique index (parentId, spawnKey) backs it.
 */
export async function spawnChild(tx: Tx, spec: NewTask, parentId: string, spawnKey: string): Promise<{ task: Task; created: boolean }> {
  checkText("spawn key", spawnKey, LIMITS.nameLength);
  await lockWithoutChange(tx, parentId);
  const existing = await tx.task.findUnique({ where: { parentId_spawnKey: { parentId, spawnKey } } });
  if (existing) {
    if (existing.type !== spec.type || existing.moduleName !== spec.module) {
      throw badInput(`Spawn key "${spawnKey}" already names a child of type ${existing.moduleName}/${existing.type}`);
    }
    return { task: existing, created: false };
  }
  return { task: await createTask(tx, { ...spec, spawnKey }, { parentId }), created: true };
}

/**
 * Creates several tasks (each with its steps and subtree) in one transaction and a few
 * statements, whatever their number: the bulk path. Each new root takes the next sequence
 * number of its module; with `parentId` they all join that task's tree. Returns the roots, in
 * the order given.
 */
export async function createTasks(tx: Tx, specs: NewTask[], options: { parentId?: string } = {}): Promise<Task[]> {
  if (specs.length === 0) return [];
  const parent = options.parentId ? await lockWithoutChange(tx, options.parentId) : null;
  if (parent && (isEnded(parent.state as TaskState) || parent.abortRequestedAt)) {
    const why = parent.abortRequestedAt ? "being aborted" : parent.state;
    throw new TaskgraphError("INVALID_STATE", `Task ${parent.id} is ${why}: it can no longer get children`, { taskId: parent.id });
  }
  const sequenceNumbers = parent ? specs.map(() => parent.sequenceNumber) : await nextSequenceNumbers(tx, specs.map((s) => s.module));
  const now = new Date();
  const tasks: Prisma.TaskCreateManyInput[] = [];
  const steps: Prisma.StepCreateManyInput[] = [];
  const rootIds: string[] = [];
  const modules = new Set<string>();
  // A child records who started its tree (createdBy) unless it says otherwise.
  type Parent = { id: string; rootId: string; depth: number; kind: TaskKind; moduleName: string; createdBy: string | null };
  const parentInfo: Parent | null = parent && {
    id: parent.id,
    rootId: parent.rootId,
    depth: parent.depth,
    kind: parent.kind,
    moduleName: parent.moduleName,
    createdBy: parent.createdBy,
  };
  specs.forEach((spec, i) => {
    const sequenceNumber = sequenceNumbers[i]!;
    // Breadth-first, so UUIDv7 ids (creation order) list siblings in the order given.
    const queue: { spec: NewChildTask; parent: Parent | null }[] = [{ spec, parent: parentInfo }];
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { spec: s, parent: p } = item;
      checkTaskSpec(s, p);
      const id = newId();
      if (item.spec === spec) rootIds.push(id);
      const moduleName = s.module ?? p?.moduleName ?? spec.module;
      modules.add(moduleName);
      const scheduled = s.runAt != null && s.runAt.getTime() > now.getTime();
      tasks.push({
        id,
        moduleName,
        type: s.type,
        name: s.name ?? s.type,
        kind: s.kind ?? "NODE",
        scope: s.scope ?? (s.kind === "CLUSTER" ? "cluster" : "node"),
        target: s.target ?? null,
        labels: s.labels ?? {},
        state: scheduled ? "SCHEDULED" : "QUEUED",
        isAbortable: s.isAbortable ?? true,
        isInternal: s.isInternal ?? false,
        isUserTask: s.isUserTask ?? p === null,
        sequenceNumber,
        parentId: p?.id ?? null,
        rootId: p?.rootId ?? id,
        depth: p ? p.depth + 1 : 0,
        input: jsonOrNull(s.input),
        progressUnits: s.progressUnits ?? null,
        progressTotal: s.progressTotal ?? null,
        createdAt: now,
        scheduledFor: s.runAt ?? null,
        createdBy: s.createdBy ?? p?.createdBy ?? null,
        node: s.node ?? null,
        spawnKey: s.spawnKey ?? null,
        needsSetup: s.needsSetup ?? false,
      });
      for (const step of resolveFlow(s.steps ?? [])) {
        steps.push({ id: newId(), taskId: id, key: step.key, name: step.name, index: step.index, dependsOn: step.dependsOn });
      }
      const self = { id, rootId: p?.rootId ?? id, depth: p ? p.depth + 1 : 0, kind: s.kind ?? "NODE", moduleName, createdBy: s.createdBy ?? p?.createdBy ?? null };
      for (const child of s.children ?? []) queue.push({ spec: { ...child, module: child.module ?? moduleName }, parent: self });
    }
  });
  // Roots' modules exist (their sequence numbers were just taken); other modules are checked here.
  const unchecked = parent ? [...modules] : [...modules].filter((m) => !specs.some((spec) => spec.module === m));
  if (unchecked.length && (await tx.module.count({ where: { name: { in: unchecked } } })) !== unchecked.length) {
    throw notFound("Module", unchecked.join(", "));
  }
  const created = await tx.task.createManyAndReturn({ data: tasks });
  if (steps.length) await tx.step.createMany({ data: steps });
  await appendEvents(
    tx,
    tasks.map((t) => ({
      task: { id: t.id, rootId: t.rootId, moduleName: t.moduleName, version: 1 },
      type: "CREATED" as const,
      payload: { state: t.state, parentId: t.parentId ?? null, type: t.type, name: t.name },
    })),
  );
  const byId = new Map(created.map((r) => [r.id, r]));
  return rootIds.map((id) => byId.get(id)!);
}

/** Takes the next sequence number of each root's module, one per root, in order. */
async function nextSequenceNumbers(tx: Tx, modules: string[]): Promise<number[]> {
  const counts = new Map<string, number>();
  for (const m of modules) counts.set(m, (counts.get(m) ?? 0) + 1);
  const next = new Map<string, number>();
  for (const [name, count] of counts) {
    const [module] = await tx.module.updateManyAndReturn({ where: { name }, data: { lastSequenceNumber: { increment: count } } });
    if (!module) throw notFound("Module", name);
    next.set(name, module.lastSequenceNumber - count + 1);
  }
  return modules.map((m) => {
    const n = next.get(m)!;
    next.set(m, n + 1);
    return n;
  });
}

/** Moves a task to `to`, setting start/end times, and records the change. */
export async function transitionTask(tx: Tx, taskId: string, to: TaskState, patch: TaskPatch = {}): Promise<Task> {
  const task = await lockAndBump(tx, taskId);
  const from = task.state as TaskState;
  if (patch.ifLeaseOwner !== undefined && task.leaseOwner !== patch.ifLeaseOwner) {
    throw new TaskgraphError("CONFLICT", `Task ${taskId} is no longer held by ${patch.ifLeaseOwner}`, { taskId });
  }
  if (patch.ifNotAborted && task.abortRequestedAt) {
    throw new TaskgraphError("CONFLICT", `Task ${taskId} is being aborted`, { taskId, reason: "abortRequested" });
  }
  assertTaskTransition(from, to, taskId);
  const now = new Date();
  const data: Prisma.TaskUpdateInput = { state: to };
  if (to === "RUNNING") {
    data.startedAt = task.startedAt ?? now;
    data.endedAt = null;
    if (from === "FAILED") data.error = null;
  }
  if (isEnded(to)) data.endedAt = now;
  if (patch.error !== undefined) data.error = patch.error;
  if (patch.result !== undefined) data.result = jsonOrNull(patch.result);
  if (patch.node !== undefined) data.node = patch.node;
  if (isEnded(to) || patch.releaseLease) {
    data.leaseOwner = null;
    data.leaseExpiresAt = null;
  }
  // An abort request lasts until the task ends or runs again.
  if (isEnded(to) || to === "RUNNING") data.abortRequestedAt = null;
  const updated = await tx.task.update({ where: { id: taskId }, data });
  await appendEvents(tx, [
    { task: updated, type: "STATE_CHANGED", payload: { from, to, error: updated.error }, wake: patch.releaseLease === true },
  ]);
  return updated;
}

/**
 * Moves a step to `to`. Entering RUNNING opens an attempt (EXECUTE the first time, RETRY after),
 * entering ROLLING_BACK opens a ROLLBACK attempt; leaving either closes the open attempt.
 */
export async function transitionStep(
  tx: Tx,
  taskId: string,
  stepKey: string,
  to: StepState,
  options: { error?: string; leaseOwner?: string } = {},
): Promise<Step> {
  const task = await lockAndBump(tx, taskId);
  checkLease(task, options.leaseOwner);
  const step = await tx.step.findUnique({
    where: { taskId_key: { taskId, key: stepKey } },
    include: { attempts: { orderBy: { number: "desc" }, take: 1 } },
  });
  if (!step) throw notFound(`Step "${stepKey}" of task`, taskId);
  const from = step.state as StepState;
  assertStepTransition(from, to, stepKey);
  const now = new Date();
  const open = step.attempts[0]?.state === "RUNNING" ? step.attempts[0] : undefined;
  const error = to === "FAILED" ? (options.error ?? "failed") : null;
  if (open) {
    await tx.stepAttempt.update({
      where: { id: open.id },
      data: { state: to === "FAILED" ? "FAILED" : "SUCCEEDED", endedAt: now, error },
    });
  }
  let attempt: { number: number; kind: string } | null = null;
  if (to === "RUNNING" || to === "ROLLING_BACK") {
    const executed = await tx.stepAttempt.count({ where: { stepId: step.id, kind: { in: ["EXECUTE", "RETRY"] } } });
    attempt = await tx.stepAttempt.create({
      data: {
        id: newId(),
        stepId: step.id,
        taskId,
        number: (step.attempts[0]?.number ?? 0) + 1,
        kind: to === "ROLLING_BACK" ? "ROLLBACK" : executed === 0 ? "EXECUTE" : "RETRY",
        startedAt: now,
      },
    });
  }
  const opening = to === "RUNNING" || to === "ROLLING_BACK";
  const updated = await tx.step.update({
    where: { id: step.id },
    data: {
      state: to,
      ...(to === "RUNNING" ? { startedAt: now } : {}),
      ...(opening ? { progressCompleted: 0, progressTotal: null } : {}), // each attempt reports its own progress
      endedAt: opening ? null : now,
      ...(to === "FAILED" || to === "RUNNING" ? { error } : {}),
    },
  });
  await appendEvents(tx, [
    {
      task,
      type: "STEP_CHANGED",
      payload: { stepKey, from, to, error, attempt: attempt?.number ?? open?.number ?? null, attemptKind: attempt?.kind ?? open?.kind ?? null },
    },
  ]);
  return updated;
}

/**
 * A worker's write is refused once its claim no longer holds the task: another claim holds it
 * (resumed elsewhere), or it was handed back (RUNNING with no lease: the worker stopped or gave
 * up). A task ended by someone else (no lease, not RUNNING) still gets its running step's outcome.
 */
function checkLease(task: Task, leaseOwner: string | undefined) {
  if (leaseOwner === undefined || task.leaseOwner === leaseOwner) return;
  if (task.leaseOwner !== null || task.state === "RUNNING") {
    throw new TaskgraphError("CONFLICT", `Task ${task.id} is no longer held by ${leaseOwner}`, { taskId: task.id });
  }
}

/**
 * A step whose worker was lost while it ran: its attempt is closed FAILED and a new one opened, in
 * ONE transaction, so the decision to resume survives a crash right after it (the next worker
 * finds the step RUNNING again and does the same).
 */
export async function resumeLostStep(tx: Tx, taskId: string, stepKey: string, leaseOwner: string): Promise<Step> {
  await transitionStep(tx, taskId, stepKey, "FAILED", { error: LOST_STEP_ERROR, leaseOwner });
  return transitionStep(tx, taskId, stepKey, "RUNNING", { leaseOwner });
}

const PROGRESS_PAYLOAD = Prisma.sql`jsonb_build_object('completed', "progressCompleted", 'total', "progressTotal")`;

/**
 * Sets a task's progress: the version bump, the PROGRESSED event and its NOTIFY in ONE statement
 * (atomic by itself). Progress is the most frequent write of a running task, and a short write
 * transaction matters to subscribers: the journal is read only below the oldest transaction still
 * running (journal-reader.ts), so every open write transaction holds back every later event.
 */
export async function setProgress(
  db: Pick<Tx, "$queryRaw">,
  taskId: string,
  completed: number,
  total?: number | null,
): Promise<{ progress: { completed: number; total: number | null; version: number }; notice: ChangeNotice }> {
  if (!Number.isFinite(completed) || completed < 0) throw badInput("progress completed must be a finite number ≥ 0");
  if (total != null && (!Number.isFinite(total) || total < 0)) throw badInput("progress total must be a finite number ≥ 0");
  const id = parseUuid(taskId, "taskId");
  const notice = noticeOf([id])!;
  const rows = await db.$queryRaw<{ completed: number; total: number | null; version: number }[]>`${PREPARED}
    WITH ${actorCte()}, updated AS (
      UPDATE "Task" t SET version = t.version + 1, "progressCompleted" = ${completed}::float8,
        "progressTotal" = CASE WHEN ${total !== undefined} THEN ${total ?? null}::float8 ELSE t."progressTotal" END
      FROM actor WHERE t.id = ${id}::uuid
      RETURNING t.*
    ), ${journalWrite("progress", "updated", { type: eventType("PROGRESSED"), payload: PROGRESS_PAYLOAD }, noticeText(notice))}
    SELECT "progressCompleted" AS completed, "progressTotal" AS total, version, (SELECT count(*) FROM "progressNotified") AS _notified
    FROM updated`;
  const row = rows[0];
  if (!row) throw notFound("Task", taskId);
  return { progress: { completed: row.completed, total: row.total, version: row.version }, notice };
}

/**
 * Sets a step's own progress and, with `task`, the task's progress derived from its steps: one
 * statement (like setProgress) that bumps the version and appends one PROGRESSED event whose
 * payload holds the task's progress (completed, total), the step's key and the step's progress.
 * The task row is locked before the step row, the order every transaction here takes (lockAndBump,
 * then the step): the other order deadlocks with a step mutation (terminateStep) of that step.
 */
export async function setStepProgress(
  db: Pick<Tx, "$queryRaw">,
  taskId: string,
  stepKey: string,
  step: { completed: number; total?: number | null },
  task: { completed: number; total: number } | null,
): Promise<{ version: number; notice: ChangeNotice }> {
  if (!Number.isFinite(step.completed) || step.completed < 0) throw badInput("progress completed must be a finite number ≥ 0");
  if (step.total != null && (!Number.isFinite(step.total) || step.total < 0)) throw badInput("progress total must be a finite number ≥ 0");
  const id = parseUuid(taskId, "taskId");
  const notice = noticeOf([id])!;
  const rows = await db.$queryRaw<{ version: number }[]>`${PREPARED}
    WITH ${actorCte()}, locked AS (
      SELECT id FROM "Task" WHERE id = ${id}::uuid FOR NO KEY UPDATE
    ), stepped AS (
      UPDATE "Step" SET "progressCompleted" = ${step.completed}::float8,
        "progressTotal" = CASE WHEN ${step.total !== undefined} THEN ${step.total ?? null}::float8 ELSE "progressTotal" END
      WHERE "taskId" = ${id}::uuid AND key = ${stepKey} AND state IN ('RUNNING', 'ROLLING_BACK') AND EXISTS (SELECT 1 FROM locked)
      RETURNING "progressCompleted", "progressTotal"
    ), updated AS (
      UPDATE "Task" t SET version = t.version + 1,
        "progressCompleted" = CASE WHEN ${task !== null} THEN ${task?.completed ?? 0}::float8 ELSE t."progressCompleted" END,
        "progressTotal" = CASE WHEN ${task !== null} THEN ${task?.total ?? null}::float8 ELSE t."progressTotal" END
      FROM actor WHERE t.id = ${id}::uuid AND EXISTS (SELECT 1 FROM stepped)
      RETURNING t.*
    ), ${journalWrite(
      "stepProgress",
      "updated",
      {
        type: eventType("PROGRESSED"),
        payload: Prisma.sql`jsonb_build_object('completed', "progressCompleted", 'total', "progressTotal", 'stepKey', ${stepKey}::text,
          'step', (SELECT jsonb_build_object('completed', "progressCompleted", 'total', "progressTotal") FROM stepped))`,
      },
      noticeText(notice),
    )}
    SELECT version, (SELECT count(*) FROM "stepProgressNotified") AS _notified FROM updated`;
  // No row: the step is not running (it ended, or was terminated, meanwhile): nothing to report.
  return { version: rows[0]?.version ?? 0, notice };
}

/** A log line: a string, or a thrown error (its message in `message`, its stack in `stack`). */
export interface LogLine {
  level?: LogLevel;
  message: string;
  stepKey?: string;
  stack?: string | null;
}

/**
 * Appends a log line to a task, or to a step's current attempt, with its LOG_APPENDED event in
 * the same transaction. The event names the step and the attempt (ids and number) and the time.
 */
export async function appendLog(
  tx: Tx,
  taskId: string,
  entry: LogLine,
  options: { wake?: boolean; control?: boolean; leaseOwner?: string } = {},
): Promise<string> {
  const message = entry.message.length > LIMITS.logMessageLength ? `${entry.message.slice(0, LIMITS.logMessageLength)}…` : entry.message;
  const stack = entry.stack == null ? null : entry.stack.slice(0, LIMITS.logMessageLength);
  const task = await lockAndBump(tx, taskId);
  checkLease(task, options.leaseOwner);
  let stepId: string | null = null;
  let attempt: { id: string; number: number; kind: string } | null = null;
  if (entry.stepKey) {
    const step = await tx.step.findUnique({
      where: { taskId_key: { taskId, key: entry.stepKey } },
      include: { attempts: { orderBy: { number: "desc" }, take: 1, select: { id: true, number: true, kind: true } } },
    });
    if (!step) throw notFound(`Step "${entry.stepKey}" of task`, taskId);
    stepId = step.id;
    attempt = step.attempts[0] ?? null;
  }
  const id = newId();
  const level = entry.level ?? "INFO";
  const time = new Date();
  await tx.logEntry.create({ data: { id, taskId, stepId, attemptId: attempt?.id ?? null, level, message, stack, time } });
  const payload = {
    logId: id,
    level,
    message,
    stepKey: entry.stepKey ?? null,
    // Node ids, as the API shows them (node(id) takes them): `Step:<uuid>`, `StepAttempt:<uuid>`.
    stepId: stepId && `Step:${stepId}`,
    attemptId: attempt && `StepAttempt:${attempt.id}`,
    attempt: attempt?.number ?? null,
    attemptKind: attempt?.kind ?? null,
    time: time.toISOString(),
  };
  await appendEvents(tx, [{ task, type: "LOG_APPENDED", payload, wake: options.wake, control: options.control }]);
  return id;
}
