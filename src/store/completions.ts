// Batched completions: a worker hands in the outcomes of many runs at once and they are recorded
// by ONE statement (atomic by itself: no BEGIN/COMMIT round trips). Set-based, but per task
// exactly what transitionTask(id, SUCCEEDED, { ifLeaseOwner, ifNotAborted }) does: the UPDATE locks
// the row, the WHERE clause is the state machine (only RUNNING → SUCCEEDED), the lease check and the
// abort check, the version is bumped and the task's own STATE_CHANGED event appended in the same
// transaction, and one NOTIFY lists the tasks that changed. A task with a child still pending is
// left alone too (a task ends after its children).
//
// A task the statement leaves alone is simply not returned: its run then takes the careful path
// (re-read, abort handling, waiting for children, transitionTask with its precise refusal).
//
// The statement never waits for a row lock (SKIP LOCKED: a task locked by someone else right now,
// say an abort cascading down its tree, is left to the careful path). Waiting while holding the
// other rows of the batch could deadlock with a cascade that locks the same tasks in tree order.
//
// The same statement can claim new work for the slots it frees (completeAndClaim): the worker then
// makes one round trip, and one commit, per batch of tasks instead of two.
import { PREPARED } from "../db/prepared";
import { actorCte } from "./actor";
import { Prisma } from "../generated/prisma/client";
import type { Claimed, ClaimedRow, ClaimOptions } from "./claims";
import { CLAIMED_STEPS, claimCtes, claimedOf } from "./claims";
import type { ChangeNotice, Tx } from "./journal-writer";
import { PENDING_STATES } from "../domain/states";
import { eventType, journalWrite, noticeOf, noticeSql } from "./journal-writer";
import { stateChangedPayload, taskStateList } from "./sql";

export interface Completion {
  taskId: string;
  /** The lease token of the run: refused unless the task is still held by it. */
  leaseOwner: string;
  /** The run's return value (null: none). */
  result: Prisma.InputJsonValue | null;
}

/** The most completions one statement takes (arrays of parameters, one each). */
export const MAX_COMPLETIONS_PER_STATEMENT = 1_000;

// Listeners: waitForTask, subscriptions, and parents waiting for their children (c: the state changed);
// workers (w) when a task frees an exclusive key: a task waiting for it can start, in any process.
const completionNoticeSql = noticeSql({ c: true, w: Prisma.sql`bool_or("exclusiveKey" IS NOT NULL)` });

/** Rows are locked in id order, as every other multi-row write here does. */
function sorted(completions: Completion[]): Completion[] {
  if (completions.length > MAX_COMPLETIONS_PER_STATEMENT) throw new RangeError(`At most ${MAX_COMPLETIONS_PER_STATEMENT} completions at once`);
  return [...completions].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
}

/**
 * The CTEs that record the completions: `done` holds (id, owner) of those recorded. The statement
 * must define actorCte() first: the events record it.
 */
function completionCtes(completions: Completion[]): Prisma.Sql {
  const ids = completions.map((c) => c.taskId);
  return Prisma.sql`input AS (
      SELECT * FROM unnest(${ids}::uuid[], ${completions.map((c) => c.leaseOwner)}::text[],
        ${completions.map((c) => (c.result === null ? null : JSON.stringify(c.result)))}::text[]) AS i(id, owner, result)
    ), locked AS (
      -- Each input row joined to its task by primary key, and the lease and state checked here, so
      -- that the UPDATE below joins nothing but these rows (a join of the CTEs, planned from
      -- estimates of one row each, rescanned them for every row: quadratic in the batch size).
      SELECT t.id, t.state, i.owner, i.result FROM input i JOIN "Task" t ON t.id = i.id
      WHERE t.state = 'RUNNING' AND t."leaseOwner" = i.owner AND t."abortRequestedAt" IS NULL
      ORDER BY t.id
      FOR NO KEY UPDATE OF t SKIP LOCKED
    ), done AS (
      -- The rows are locked, their checks made on their latest version: nothing can change them now.
      UPDATE "Task" t SET
        state = 'SUCCEEDED', "endedAt" = now(), result = l.result::jsonb,
        "leaseOwner" = NULL, "leaseExpiresAt" = NULL, "abortRequestedAt" = NULL,
        version = t.version + 1
      FROM locked l, actor
      WHERE t.id = l.id
        AND NOT EXISTS (SELECT 1 FROM "Task" c WHERE c."parentId" = t.id AND c.state IN (${taskStateList(PENDING_STATES)}))
      RETURNING t.*, l.owner, l.state AS previous
    ), ${journalWrite("done", "done", { type: eventType("STATE_CHANGED"), payload: stateChangedPayload(Prisma.sql`previous`, "SUCCEEDED", Prisma.sql`error`) }, completionNoticeSql)}`;
}

