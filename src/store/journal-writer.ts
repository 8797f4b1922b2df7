// Writing the event journal: every change to a task appends one TaskEvent row in the change's own
// transaction, carrying the task's new version (journal-reader.ts reads them back). Every write
// goes through journalWrite, the one statement that inserts events and sends their NOTIFY.
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
  /** The lease tokens of the runs whose own writes these are (each task's by its run): they know of them and need not look. */
  o?: string[];
}

const CONTROL_TYPES = new Set<TaskEventType>(["STATE_CHANGED", "STEP_CHANGED", "DELETED"]);

/**
 * What a task filter reads of the task (TaskSnapshot in task-filter.ts), from a row with the Task
 * table's columns as the change left them (appendEvents lists the same columns). None for a DELETED event or a task that is gone: it
 * matches no filter.
 */
const taskSnapshot = (eventType: Prisma.Sql) => Prisma.sql`CASE WHEN state IS NULL OR ${eventType} = 'DELETED' THEN NULL ELSE jsonb_build_object(
      'id', id, 'module', "moduleName", 'type', type, 'name', name, 'state', state, 'kind', kind, 'target', target,
      'labels', labels, 'isInternal', "isInternal", 'parentId', "parentId", 'createdAt', "createdAt", 'startedAt', "startedAt",
      'endedAt', "endedAt", 'error', error, 'createdWithRunAt', "scheduledFor" IS NOT NULL) END`;

/**
 * The one journal writer. Two CTEs for one statement: `<name>Events` appends one event per row of
 * the CTE `rows` (every column of the Task table with its new values, whatever `event` reads; a
 * row with a null state records no task snapshot; `event.version`, the event's version, defaults
 * to the row's `version`), and `<name>Notified` sends one NOTIFY about those rows' tasks with the
 * payload `notice` (a JSON text: noticeSql(…) computed over the rows, or a notice built beforehand). `<name>Notified` runs only
 * when the statement reads it: end with `SELECT count(*) FROM <name>Notified`. The NOTIFY goes out
 * once, and only when `rows` has a row.
 */
export function journalWrite(
  name: string,
  rows: string,
  event: { type: Prisma.Sql; payload: Prisma.Sql; where?: Prisma.Sql; orderBy?: Prisma.Sql; version?: Prisma.Sql },
  notice: Prisma.Sql,
): Prisma.Sql {
  const from = Prisma.raw(`"${rows}"`);
  const where = event.where ? Prisma.sql`WHERE ${event.where}` : Prisma.empty;
  // The events' ids (journal order) follow the rows in this order.
  const orderBy = event.orderBy ? Prisma.sql`ORDER BY ${event.orderBy}` : Prisma.empty;
  return Prisma.sql`${Prisma.raw(`"${name}Events"`)} AS (
      INSERT INTO "TaskEvent" ("taskId", "rootId", module, type, version, payload, task)
      SELECT id, "rootId", "moduleName", ${event.type}, ${event.version ?? Prisma.sql`version`}, ${event.payload}, ${taskSnapshot(event.type)} FROM ${from} ${where} ${orderBy}
    ), ${Prisma.raw(`"${name}Notified"`)} AS (
      SELECT pg_notify(${CHANGE_CHANNEL}, ${notice}) FROM ${from} HAVING count(*) > 0
    )`;
}

/** An event type as SQL (a literal of the enum). */
export const eventType = (type: TaskEventType): Prisma.Sql => Prisma.raw(`'${type}'::"TaskEventType"`);

/** A notice built beforehand, as journalWrite's `notice`. */
export const noticeText = (notice: ChangeNotice): Prisma.Sql => Prisma.sql`${JSON.stringify(notice)}`;

