// The database goes away while tasks run (PostgreSQL restarting, as clients see it: every session
// terminated, no new connection accepted for a while), with a real worker process. What a user
// would notice: no task left RUNNING with nothing happening more than 2 s after the database is
// back, tasks created right after are picked up at once, every task still succeeds.
import { describe, expect, test } from "vitest";
import { exitOf, pause, until, useWorkerFleet } from "./support/processes";


describe("database outages on PostgreSQL", () => {
  const fleet = useWorkerFleet("tg_outage");
  const { prisma, start, allEnded } = fleet;

  /** Runs tasks on a worker with this lease through `outages` (ms each, 200 ms apart); checks what a user sees. */
  async function throughOutages(label: string, leaseMs: number, outages: number[]) {
    const worker = await fleet.startWorker({ TASKGRAPH_LEASE_MS: String(leaseMs) });
    const logs = () => `\n--- worker ---\n${worker.log()}`;
    const counts = await Promise.all(Array.from({ length: 10 }, () => start("count", { rounds: 30, roundMs: 100 })));
    // Short steps: a flow records a step change every 0.3 s, so some fall in the outage.
    const flows = await Promise.all(Array.from({ length: 4 }, () => start("flow", { steps: 10, rounds: 3, roundMs: 100 })));
    const ids = [...counts, ...flows].map((t) => t.id);
    await until("every task runs and made progress", 20_000, async () => (await prisma().task.count({ where: { id: { in: ids }, state: "RUNNING", progressCompleted: { gte: 2 } } })) === ids.length);

    let terminated = 0;
    for (const [i, ms] of outages.entries()) {
      if (i > 0) await pause(200);
      terminated += await fleet.database.outage(ms);
    }
    const back = Date.now();
    expect(terminated).toBeGreaterThan(0);
    // Tasks created right after are claimed at once too: the worker's poll and wake-ups survived.
    const late: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (let tries = 0; ; tries++) {
        try {
          late.push((await start("count", { rounds: 3, roundMs: 50 })).id);
          break;
        } catch (error) {
          if (tries >= 5) throw error; // the test's own pool may hand out a connection that was just terminated
          await pause(50);
        }
      }
    }
    const lateCreated = Date.now();
    await until("the tasks created after the outage run", 10_000, async () =>
      (await prisma().task.count({ where: { id: { in: late }, state: { not: "QUEUED" } } }).catch(() => -1)) === late.length, 50).catch((error: Error) => {
      throw new Error(error.message + logs());
    });
    const lateClaimedIn = Date.now() - lateCreated;
    ids.push(...late);

    // The test's own reads may meet a dropped connection too: count that as "not yet".
    await until("every task has ended", 45_000, async () => allEnded(ids)().catch(() => false)).catch((error: Error) => {
      throw new Error(error.message + logs());
    });
    const tasks = await prisma().task.findMany({ where: { id: { in: ids } } });
    expect(tasks.filter((t) => t.state !== "SUCCEEDED").map((t) => [t.id, t.state, t.error])).toEqual([]);

    // Idle time of each task from the moment the database was back: the longest stretch with no
    // event in its journal (progress, steps, state) until it ended.
    const events = await prisma().taskEvent.findMany({ where: { taskId: { in: ids }, createdAt: { gte: new Date(back - 1000) } }, orderBy: { id: "asc" } });
    const idle: Record<string, number> = {};
    for (const task of tasks) {
      const times = [back, ...events.filter((e) => e.taskId === task.id).map((e) => e.createdAt.getTime()).filter((t) => t >= back)].sort((a, b) => a - b);
      idle[task.id] = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
    }
    const longest = Math.max(...Object.values(idle));
    console.log(`[database-outage] ${label}: ${terminated} sessions terminated; longest idle stretch of a RUNNING task afterwards: ${longest} ms; tasks created after it claimed within ${lateClaimedIn} ms`);
    expect(lateClaimedIn).toBeLessThan(2000);
    expect(Object.entries(idle).filter(([, ms]) => ms > 2000)).toEqual([]);
    const retried = (worker.log().match(/trying again/g) ?? []).length;
    console.log(`[database-outage] ${label}: the worker tried store calls again ${retried} time(s)`);
    expect(worker.child.exitCode, "the worker survived the outage").toBeNull();
    worker.child.kill("SIGTERM");
    expect((await exitOf(worker.child)).code).toBe(0);
  }

  test("down for 1 s, up for a moment, down again for 0.3 s, under the default 30 s lease: writes are retried, nothing waits out a lease", { timeout: 60_000 }, async () => {
    await throughOutages("1 s + 0.3 s, lease 30 s", 30_000, [1000, 300]);
  });

  test("down for longer than the lease (3 s, lease 2 s): the runs give up, and the tasks are resumed as soon as the database is back", { timeout: 60_000 }, async () => {
    await throughOutages("3 s, lease 2 s", 2_000, [3000]);
  });
});
