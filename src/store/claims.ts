// How workers take work from the store. Claims use FOR UPDATE SKIP LOCKED, so several worker
// processes on one PostgreSQL never take the same task; a claim holds a lease that the worker
// renews, and a task whose lease ran out (its worker died) is claimable again.
// Raw SQL: Prisma cannot say SKIP LOCKED or UPDATE … FROM (subquery) RETURNING.
import { Prisma, type Step, type Task } from "../generated/prisma/client";
import type { ChangeNotice, Tx } from "./journal-writer";
import { PREPARED } from "../db/prepared";
import { actorCte } from "./actor";
import { eventType, journalWrite, noticeOf, noticeSql, notifyChange, publishAfterCommit } from "./journal-writer";
import { stateChangedPayload } from "./sql";
import { appendLog } from "./task-writes";

// A claim tells listeners which tasks started (waitForTask, subscriptions). Only a task handed
// back (RUNNING or FAILED, its lease run out) concerns a run elsewhere: c=1 makes that run look.
// A fresh start needs no c: nobody else runs the task, and it would make the claiming worker re-read it.
const claimNoticeSql = noticeSql({ c: Prisma.sql`bool_or(_previous <> 'QUEUED')` });
const claimNotice = (claimed: Claimed[]) =>
  noticeOf(claimed.map((c) => c.id), { c: claimed.some((c) => c.previousState !== "QUEUED") });

export interface Claimed {
  id: string;
  /** QUEUED (a fresh start), RUNNING (resumed: retried, or its worker died) or FAILED (to roll back). */
  previousState: "QUEUED" | "RUNNING" | "FAILED";
  /** The task as the claim left it (RUNNING under the new lease, or as it was): no need to read it again. */
  task: Task;
  /** Its first start (the claim set startedAt): how long it waited since it was created or due is known. */
  firstStart: boolean;
  /** Its steps as the claim found them, in order (none for a task without steps): a flow's run need not read them again. */
  steps: Step[];
}

/**
 * Claims up to `limit` tasks of the given (module, type) pairs, highest priority first, then
 * oldest first: QUEUED tasks, and tasks handed back to the workers (RUNNING or a FAILED one to roll
 * back) with no live lease. A task with an exclusive key starts only with its key: the claim takes
 * it (ExclusiveKey.holderId) in the same statement, one task per key, and skips a task whose key
 * another holds. QUEUED ones become RUNNING, with their STATE_CHANGED event, and the NOTIFY goes
 * out, all in ONE statement (atomic by itself: no BEGIN/COMMIT round trips), which returns the
 * claimed rows whole.
 *
 * The two kinds are looked up separately so each scan uses its index in order ((state, priority,
 * createdAt, id) and (state, createdAt, id)) and stops after `limit` rows, whatever the number of
 * finished tasks kept in history (one scan with the three states OR-ed together walked every row
 * by creation time and filtered).
 * The (module, type) test is written so no index can serve it (`|| ''`): without statistics (PGlite
 * never analyzes, a fresh PostgreSQL table) the planner otherwise fetched every task of the type
 * through the type index and sorted them all, ~50 ms per claim at 10,000 tasks.
 */
export interface ClaimOptions {
  /** The lease token written into leaseOwner ("<worker name>#<claim number>"). */
  worker: string;
  leaseMs: number;
  limit: number;
  modules: string[];
  types: string[];
}

export type ClaimedRow = Task & { _previous: Claimed["previousState"] | null; _firstStart: boolean | null; _steps: StepJson[] | null };

/** A Step row as to_jsonb writes it: times are ISO strings. */
type StepJson = Omit<Step, "startedAt" | "endedAt" | "nextAttemptAt"> & { startedAt: string | null; endedAt: string | null; nextAttemptAt: string | null };

const dateOrNull = (iso: string | null) => (iso === null ? null : new Date(iso));

/**
 * The final SELECT's column of a claim statement with each claimed task's steps (SELECT … FROM
 * claimed), in the statement's snapshot: the claim changes no step.
 */
