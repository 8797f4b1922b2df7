// Every write to tasks, steps, attempts and logs. Each function runs inside the caller's
// transaction (Store wraps them, composite operations share one): it locks the task row, checks
// the state machine, bumps Task.version and appends the TaskEvent — all or nothing.
import { checkLabels } from "../domain/input";
import { TaskgraphError, badInput, checkText, notFound } from "../domain/errors";
import type { StepSpec } from "../domain/flow";
import { resolveFlow } from "../domain/flow";
import { normalizeRetryPolicy, type RetryPolicy } from "../domain/retry";
import { newId, parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import type { StepState, TaskState } from "../domain/states";
import { assertStepTransition, assertTaskTransition, canTransitionStep, isEnded, LOST_STEP_ERROR, PENDING_STATES, STEP_STATES } from "../domain/states";
import { taskStateList } from "./sql";
import type { FailureCode, LogLevel, Step, Task, TaskKind } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import { PREPARED } from "../db/prepared";
import { type Actor, actorCte, setActorSql, SYSTEM_ACTOR } from "./actor";
import type { ChangeNotice, Tx } from "./journal-writer";
import { appendEvents, eventType, journalWrite, noticeOf, noticeText, publishAfterCommit } from "./journal-writer";

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
  /** The W3C trace context it was created in (its children given here share it): its runs continue that trace. */
  traceparent?: string | null;
  /** Claimed before tasks of lower priority (default: its parent's, or 0). */
  priority?: number;
  /** Tasks with the same key never run at once (an exclusive target). */
  exclusiveKey?: string | null;
  /**
   * With exclusiveKey: WAIT (default) queues it until the key is free (Task.blockedBy); REFUSE
   * refuses it with CONFLICT while a pending task has the key.
   */
  exclusiveMode?: "WAIT" | "REFUSE";
  /** Each run's time limit (ms): past it the run's signal is aborted and it fails with TIMEOUT. */
  timeoutMs?: number | null;
  /** Automatic retries of its run or its steps, instead of its type's (see domain/retry.ts). */
  retryPolicy?: RetryPolicy | null;
  /** Started by this recurring schedule, for this due time of it (store/schedules.ts). */
  scheduleId?: string | null;
  scheduleDueAt?: Date | null;
}

/** The longest time limit a run may have (7 days). */
export const MAX_TIMEOUT_MS = 7 * 24 * 3_600_000;

/** The range of a task's priority. */
export const PRIORITY_RANGE = { min: -1_000, max: 1_000 } as const;

/** A child is in its parent's module unless it says otherwise. */
export type NewChildTask = Omit<NewTask, "module"> & { module?: string };

