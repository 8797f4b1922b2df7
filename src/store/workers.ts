// Worker processes' rows: registered on start, kept alive by heartbeats, removed on stop.
import type { Prisma, PrismaClient, Worker } from "../generated/prisma/client";
import type { TaskState } from "../domain/states";

/** A worker whose heartbeat is older than this is not alive (it renews about every 10 s). */
export const ALIVE_WITHIN_MS = 60_000;

/** Rows of workers that died without saying goodbye are shown as not alive for a day, then dropped. */
const FORGET_DEAD_WORKERS_AFTER_MS = 86_400_000;

export async function registerWorker(
  prisma: PrismaClient,
  worker: { name: string; host: string; pid: number; concurrency: number; taskTypes?: string[] },
): Promise<void> {
  await prisma.worker.upsert({
    where: { name: worker.name },
    create: worker,
    update: { heartbeatAt: new Date(), concurrency: worker.concurrency, ...(worker.taskTypes ? { taskTypes: worker.taskTypes } : {}) },
  });
}

export async function removeWorker(prisma: PrismaClient, name: string): Promise<void> {
  await prisma.worker.deleteMany({ where: { name } });
}

/**
 * Records the worker's heartbeat (and the task types it serves now: "module/type" keys) and drops
 * the rows of workers dead for a day.
 */
export async function workerHeartbeat(prisma: PrismaClient, name: string, taskTypes?: string[]): Promise<void> {
  await prisma.worker.updateMany({ where: { name }, data: { heartbeatAt: new Date(), ...(taskTypes ? { taskTypes } : {}) } });
  await prisma.worker.deleteMany({ where: { heartbeatAt: { lt: new Date(Date.now() - FORGET_DEAD_WORKERS_AFTER_MS) } } });
}

/** Most recent heartbeat first; `query` is plugin-prisma's selection. */
export function listWorkers(prisma: PrismaClient, query: { select?: Prisma.WorkerSelect } = {}): Promise<Worker[]> {
  return prisma.worker.findMany({ ...query, orderBy: { heartbeatAt: "desc" } });
}

/** The states of these tasks (a missing id is gone). */
export async function taskStates(prisma: PrismaClient, ids: readonly string[]): Promise<Map<string, TaskState>> {
  const rows = await prisma.task.findMany({ where: { id: { in: [...ids] } }, select: { id: true, state: true } });
  return new Map(rows.map((r) => [r.id, r.state]));
}
