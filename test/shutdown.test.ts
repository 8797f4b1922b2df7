// SIGTERM of a worker process with tasks running (PostgreSQL, real processes): tasks that finish
// within the grace period (TASKGRAPH_STOP_GRACE_MS) finish; the others are handed back at its end
// with a WARN line saying so — no ERROR, no failed attempt, nothing recorded by the stopping
// worker afterwards — and another worker resumes them at once, not after their lease.
import { describe, expect, test } from "vitest";
import { HANDED_BACK_ON_SHUTDOWN } from "../src/runtime/worker";
import { exitOf, until, useWorkerFleet } from "./support/processes";

const GRACE_MS = 1500;

describe("SIGTERM with tasks running", () => {
  const fleet = useWorkerFleet("tg_stop", { TASKGRAPH_STOP_GRACE_MS: String(GRACE_MS) });
  const { prisma, start, processes } = fleet;
  const startWorker = () => fleet.startWorker();

  test("short tasks finish within the grace period, long ones are handed back with a WARN (no ERROR) and resumed at once by the next worker", { timeout: 90_000 }, async () => {
    const first = await startWorker();
    const longFlows = await Promise.all(Array.from({ length: 3 }, () => start("flow", { steps: 2, rounds: 30, roundMs: 100 })));
    const longCounts = await Promise.all(Array.from({ length: 2 }, () => start("count", { rounds: 40, roundMs: 100 })));
    const short = await Promise.all(Array.from({ length: 2 }, () => start("count", { rounds: 8, roundMs: 100 })));
    const long = [...longFlows, ...longCounts].map((t) => t.id);
    const all = [...long, ...short.map((t) => t.id)];
    await until("every task runs", 20_000, async () => (await prisma().task.count({ where: { id: { in: all }, state: "RUNNING", progressCompleted: { gt: 0 } } })) === all.length);

    const signalled = Date.now();
    first.child.kill("SIGTERM");
    const exit = await exitOf(first.child);
    const stoppedIn = Date.now() - signalled;
    console.log(`[shutdown] TASKGRAPH_STOP_GRACE_MS=${GRACE_MS}: the worker exited ${stoppedIn} ms after SIGTERM`);
    expect(exit.code, first.log()).toBe(0);
    expect(stoppedIn).toBeGreaterThanOrEqual(GRACE_MS);
    expect(stoppedIn).toBeLessThan(GRACE_MS + 4000);

    // Short ones finished in the grace period.
    expect((await prisma().task.findMany({ where: { id: { in: short.map((t) => t.id) } } })).map((t) => t.state)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    // Long ones were handed back: RUNNING, held by no one, their running step still RUNNING.
    const handedBack = await prisma().task.findMany({ where: { id: { in: long } }, include: { steps: { include: { attempts: true } } } });
    expect(handedBack.map((t) => [t.state, t.leaseOwner])).toEqual(long.map(() => ["RUNNING", null]));
    for (const flow of handedBack.filter((t) => t.type === "flow")) {
      const running = flow.steps.filter((s) => s.state === "RUNNING");
      expect(running.map((s) => s.key)).toEqual(["step-1"]);
      expect(running[0]!.attempts.map((a) => a.state)).toEqual(["RUNNING"]); // not FAILED: nothing failed
    }
    const logsAfterStop = await prisma().logEntry.findMany({ where: { taskId: { in: all } }, include: { step: true } });
    expect(logsAfterStop.filter((l) => l.level === "ERROR").map((l) => l.message)).toEqual([]);
    const notes = logsAfterStop.filter((l) => l.message === HANDED_BACK_ON_SHUTDOWN);
    expect(notes.every((l) => l.level === "WARN")).toBe(true);
    expect(notes.map((l) => l.taskId).sort()).toEqual([...long].sort()); // one per task: its running step, or the task
    expect(notes.filter((l) => l.step).map((l) => l.step!.key)).toEqual(["step-1", "step-1", "step-1"]);

    // ── the next worker resumes them at once (no lease to wait for) ─────────────────────────────
    const second = await startWorker();
    await until("the handed-back tasks are held again", 5_000, async () => (await prisma().task.count({ where: { id: { in: long }, leaseOwner: { not: null } } })) === long.length);
    const resumedIn = Date.now() - second.readyAt;
    console.log(`[shutdown] the next worker held every handed-back task ${resumedIn} ms after it was ready`);
    expect(resumedIn).toBeLessThan(2000);
    await until("every task has ended", 30_000, async () => (await prisma().task.count({ where: { id: { in: all }, state: "SUCCEEDED" } })) === all.length);
    const flows = await prisma().step.findMany({ where: { taskId: { in: longFlows.map((f) => f.id) } }, include: { attempts: { orderBy: { number: "asc" } } } });
    for (const step of flows.filter((s) => s.key === "step-1")) {
      expect(step.attempts.map((a) => [a.kind, a.state])).toEqual([
        ["EXECUTE", "FAILED"],
        ["RETRY", "SUCCEEDED"],
      ]);
    }
    expect(await prisma().logEntry.count({ where: { taskId: { in: all }, level: "ERROR" } })).toBe(0);
    second.child.kill("SIGTERM");
    expect((await exitOf(second.child)).code).toBe(0);
  });
});