export interface TaskPatch {
  error?: string | null;
  /** Why it failed, as a code (TIMEOUT); cleared when it runs again. */
  errorCode?: FailureCode | null;
  result?: Prisma.InputJsonValue | null;
  node?: string | null;
  /** Hand the task back to the workers: clear the lease (and wake them). */
  releaseLease?: boolean;
  /** Refuse with CONFLICT unless this worker still holds the task's lease. */
  ifLeaseOwner?: string;
  /** Refuse with CONFLICT (details.reason "abortRequested") when an abort is pending. */
  ifNotAborted?: boolean;
  /** With FAILED: an automatic retry, SCHEDULED this many ms after the failure in the same transaction (by the system). */
  retryAfterMs?: number;
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
  if (spec.priority != null && !(Number.isInteger(spec.priority) && spec.priority >= PRIORITY_RANGE.min && spec.priority <= PRIORITY_RANGE.max)) {
    throw badInput(`priority must be a whole number from ${PRIORITY_RANGE.min} to ${PRIORITY_RANGE.max}`, { field: "priority" });
  }
  if (spec.timeoutMs != null && !(Number.isInteger(spec.timeoutMs) && spec.timeoutMs >= 1 && spec.timeoutMs <= MAX_TIMEOUT_MS)) {
    throw badInput(`timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`, { field: "timeoutMs" });
  }
  if (spec.retryPolicy != null) normalizeRetryPolicy(spec.retryPolicy);
  if (spec.exclusiveKey != null) {
    if (spec.exclusiveKey === "") throw badInput("exclusiveKey must not be empty", { field: "exclusiveKey" });
    checkText("exclusiveKey", spec.exclusiveKey, LIMITS.targetLength, { field: "exclusiveKey" });
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
 * Creates several tasks (each with its steps and subtree) in one transaction: the bulk path. Each
 * new root takes the next sequence number of its module; with `parentId` they all join that
 * task's tree. Returns the roots, in the order given.
 */
export async function createTasks(tx: Tx, specs: NewTask[], options: { parentId?: string } = {}): Promise<Task[]> {
  await refuseHeldKeys(tx, specs);
  const { roots, notice } = await insertTasks(tx, specs, options);
  publishAfterCommit(tx, notice);
  return roots;
}

/** The keys of the specs (and their children) that refuse to wait (exclusiveMode REFUSE). */
export function refusingKeys(specs: readonly NewChildTask[]): string[] {
  const keys = new Set<string>();
  const visit = (spec: NewChildTask) => {
    if (spec.exclusiveKey && spec.exclusiveMode === "REFUSE") keys.add(spec.exclusiveKey);
    spec.children?.forEach(visit);
  };
  specs.forEach(visit);
  return [...keys].sort();
}

/**
 * A task of exclusiveMode REFUSE is refused (CONFLICT, naming the task in the way) while a pending
 * task has its key. The key rows are locked first, in key order (created if new), so two such
 * creations, or one and a claim of the key, happen one after the other: the second sees the
 * first. Only in a transaction (the caller's), before the tasks are inserted.
 */
async function refuseHeldKeys(tx: Tx, specs: readonly NewTask[]): Promise<void> {
  const keys = refusingKeys(specs);
  if (keys.length === 0) return;
  await tx.$executeRaw`INSERT INTO "ExclusiveKey" (key) SELECT unnest(${keys}::text[]) ON CONFLICT DO NOTHING`;
  await tx.$queryRaw`SELECT key FROM "ExclusiveKey" WHERE key = ANY(${keys}::text[]) ORDER BY key FOR UPDATE`;
  const [pending] = await tx.$queryRaw<{ id: string; key: string; state: string }[]>`
    SELECT id::text, "exclusiveKey" AS key, state::text FROM "Task"
    WHERE "exclusiveKey" = ANY(${keys}::text[]) AND state IN (${taskStateList(PENDING_STATES)})
    ORDER BY (state = 'RUNNING') DESC, "createdAt" LIMIT 1`;
  if (pending) {
    throw new TaskgraphError("CONFLICT", `Task ${pending.id} (${pending.state}) holds "${pending.key}": this operation refuses to wait for it`, {
      exclusiveKey: pending.key,
      blockedBy: pending.id,
    });
  }
}

/** A task row as insertTasks builds it (every column it writes). */
type TaskRow = Omit<Prisma.TaskCreateManyInput, "sequenceNumber" | "input" | "labels" | "createdAt" | "scheduledFor" | "retryPolicy" | "scheduleDueAt"> & {
  retryPolicy: string | null;
  scheduleDueAt: Date | null;
  input: string | null;
  labels: string;
  scheduledFor: Date | null;
  /** The module whose next sequence number this root takes, or null: `sequence` is the number itself. */
  sequenceOf: string | null;
  /** With `sequenceOf`: 1 for the module's first new root of the batch, 2 for the next, … */
  sequence: number;
};

/**
 * The bulk path: validates every spec first (a refusal writes nothing), then writes the tasks,
 * their steps, their CREATED events (each with its task snapshot and the actor) and the NOTIFY in
 * ONE statement, atomic by itself. Sequence numbers are taken in the same statement, and only
 * when every module named exists (otherwise nothing is written: NOT_FOUND). With `parentId` the
 * caller's transaction first locks the parent. Returns the roots and the notice sent.
 */
export async function insertTasks(
  tx: Tx,
  specs: NewTask[],
  options: { parentId?: string } = {},
): Promise<{ roots: Task[]; notice: ChangeNotice | null }> {
  if (specs.length === 0) return { roots: [], notice: null };
  const parent = options.parentId ? await lockWithoutChange(tx, options.parentId) : null;
  if (parent && (isEnded(parent.state as TaskState) || parent.abortRequestedAt)) {
    const why = parent.abortRequestedAt ? "being aborted" : parent.state;
    throw new TaskgraphError("INVALID_STATE", `Task ${parent.id} is ${why}: it can no longer get children`, { taskId: parent.id });
  }
  const now = new Date();
  const tasks: TaskRow[] = [];
  const steps: { id: string; taskId: string; key: string; name: string; index: number; dependsOn: string }[] = [];
  const rootIds: string[] = [];
  const modules = new Set<string>();
  /** New roots so far per module: each takes the module's next sequence number. */
  const rootsPerModule = new Map<string, number>();
  // A child records who started its tree (createdBy) unless it says otherwise.
  type Parent = {
    id: string;
    rootId: string;
    depth: number;
    kind: TaskKind;
    moduleName: string;
    createdBy: string | null;
    sequence: number;
    sequenceOf: string | null;
    priority: number;
  };
  const parentInfo: Parent | null = parent && {
    id: parent.id,
    rootId: parent.rootId,
    depth: parent.depth,
    kind: parent.kind,
    moduleName: parent.moduleName,
    createdBy: parent.createdBy,
    sequence: parent.sequenceNumber,
    sequenceOf: null,
    priority: parent.priority,
  };
  for (const spec of specs) {
    // Breadth-first, so UUIDv7 ids (creation order) list siblings in the order given.
    const queue: { spec: NewChildTask; parent: Parent | null }[] = [{ spec, parent: parentInfo }];
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { spec: s, parent: p } = item;
      checkTaskSpec(s, p);
      const id = newId();
      const moduleName = s.module ?? p?.moduleName ?? spec.module;
      modules.add(moduleName);
      // A new root takes its module's next number; a child shares its root's.
      let sequence = p?.sequence ?? 0;
      let sequenceOf = p?.sequenceOf ?? null;
      if (item.spec === spec) rootIds.push(id);
      if (!p) {
        sequence = (rootsPerModule.get(moduleName) ?? 0) + 1;
        sequenceOf = moduleName;
        rootsPerModule.set(moduleName, sequence);
      }
      const scheduled = s.runAt != null && s.runAt.getTime() > now.getTime();
      const kind = s.kind ?? "NODE";
      const createdBy = s.createdBy ?? p?.createdBy ?? null;
      const rootId = p?.rootId ?? id;
      const depth = p ? p.depth + 1 : 0;
      const priority = s.priority ?? p?.priority ?? 0; // an urgent operation's children are urgent too
      tasks.push({
        id,
        moduleName,
        type: s.type,
        name: s.name ?? s.type,
        kind,
        scope: s.scope ?? (s.kind === "CLUSTER" ? "cluster" : "node"),
        target: s.target ?? null,
        labels: JSON.stringify(s.labels ?? {}),
        state: scheduled ? "SCHEDULED" : "QUEUED",
        isAbortable: s.isAbortable ?? true,
        isInternal: s.isInternal ?? false,
        isUserTask: s.isUserTask ?? p === null,
        sequenceOf,
        sequence,
        parentId: p?.id ?? null,
        rootId,
        depth,
        input: s.input == null ? null : JSON.stringify(s.input),
        progressUnits: s.progressUnits ?? null,
        // A flow's progress counts its steps from the start (its run then has nothing to write before its first step).
        progressTotal: s.progressTotal ?? (s.steps?.length ? s.steps.length : null),
        scheduledFor: s.runAt ?? null,
        createdBy,
        node: s.node ?? null,
        spawnKey: s.spawnKey ?? null,
        needsSetup: s.needsSetup ?? false,
        traceparent: s.traceparent ?? spec.traceparent ?? null,
        priority,
        exclusiveKey: s.exclusiveKey ?? null,
        timeoutMs: s.timeoutMs ?? null,
        retryPolicy: s.retryPolicy ? JSON.stringify(normalizeRetryPolicy(s.retryPolicy)) : null,
        scheduleId: s.scheduleId ?? null,
        scheduleDueAt: s.scheduleDueAt ?? null,
      });
      for (const step of resolveFlow(s.steps ?? [])) {
        steps.push({ id: newId(), taskId: id, key: step.key, name: step.name, index: step.index, dependsOn: JSON.stringify(step.dependsOn) });
      }
      const self: Parent = { id, rootId, depth, kind, moduleName, createdBy, sequence, sequenceOf, priority };
      for (const child of s.children ?? []) queue.push({ spec: { ...child, module: child.module ?? moduleName }, parent: self });
    }
  }
  const ids = tasks.map((t) => t.id);
  const notice = noticeOf(ids, { w: tasks.some((t) => t.state === "QUEUED") });
  const counted = [...rootsPerModule.keys()];
  const named = [...modules];
  const column = <T>(pick: (t: TaskRow) => T) => tasks.map(pick);
  const rows = await tx.$queryRaw<(Task & { _notified?: unknown })[]>`${PREPARED}
    WITH ${actorCte()}, known AS (
      SELECT count(*) AS n FROM "Module" WHERE name = ANY(${named}::text[])
    ), taken AS (
      -- One UPDATE takes the row lock (a separate FOR UPDATE first deadlocked concurrent batches on the tuple lock).
      UPDATE "Module" m SET "lastSequenceNumber" = m."lastSequenceNumber" + c.n
      FROM unnest(${counted}::text[], ${counted.map((m) => rootsPerModule.get(m)!)}::int[]) AS c(name, n)
      WHERE m.name = c.name AND (SELECT n FROM known) = ${named.length}
      RETURNING m.name, m."lastSequenceNumber" - c.n AS base
    ), input AS (
      SELECT * FROM unnest(
        ${ids}::uuid[], ${column((t) => t.moduleName)}::text[], ${column((t) => t.type)}::text[], ${column((t) => t.name)}::text[],
        ${column((t) => t.kind)}::text[], ${column((t) => t.scope)}::text[], ${column((t) => t.target)}::text[],
        ${column((t) => t.labels)}::text[], ${column((t) => t.state)}::text[], ${column((t) => t.isAbortable)}::boolean[],
        ${column((t) => t.isInternal)}::boolean[], ${column((t) => t.isUserTask)}::boolean[], ${column((t) => t.sequenceOf)}::text[],
        ${column((t) => t.sequence)}::int[], ${column((t) => t.parentId)}::uuid[], ${column((t) => t.rootId)}::uuid[],
        ${column((t) => t.depth)}::int[], ${column((t) => t.input)}::text[], ${column((t) => t.progressUnits)}::text[],
        ${column((t) => t.progressTotal)}::float8[], ${column((t) => t.scheduledFor?.toISOString() ?? null)}::timestamptz[],
        ${column((t) => t.createdBy)}::text[], ${column((t) => t.node)}::text[], ${column((t) => t.spawnKey)}::text[],
        ${column((t) => t.needsSetup)}::boolean[], ${column((t) => t.traceparent)}::text[], ${column((t) => t.priority)}::int[],
        ${column((t) => t.exclusiveKey)}::text[], ${column((t) => t.timeoutMs)}::int[], ${column((t) => t.retryPolicy)}::text[],
        ${column((t) => t.scheduleId)}::uuid[], ${column((t) => t.scheduleDueAt?.toISOString() ?? null)}::timestamptz[]
      ) AS i(id, "moduleName", type, name, kind, scope, target, labels, state, "isAbortable", "isInternal", "isUserTask",
        "sequenceOf", sequence, "parentId", "rootId", depth, input, "progressUnits", "progressTotal", "scheduledFor",
        "createdBy", node, "spawnKey", "needsSetup", traceparent, priority, "exclusiveKey", "timeoutMs", "retryPolicy", "scheduleId", "scheduleDueAt")
    ), inserted AS (
      INSERT INTO "Task" (id, "moduleName", type, name, kind, scope, target, labels, state, "isAbortable", "isInternal",
        "isUserTask", "sequenceNumber", "parentId", "rootId", depth, input, "progressUnits", "progressTotal", "createdAt",
        "scheduledFor", "createdBy", node, "spawnKey", "needsSetup", traceparent, priority, "exclusiveKey", "timeoutMs", "retryPolicy", "scheduleId", "scheduleDueAt")
      SELECT i.id, i."moduleName", i.type, i.name, i.kind::"TaskKind", i.scope, i.target, i.labels::jsonb, i.state::"TaskState",
        i."isAbortable", i."isInternal", i."isUserTask", CASE WHEN i."sequenceOf" IS NULL THEN i.sequence ELSE t.base + i.sequence END,
        i."parentId", i."rootId", i.depth, i.input::jsonb, i."progressUnits", i."progressTotal", ${now}::timestamptz,
        i."scheduledFor", i."createdBy", i.node, i."spawnKey", i."needsSetup", i.traceparent, i.priority, i."exclusiveKey", i."timeoutMs", i."retryPolicy"::jsonb, i."scheduleId", i."scheduleDueAt"
      FROM input i LEFT JOIN taken t ON t.name = i."sequenceOf", actor
      WHERE (SELECT n FROM known) = ${named.length} AND (i."sequenceOf" IS NULL OR t.base IS NOT NULL)
      RETURNING *
    ), keys AS (
      -- Each exclusive key has its row, which claims take (and the end of its holder frees).
      INSERT INTO "ExclusiveKey" (key) SELECT DISTINCT "exclusiveKey" FROM inserted WHERE "exclusiveKey" IS NOT NULL
      ON CONFLICT DO NOTHING
    ), "insertedSteps" AS (
      INSERT INTO "Step" (id, "taskId", key, name, index, "dependsOn")
      SELECT s.id, s."taskId", s.key, s.name, s.index, ARRAY(SELECT jsonb_array_elements_text(s."dependsOn"::jsonb))
      FROM unnest(${steps.map((s) => s.id)}::uuid[], ${steps.map((s) => s.taskId)}::uuid[], ${steps.map((s) => s.key)}::text[],
        ${steps.map((s) => s.name)}::text[], ${steps.map((s) => s.index)}::int[], ${steps.map((s) => s.dependsOn)}::text[])
        AS s(id, "taskId", key, name, index, "dependsOn")
      WHERE s."taskId" IN (SELECT id FROM inserted)
    ), ${journalWrite(
      "created",
      "inserted",
      {
        type: eventType("CREATED"),
        payload: Prisma.sql`jsonb_build_object('state', state, 'parentId', "parentId", 'type', type, 'name', name)`,
        orderBy: Prisma.sql`id`, // UUIDv7: the order the tasks were built in
      },
      notice ? noticeText(notice) : Prisma.sql`''`,
    )}
    SELECT inserted.*, (SELECT count(*) FROM "createdNotified") AS _notified FROM inserted WHERE id = ANY(${rootIds}::uuid[])`;
  if (rows.length === 0) {
    const found = await tx.module.findMany({ where: { name: { in: named } }, select: { name: true } });
    const missing = named.filter((m) => !found.some((f) => f.name === m));
    throw notFound("Module", (missing.length ? missing : named).join(", "));
  }
  const byId = new Map(rows.map(({ _notified, ...task }) => [task.id, task as Task]));
  return { roots: rootIds.map((id) => byId.get(id)!), notice };
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
    if (from === "FAILED") {
      data.error = null;
      data.errorCode = null;
      data.automaticRetries = 0; // a manual Retry or Rerun: the retry policy's count starts again
    }
  }
  if (isEnded(to)) data.endedAt = now;
  if (patch.error !== undefined) data.error = patch.error;
  if (patch.errorCode !== undefined) data.errorCode = patch.errorCode;
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
    // Ending a task with an exclusive key frees it: workers may start the next task of that key.
    { task: updated, type: "STATE_CHANGED", payload: { from, to, error: updated.error }, wake: patch.releaseLease === true || (isEnded(to) && updated.exclusiveKey !== null) },
  ]);
  // A step's automatic retry to come ends with its task (one is promised only while it runs).
  if (from === "RUNNING" && isEnded(to)) await tx.step.updateMany({ where: { taskId, nextAttemptAt: { not: null } }, data: { nextAttemptAt: null } });
  if (to === "FAILED" && patch.retryAfterMs !== undefined) return scheduleAutomaticRetry(tx, updated, patch.retryAfterMs);
  return updated;
}