/** Appends the events and sends their NOTIFY in one statement (one round trip of the transaction). */
export async function appendEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.task.id))];
  const wake = events.some((e) => e.wake || (e.payload?.state ?? e.payload?.to) === "QUEUED");
  const control = events.some((e) => e.control || CONTROL_TYPES.has(e.type));
  const notice = noticeOf(ids, { w: wake, c: control })!;
  publishAfterCommit(tx, notice);
  await tx.$queryRaw`${PREPARED}
    WITH input AS (
      SELECT * FROM unnest(${events.map((e) => e.task.id)}::uuid[], ${events.map((e) => e.task.rootId)}::uuid[],
        ${events.map((e) => e.task.moduleName)}::text[], ${events.map((e) => e.type)}::text[]::"TaskEventType"[],
        ${events.map((e) => e.task.version)}::int[], ${events.map((e) => JSON.stringify(e.payload ?? {}))}::jsonb[])
        WITH ORDINALITY AS e(id, "rootId", "moduleName", "eventType", version, payload, ord)
    ), "withTask" AS (
      -- after the change's own statements: the task as the change left it (gone once deleted)
      SELECT e.*, t.type, t.name, t.state, t.kind, t.target, t.labels, t."isInternal", t."parentId", t."createdAt",
        t."startedAt", t."endedAt", t.error, t."scheduledFor"
      FROM input e LEFT JOIN "Task" t ON t.id = e.id
    ), ${journalWrite("appended", "withTask", { type: Prisma.sql`"eventType"`, payload: Prisma.sql`payload`, orderBy: Prisma.sql`ord` }, noticeText(notice))}
    SELECT count(*) FROM "appendedNotified"`;
}

/** Notices of each open transaction, for publishing elsewhere (Redis) once it has committed. */
const noticesOf = new WeakMap<object, ChangeNotice[]>();

/** Collects the notices `tx` sends into `into` (Store.transaction publishes them after commit). */
export function collectNotices(tx: Tx, into: ChangeNotice[]): void {
  noticesOf.set(tx, into);
}

/** Queues `notice` for publishing once `tx` has committed (a NOTIFY the statement itself sent). */
export function publishAfterCommit(tx: Tx, notice: ChangeNotice | null): void {
  if (notice) noticesOf.get(tx)?.push(notice);
}

/** A NOTIFY with no event (leases handed back: workers may find work). */
export async function notifyChange(tx: Tx, notice: ChangeNotice | null): Promise<void> {
  if (!notice) return;
  publishAfterCommit(tx, notice);
  await tx.$executeRaw`SELECT pg_notify(${CHANGE_CHANNEL}, ${JSON.stringify(notice)})`;
}

/**
 * SQL for the payload of one NOTIFY about the rows of `from` (a CTE with an `id` column), built
 * inside the statement that changed them: what noticeOf(ids, flags) builds for the same rows.
 * Pass it to journalWrite as `notice`.
 */
export function noticeSql(flags: { w?: Prisma.Sql | boolean; c?: Prisma.Sql | boolean }): Prisma.Sql {
  const flag = (value: Prisma.Sql | boolean | undefined) =>
    value === true ? Prisma.sql`1` : value ? Prisma.sql`CASE WHEN ${value} THEN 1 END` : Prisma.sql`NULL::int`;
  return Prisma.sql`jsonb_strip_nulls(jsonb_build_object(
    't', CASE WHEN count(*) > ${MAX_IDS_PER_NOTIFY}::int THEN to_jsonb('*'::text) ELSE jsonb_agg(id::text) END,
    'w', ${flag(flags.w)},
    'c', ${flag(flags.c)}))::text`;
}

/** The notice for a change to these tasks (what noticeSql sends from inside a statement). */
export function noticeOf(ids: string[], flags: { w?: boolean; c?: boolean; o?: string[] } = {}): ChangeNotice | null {
  if (ids.length === 0) return null;
  return {
    t: ids.length > MAX_IDS_PER_NOTIFY ? "*" : ids,
    ...(flags.w ? { w: 1 as const } : {}),
    ...(flags.c ? { c: 1 as const } : {}),
    ...(flags.o?.length ? { o: flags.o } : {}),
  };
}
