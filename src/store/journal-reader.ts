// Reading the event journal in commit-safe order. TaskEvent ids come from a sequence and can
// commit out of order, so readers go by (txid, id) and only below the journal's horizon: the
// oldest transaction of THIS database still running (journalHorizon). Every event at or before a
// delivered cursor is final, and an event committed later always sorts after it. Cursors are
// opaque strings.
import { PREPARED } from "../db/prepared";
import { TaskgraphError } from "../domain/errors";
import { parseInt64 } from "../domain/input";
import { parseUuid } from "../domain/ids";
import { Prisma } from "../generated/prisma/client";
import type { PrismaClient, TaskEvent, TaskEventType } from "../generated/prisma/client";
import type { PageArgs, PageInfo } from "./pagination";
import { checkPageArgs } from "./pagination";

export interface JournalCursor {
  txid: bigint;
  id: bigint;
}

export interface JournalFilter {
  taskId?: string | null;
  rootId?: string | null;
  module?: string | null;
  types?: readonly TaskEventType[] | null;
  /** Only events that put a task into one of these states (CREATED and STATE_CHANGED). */
  states?: readonly string[] | null;
}

export const encodeEventCursor = (c: JournalCursor) => Buffer.from(`${c.txid}:${c.id}`).toString("base64url");

/** `name`: the argument that carried it (after, before), for the error. */
export function decodeEventCursor(cursor: string, name = "after"): JournalCursor {
  const match = /^(\d{1,19}):(\d{1,19})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw new TaskgraphError("BAD_USER_INPUT", `${name} is not an event cursor returned by this API`, { [name]: cursor.slice(0, 80) });
  return { txid: parseInt64(name, match[1]!), id: parseInt64(name, match[2]!) };
}

/** The columns of a TaskEvent as its readers return them (enums and uuids as text). */
const EVENT_COLUMNS = Prisma.sql`id, txid, "taskId"::text AS "taskId", "rootId"::text AS "rootId", module, type::text AS type, version, payload, task, "createdAt",
    "actorKind"::text AS "actorKind", "actorName"`;

const NO_CURSOR: JournalCursor = { txid: -1n, id: -1n };
const LAST_CURSOR: JournalCursor = { txid: 9_223_372_036_854_775_807n, id: 9_223_372_036_854_775_807n };

/**
 * Every event with a txid below the horizon is final (its transaction has ended). The horizon is
 * the oldest transaction id still running in this database, or the next one to be assigned —
 * not pg_snapshot_xmin, which spans every database of the server, so that a long transaction of
 * another application on the same PostgreSQL does not hold back our subscribers.
 * pg_stat_activity shows the running transactions' ids (backend_xid) only for sessions we may
 * inspect; when a session of our database hides it (another role without pg_read_all_stats), the
 * server-wide pg_snapshot_xmin is used instead, which is always safe.
 * Its own statement, before the read: a transaction not listed here as running has ended before
 * the next statement's snapshot, so the read sees its events.
 */
async function journalHorizon(prisma: Pick<PrismaClient, "$queryRaw">): Promise<bigint> {
  const [row] = await prisma.$queryRaw<{ xmin: string; xmax: string; hidden: boolean; running: string[] }[]>`${PREPARED}
    WITH running AS (
      SELECT backend_xid::text::bigint AS xid, query = '<insufficient privilege>' AS hidden
      FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type IN ('client backend', 'standalone backend')
        AND (backend_xid IS NOT NULL OR query = '<insufficient privilege>')
    )
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
      COALESCE(bool_or(hidden), false) AS hidden, COALESCE(array_agg(xid::text) FILTER (WHERE xid IS NOT NULL), '{}') AS running
    FROM running`;
  const xmax = BigInt(row!.xmax);
  if (row!.hidden) return BigInt(row!.xmin);
  let horizon = xmax;
  for (const xid of row!.running) {
    const full = widenXid(BigInt(xid), xmax);
    if (full < horizon) horizon = full;
  }
  return horizon;
}

/**
 * A 32-bit transaction id (pg_stat_activity's backend_xid) as the 64-bit id nearest to `xmax`.
 * Running transactions are within 2^31 of it on either side: pg_stat_activity is read after the
 * statement's snapshot, so a transaction that began in between has an id at or above xmax (it
 * is then no horizon: xmax is), and one near an epoch boundary belongs to the epoch before.
 */
