// Two worker processes on one PostgreSQL never run the same task at once (SKIP LOCKED claims), and
// when one dies the other resumes its tasks once their leases run out.
//
// Real processes (`node --import tsx src/main.ts` with TASKGRAPH_ROLE=work) on a fresh PostgreSQL
// database: TEST_DATABASE_URL's server when set, otherwise postgres://postgres@127.0.0.1:5432 (the
// test fails, rather than skips, when neither is reachable: claims with SKIP LOCKED only mean
// something on PostgreSQL). The test process creates the tasks through a task manager without a
// worker, and reads the store to prove who ran what: the journal (one QUEUED→RUNNING per task,
// progress that never goes back) and Task.leaseOwner sampled every 50 ms while tasks run.
import { afterAll, describe, expect, test } from "vitest";
import type { TaskEvent } from "../src/generated/prisma/client";
import { exitOf, pause, type TaskgraphProcess, until, useWorkerFleet } from "./support/processes";

const LEASE_MS = 2000;

/** The `completed` values of a task's PROGRESSED events, in journal order. */
const progressOf = (events: TaskEvent[]) =>
  events.filter((e) => e.type === "PROGRESSED").map((e) => (e.payload as { completed: number }).completed);

const stateChanges = (events: TaskEvent[]) =>
  events.filter((e) => e.type === "STATE_CHANGED").map((e) => {
    const { from, to } = e.payload as { from: string; to: string };
    return `${from}→${to}`;
  });