function doneOf(completions: Completion[], recorded: string[], keyFreed: boolean): { done: Completion[]; notice: ChangeNotice | null } {
  const keys = new Set(recorded);
  const done = completions.filter((c) => keys.has(`${c.taskId} ${c.leaseOwner}`));
  return { done, notice: noticeOf([...new Set(done.map((c) => c.taskId))], { c: true, w: keyFreed }) };
}

/**
 * RUNNING → SUCCEEDED for each completion whose task is still RUNNING under that lease, with no
 * abort requested and no child pending. Returns those recorded.
 */
export async function completeTasks(
  tx: Pick<Tx, "$queryRaw">,
  completions: Completion[],
): Promise<{ done: Completion[]; notice: ChangeNotice | null }> {
  if (completions.length === 0) return { done: [], notice: null };
  const input = sorted(completions);
  const rows = await tx.$queryRaw<{ id: string; owner: string; keyed: boolean }[]>`${PREPARED}
    WITH ${actorCte()}, ${completionCtes(input)}
    SELECT id::text AS id, owner, "exclusiveKey" IS NOT NULL AS keyed, (SELECT count(*) FROM "doneNotified") AS _notified FROM done`;
  return doneOf(completions, rows.map((r) => `${r.id} ${r.owner}`), rows.some((r) => r.keyed));
}

/**
 * completeTasks and claimTasks in one statement: records the completions, then claims up to
 * `free` plus as many as were recorded (the slots they free). Never takes a task being completed.
 */
export async function completeAndClaim(
  tx: Pick<Tx, "$queryRaw">,
  completions: Completion[],
  claim: Omit<ClaimOptions, "limit"> & { free: number },
): Promise<{ done: Completion[]; claimed: Claimed[]; notices: ChangeNotice[] }> {
  if (claim.types.length === 0 || completions.length === 0) {
    const completed = await completeTasks(tx, completions);
    return { done: completed.done, claimed: [], notices: completed.notice ? [completed.notice] : [] };
  }
  const input = sorted(completions);
  const limit = Prisma.sql`(${Math.max(0, claim.free)}::int + (SELECT count(*) FROM done))::int`;
  // One result: the claimed rows, then one row (all Task columns null) carrying what was completed.
  const rows = await tx.$queryRaw<(ClaimedRow & { _done: string[] | null; _keyFreed: boolean | null })[]>`${PREPARED}
    WITH ${actorCte()}, ${completionCtes(input)}, ${claimCtes(claim, limit, input.map((c) => c.taskId))}
    SELECT claimed.*, NULL::text[] AS _done, NULL::boolean AS "_keyFreed", 0::bigint AS _notified, ${CLAIMED_STEPS} FROM claimed
    UNION ALL
    SELECT (NULL::"Task").*, NULL::text, NULL::boolean, (SELECT array_agg(id::text || ' ' || owner) FROM done),
      (SELECT bool_or("exclusiveKey" IS NOT NULL) FROM done), (SELECT count(*) FROM "doneNotified") + (SELECT count(*) FROM "claimNotified"), NULL::jsonb`;
  const summary = rows.find((r) => r._previous === null);
  const completed = doneOf(completions, summary?._done ?? [], summary?._keyFreed === true);
  const claimed = claimedOf(rows);
  return { done: completed.done, claimed: claimed.claimed, notices: [completed.notice, claimed.notice].filter((n) => n !== null) };
}