export function widenXid(xid32: bigint, xmax: bigint): bigint {
  const distance = (((xmax & 0xffff_ffffn) - xid32 + 0x8000_0000n) & 0xffff_ffffn) - 0x8000_0000n;
  return xmax - distance;
}

/** A cursor just before everything not yet final: subscribing from here misses nothing new. */
export async function journalHead(prisma: PrismaClient): Promise<JournalCursor> {
  return { txid: (await journalHorizon(prisma)) - 1n, id: 9_223_372_036_854_775_807n };
}

/** Final events after `after` (and up to `upTo`, when given), in (txid, id) order. */
export async function readJournal(
  prisma: PrismaClient,
  after: JournalCursor,
  filter: JournalFilter,
  limit: number,
  upTo: JournalCursor = LAST_CURSOR,
): Promise<TaskEvent[]> {
  const types = filter.types?.length ? [...filter.types] : null;
  const states = filter.states?.length ? [...filter.states] : null;
  const horizon = await journalHorizon(prisma);
  return prisma.$queryRaw<TaskEvent[]>`
    SELECT ${EVENT_COLUMNS}
    FROM "TaskEvent"
    WHERE (txid, id) > (${after.txid}::bigint, ${after.id}::bigint)
      AND (txid, id) <= (${upTo.txid}::bigint, ${upTo.id}::bigint)
      AND txid < ${horizon}::bigint
      AND (${filter.taskId ?? null}::uuid IS NULL OR "taskId" = ${filter.taskId ?? null}::uuid)
      AND (${filter.rootId ?? null}::uuid IS NULL OR "rootId" = ${filter.rootId ?? null}::uuid)
      AND (${filter.module ?? null}::text IS NULL OR module = ${filter.module ?? null}::text)
      AND (${types}::text[] IS NULL OR type::text = ANY(${types}::text[]))
      AND (${states}::text[] IS NULL OR (type IN ('CREATED', 'STATE_CHANGED')
        AND COALESCE(payload->>'to', payload->>'state') = ANY(${states}::text[])))
    ORDER BY txid, id
    LIMIT ${limit}::int`;
}

/**
 * One task's history (Task.events): a page of its final events in journal order, oldest first,
 * forward (first/after) or backward (last/before). Edge cursors are journal cursors, so the last
 * one resumes a taskEvents subscription with no gap. Events removed by pruning are not in it.
 */
export async function readTaskHistory(
  prisma: PrismaClient,
  taskId: string,
  page: PageArgs,
  maxPageSize: number,
): Promise<{ events: TaskEvent[]; cursors: string[]; pageInfo: PageInfo }> {
  const { size, forward } = checkPageArgs(page, maxPageSize);
  const id = parseUuid(taskId, "taskId");
  const after = page.after ? decodeEventCursor(page.after, "after") : NO_CURSOR;
  const before = page.before ? decodeEventCursor(page.before, "before") : LAST_CURSOR;
  const horizon = await journalHorizon(prisma);
  const direction = Prisma.raw(forward ? "ASC" : "DESC");
  const fetched = await prisma.$queryRaw<TaskEvent[]>`
    SELECT ${EVENT_COLUMNS}
    FROM "TaskEvent"
    WHERE "taskId" = ${id}::uuid AND txid < ${horizon}::bigint
      AND (txid, id) > (${after.txid}::bigint, ${after.id}::bigint)
      AND (txid, id) < (${before.txid}::bigint, ${before.id}::bigint)
    ORDER BY txid ${direction}, id ${direction}
    LIMIT ${size + 1}::int`;
  const more = fetched.length > size;
  const events = fetched.slice(0, size);
  if (!forward) events.reverse();
  const cursors = events.map(encodeEventCursor);
  return {
    events,
    cursors,
    pageInfo: {
      hasNextPage: forward ? more : page.before != null,
      hasPreviousPage: forward ? page.after != null : more,
      startCursor: cursors[0] ?? null,
      endCursor: cursors.at(-1) ?? null,
    },
  };
}

/** The same filter as readJournal's WHERE clause, for events already read (the live feed). */
export function matchesFilter(event: TaskEvent, filter: JournalFilter): boolean {
  if (filter.taskId && event.taskId !== filter.taskId) return false;
  if (filter.rootId && event.rootId !== filter.rootId) return false;
  if (filter.module && event.module !== filter.module) return false;
  if (filter.types?.length && !filter.types.includes(event.type)) return false;
  if (filter.states?.length) {
    if (event.type !== "CREATED" && event.type !== "STATE_CHANGED") return false;
    const payload = event.payload as { to?: string; state?: string };
    if (!filter.states.includes(payload.to ?? payload.state ?? "")) return false;
  }
  return true;
}