export const CLAIMED_STEPS = Prisma.sql`(SELECT jsonb_agg(to_jsonb(s) ORDER BY s.index) FROM "Step" s WHERE s."taskId" = claimed.id) AS _steps`;

/**
 * The CTEs of a claim, for one statement: `claimed` holds the claimed rows (t.* and _previous),
 * their events and NOTIFY are written. `limit` may be an expression (a claim that also records
 * completions takes as many more as it frees); `exclude` are ids never to take (being completed
 * in the same statement). The statement must define actorCte() first: the claim's events record it.
 */
export function claimCtes(options: Omit<ClaimOptions, "limit">, limit: Prisma.Sql, exclude: string[] = []): Prisma.Sql {
  // A task whose exclusive key another task holds waits (Task.blockedBy) and takes no claim's place;
  // so does one of a type or module whose concurrency limit is reached (all its slots held).
  const keyFree = Prisma.sql`("exclusiveKey" IS NULL OR NOT EXISTS (
        SELECT 1 FROM "ExclusiveKey" k WHERE k.key = "Task"."exclusiveKey" AND k."holderId" IS NOT NULL AND k."holderId" <> "Task".id))`;
  // No limit anywhere (the usual case): checked once per statement, not per row.
  const noLimits = Prisma.sql`NOT EXISTS (SELECT 1 FROM "ConcurrencySlot")`;
  const slotFree = (scope: Prisma.Sql) => Prisma.sql`(${noLimits} OR NOT EXISTS (SELECT 1 FROM "ConcurrencySlot" x WHERE x.scope = ${scope})
        OR EXISTS (SELECT 1 FROM "ConcurrencySlot" x WHERE x.scope = ${scope} AND (x."holderId" IS NULL OR x."holderId" = "Task".id)))`;
  // The scopes' names as store/task-types.ts writes them (typeScope, moduleScope).
  const typeScope = Prisma.sql`'type:' || "moduleName" || '/' || type`;
  const moduleScope = Prisma.sql`'module:' || "moduleName"`;
  const admitted = Prisma.sql`(${keyFree} AND ${slotFree(typeScope)} AND ${slotFree(moduleScope)})`;
  // Work that does not start the task's operation needs no key or slot: a FAILED task's rollback
  // claim, and an aborted task (without rollback), which only ends and must not wait for either.
  const exempt = Prisma.sql`(state = 'FAILED' OR ("abortRequestedAt" IS NOT NULL AND NOT "rollbackOnAbort"))`;
  return Prisma.sql`kinds AS (
      SELECT * FROM unnest(${options.modules}::text[], ${options.types}::text[]) AS k(module, type)
    ), queued AS (
      SELECT id, "createdAt", state, "startedAt", priority, "exclusiveKey", "moduleName", type, false AS exempt FROM "Task"
      WHERE state = 'QUEUED' AND ("moduleName" || '', type || '') IN (SELECT module, type FROM kinds) AND ${admitted}
      ORDER BY priority DESC, "createdAt", id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), handedBack AS (
      SELECT id, "createdAt", state, "startedAt", priority, "exclusiveKey", "moduleName", type, ${exempt} AS exempt FROM "Task"
      WHERE ((state = 'RUNNING' AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now()) AND (${admitted} OR ${exempt}))
          OR (state = 'FAILED' AND "abortRequestedAt" IS NOT NULL AND "rollbackOnAbort"
              AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now())))
        AND ("moduleName" || '', type || '') IN (SELECT module, type FROM kinds)
        AND id <> ALL(${exclude}::uuid[])
      ORDER BY "createdAt", id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), candidates AS (
      SELECT id, state AS previous, "startedAt" IS NULL AS "firstStart", "exclusiveKey" AS key, exempt, priority, "createdAt",
        ${typeScope} AS "typeScope", ${moduleScope} AS "moduleScope",
        row_number() OVER (PARTITION BY "exclusiveKey", exempt ORDER BY priority DESC, "createdAt", id) AS "keyRank"
      FROM (SELECT * FROM handedBack UNION ALL SELECT * FROM queued) c
      ORDER BY priority DESC, "createdAt", id
      LIMIT ${limit}
    ), needs AS (
      -- The limited scopes each task to start needs a slot of (one it does not hold already), ranked.
      SELECT c.id, n.scope, row_number() OVER (PARTITION BY n.scope ORDER BY c.priority DESC, c."createdAt", c.id) AS rank
      FROM candidates c CROSS JOIN LATERAL (VALUES (c."typeScope"), (c."moduleScope")) AS n(scope)
      WHERE NOT (${noLimits}) AND NOT c.exempt AND EXISTS (SELECT 1 FROM "ConcurrencySlot" x WHERE x.scope = n.scope)
        AND NOT EXISTS (SELECT 1 FROM "ConcurrencySlot" x WHERE x.scope = n.scope AND x."holderId" = c.id)
    ), "lockedSlots" AS (
      -- Locked, never waited for; a slot taken since this statement's snapshot is seen taken (re-checked on the locked row).
      SELECT scope, slot FROM "ConcurrencySlot" WHERE scope IN (SELECT scope FROM needs) AND "holderId" IS NULL
      ORDER BY scope, slot FOR UPDATE SKIP LOCKED
    ), "freeSlots" AS (
      SELECT scope, slot, row_number() OVER (PARTITION BY scope ORDER BY slot) AS rank FROM "lockedSlots"
    ), matched AS (
      SELECT n.id, n.scope, f.slot FROM needs n JOIN "freeSlots" f ON f.scope = n.scope AND f.rank = n.rank
    ), unslotted AS (
      SELECT id FROM needs EXCEPT SELECT id FROM matched
    ), wanted AS (
      -- The key of each keyed task to start that has its slots, the first of each key.
      SELECT key, id FROM candidates WHERE key IS NOT NULL AND NOT exempt AND "keyRank" = 1 AND id NOT IN (SELECT id FROM unslotted)
    ), "freeKeys" AS (
      -- Locked, never waited for; a key taken since this statement's snapshot is seen taken (re-checked on the locked row).
      SELECT k.key FROM "ExclusiveKey" k JOIN wanted w ON w.key = k.key
      WHERE k."holderId" IS NULL OR k."holderId" = w.id
      ORDER BY k.key FOR UPDATE OF k SKIP LOCKED
    ), "takenKeys" AS (
      UPDATE "ExclusiveKey" k SET "holderId" = w.id, "heldSince" = CASE WHEN k."holderId" = w.id THEN k."heldSince" ELSE now() END
      FROM "freeKeys" f JOIN wanted w ON w.key = f.key WHERE k.key = f.key
      RETURNING k."holderId" AS id
    ), chosen AS (
      -- Started only with everything it needs: its key (or none) and a slot of each limit.
      SELECT * FROM candidates c
      WHERE (c.key IS NULL OR c.exempt OR c.id IN (SELECT id FROM "takenKeys")) AND c.id NOT IN (SELECT id FROM unslotted)
    ), "takenSlots" AS (
      UPDATE "ConcurrencySlot" s SET "holderId" = m.id FROM matched m
      WHERE s.scope = m.scope AND s.slot = m.slot AND m.id IN (SELECT id FROM chosen)
    ), claimed AS (
      UPDATE "Task" t SET
        state = CASE WHEN c.previous = 'QUEUED' THEN 'RUNNING'::"TaskState" ELSE t.state END,
        -- The time the row is written, after its key and slots were taken: now() (the statement's
        -- start) can precede the end of the task that held them, which made their times overlap.
        "startedAt" = COALESCE(t."startedAt", clock_timestamp()),
        "leaseOwner" = ${options.worker},
        "leaseExpiresAt" = now() + make_interval(secs => ${options.leaseMs / 1000}::float8),
        version = t.version + CASE WHEN c.previous = 'QUEUED' THEN 1 ELSE 0 END,
        -- The failure of an automatically retried task's last attempt shows until the next one starts.
        error = CASE WHEN c.previous = 'QUEUED' THEN NULL ELSE t.error END,
        "errorCode" = CASE WHEN c.previous = 'QUEUED' THEN NULL ELSE t."errorCode" END,
        "holdsSlots" = t."holdsSlots" OR EXISTS (SELECT 1 FROM matched m WHERE m.id = t.id)
      FROM chosen c, actor WHERE t.id = c.id
      RETURNING t.*, c.previous::text AS _previous, c."firstStart" AS "_firstStart"
    ), ${journalWrite("claim", "claimed", { type: eventType("STATE_CHANGED"), payload: stateChangedPayload(Prisma.sql`_previous`, "RUNNING"), where: Prisma.sql`_previous = 'QUEUED'` }, claimNoticeSql)}`;
}

