// What the metrics read from the store (the `taskgraph_tasks` gauges and their kin): one statement,
// run at most once per refresh interval however often /metrics is scraped (runtime/metrics.ts).
import type { PrismaClient } from "../generated/prisma/client";
import { ALIVE_WITHIN_MS } from "./workers";

export interface StoreFigures {
  /** Tasks per module, type and state (internal ones included). */
  tasks: { module: string; type: string; state: string; count: number }[];
  /** Per module: the age in seconds of its oldest QUEUED task (from its due time, else its creation). */
  oldestQueued: { module: string; seconds: number }[];
  /** Workers whose heartbeat is recent (any process). */
  workersAlive: number;
  /** Events kept in the journal: the span of ids kept (ids of rolled-back writes are counted too). */
  journalEvents: number;
}

export async function readStoreFigures(prisma: PrismaClient): Promise<StoreFigures> {
  const [row] = await prisma.$queryRaw<[{ tasks: StoreFigures["tasks"] | null; oldest: StoreFigures["oldestQueued"] | null; alive: number; journal: number }]>`
    SELECT
      (SELECT json_agg(json_build_object('module', "moduleName", 'type', type, 'state', state, 'count', n))
         FROM (SELECT "moduleName", type, state::text AS state, count(*)::int AS n FROM "Task" GROUP BY 1, 2, 3) g) AS tasks,
      (SELECT json_agg(json_build_object('module', "moduleName", 'seconds', seconds))
         FROM (SELECT "moduleName", extract(epoch FROM now() - min(COALESCE("scheduledFor", "createdAt")))::float8 AS seconds
               FROM "Task" WHERE state = 'QUEUED' GROUP BY 1) q) AS oldest,
      (SELECT count(*)::int FROM "Worker" WHERE "heartbeatAt" > now() - make_interval(secs => ${ALIVE_WITHIN_MS / 1000}::float8)) AS alive,
      (SELECT COALESCE(max(id) - min(id) + 1, 0)::float8 FROM "TaskEvent") AS journal`;
  return { tasks: row.tasks ?? [], oldestQueued: row.oldest ?? [], workersAlive: row.alive, journalEvents: row.journal };
}
