// How workers take work from the store. Claims use FOR UPDATE SKIP LOCKED, so several worker
// processes on one PostgreSQL never take the same task; a claim holds a lease that the worker
// renews, and a task whose lease ran out (its worker died) is claimable again.
// Raw SQL: Prisma cannot say SKIP LOCKED or UPDATE … FROM (subquery) RETURNING.
import type { Tx } from "./events";
import { notifyChange } from "./events";

export interface Claimed {
  id: string;
  /** QUEUED (a fresh start), RUNNING (resumed: retried, or its worker died) or FAILED (to roll back). */
  previousState: "QUEUED" | "RUNNING" | "FAILED";
}

/**
 * Claims up to `limit` tasks of the given (module, type) pairs, oldest first: QUEUED tasks, and
 * tasks handed back to the workers (RUNNING or a FAILED one to roll back) with no live lease.
 * QUEUED ones become RUNNING, with their STATE_CHANGED event, in the same statement.
 */
export async function claimTasks(
  tx: Tx,
  /** worker: the lease token written into leaseOwner ("<worker name>#<claim number>"). */
  options: { worker: string; leaseMs: number; limit: number; modules: string[]; types: string[] },
): Promise<Claimed[]> {
  if (options.limit <= 0 || options.types.length === 0) return [];
  const rows = await tx.$queryRaw<{ id: string; previous: Claimed["previousState"] }[]>`
    WITH candidates AS (
      SELECT id, state AS previous FROM "Task"
      WHERE ("moduleName", type) IN (SELECT * FROM unnest(${options.modules}::text[], ${options.types}::text[]))
        AND (state = 'QUEUED'
          OR (state = 'RUNNING' AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now()))
          OR (state = 'FAILED' AND "abortRequestedAt" IS NOT NULL AND "rollbackOnAbort"
              AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now())))
      ORDER BY "createdAt", id
      LIMIT ${options.limit}::int
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE "Task" t SET
        state = CASE WHEN c.previous = 'QUEUED' THEN 'RUNNING'::"TaskState" ELSE t.state END,
        "startedAt" = COALESCE(t."startedAt", now()),
        "leaseOwner" = ${options.worker},
        "leaseExpiresAt" = now() + make_interval(secs => ${options.leaseMs / 1000}::float8),
        version = t.version + CASE WHEN c.previous = 'QUEUED' THEN 1 ELSE 0 END
      FROM candidates c WHERE t.id = c.id
      RETURNING t.id, t."rootId", t."moduleName", t.version, c.previous
    ), events AS (
      INSERT INTO "TaskEvent" ("taskId", "rootId", module, type, version, payload)
      SELECT id, "rootId", "moduleName", 'STATE_CHANGED', version, jsonb_build_object('from', 'QUEUED', 'to', 'RUNNING', 'error', NULL)
      FROM claimed WHERE previous = 'QUEUED'
    )
    SELECT id::text AS id, previous::text AS previous FROM claimed`;
  const started = rows.filter((r) => r.previous === "QUEUED").map((r) => r.id);
  if (started.length) await notifyChange(tx, { t: started.length > 100 ? "*" : started, c: 1 });
  return rows.map((r) => ({ id: r.id, previousState: r.previous }));
}

/** SCHEDULED tasks whose time has come become QUEUED (Kafka's Scheduled tasks tab). */
export async function promoteDueTasks(tx: Tx): Promise<number> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    WITH due AS (
      SELECT id FROM "Task" WHERE state = 'SCHEDULED' AND "scheduledFor" <= now()
      ORDER BY "scheduledFor" LIMIT 1000 FOR UPDATE SKIP LOCKED
    ), promoted AS (
      UPDATE "Task" t SET state = 'QUEUED', version = t.version + 1 FROM due WHERE t.id = due.id
      RETURNING t.id, t."rootId", t."moduleName", t.version
    ), events AS (
      INSERT INTO "TaskEvent" ("taskId", "rootId", module, type, version, payload)
      SELECT id, "rootId", "moduleName", 'STATE_CHANGED', version, jsonb_build_object('from', 'SCHEDULED', 'to', 'QUEUED', 'error', NULL)
      FROM promoted
    )
    SELECT id::text AS id FROM promoted`;
  if (rows.length) await notifyChange(tx, { t: rows.length > 100 ? "*" : rows.map((r) => r.id), w: 1, c: 1 });
  return rows.length;
}

/** When the next SCHEDULED task is due, if any. */
export async function nextDueAt(tx: Tx): Promise<Date | null> {
  const next = await tx.task.findFirst({ where: { state: "SCHEDULED" }, orderBy: { scheduledFor: "asc" }, select: { scheduledFor: true } });
  return next?.scheduledFor ?? null;
}

/** A task and the lease token its claim wrote into leaseOwner. */
export interface Lease {
  taskId: string;
  owner: string;
}

/** Extends leases still held; returns the ids of those (a missing one was lost or ended). */
export async function renewLeases(tx: Tx, leases: Lease[], leaseMs: number): Promise<string[]> {
  if (leases.length === 0) return [];
  const rows = await tx.$queryRaw<{ id: string }[]>`
    UPDATE "Task" t SET "leaseExpiresAt" = now() + make_interval(secs => ${leaseMs / 1000}::float8)
    FROM unnest(${leases.map((l) => l.taskId)}::uuid[], ${leases.map((l) => l.owner)}::text[]) AS l(id, owner)
    WHERE t.id = l.id AND t."leaseOwner" = l.owner
    RETURNING t.id::text AS id`;
  return rows.map((r) => r.id);
}

/** Gives up leases on tasks not finished (the worker is stopping): other workers resume them. */
export async function releaseLeases(tx: Tx, leases: Lease[]): Promise<void> {
  if (leases.length === 0) return;
  await tx.$executeRaw`
    UPDATE "Task" t SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL
    FROM unnest(${leases.map((l) => l.taskId)}::uuid[], ${leases.map((l) => l.owner)}::text[]) AS l(id, owner)
    WHERE t.id = l.id AND t."leaseOwner" = l.owner`;
  await notifyChange(tx, { t: leases.map((l) => l.taskId), w: 1 });
}