describe("two worker processes on one PostgreSQL", () => {
  const fleet = useWorkerFleet("tg_mw", { TASKGRAPH_CONCURRENCY: "8", TASKGRAPH_LEASE_MS: String(LEASE_MS) });
  /** Per task: when each worker was first seen holding it while RUNNING. */
  const owners = new Map<string, Map<string, number>>();
  /** Worker-table snapshots taken while the tasks ran. */
  const workerTable: string[][] = [];
  let sampling = false;
  let sampler: Promise<void> | undefined;

  function startSampling() {
    sampling = true;
    sampler = (async () => {
      while (sampling) {
        const now = Date.now();
        const running = await fleet.prisma().task.findMany({
          where: { state: "RUNNING", leaseOwner: { not: null } },
          select: { id: true, leaseOwner: true },
        });
        for (const { id, leaseOwner } of running) {
          const seen = owners.get(id) ?? new Map<string, number>();
          const worker = leaseOwner!.split("#")[0]!; // a lease is "<worker name>#<claim number>"
          if (!seen.has(worker)) seen.set(worker, now);
          owners.set(id, seen);
        }
        workerTable.push((await fleet.prisma().worker.findMany({ select: { name: true } })).map((w) => w.name).sort());
        await pause(50);
      }
    })();
  }

  async function stopSampling() {
    sampling = false;
    await sampler;
  }

  afterAll(async () => {
    sampling = false;
    await sampler?.catch(() => {});
  });

  const createCounts = async (n: number, input: { rounds: number; roundMs: number }) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 25) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(25, n - i) }, () =>
          fleet.manager.startTask({ module: "test", type: "count", input: { ...input, failAtRound: null, abortable: true, steps: 0, children: 0 } }),
        ),
      );
      ids.push(...chunk.map((t) => t.id));
    }
    return ids;
  };

  const eventsByTask = async (ids: string[]) => {
    const events = await fleet.prisma().taskEvent.findMany({ where: { taskId: { in: ids } }, orderBy: { id: "asc" } });
    const byTask = new Map<string, TaskEvent[]>(ids.map((id) => [id, []]));
    for (const event of events) byTask.get(event.taskId)!.push(event);
    return byTask;
  };

  test("each task runs exactly once, both workers take part, and a killed worker's tasks are resumed by the other", { timeout: 180_000 }, async () => {
    const [a, b] = await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    expect(a.name).not.toBe(b.name);
    const logs = () => `\n--- worker ${a.name} ---\n${a.log()}\n--- worker ${b.name} ---\n${b.log()}`;

    // ── 300 short tasks: no task runs twice ─────────────────────────────────────────────────
    startSampling();
    const ROUNDS = 3;
    const ids = await createCounts(300, { rounds: ROUNDS, roundMs: 20 });
    await until("300 tasks have SUCCEEDED", 60_000, async () => {
      const ended = await fleet.prisma().task.count({ where: { id: { in: ids }, state: { in: ["SUCCEEDED", "FAILED", "CANCELED"] } } });
      return ended === ids.length;
    }).catch((error: Error) => {
      throw new Error(error.message + logs());
    });
    await stopSampling();

    const tasks = await fleet.prisma().task.findMany({ where: { id: { in: ids } } });
    expect(tasks.filter((t) => t.state !== "SUCCEEDED").map((t) => [t.id, t.state, t.error])).toEqual([]);
    expect(tasks.filter((t) => t.leaseOwner !== null)).toEqual([]);
    const journal = await eventsByTask(ids);
    const doubleRuns: string[] = [];
    for (const task of tasks) {
      const events = journal.get(task.id)!;
      const changes = stateChanges(events);
      const progress = progressOf(events);
      const versions = events.map((e) => e.version);
      const problems: string[] = [];
      if (JSON.stringify(changes) !== JSON.stringify(["QUEUED→RUNNING", "RUNNING→SUCCEEDED"])) problems.push(`state changes ${changes.join(", ")}`);
      // Coalesced progress writes: some of 1..rounds, always the last, never repeated or backwards.
      if (progress.length === 0 || progress.length > ROUNDS || progress.at(-1) !== ROUNDS || progress.some((v, i) => i > 0 && v <= progress[i - 1]!)) {
        problems.push(`progress ${progress.join(",")}`);
      }
      if (versions.join(",") !== Array.from({ length: task.version }, (_, i) => i + 1).join(",")) problems.push(`versions ${versions.join(",")} (task v${task.version})`);
      if (problems.length) doubleRuns.push(`${task.id}: ${problems.join("; ")}`);
    }
    expect(doubleRuns, "tasks whose journal shows more than one run").toEqual([]);

    // Both workers were registered at once, and both ran some of the tasks.
    expect(workerTable.some((names) => names.includes(a.name) && names.includes(b.name)), `Worker table samples: ${JSON.stringify(workerTable.slice(0, 3))}`).toBe(true);
    const ranBy = new Map<string, number>();
    for (const id of ids) for (const owner of owners.get(id)?.keys() ?? []) ranBy.set(owner, (ranBy.get(owner) ?? 0) + 1);
    expect([...ranBy.keys()].sort()).toEqual([a.name, b.name].sort());
    expect(Math.min(ranBy.get(a.name)!, ranBy.get(b.name)!)).toBeGreaterThan(0);
    // A task seen held by both workers would have been run by both.
    expect(ids.filter((id) => (owners.get(id)?.size ?? 0) > 1)).toEqual([]);
    console.log(`[multi-worker] ${ids.length} tasks; seen running on ${a.name}: ${ranBy.get(a.name)}, on ${b.name}: ${ranBy.get(b.name)}`);

    // ── a worker dies: the other resumes its tasks once their leases expire ─────────────────────
    owners.clear();
    startSampling();
    const LONG_ROUNDS = 10;
    const long = await createCounts(12, { rounds: LONG_ROUNDS, roundMs: 300 });
    let victim!: TaskgraphProcess;
    let survivor!: TaskgraphProcess;
    let orphans: string[] = [];
    await until("both workers run long tasks that made progress", 20_000, async () => {
      const running = await fleet.prisma().task.findMany({
        where: { id: { in: long }, state: "RUNNING", progressCompleted: { gte: 1 } },
        select: { id: true, leaseOwner: true },
      });
      const ofA = running.filter((t) => t.leaseOwner?.startsWith(`${a.name}#`));
      const ofB = running.filter((t) => t.leaseOwner?.startsWith(`${b.name}#`));
      if (ofA.length === 0 || ofB.length === 0) return false;
      [victim, survivor] = ofA.length >= ofB.length ? [a, b] : [b, a];
      return true;
    });
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    expect((await exitOf(victim.child)).signal).toBe("SIGKILL");
    orphans = (await fleet.prisma().task.findMany({ where: { id: { in: long }, state: "RUNNING", leaseOwner: { startsWith: `${victim.name}#` } }, select: { id: true } })).map((t) => t.id);
    expect(orphans.length).toBeGreaterThan(0);

    await until("the long tasks have ended", 60_000, async () => {
      const ended = await fleet.prisma().task.count({ where: { id: { in: long }, state: { in: ["SUCCEEDED", "FAILED", "CANCELED"] } } });
      return ended === long.length;
    }).catch((error: Error) => {
      throw new Error(error.message + logs());
    });
    await stopSampling();

    const longTasks = await fleet.prisma().task.findMany({ where: { id: { in: long } } });
    expect(longTasks.filter((t) => t.state !== "SUCCEEDED").map((t) => [t.id, t.state, t.error])).toEqual([]);
    const longJournal = await eventsByTask(long);
    for (const id of orphans) {
      const seen = owners.get(id) ?? new Map<string, number>();
      // The survivor took it over, and not before the victim's lease (renewed every third of it) ran out.
      expect(seen.has(survivor.name), `orphan ${id} was seen held by ${JSON.stringify([...seen.keys()])}`).toBe(true);
      expect(seen.get(survivor.name)! - killedAt, `orphan ${id} taken over before the lease could expire`).toBeGreaterThanOrEqual(LEASE_MS / 2);
      const events = longJournal.get(id)!;
      expect(stateChanges(events)).toEqual(["QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
      // Two runs, one after the other: the victim's (cut short), then the survivor's from round 1 to the end.
      const progress = progressOf(events);
      const restarts = progress.map((v, i) => (i > 0 && v <= progress[i - 1]! ? i : -1)).filter((i) => i >= 0);
      expect(restarts.length, `progress of orphan ${id}: ${progress.join(",")}`).toBeLessThanOrEqual(1);
      expect(progress.at(-1)).toBe(LONG_ROUNDS);
      if (restarts.length) {
        const restart = events.filter((e) => e.type === "PROGRESSED")[restarts[0]!]!;
        expect(restart.createdAt.getTime()).toBeGreaterThanOrEqual(killedAt);
      }
      const ended = longTasks.find((t) => t.id === id)!.endedAt!;
      expect(ended.getTime() - killedAt).toBeGreaterThanOrEqual(LEASE_MS / 2);
    }
    for (const id of long.filter((id) => !orphans.includes(id))) {
      const events = longJournal.get(id)!;
      expect(stateChanges(events)).toEqual(["QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
      const progress = progressOf(events);
      expect(progress.some((v, i) => i > 0 && v <= progress[i - 1]!), `progress of ${id}: ${progress.join(",")}`).toBe(false);
      expect(progress.at(-1)).toBe(LONG_ROUNDS);
    }
    console.log(`[multi-worker] killed ${victim.name} holding ${orphans.length} task(s); ${survivor.name} finished them`);

    // ── the survivor stops cleanly ───────────────────────────────────────────────────────────────
    survivor.child.kill("SIGTERM");
    const exit = await exitOf(survivor.child);
    expect(exit.code, survivor.log()).toBe(0);
    expect(await fleet.prisma().worker.findUnique({ where: { name: survivor.name } })).toBeNull();
  });
});
