// Worker processes that die (kill -9), including right after recording a lost attempt. Real processes (`src/main.ts`,
// TASKGRAPH_ROLE=work) on a fresh PostgreSQL database; the test process creates the tasks
// through a task manager without a worker and reads the store to check what a user would see:
// every task SUCCEEDED, no duplicate children, no step attempt overlapping another.
import { describe, expect, test } from "vitest";
import { exitOf, pause, until, useWorkerFleet } from "./support/processes";

const LEASE_MS = 2000;

describe("crash recovery on PostgreSQL", () => {
  const fleet = useWorkerFleet("tg_crash", { TASKGRAPH_LEASE_MS: String(LEASE_MS) });
  const { prisma, start, allEnded, logs, processes } = fleet;
  const startWorker = (env: Record<string, string> = {}) => fleet.startWorker(env);

  test("kill -9 of workers under load, one of them right after it recorded a lost attempt: every task succeeds, no child twice, no attempt overlapping another", { timeout: 120_000 }, async () => {
    const first = await startWorker();
    const flows = await Promise.all(Array.from({ length: 8 }, () => start("flow", { steps: 3, rounds: 4, roundMs: 150 })));
    const trees = await Promise.all(Array.from({ length: 3 }, () => start("tree", { children: 3, rounds: 10, roundMs: 150 })));
    const roots = [...flows, ...trees].map((t) => t.id);

    // ── the first worker dies while flows have a step running and the trees have spawned ──────────
    await until("the first worker runs steps and the trees have their children", 20_000, async () => {
      const runningSteps = await prisma().step.count({ where: { taskId: { in: flows.map((f) => f.id) }, state: "RUNNING" } });
      const children = await prisma().task.count({ where: { parentId: { in: trees.map((t) => t.id) } } });
      return runningSteps >= 2 && children === 9;
    });
    first.child.kill("SIGKILL");
    expect((await exitOf(first.child)).signal).toBe("SIGKILL");

    // ── the next worker resumes a lost step and dies right after recording it (fault hook) ────────
    const hooked = await startWorker({ TASKGRAPH_TEST_KILL_AFTER_LOST_ATTEMPT: "true" });
    const hookedExit = await Promise.race([exitOf(hooked.child), pause(20_000).then(() => null)]);
    expect(hookedExit?.signal, `the hooked worker did not kill itself${logs()}`).toBe("SIGKILL");
    // What it recorded before dying: a lost attempt FAILED and the next one RUNNING, both under its claim.
    const resumed = await prisma().step.findMany({
      where: { taskId: { in: flows.map((f) => f.id) }, state: "RUNNING", attempts: { some: { state: "FAILED" } } },
      include: { attempts: { orderBy: { number: "asc" } } },
    });
    expect(resumed.length).toBeGreaterThan(0);
    for (const step of resumed) {
      expect(step.attempts.at(-1)!.state).toBe("RUNNING");
      expect(step.attempts.at(-2)!.error).toMatch(/stopped .* before the step finished/);
    }

    // ── two more workers; one of them is killed too, under load ───────────────────────────────────
    const [victim] = await Promise.all([startWorker(), startWorker()]);
    await until("the victim holds tasks", 20_000, async () => (await prisma().task.count({ where: { leaseOwner: { startsWith: `${victim!.name}#` } } })) > 0);
    await pause(500);
    victim!.child.kill("SIGKILL");
    await exitOf(victim!.child);
    await startWorker();

    await until("every task has ended", 60_000, allEnded(roots)).catch((error: Error) => {
      throw new Error(error.message + logs());
    });

    // ── what a user sees ──────────────────────────────────────────────────────────────────────────
    const all = await prisma().task.findMany({ where: { rootId: { in: roots } }, include: { steps: { include: { attempts: { orderBy: { number: "asc" } } } } } });
    const failed = all.filter((t) => t.state !== "SUCCEEDED").map((t) => `${t.type} ${t.id} ${t.state}: ${t.error}`);
    expect(failed, "tasks not SUCCEEDED").toEqual([]);

    // Trees: 3 children per root, 1 internal grandchild per child, progress 3 of 3.
    const duplicates: string[] = [];
    for (const tree of trees) {
      const root = all.find((t) => t.id === tree.id)!;
      const children = all.filter((t) => t.parentId === tree.id);
      if (children.length !== 3) duplicates.push(`root ${tree.id} has ${children.length} children`);
      if (root.progressCompleted !== 3 || root.progressTotal !== 3) duplicates.push(`root ${tree.id} progress ${root.progressCompleted}/${root.progressTotal}`);
      for (const child of children) {
        const grandchildren = all.filter((t) => t.parentId === child.id).length;
        if (grandchildren !== 1) duplicates.push(`child ${child.id} has ${grandchildren} grandchildren`);
      }
    }
    expect(duplicates).toEqual([]);

    // Flows: each step succeeded in exactly one attempt; attempts never overlap; none left open.
    const doubleRuns: string[] = [];
    let lostAttempts = 0;
    for (const flow of flows) {
      for (const step of all.find((t) => t.id === flow.id)!.steps) {
        const attempts = step.attempts;
        const label = `${flow.id}/${step.key}`;
        if (step.state !== "SUCCEEDED") doubleRuns.push(`${label} is ${step.state}`);
        if (attempts.filter((a) => a.state === "SUCCEEDED").length !== 1) doubleRuns.push(`${label}: ${attempts.filter((a) => a.state === "SUCCEEDED").length} successful attempts`);
        if (attempts.some((a) => a.state === "RUNNING" || a.endedAt === null)) doubleRuns.push(`${label}: an attempt left open`);
        for (let i = 1; i < attempts.length; i++) {
          if (attempts[i - 1]!.endedAt!.getTime() > attempts[i]!.startedAt.getTime()) doubleRuns.push(`${label}: attempts ${i} and ${i + 1} overlap`);
        }
        lostAttempts += attempts.filter((a) => a.state === "FAILED").length;
      }
    }
    expect(doubleRuns).toEqual([]);
    expect(lostAttempts, "attempts recorded as lost by the kills").toBeGreaterThan(0);
    // Each task started once and succeeded once: a resume is not a second start.
    const journal = await prisma().taskEvent.findMany({ where: { rootId: { in: roots }, type: "STATE_CHANGED" }, orderBy: { id: "asc" } });
    const changes = new Map<string, string[]>();
    for (const e of journal) changes.set(e.taskId, [...(changes.get(e.taskId) ?? []), `${(e.payload as any).from}→${(e.payload as any).to}`]);
    expect(all.filter((t) => (changes.get(t.id) ?? []).join() !== "QUEUED→RUNNING,RUNNING→SUCCEEDED").map((t) => [t.id, changes.get(t.id)])).toEqual([]);
    console.log(`[crash-recovery] ${all.length} tasks (8 flows, 3 trees) through 3 kills: all SUCCEEDED, ${lostAttempts} lost attempt(s) resumed, 0 duplicate children`);

    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
    await Promise.all(processes.map((p) => exitOf(p.child)));
  });
});