/**
 * A plain task's failed attempt to be tried again: FAILED → SCHEDULED `afterMs` after the failure,
 * recorded as the system's (the retry policy decided it), in the transaction that recorded the
 * failure — so a crash can neither lose the retry nor leave the task FAILED with one promised. The
 * pause counts from the failure's recorded time (the transaction's, its events' `at`), so the
 * history shows exactly the backoff between the two however long the transaction took.
 */
async function scheduleAutomaticRetry(tx: Tx, failed: Task, afterMs: number): Promise<Task> {
  const [{ at }] = (await tx.$queryRaw<{ at: Date }[]>`SELECT now() + make_interval(secs => ${afterMs / 1000}::float8) AS at`) as [{ at: Date }];
  await tx.$executeRaw(setActorSql(SYSTEM_ACTOR)!);
  const task = await tx.task.update({
    where: { id: failed.id },
    data: { state: "SCHEDULED", scheduledFor: at, endedAt: null, automaticRetries: { increment: 1 }, version: { increment: 1 } },
  });
  await appendEvents(tx, [
    { task, type: "STATE_CHANGED", payload: { from: "FAILED", to: "SCHEDULED", error: task.error, nextAttemptAt: at.toISOString() } },
  ]);
  return task;
}

/** The from-states each step state can be entered from (the state machine, as statement parameters). */
const STEP_SOURCES = new Map(STEP_STATES.map((to) => [to, STEP_STATES.filter((from) => canTransitionStep(from, to))]));