/** The claimed rows of a statement built with claimCtes, and their notice. */
export function claimedOf(rows: ClaimedRow[]): { claimed: Claimed[]; notice: ChangeNotice | null } {
  const claimed: Claimed[] = [];
  for (const { _previous, _firstStart, _steps, ...rest } of rows) {
    if (_previous === null) continue; // not a claimed row
    const task = rest as Task & { _notified?: unknown; _done?: unknown; _keyFreed?: unknown };
    delete task._notified;
    delete task._done;
    delete task._keyFreed;
    const steps = (_steps ?? []).map((s) => ({ ...s, startedAt: dateOrNull(s.startedAt), endedAt: dateOrNull(s.endedAt), nextAttemptAt: dateOrNull(s.nextAttemptAt) }));
    claimed.push({ id: task.id, previousState: _previous, task, firstStart: _firstStart === true, steps });
  }
  claimed.sort((a, b) => a.task.createdAt.getTime() - b.task.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { claimed, notice: claimNotice(claimed) };
}

/**
 * Claims up to `limit` tasks of the given (module, type) pairs, highest priority first, then
 * oldest first: QUEUED tasks, and tasks handed back to the workers (RUNNING or a FAILED one to roll
 * back) with no live lease. A task with an exclusive key starts only with its key: the claim takes
 * it (ExclusiveKey.holderId) in the same statement, one task per key, and skips a task whose key
 * another holds. QUEUED ones become RUNNING, with their STATE_CHANGED event, and the NOTIFY goes
 * out, all in ONE statement (atomic by itself: no BEGIN/COMMIT round trips), which returns the
 * claimed rows whole.
 *
 * The two kinds are looked up separately so each scan uses its index in order ((state, priority,
 * createdAt, id) and (state, createdAt, id)) and stops after `limit` rows, whatever the number of
 * finished tasks kept in history (one scan with the three states OR-ed together walked every row
 * by creation time and filtered).
 * The (module, type) test is written so no index can serve it (`|| ''`): without statistics (PGlite
 * never analyzes, a fresh PostgreSQL table) the planner otherwise fetched every task of the type
 * through the type index and sorted them all, ~50 ms per claim at 10,000 tasks.
 */
export async function claimTasks(tx: Pick<Tx, "$queryRaw">, options: ClaimOptions): Promise<{ claimed: Claimed[]; notice: ChangeNotice | null }> {
  if (options.limit <= 0 || options.types.length === 0) return { claimed: [], notice: null };
  const rows = await tx.$queryRaw<ClaimedRow[]>`${PREPARED}
    WITH ${actorCte()}, ${claimCtes(options, Prisma.sql`${options.limit}::int`)}
    SELECT claimed.*, (SELECT count(*) FROM "claimNotified") AS _notified, ${CLAIMED_STEPS} FROM claimed`;
  return claimedOf(rows);
}

const promotedNoticeSql = noticeSql({ w: true, c: true });

/**
 * SCHEDULED tasks whose time has come become QUEUED (Kafka's Scheduled tasks tab), with their
 * events: one statement, outside any transaction (no write held open across round trips).
 */
export async function promoteDueTasks(db: Pick<Tx, "$queryRaw">): Promise<{ promoted: number; notice: ChangeNotice | null }> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    WITH ${actorCte()}, due AS (
      SELECT id, state FROM "Task" WHERE state = 'SCHEDULED' AND "scheduledFor" <= now()
      ORDER BY "scheduledFor" LIMIT 1000 FOR UPDATE SKIP LOCKED
    ), promoted AS (
      UPDATE "Task" t SET state = 'QUEUED', version = t.version + 1 FROM due, actor WHERE t.id = due.id
      RETURNING t.*, due.state AS previous
    ), ${journalWrite("promoted", "promoted", { type: eventType("STATE_CHANGED"), payload: stateChangedPayload(Prisma.sql`previous`, "QUEUED") }, promotedNoticeSql)}
    SELECT id::text AS id, (SELECT count(*) FROM "promotedNotified") AS _notified FROM promoted`;
  return { promoted: rows.length, notice: noticeOf(rows.map((r) => r.id), { w: true, c: true }) };
}

/** A task and the lease token its claim wrote into leaseOwner. */
export interface Lease {
  taskId: string;
  owner: string;
}

/** Extends leases still held; returns the ids of those (a missing one was lost or ended). One statement, no transaction. */
export async function renewLeases(db: Pick<Tx, "$queryRaw">, leases: Lease[], leaseMs: number): Promise<string[]> {
  if (leases.length === 0) return [];
  const rows = await db.$queryRaw<{ id: string }[]>`
    UPDATE "Task" t SET "leaseExpiresAt" = now() + make_interval(secs => ${leaseMs / 1000}::float8)
    FROM unnest(${leases.map((l) => l.taskId)}::uuid[], ${leases.map((l) => l.owner)}::text[]) AS l(id, owner)
    WHERE t.id = l.id AND t."leaseOwner" = l.owner
    RETURNING t.id::text AS id`;
  return rows.map((r) => r.id);
}

/**
 * Gives up leases on tasks not finished (the worker is stopping, or could not go on): other
 * workers resume them at once. With `note`, each task handed back says so in its log (on each
 * running step's attempt, or on the task), in the same transaction. Returns the ids handed back.
 */
export async function releaseLeases(tx: Tx, leases: Lease[], note?: string): Promise<string[]> {
  if (leases.length === 0) return [];
  const sorted = [...leases].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  const rows = await tx.$queryRaw<{ id: string }[]>`
    UPDATE "Task" t SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL
    FROM unnest(${sorted.map((l) => l.taskId)}::uuid[], ${sorted.map((l) => l.owner)}::text[]) AS l(id, owner)
    WHERE t.id = l.id AND t."leaseOwner" = l.owner
    RETURNING t.id::text AS id`;
  const released = rows.map((r) => r.id).sort();
  if (note) {
    for (const id of released) {
      const running = await tx.step.findMany({ where: { taskId: id, state: { in: ["RUNNING", "ROLLING_BACK"] } }, select: { key: true } });
      if (running.length === 0) await appendLog(tx, id, { level: "WARN", message: note });
      for (const { key } of running) await appendLog(tx, id, { level: "WARN", message: note, stepKey: key });
    }
  }
  await notifyChange(tx, noticeOf(leases.map((l) => l.taskId), { w: true }));
  return released;
}

/**
 * Gives up every lease the claim `owner` wrote: a claim whose answer was lost (the connection
 * broke as it committed) must not leave tasks held by a run that never started.
 */
export async function releaseClaim(tx: Tx, owner: string): Promise<number> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    UPDATE "Task" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL WHERE "leaseOwner" = ${owner} RETURNING id::text AS id`;
  await notifyChange(tx, noticeOf(rows.map((r) => r.id), { w: true }));
  return rows.length;
}

/**
 * Hands back every task still held by a lease. Only for the embedded store at start-up: its data
 * directory belongs to this one process, so a lease found there is a previous process's, which
 * is gone; its tasks are resumed at once instead of after the lease runs out.
 */
export async function releaseAllLeases(tx: Tx): Promise<number> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    UPDATE "Task" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL WHERE "leaseOwner" IS NOT NULL RETURNING id::text AS id`;
  await notifyChange(tx, noticeOf(rows.map((r) => r.id), { w: true }));
  return rows.length;
}
