// The event journal: every change to a task appends one TaskEvent row in the change's own
// transaction (so no committed change lacks its event), carrying the task's new version. Subscriptions read from here.
//
// Each batch of events also sends a NOTIFY on CHANGE_CHANNEL in the same transaction. PostgreSQL
// (and PGlite) deliver it only when the transaction commits, so listeners never hear of a change
// that was rolled back. The payload carries task ids only (NOTIFY payloads are limited to 8 kB).
import { PREPARED } from "../db/prepared";
import { Prisma } from "../generated/prisma/client";
import type { TaskEventType } from "../generated/prisma/client";

export type Tx = Prisma.TransactionClient;

export const CHANGE_CHANNEL = "taskgraph_changes";
/** Past this many task ids a notification says "*" (something changed; look for yourself). */
export const MAX_IDS_PER_NOTIFY = 100;

export interface EventSubject {
  id: string;
  rootId: string;
  moduleName: string;
  version: number;
}

export interface NewEvent {
  task: EventSubject;
  type: TaskEventType;
  payload?: Prisma.InputJsonObject;
  /** The change gives workers something to claim (a task became QUEUED, or was handed back). */
  wake?: boolean;
  /** The change concerns whoever runs the task (an abort request); state and step changes always do. */
  control?: boolean;
}

/** What a NOTIFY on CHANGE_CHANNEL carries. */
export interface ChangeNotice {
  /** Ids of the tasks that changed, or "*" when there were too many to list. */
  t: string[] | "*";
  /** 1 when workers may find new work. */
  w?: 1;
  /** 1 when the worker running one of the tasks must look (state or step changed, abort requested). */
  c?: 1;
}

const CONTROL_TYPES = new Set<TaskEventType>(["STATE_CHANGED", "STEP_CHANGED", "DELETED"]);

/** Appends the events and sends their NOTIFY in one statement (one round trip of the transaction). */
export async function appendEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.task.id))];
  const wake = events.some((e) => e.wake || (e.payload?.state ?? e.payload?.to) === "QUEUED");
  const control = events.some((e) => e.control || CONTROL_TYPES.has(e.type));
  const notice: ChangeNotice = { t: ids.length > MAX_IDS_PER_NOTIFY ? "*" : ids, ...(wake ? { w: 1 } : {}), ...(control ? { c: 1 } : {}) };
  noticesOf.get(tx)?.push(notice);
  await tx.$executeRaw`${PREPARED}
    WITH inserted AS (
      INSERT INTO "TaskEvent" ("taskId", "rootId", module, type, version, payload)
      SELECT * FROM unnest(${events.map((e) => e.task.id)}::uuid[], ${events.map((e) => e.task.rootId)}::uuid[],
        ${events.map((e) => e.task.moduleName)}::text[], ${events.map((e) => e.type)}::text[]::"TaskEventType"[],
        ${events.map((e) => e.task.version)}::int[], ${events.map((e) => JSON.stringify(e.payload ?? {}))}::jsonb[])
      RETURNING 1
    )
    SELECT pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(notice)}) FROM (SELECT count(*) FROM inserted) AS n`;
}

/** Notices of each open transaction, for publishing elsewhere (Redis) once it has committed. */
const noticesOf = new WeakMap<object, ChangeNotice[]>();

/** Collects the notices `tx` sends into `into` (Store.transaction publishes them after commit). */
export function collectNotices(tx: Tx, into: ChangeNotice[]): void {
  noticesOf.set(tx, into);
}

export async function notifyChange(tx: Tx, notice: ChangeNotice): Promise<void> {
  noticesOf.get(tx)?.push(notice);
  await tx.$executeRaw`SELECT pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(notice)})`;
}

/**
 * SQL for the payload of one NOTIFY about the rows of `from` (a CTE with an `id` column), built
 * inside the statement that changed them: what noticeOf(ids, flags) builds for the same rows.
 * Use it as `SELECT pg_notify(channel, <this>) FROM <from> HAVING count(*) > 0`.
 */
export function noticeSql(flags: { w?: boolean; c?: Prisma.Sql | boolean }): Prisma.Sql {
  const c = flags.c === true ? Prisma.sql`1` : flags.c ? Prisma.sql`CASE WHEN ${flags.c} THEN 1 END` : Prisma.sql`NULL::int`;
  return Prisma.sql`jsonb_strip_nulls(jsonb_build_object(
    't', CASE WHEN count(*) > ${MAX_IDS_PER_NOTIFY}::int THEN to_jsonb('*'::text) ELSE jsonb_agg(id::text) END,
    'w', ${flags.w ? Prisma.sql`1` : Prisma.sql`NULL::int`},
    'c', ${c}))::text`;
}

/** The notice for a change to these tasks (what noticeSql sends from inside a statement). */
export function noticeOf(ids: string[], flags: { w?: boolean; c?: boolean } = {}): ChangeNotice | null {
  if (ids.length === 0) return null;
  return { t: ids.length > MAX_IDS_PER_NOTIFY ? "*" : ids, ...(flags.w ? { w: 1 as const } : {}), ...(flags.c ? { c: 1 as const } : {}) };
}