/**
 * What both step writers (moveStepRow, one step; moveStepRows, many) do to a step and its attempts,
 * over SQL expressions for the target state, the error and its code, and the time: one definition
 * of what a transition means. `s` is the Step row and `c` the row describing it (its latest attempt
 * `number`, `kind`, `attemptState`, and `executed`).
 */
const STEP_ATTEMPTS = Prisma.sql`(SELECT count(*) FROM "StepAttempt" e WHERE e."stepId" = s.id AND e.kind IN ('EXECUTE', 'RETRY')) AS executed`;
const LATEST_ATTEMPT = Prisma.sql`LEFT JOIN LATERAL (
        SELECT id, number, kind, state FROM "StepAttempt" WHERE "stepId" = s.id ORDER BY number DESC LIMIT 1
      ) a ON true`;
const stepWrite = (to: Prisma.Sql, error: Prisma.Sql, errorCode: Prisma.Sql, now: Prisma.Sql, retryAt: Prisma.Sql) => ({
  /** The open attempt's outcome (SET list). */
  closeAttempt: Prisma.sql`state = CASE WHEN ${to} = 'FAILED' THEN 'FAILED' ELSE 'SUCCEEDED' END::"AttemptState", "endedAt" = ${now}, error = ${error}`,
  /** The kind of the attempt a transition into RUNNING or ROLLING_BACK opens. */
  openedKind: Prisma.sql`(CASE WHEN ${to} = 'ROLLING_BACK' THEN 'ROLLBACK' WHEN c.executed = 0 THEN 'EXECUTE' ELSE 'RETRY' END)::"AttemptKind"`,
  /** The step's new columns (SET list): each attempt reports its own progress. */
  step: Prisma.sql`state = ${to}::"StepState",
        "startedAt" = CASE WHEN ${to} = 'RUNNING' THEN ${now} ELSE s."startedAt" END,
        "progressCompleted" = CASE WHEN ${to} IN ('RUNNING', 'ROLLING_BACK') THEN 0 ELSE s."progressCompleted" END,
        "progressTotal" = CASE WHEN ${to} IN ('RUNNING', 'ROLLING_BACK') THEN NULL ELSE s."progressTotal" END,
        "endedAt" = CASE WHEN ${to} IN ('RUNNING', 'ROLLING_BACK') THEN NULL ELSE ${now} END,
        error = CASE WHEN ${to} IN ('FAILED', 'RUNNING') THEN ${error} ELSE s.error END,
        "errorCode" = CASE WHEN ${to} IN ('FAILED', 'RUNNING') THEN ${errorCode}::"FailureCode" ELSE s."errorCode" END,
        "nextAttemptAt" = CASE WHEN ${to} = 'FAILED' THEN ${retryAt} END,
        -- A failure with a retry to come counts one more; a rollback (before a manual Retry or Rerun) starts again.
        "automaticRetries" = CASE WHEN ${to} = 'FAILED' AND ${retryAt} IS NOT NULL THEN s."automaticRetries" + 1
          WHEN ${to} = 'ROLLING_BACK' THEN 0 ELSE s."automaticRetries" END`,
  /** What the STEP_CHANGED event adds for a failure with an automatic retry to come: its time. */
  retryPayload: Prisma.sql`(CASE WHEN ${to} = 'FAILED' AND ${retryAt} IS NOT NULL
          THEN jsonb_build_object('nextAttemptAt', to_char(${retryAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ELSE '{}'::jsonb END)`,
});

/**
 * A step as a transition left it, with the number of times it has been executed (EXECUTE and RETRY
 * attempts); `progressStored`: the task's progress given with the change (StepMove.progress) was
 * stored with it; `started`: the step it handed over to (StepMove.startNext), as started with it.
 */
export type MovedStep = Step & { executions: number; progressStored?: boolean; started?: MovedStep };

type SteppedRow = Step & {
  executions: number;
  _abortRequested: boolean | null;
  _found: boolean;
  _seen: number | null;
  _written: boolean;
  _taskState: TaskState | null;
  _leaseOwner: string | null;
  _from: StepState | null;
  _notified?: unknown;
};

/**
 * Moves a step to `to`. Entering RUNNING opens an attempt (EXECUTE the first time, RETRY after),
 * entering ROLLING_BACK opens a ROLLBACK attempt; leaving either closes the open attempt. The
 * version bump, the step, its attempts, the STEP_CHANGED event and the NOTIFY are ONE statement
 * (atomic by itself; it also runs inside a caller's transaction). With `leaseOwner`, refused
 * (CONFLICT) unless that claim still holds the task, and a step is not started (RUNNING) in a task
 * that is no longer RUNNING or whose abort was requested (INVALID_STATE): the write is the run's
 * check before each step, so a missed notification cannot start a step after an abort.
 */
/** What a step change may carry besides its target state. */
export interface StepChangeOptions {
  error?: string;
  errorCode?: FailureCode | null;
  /** With FAILED: an automatic retry starts the step again this many ms after the failure (Step.nextAttemptAt). */
  retryAfterMs?: number | null;
  /** Refused (CONFLICT) unless this claim holds the task. */
  leaseOwner?: string;
  /** With leaseOwner: the task's progress as the change leaves it, stored with it when it can be (StepMove.progress). */
  progress?: StepMove["progress"];
  /** With leaseOwner: the step to start with it when it can be (StepMove.startNext; MovedStep.started says). */
  startNext?: string | null;
}

export async function transitionStep(
  tx: Tx,
  taskId: string,
  stepKey: string,
  to: StepState,
  options: StepChangeOptions = {},
): Promise<MovedStep> {
  const { step, notice } = await moveStepRow(tx, taskId, stepKey, to, options);
  publishAfterCommit(tx, notice);
  return step;
}