/** Past this many tasks, `known` forgets the oldest: a task it forgot costs a lookup, never a wrong answer. */
const MAX_KNOWN_TASKS = 50_000;

/**
 * For each event (in journal order), the task snapshot its task's previous event recorded: what
 * the task was before this change (null: no earlier event kept — new, or pruned). `known` holds
 * the last snapshot of each task seen in the events before these, and is brought up to date; pass
 * null when the events are not every event of their tasks (a filter on types or states left some
 * out): then each is looked up. One query per call at most.
 */
export async function previousTasks(prisma: PrismaClient, events: readonly TaskEvent[], known: Map<string, unknown> | null): Promise<unknown[]> {
  // With `known`, a task not in it is looked up at its first event here; its later ones follow from that.
  const lookups = known ? firstEventOfEachTask(events.filter((e) => !known.has(e.taskId))) : [...events];
  const found = new Map<bigint, unknown>();
  if (lookups.length > 0) {
    const rows = await prisma.$queryRaw<{ id: bigint; task: unknown }[]>`${PREPARED}
      SELECT i.id, (
        SELECT e.task FROM "TaskEvent" e
        WHERE e."taskId" = i."taskId" AND (e.txid, e.id) < (i.txid, i.id)
        ORDER BY e.txid DESC, e.id DESC LIMIT 1) AS task
      FROM unnest(${lookups.map((e) => e.taskId)}::uuid[], ${lookups.map((e) => e.txid)}::bigint[], ${lookups.map((e) => e.id)}::bigint[])
        AS i("taskId", txid, id)`;
    for (const row of rows) found.set(BigInt(row.id), row.task ?? null);
  }
  if (!known) return events.map((e) => found.get(e.id) ?? null);
  return events.map((e) => {
    const previous = known.has(e.taskId) ? known.get(e.taskId) : (found.get(e.id) ?? null);
    known.delete(e.taskId); // re-inserted last: the map's order is the order tasks were last seen
    if (e.type !== "DELETED") known.set(e.taskId, e.task ?? null);
    if (known.size > MAX_KNOWN_TASKS) known.delete(known.keys().next().value!);
    return previous;
  });
}

function firstEventOfEachTask(events: readonly TaskEvent[]): TaskEvent[] {
  const first = new Map<string, TaskEvent>();
  for (const event of events) if (!first.has(event.taskId)) first.set(event.taskId, event);
  return [...first.values()];
}

const PRUNED_KEY = "journalPrunedThrough";

/** The newest cursor removed by pruning; an `after` at or before it can no longer be replayed. */
export async function prunedThrough(prisma: PrismaClient): Promise<JournalCursor | null> {
  const row = await prisma.setting.findUnique({ where: { key: PRUNED_KEY } });
  const value = row?.value as { txid: string; id: string } | undefined;
  return value ? { txid: BigInt(value.txid), id: BigInt(value.id) } : null;
}

export const isBefore = (a: JournalCursor, b: JournalCursor) => a.txid < b.txid || (a.txid === b.txid && a.id < b.id);

/**
 * Removes final events older than the retention horizon, oldest first, and records how far it got.
 * Returns how many it removed.
 */
export async function pruneJournal(prisma: PrismaClient, olderThan: Date, limit = 10_000): Promise<number> {
  return prisma.$transaction(async (tx) => {
    const horizon = await journalHorizon(tx);
    const rows = await tx.$queryRaw<{ txid: bigint; id: bigint }[]>`
      WITH doomed AS (
        SELECT txid, id FROM "TaskEvent"
        WHERE "createdAt" < ${olderThan} AND txid < ${horizon}::bigint
        ORDER BY txid, id LIMIT ${limit}::int
      )
      DELETE FROM "TaskEvent" e USING doomed WHERE e.id = doomed.id
      RETURNING e.txid, e.id`;
    if (rows.length === 0) return 0;
    const last = rows.reduce((a, b) => (isBefore(a, b) ? b : a));
    const value = { txid: String(last.txid), id: String(last.id) };
    await tx.setting.upsert({ where: { key: PRUNED_KEY }, create: { key: PRUNED_KEY, value }, update: { value } });
    return rows.length;
  });
}
