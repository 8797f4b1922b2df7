// Removing finished tasks: the TTL reaper (ScyllaDB's task_ttl / user_task_ttl) and drainModule.
// Whole trees go together, by their root, and only once everything in them has ended.
import { TaskgraphError } from "../domain/errors";
import { ENDED_STATES } from "../domain/states";
import type { Tx } from "./journal-writer";
import { taskStateList } from "./sql";
import type { Settings } from "./settings";
import { deleteTask } from "./task-controls";

const BATCH = 200;

async function removeTrees(tx: Tx, rootIds: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const id of rootIds) {
    try {
      removed.push(...(await deleteTask(tx, id)).deletedIds);
    } catch (error) {
      // A finished root whose descendants still run, or one being rolled back: its turn comes later.
      if (!(error instanceof TaskgraphError)) throw error;
    }
  }
  return removed;
}

/** Removes finished trees whose root ended longer ago than its TTL. Returns the removed ids. */
export async function reapExpired(tx: Tx, settings: Settings): Promise<string[]> {
  const due = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM "Task"
    WHERE "parentId" IS NULL AND state IN (${taskStateList(ENDED_STATES)}) AND "abortRequestedAt" IS NULL
      AND "endedAt" <= now() - make_interval(secs => CASE WHEN "isUserTask" THEN ${settings.userTaskTtlSeconds}::float8 ELSE ${settings.taskTtlSeconds}::float8 END)
    ORDER BY "endedAt" LIMIT ${BATCH}::int FOR UPDATE SKIP LOCKED`;
  return removeTrees(tx, due.map((r) => r.id));
}

/** drainModule: removes every finished tree of the module now. Returns the removed ids. */
export async function drainModule(tx: Tx, module: string): Promise<string[]> {
  const roots = await tx.task.findMany({
    where: { moduleName: module, parentId: null, state: { in: [...ENDED_STATES] }, abortRequestedAt: null },
    select: { id: true },
  });
  return removeTrees(tx, roots.map((r) => r.id));
}