/** transitionStep's statement; returns the notice for the caller to publish once committed. */
export async function moveStepRow(
  db: Pick<Tx, "$queryRaw">,
  taskId: string,
  stepKey: string,
  to: StepState,
  options: StepChangeOptions = {},
): Promise<{ step: MovedStep; notice: ChangeNotice }> {
  const id = parseUuid(taskId, "taskId");
  const error = to === "FAILED" ? (options.error ?? "failed") : null;
  const errorCode = to === "FAILED" ? (options.errorCode ?? null) : null;
  // A worker's own write: its run knows of it already and needs no look (`o`).
  const notice = noticeOf([id], { c: true, o: options.leaseOwner ? [options.leaseOwner] : [] })!;
  const startsUnderLease = to === "RUNNING" && options.leaseOwner !== undefined;
  const now = new Date();
  const retryAt = to === "FAILED" && options.retryAfterMs != null ? new Date(now.getTime() + options.retryAfterMs) : null;
  // A retry is promised only while the task runs: a failure recorded after someone else ended the
  // task (a forced delete fails it) gets no nextAttemptAt.
  const promised = Prisma.sql`(SELECT CASE WHEN b.state = 'RUNNING' AND b."abortRequestedAt" IS NULL THEN ${retryAt}::timestamptz END FROM bumped b)`;
  const write = stepWrite(Prisma.sql`${to}::text`, Prisma.sql`${error}::text`, Prisma.sql`${errorCode}::text`, Prisma.sql`${now}::timestamptz`, promised);
  // The statement reads the task, the step and its attempts in its snapshot, then bumps the task's
  // version (its row lock, which every write to steps takes first) only if that version is still
  // the snapshot's. A change committed in between fails that test: nothing is written and the
  // statement runs again on a fresh snapshot. One lock per row: locking the row first and then
  // updating it in the same statement deadlocked three writers of one row on the tuple lock.
  for (;;) {
    const rows = await db.$queryRaw<SteppedRow[]>`${PREPARED}
      WITH ${actorCte()}, seen AS (
        SELECT version, state, "leaseOwner", "abortRequestedAt" IS NOT NULL AS "abortRequested" FROM "Task" WHERE id = ${id}::uuid
      ), current AS (
        SELECT s.id, s.state, a.id AS "attemptId", a.number, a.kind, a.state AS "attemptState", ${STEP_ATTEMPTS}
        FROM "Step" s ${LATEST_ATTEMPT}
        WHERE s."taskId" = ${id}::uuid AND s.key = ${stepKey}
      ), allowed AS (
        SELECT c.* FROM current c WHERE c.state::text = ANY(${STEP_SOURCES.get(to)!}::text[])
      ), bumped AS (
        -- The lock: the UPDATE re-checks these on the row as it is now (a change since the snapshot fails the version test).
        UPDATE "Task" t SET version = t.version + 1 FROM allowed, actor, seen v
        WHERE t.id = ${id}::uuid AND t.version = v.version
          AND (${options.leaseOwner ?? null}::text IS NULL OR t."leaseOwner" = ${options.leaseOwner ?? null}::text
            OR (t."leaseOwner" IS NULL AND t.state <> 'RUNNING'))
          AND (NOT ${startsUnderLease}::boolean OR (t.state = 'RUNNING' AND t."abortRequestedAt" IS NULL))
        RETURNING t.*
      ), closed AS (
        UPDATE "StepAttempt" a SET ${write.closeAttempt}
        FROM allowed c WHERE a.id = c."attemptId" AND c."attemptState" = 'RUNNING' AND EXISTS (SELECT 1 FROM bumped)
      ), opened AS (
        INSERT INTO "StepAttempt" (id, "stepId", "taskId", number, kind, "startedAt")
        SELECT ${newId()}::uuid, c.id, ${id}::uuid, COALESCE(c.number, 0) + 1, ${write.openedKind}, ${now}::timestamptz
        FROM allowed c WHERE ${to}::text IN ('RUNNING', 'ROLLING_BACK') AND EXISTS (SELECT 1 FROM bumped)
        RETURNING number, kind
      ), stepped AS (
        UPDATE "Step" s SET ${write.step}
        FROM allowed c WHERE s.id = c.id AND EXISTS (SELECT 1 FROM bumped)
        RETURNING s.*
      ), changed AS (
        SELECT b.*, jsonb_build_object('stepKey', ${stepKey}::text, 'from', c.state::text, 'to', ${to}::text, 'error', ${error}::text,
          'attempt', COALESCE((SELECT number FROM opened), CASE WHEN c."attemptState" = 'RUNNING' THEN c.number END),
          'attemptKind', COALESCE((SELECT kind::text FROM opened), CASE WHEN c."attemptState" = 'RUNNING' THEN c.kind::text END))
          || ${write.retryPayload} AS "eventPayload"
        FROM bumped b, allowed c
      ), ${journalWrite("step", "changed", { type: eventType("STEP_CHANGED"), payload: Prisma.sql`"eventPayload"` }, noticeText(notice))}
      SELECT s.*, (c.executed + (SELECT count(*) FROM opened WHERE kind <> 'ROLLBACK'))::int AS executions,
        c.id IS NOT NULL AS _found, v.version AS _seen, v.state::text AS "_taskState", v."leaseOwner" AS "_leaseOwner",
        v."abortRequested" AS "_abortRequested",
        c.state::text AS _from, (SELECT count(*) FROM bumped) > 0 AS _written, (SELECT count(*) FROM "stepNotified") AS _notified
      FROM (SELECT 1) one LEFT JOIN seen v ON true LEFT JOIN current c ON true LEFT JOIN stepped s ON true`;
    const row = rows[0]!;
    if (!row._written) {
      // Refused, as the snapshot saw the task and step; or changed since the snapshot: read again.
      if (row._seen === null) throw notFound("Task", taskId);
      checkLease({ id, leaseOwner: row._leaseOwner, state: row._taskState! }, options.leaseOwner);
      if (!row._found) throw notFound(`Step "${stepKey}" of task`, taskId);
      assertStepTransition(row._from!, to, stepKey);
      if (startsUnderLease && (row._abortRequested || row._taskState !== "RUNNING")) {
        const reason = row._abortRequested ? "abortRequested" : "taskNotRunning";
        throw new TaskgraphError("INVALID_STATE", `Step "${stepKey}" does not start: task ${taskId} ${row._abortRequested ? "is being aborted" : "is not running"}`, { reason });
      }
      continue;
    }
    const { _found, _seen, _written, _taskState, _leaseOwner, _from, _notified, _abortRequested, ...step } = row;
    return { step: step as MovedStep, notice };
  }
}

/** One run's step change, for moveStepRows: under its lease, as its worker. */
export interface StepMove {
  taskId: string;
  stepKey: string;
  to: StepState;
  error?: string;
  errorCode?: FailureCode | null;
  retryAfterMs?: number | null;
  leaseOwner: string;
  actor: Actor;
  /**
   * The task's progress as this change leaves it (a flow's, derived from its steps): stored in the
   * same statement, with its PROGRESSED event after the STEP_CHANGED one.
   */
  progress?: { completed: number; total: number } | null;
  /**
   * With SUCCEEDED: the step to start (RUNNING) in the same statement, once this change is
   * written and if the task still runs, not being aborted (a flow handing over to its next step).
   */
  startNext?: string | null;
}

/** A PROGRESSED event's payload, over a row of the Task table. */
const PROGRESS_PAYLOAD = Prisma.sql`jsonb_build_object('completed', "progressCompleted", 'total', "progressTotal")`;

/** Each target step state with the states it may be entered from, as rows the statement joins. */
const STEP_SOURCE_PAIRS = [...STEP_SOURCES].flatMap(([to, froms]) => froms.map((from) => [to, from] as const));

/**
 * The step changes of many runs (one per task) in ONE statement: what moveStepRow does for one,
 * for each task whose row it can lock at once (SKIP LOCKED) and that nobody changed since the
 * statement's snapshot (the version test), under the run's lease, with the same source states,
 * attempts, STEP_CHANGED events and one NOTIFY for all (naming the runs whose own writes they
 * are). The others are not written: `busy` lists those another transaction held; everything
 * else (a refusal, a change since the snapshot) goes the one-at-a-time way, which says why.
 */
export async function moveStepRows(
  db: Pick<Tx, "$queryRaw">,
  moves: readonly StepMove[],
): Promise<{ stored: Map<string, MovedStep>; busy: Set<string>; notice: ChangeNotice | null }> {
  const ids = moves.map((m) => parseUuid(m.taskId, "taskId"));
  const notice = noticeOf(ids, { c: true, o: moves.map((m) => m.leaseOwner) });
  if (!notice) return { stored: new Map(), busy: new Set(), notice };
  const now = new Date();
  // One input row per step change: each move (part 0), and after it the start of the step it hands over to (part 1).
  type Change = Omit<StepMove, "taskId" | "actor" | "startNext"> & { id: string; part: number };
  const changes = moves.flatMap((m, i): Change[] => {
    const move = { ...m, id: ids[i]!, part: 0 };
    return m.startNext ? [move, { id: ids[i]!, stepKey: m.startNext, to: "RUNNING", leaseOwner: m.leaseOwner, part: 1 }] : [move];
  });
  const write = stepWrite(Prisma.sql`c."to"`, Prisma.sql`c.error`, Prisma.sql`c."errorCode"`, Prisma.sql`${now}::timestamptz`, Prisma.sql`c."retryAt"`);
  const rows = await db.$queryRaw<(MovedStep & { _written: boolean; _part: number; _notified?: unknown })[]>`${PREPARED}
    WITH ${actorCte(moves[0]!.actor)}, input AS (
      SELECT * FROM unnest(${changes.map((c) => c.id)}::uuid[], ${changes.map((c) => c.stepKey)}::text[], ${changes.map((c) => c.to)}::text[],
        ${changes.map((c) => (c.to === "FAILED" ? (c.error ?? "failed") : null))}::text[], ${changes.map((c) => c.leaseOwner)}::text[],
        ${changes.map(() => newId())}::uuid[], ${changes.map((c) => (c.to === "FAILED" ? (c.errorCode ?? null) : null))}::text[],
        ${changes.map((c) => (c.to === "FAILED" && c.retryAfterMs != null ? new Date(now.getTime() + c.retryAfterMs) : null))}::timestamptz[],
        ${changes.map((c) => c.progress != null)}::bool[], ${changes.map((c) => c.progress?.completed ?? null)}::float8[],
        ${changes.map((c) => c.progress?.total ?? null)}::float8[], ${changes.map((c) => c.part)}::int[])
        WITH ORDINALITY AS i(id, key, "to", error, owner, "attemptId", "errorCode", "retryAt", "setsProgress", "progressCompleted", "progressTotal", part, ord)
    ), sources AS (
      SELECT * FROM unnest(${STEP_SOURCE_PAIRS.map((p) => p[0])}::text[], ${STEP_SOURCE_PAIRS.map((p) => p[1])}::text[]) AS p("to", "from")
    ), seen AS (
      SELECT t.id, t.version FROM "Task" t WHERE t.id IN (SELECT id FROM input)
    ), locked AS (
      -- The row as it is now (after any change committed since the snapshot): only an unchanged one is written.
      SELECT t.id FROM "Task" t JOIN input i ON i.id = t.id AND i.part = 0 JOIN seen v ON v.id = t.id
      WHERE t.version = v.version AND t."leaseOwner" = i.owner
        AND (i."to" <> 'RUNNING' OR (t.state = 'RUNNING' AND t."abortRequestedAt" IS NULL))
      ORDER BY t.id FOR NO KEY UPDATE OF t SKIP LOCKED
    ), candidates AS (
      SELECT i.id, i.key, i."to", i.error, i."errorCode", i.ord, i.part, i."setsProgress", i."progressCompleted", i."progressTotal",
        -- A retry is promised only while the task runs (the row as locked: unchanged since the snapshot).
        (SELECT CASE WHEN t.state = 'RUNNING' AND t."abortRequestedAt" IS NULL THEN i."retryAt" END FROM "Task" t WHERE t.id = i.id) AS "retryAt", i."attemptId" AS "newAttemptId", s.id AS "stepId", s.state::text AS "from", a.id AS "attemptId", a.number, a.kind, a.state AS "attemptState",
        ${STEP_ATTEMPTS}
      FROM input i JOIN "Step" s ON s."taskId" = i.id AND s.key = i.key
        JOIN sources p ON p."to" = i."to" AND p."from" = s.state::text
        ${LATEST_ATTEMPT}
      WHERE i.id IN (SELECT id FROM locked)
        -- The step handed over to starts only in a task still running and not being aborted.
        AND (i.part = 0 OR (SELECT t.state = 'RUNNING' AND t."abortRequestedAt" IS NULL FROM "Task" t WHERE t.id = i.id))
    ), current AS (
      -- A hand-over only with the change before it. A change into RUNNING or ROLLING_BACK opens an
      -- attempt: its number and kind, for the attempt written (opened), its event and the answer.
      SELECT c.*, CASE WHEN c."to" IN ('RUNNING', 'ROLLING_BACK') THEN COALESCE(c.number, 0) + 1 END AS "openedNumber",
        CASE WHEN c."to" IN ('RUNNING', 'ROLLING_BACK') THEN ${write.openedKind} END AS "openedKind"
      FROM candidates c WHERE c.part = 0 OR c.id IN (SELECT id FROM candidates WHERE part = 0)
    ), bumped AS (
      -- One version per event: each STEP_CHANGED one, and the PROGRESSED one when the progress is set.
      -- Each task's row comes back with its changes' events to write (_changes, in input order):
      -- the events below read them from it instead of joining current again (a join of the CTEs,
      -- planned from estimates of one row each, rescanned one for every row of the other).
      UPDATE "Task" t SET version = t.version + g.events,
        "progressCompleted" = CASE WHEN g."setsProgress" THEN g."progressCompleted" ELSE t."progressCompleted" END,
        "progressTotal" = CASE WHEN g."setsProgress" THEN g."progressTotal" ELSE t."progressTotal" END
      FROM (
        SELECT c.id, count(*) + count(*) FILTER (WHERE c."setsProgress") AS events, bool_or(c."setsProgress") AS "setsProgress",
          max(c."progressCompleted") FILTER (WHERE c."setsProgress") AS "progressCompleted", max(c."progressTotal") FILTER (WHERE c."setsProgress") AS "progressTotal",
          jsonb_agg(jsonb_build_object('ord', c.ord, 'setsProgress', c."setsProgress", 'payload',
            jsonb_build_object('stepKey', c.key, 'from', c."from", 'to', c."to", 'error', c.error,
              -- The attempt the change opened, or the one still running.
              'attempt', COALESCE(c."openedNumber", CASE WHEN c."attemptState" = 'RUNNING' THEN c.number END),
              'attemptKind', COALESCE(c."openedKind"::text, CASE WHEN c."attemptState" = 'RUNNING' THEN c.kind::text END))
            || ${write.retryPayload}) ORDER BY c.ord) AS changes
        FROM current c GROUP BY c.id
      ) g, actor
      WHERE t.id = g.id
      RETURNING t.*, g.changes AS _changes
    ), closed AS (
      UPDATE "StepAttempt" a SET ${write.closeAttempt}
      FROM current c WHERE a.id = c."attemptId" AND c."attemptState" = 'RUNNING'
    ), opened AS (
      INSERT INTO "StepAttempt" (id, "stepId", "taskId", number, kind, "startedAt")
      SELECT c."newAttemptId", c."stepId", c.id, c."openedNumber", c."openedKind", ${now}::timestamptz
      FROM current c WHERE c."openedNumber" IS NOT NULL
    ), stepped AS (
      -- With what the answer needs of its change (no join of the CTEs afterwards).
      UPDATE "Step" s SET ${write.step}
      FROM current c WHERE s.id = c."stepId"
      RETURNING s.*, (c.executed + CASE WHEN c."openedKind" IN ('EXECUTE', 'RETRY') THEN 1 ELSE 0 END)::int AS executions,
        c."setsProgress" AS "progressStored", c.part AS _part
    ), events AS (
      SELECT b.*, 'STEP_CHANGED'::"TaskEventType" AS "eventType", 2 * (e.change->>'ord')::int AS "eventOrder", e.change->'payload' AS "eventPayload"
      FROM bumped b CROSS JOIN LATERAL jsonb_array_elements(b._changes) AS e(change)
      UNION ALL
      SELECT b.*, 'PROGRESSED', 2 * (e.change->>'ord')::int + 1, ${PROGRESS_PAYLOAD}
      FROM bumped b CROSS JOIN LATERAL jsonb_array_elements(b._changes) AS e(change) WHERE (e.change->>'setsProgress')::boolean
    ), numbered AS (
      -- A task's events take the versions its bump added, in order.
      SELECT e.*, e.version - count(*) OVER (PARTITION BY e.id) + row_number() OVER (PARTITION BY e.id ORDER BY e."eventOrder") AS "eventVersion"
      FROM events e
    ), ${journalWrite(
      "steps",
      "numbered",
      { type: Prisma.sql`"eventType"`, payload: Prisma.sql`"eventPayload"`, version: Prisma.sql`"eventVersion"`, orderBy: Prisma.sql`"eventOrder"` },
      noticeText(notice),
    )}
    SELECT stepped.*, true AS _written, (SELECT count(*) FROM "stepsNotified") AS _notified FROM stepped
    UNION ALL
    -- Not written because another transaction holds the row: tried again in the next batch.
    SELECT s.*, 0, false, 0, false, 0 FROM "Step" s JOIN input i ON s."taskId" = i.id AND s.key = i.key AND i.part = 0
    WHERE i.id NOT IN (SELECT id FROM current) AND i.id IN (
      SELECT t.id FROM "Task" t JOIN seen v ON v.id = t.id WHERE t.version = v.version AND t.id NOT IN (SELECT id FROM locked)
        AND EXISTS (SELECT 1 FROM input j WHERE j.id = t.id AND j.part = 0 AND t."leaseOwner" = j.owner AND (j."to" <> 'RUNNING' OR (t.state = 'RUNNING' AND t."abortRequestedAt" IS NULL))))`;
  const stored = new Map<string, MovedStep>();
  const started = new Map<string, MovedStep>();
  const busy = new Set<string>();
  for (const { _written, _notified, _part, ...step } of rows) {
    if (!_written) busy.add(step.taskId);
    else (_part === 0 ? stored : started).set(step.taskId, step);
  }
  for (const [taskId, step] of started) stored.get(taskId)!.started = step;
  return { stored, busy, notice: stored.size > 0 ? notice : null };
}

/**
 * A worker's write is refused once its claim no longer holds the task: another claim holds it
 * (resumed elsewhere), or it was handed back (RUNNING with no lease: the worker stopped or gave
 * up). A task ended by someone else (no lease, not RUNNING) still gets its running step's outcome.
 */
function checkLease(task: Pick<Task, "id" | "leaseOwner" | "state">, leaseOwner: string | undefined) {
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
export async function resumeLostStep(tx: Tx, taskId: string, stepKey: string, leaseOwner: string): Promise<MovedStep> {
  await transitionStep(tx, taskId, stepKey, "FAILED", { error: LOST_STEP_ERROR, leaseOwner });
  return transitionStep(tx, taskId, stepKey, "RUNNING", { leaseOwner });
}


/**
 * Sets a task's progress: the version bump, the PROGRESSED event and its NOTIFY in ONE statement
 * (atomic by itself). Progress is the most frequent write of a running task, and a short write
 * transaction matters to subscribers: the journal is read only below the oldest transaction still
 * running (journal-reader.ts), so every open write transaction holds back every later event.
 */
/** What a task's progress is once stored. */
export interface StoredProgress {
  completed: number;
  total: number | null;
  version: number;
}

/** One task's progress to store (setProgressMany). */
export interface ProgressWrite {
  taskId: string;
  completed: number;
  /** undefined: the total is left as it is. */
  total?: number | null;
  /** Who reports it (the events record it); one batch has one actor. */
  actor: Actor;
}

/** The checks of a progress report, before it is written: a bad one is BAD_USER_INPUT for its caller alone. */
export function checkProgress(write: ProgressWrite): ProgressWrite {
  if (!Number.isFinite(write.completed) || write.completed < 0) throw badInput("progress completed must be a finite number ≥ 0");
  if (write.total != null && (!Number.isFinite(write.total) || write.total < 0)) throw badInput("progress total must be a finite number ≥ 0");
  return { ...write, taskId: parseUuid(write.taskId, "taskId") };
}

/**
 * Sets the progress of many tasks (checked, each task once, one actor) in one statement: each
 * task's version is bumped and one PROGRESSED event appended, with one NOTIFY for them all. A row
 * another transaction holds locked is skipped, not waited for (`busy`: the caller tries it again):
 * waiting for several rows in one statement could deadlock with a transaction that locks the same
 * tasks in another order (an abort of a tree). A task that is gone is in neither result.
 */
export async function setProgressMany(
  db: Pick<Tx, "$queryRaw">,
  writes: readonly ProgressWrite[],
): Promise<{ stored: Map<string, StoredProgress>; busy: Set<string>; notice: ChangeNotice | null }> {
  const notice = noticeOf(writes.map((w) => w.taskId));
  if (!notice) return { stored: new Map(), busy: new Set(), notice };
  const rows = await db.$queryRaw<{ id: string; stored: boolean; completed: number | null; total: number | null; version: number | null }[]>`${PREPARED}
    WITH ${actorCte(writes[0]!.actor)}, input AS (
      SELECT * FROM unnest(${writes.map((w) => w.taskId)}::uuid[], ${writes.map((w) => w.completed)}::float8[],
        ${writes.map((w) => w.total ?? null)}::float8[], ${writes.map((w) => w.total !== undefined)}::bool[]) AS i(id, completed, total, "setsTotal")
    ), locked AS (
      SELECT t.id FROM "Task" t WHERE t.id IN (SELECT id FROM input) ORDER BY t.id FOR NO KEY UPDATE SKIP LOCKED
    ), updated AS (
      UPDATE "Task" t SET version = t.version + 1, "progressCompleted" = i.completed,
        "progressTotal" = CASE WHEN i."setsTotal" THEN i.total ELSE t."progressTotal" END
      FROM input i, actor WHERE t.id = i.id AND t.id IN (SELECT id FROM locked)
      RETURNING t.*
    ), ${journalWrite("progress", "updated", { type: eventType("PROGRESSED"), payload: PROGRESS_PAYLOAD, orderBy: Prisma.sql`id` }, noticeText(notice))}
    SELECT id::text AS id, true AS stored, "progressCompleted" AS completed, "progressTotal" AS total, version, (SELECT count(*) FROM "progressNotified") AS _notified
    FROM updated
    UNION ALL
    SELECT t.id::text, false, NULL, NULL, NULL, 0 FROM "Task" t WHERE t.id IN (SELECT id FROM input) AND t.id NOT IN (SELECT id FROM updated)`;
  const stored = new Map<string, StoredProgress>();
  const busy = new Set<string>();
  for (const row of rows) {
    if (row.stored) stored.set(row.id, { completed: row.completed!, total: row.total, version: row.version! });
    else busy.add(row.id);
  }
  return { stored, busy, notice };
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
 * Appends a log line to a task, or to a step's current attempt, with its LOG_APPENDED event: one
 * statement (like setProgress), so a running task's log line holds no transaction open across
 * round trips (an open write transaction holds back every live subscriber: the journal is read
 * in commit order). The event names the step and the attempt (ids and number) and the time.
 * Inside a transaction (`db` a Tx) it is one statement of it; its notice is published after commit.
 */
export async function appendLog(
  db: Pick<Tx, "$queryRaw">,
  taskId: string,
  entry: LogLine,
  options: { wake?: boolean; control?: boolean; leaseOwner?: string } = {},
): Promise<{ id: string; notice: ChangeNotice }> {
  const message = entry.message.length > LIMITS.logMessageLength ? `${entry.message.slice(0, LIMITS.logMessageLength)}…` : entry.message;
  const stack = entry.stack == null ? null : entry.stack.slice(0, LIMITS.logMessageLength);
  const id = parseUuid(taskId, "taskId");
  const stepKey = entry.stepKey ?? null;
  const leaseOwner = options.leaseOwner ?? null;
  const logId = newId();
  const level = entry.level ?? "INFO";
  const time = new Date();
  const notice = noticeOf([id], { w: options.wake, c: options.control })!;
  // `before`: the task as the statement found it, to say why nothing was written. The UPDATE
  // checks the lease again on the row it locks (the latest version).
  const [row] = await db.$queryRaw<{ written: number; taskExists: boolean; stepExists: boolean; leaseOwner: string | null; state: string | null }[]>`${PREPARED}
    WITH ${actorCte()}, before AS (
      SELECT "leaseOwner", state::text AS state FROM "Task" WHERE id = ${id}::uuid
    ), step AS (
      SELECT s.id FROM "Step" s WHERE s."taskId" = ${id}::uuid AND s.key = ${stepKey}::text
    ), attempt AS (
      SELECT a.id, a.number, a.kind::text AS kind FROM "StepAttempt" a WHERE a."stepId" = (SELECT id FROM step) ORDER BY a.number DESC LIMIT 1
    ), updated AS (
      UPDATE "Task" t SET version = t.version + 1 FROM actor
      WHERE t.id = ${id}::uuid
        AND (${leaseOwner}::text IS NULL OR t."leaseOwner" = ${leaseOwner}::text OR (t."leaseOwner" IS NULL AND t.state <> 'RUNNING'))
        AND (${stepKey}::text IS NULL OR EXISTS (SELECT 1 FROM step))
      RETURNING t.*
    ), logged AS (
      INSERT INTO "LogEntry" (id, "taskId", "stepId", "attemptId", level, message, stack, time)
      SELECT ${logId}::uuid, id, (SELECT id FROM step), (SELECT id FROM attempt), ${level}::"LogLevel", ${message}, ${stack}::text, ${time}::timestamptz
      FROM updated
      RETURNING id
    ), ${journalWrite(
      "log",
      "updated",
      {
        type: eventType("LOG_APPENDED"),
        // Node ids, as the API shows them (node(id) takes them): `Step:<uuid>`, `StepAttempt:<uuid>`.
        payload: Prisma.sql`jsonb_build_object('logId', ${logId}::text, 'level', ${level}::text, 'message', ${message}::text, 'stepKey', ${stepKey}::text,
          'stepId', (SELECT 'Step:' || id FROM step), 'attemptId', (SELECT 'StepAttempt:' || id FROM attempt),
          'attempt', (SELECT number FROM attempt), 'attemptKind', (SELECT kind FROM attempt), 'time', ${time.toISOString()}::text)`,
      },
      noticeText(notice),
    )}
    SELECT (SELECT count(*) FROM logged)::int AS written, (SELECT count(*) FROM "logNotified") AS _notified,
      EXISTS (SELECT 1 FROM before) AS "taskExists", EXISTS (SELECT 1 FROM step) AS "stepExists",
      (SELECT "leaseOwner" FROM before) AS "leaseOwner", (SELECT state FROM before) AS state`;
  if (!row || row.written === 0) {
    if (!row?.taskExists) throw notFound("Task", taskId);
    if (stepKey !== null && !row.stepExists) throw notFound(`Step "${stepKey}" of task`, taskId);
    throw new TaskgraphError("CONFLICT", `Task ${id} is no longer held by ${leaseOwner}`, { taskId: id });
  }
  publishAfterCommit(db as Tx, notice);
  return { id: logId, notice };
}
