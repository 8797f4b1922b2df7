// Operation policies: priorities reorder a backlog, and tasks with the same exclusive key never run
// at once (WAIT: they queue, showing the holder as blockedBy; REFUSE: CONFLICT while one is
// pending). On the test store (PGlite, or PostgreSQL with TEST_DATABASE_URL), with the worker in
// the test process; then two worker processes on one PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ExecutionResult } from "graphql";
import { codes, startTestApp, type TestApp } from "./support/app";
import { until, useWorkerFleet } from "./support/processes";

const TASK = "id state priority exclusiveKey startedAt endedAt blockedBy { id } error";
const CREATE = `mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { ${TASK} } }`;
const GET = `query ($id: ID!) { task(id: $id) { ${TASK} } }`;

async function ok(app: TestApp, query: string, variables?: Record<string, unknown>) {
  const result = await app.gql(query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!;
}

const create = async (app: TestApp, input: Record<string, unknown>) => (await ok(app, CREATE, { input })).createTestTask;
const get = async (app: TestApp, id: string) => (await ok(app, GET, { id })).task;

interface Interval {
  id: string;
  startedAt: string | Date | null;
  endedAt: string | Date | null;
}

/** Pairs of tasks whose [startedAt, endedAt] overlap. */
function overlaps(tasks: Interval[]): string[] {
  const sorted = [...tasks].sort((a, b) => new Date(a.startedAt!).getTime() - new Date(b.startedAt!).getTime());
  const found: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const next = sorted[i]!;
    if (new Date(next.startedAt!).getTime() < new Date(previous.endedAt!).getTime()) found.push(`${previous.id} and ${next.id}`);
  }
  return found;
}

/** The most tasks running at one moment, from their [startedAt, endedAt]. */
function mostAtOnce(tasks: Interval[]): number {
  const edges = tasks.flatMap((t) => [
    { at: new Date(t.startedAt!).getTime(), delta: 1 },
    { at: new Date(t.endedAt!).getTime(), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta); // an end before a start at the same instant
  let now = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (now += edge.delta));
  return most;
}

describe("priorities and exclusive keys, with a worker", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ worker: { concurrency: 8, pollMs: 50 } });
  });
  afterAll(() => app.stop());

  test("a higher priority is claimed first: a backlog is reordered", async () => {
    // The backlog waits behind 8 long tasks that fill the worker's 8 slots.
    const blockers = await Promise.all(Array.from({ length: 8 }, () => create(app, { rounds: 1, roundMs: 1500 })));
    await until("the blockers run", 5_000, async () => (await Promise.all(blockers.map((b) => get(app, b.id)))).every((t) => t.state === "RUNNING"), 20);
    const low: any[] = [];
    for (let i = 0; i < 6; i++) low.push(await create(app, { rounds: 1, roundMs: 0 }));
    const high: any[] = [];
    for (let i = 0; i < 3; i++) high.push(await create(app, { rounds: 1, roundMs: 0, priority: 10 }));
    const urgent = await create(app, { rounds: 1, roundMs: 0, priority: 500 });
    expect(urgent.priority).toBe(500);
    expect(low[0].priority).toBe(0);
    const all = [urgent, ...high, ...low];
    await until("the backlog ends", 15_000, async () => (await Promise.all(all.map((t) => get(app, t.id)))).every((t) => t.state === "SUCCEEDED"), 50);
    const started = await Promise.all(all.map(async (t) => ({ id: t.id, at: new Date((await get(app, t.id)).startedAt).getTime() })));
    const order = [...started].sort((a, b) => a.at - b.at || 0).map((s) => s.id);
    // Claims take the highest priority first: the urgent one, then the high ones, then the rest
    // (several start in one claim, so only the groups' order is certain).
    const rank = (id: string) => (id === urgent.id ? 0 : high.some((h) => h.id === id) ? 1 : 2);
    const ranks = order.map(rank);
    expect(ranks, `start order by priority group: ${ranks.join(",")}`).toEqual([...ranks].sort());
  });

  test("WAIT: tasks with one key never overlap, all finish, and a waiting one names its holder", async () => {
    const key = `broker-${Date.now()}`;
    const tasks: any[] = [];
    for (let i = 0; i < 12; i++) tasks.push(await create(app, { rounds: 2, roundMs: 40, exclusiveKey: key }));
    expect(tasks.every((t) => t.exclusiveKey === key)).toBe(true);
    // While one holds the key, the others wait QUEUED and name it. The states come from one
    // snapshot (one statement); the API's answers for the 12 tasks are separate reads, so a sample
    // may straddle a hand-over: the naming must be seen right, and never name a task of another key.
    const ids = tasks.map((t) => t.id);
    let sawBlocked = false;
    await until("all 12 end", 30_000, async () => {
      const snapshot = await app.store.prismaForTests.task.findMany({ where: { id: { in: ids } }, select: { state: true } });
      expect(snapshot.filter((t) => t.state === "RUNNING").length).toBeLessThanOrEqual(1);
      const now = await Promise.all(tasks.map((t) => get(app, t.id)));
      const running = now.filter((t) => t.state === "RUNNING");
      const waiting = now.filter((t) => t.state === "QUEUED" && t.blockedBy);
      expect(waiting.every((t) => ids.includes(t.blockedBy.id))).toBe(true);
      if (running.length === 1 && waiting.length > 0 && waiting.every((t) => t.blockedBy.id === running[0].id)) sawBlocked = true;
      return now.every((t) => t.state === "SUCCEEDED");
    }, 20);
    expect(sawBlocked).toBe(true);
    const ended = await Promise.all(tasks.map((t) => get(app, t.id)));
    expect(ended.every((t) => t.blockedBy === null)).toBe(true);
    expect(overlaps(ended)).toEqual([]);
  });

  test("a busy key does not hold up other work", async () => {
    const key = `topic-${Date.now()}`;
    const holder = await create(app, { rounds: 1, roundMs: 4000, exclusiveKey: key }); // long enough to still run on a busy machine
    const waiters: any[] = [];
    for (let i = 0; i < 20; i++) waiters.push(await create(app, { rounds: 1, roundMs: 0, exclusiveKey: key }));
    const free = await create(app, { rounds: 1, roundMs: 0 });
    await until("the unkeyed task ends", 5_000, async () => (await get(app, free.id)).state === "SUCCEEDED", 20);
    expect((await get(app, holder.id)).state).toBe("RUNNING");
    expect((await get(app, waiters[0].id)).blockedBy?.id).toBe(holder.id);
    await until("the keyed ones end", 20_000, async () => (await Promise.all(waiters.map((w) => get(app, w.id)))).every((t) => t.state === "SUCCEEDED"), 50);
  });

  test("REFUSE: CONFLICT naming the holder while a task with the key is pending; nothing is created; accepted once it ended", async () => {
    const key = `table-${Date.now()}`;
    const holder = await create(app, { rounds: 1, roundMs: 800, exclusiveKey: key });
    const count = async () => (await ok(app, `{ tasks(filter: { includeInternal: true }) { totalCount } }`)).tasks.totalCount;
    const before = await count();
    const refused: ExecutionResult = await app.gql(CREATE, { input: { rounds: 1, roundMs: 0, exclusiveKey: key, exclusiveMode: "REFUSE" } });
    expect(codes(refused)).toEqual(["CONFLICT"]);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: "CONFLICT", blockedBy: holder.id, exclusiveKey: key });
    expect(refused.errors![0]!.message).toContain(holder.id);
    expect(await count()).toBe(before);
    // Bad policy inputs are refused with BAD_USER_INPUT, and change nothing.
    const badPriority = await app.gql(CREATE, { input: { rounds: 1, priority: 5000 } });
    expect(codes(badPriority)).toEqual(["BAD_USER_INPUT"]);
    const emptyKey = await app.gql(CREATE, { input: { rounds: 1, exclusiveKey: "" } });
    expect(codes(emptyKey)).toEqual(["BAD_USER_INPUT"]);
    expect(await count()).toBe(before);
    await until("the holder ends", 10_000, async () => (await get(app, holder.id)).state === "SUCCEEDED", 20);
    const accepted = await create(app, { rounds: 1, roundMs: 0, exclusiveKey: key, exclusiveMode: "REFUSE" });
    await until("it ends", 10_000, async () => (await get(app, accepted.id)).state === "SUCCEEDED", 20);
  });

  test("a failed task retried while another holds its key waits for it, then runs", async () => {
    const key = `node-${Date.now()}`;
    const failing = await create(app, { rounds: 1, roundMs: 0, failAtRound: 1, exclusiveKey: key });
    await until("it fails", 10_000, async () => (await get(app, failing.id)).state === "FAILED", 20);
    const holder = await create(app, { rounds: 1, roundMs: 1000, exclusiveKey: key });
    await until("the holder runs", 10_000, async () => (await get(app, holder.id)).state === "RUNNING", 20);
    await ok(app, `mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: failing.id });
    const waiting = await get(app, failing.id);
    expect(waiting.blockedBy?.id).toBe(holder.id);
    await until("both end", 15_000, async () => (await get(app, failing.id)).state === "SUCCEEDED", 50);
    const [a, b] = await Promise.all([get(app, holder.id), get(app, failing.id)]);
    expect(b.startedAt).toBeDefined();
    // The retried run started after the holder ended (its first run failed before the holder existed).
    const events = await app.store.events(failing.id);
    const resumedAt = events.filter((e) => e.type === "LOG_APPENDED" || e.type === "STEP_CHANGED" || e.type === "PROGRESSED").at(-1)!.createdAt;
    expect(resumedAt.getTime()).toBeGreaterThanOrEqual(new Date(a.endedAt).getTime());
  });
});

describe("concurrency limits, with a worker", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ worker: { concurrency: 8, pollMs: 50 } });
  });
  afterAll(() => app.stop());

  test("a type limited to 2 never runs more than 2 at once; the others wait and all finish; the API shows the limit", async () => {
    const START = `mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await ok(app, START, { input: { module: "test", type: "limited-count", input: { rounds: 2, roundMs: 60 } } })).startTask.id);
    let mostSeen = 0;
    await until("all 8 end", 30_000, async () => {
      const now = await Promise.all(ids.map((id) => get(app, id)));
      mostSeen = Math.max(mostSeen, now.filter((t) => t.state === "RUNNING").length);
      return now.every((t) => t.state === "SUCCEEDED");
    }, 10);
    expect(mostSeen).toBeLessThanOrEqual(2);
    const ended = await Promise.all(ids.map((id) => get(app, id)));
    expect(mostAtOnce(ended)).toBe(2);
    const limits = await ok(app, `{ taskType(module: "test", name: "limited-count") { concurrencyLimit } module(name: "test") { concurrencyLimit } }`);
    expect(limits).toEqual({ taskType: { concurrencyLimit: 2 }, module: { concurrencyLimit: null } });
    expect(await app.store.prismaForTests.concurrencySlot.count({ where: { scope: "type:test/limited-count", holderId: { not: null } } })).toBe(0);
  });
});

describe("two worker processes on one PostgreSQL", () => {
  const fleet = useWorkerFleet("tg_pol", { TASKGRAPH_CONCURRENCY: "8" });

  test("50 tasks on one exclusive target never overlap and all finish; an urgent one jumps the queue", { timeout: 120_000 }, async () => {
    await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const task = await fleet.manager.startTask({ module: "test", type: "count", input: { rounds: 1, roundMs: 20, failAtRound: null, abortable: true, steps: 0, children: 0 }, exclusiveKey: "broker-7" });
      ids.push(task.id);
    }
    const urgent = await fleet.manager.startTask({ module: "test", type: "count", input: { rounds: 1, roundMs: 20, failAtRound: null, abortable: true, steps: 0, children: 0 }, exclusiveKey: "broker-7", priority: 100 });
    await until("all 51 end", 90_000, fleet.allEnded([...ids, urgent.id])).catch((error: Error) => {
      throw new Error(error.message + fleet.logs());
    });
    const tasks = await fleet.prisma().task.findMany({ where: { id: { in: [...ids, urgent.id] } } });
    expect(tasks.filter((t) => t.state !== "SUCCEEDED").map((t) => [t.id, t.state, t.error])).toEqual([]);
    expect(overlaps(tasks)).toEqual([]);
    // Both workers ran some: the key moved between processes.
    const runners = new Set((await fleet.prisma().taskEvent.findMany({ where: { taskId: { in: ids }, type: "STATE_CHANGED", actorKind: "WORKER" } })).map((e) => e.actorName));
    expect(runners.size).toBe(2);
    // The urgent one, created last, was not the last to start.
    const byStart = [...tasks].sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime()).map((t) => t.id);
    expect(byStart.indexOf(urgent.id)).toBeLessThan(10);
    expect(await fleet.prisma().exclusiveKey.findUnique({ where: { key: "broker-7" } })).toMatchObject({ holderId: null });
  });

  test("a limit of 2 is never exceeded with 4 workers", { timeout: 120_000 }, async () => {
    while (fleet.processes.length < 4) await fleet.startWorker();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const task = await fleet.manager.startTask({ module: "test", type: "limited-count", input: { rounds: 2, roundMs: 30, failAtRound: null, abortable: true, steps: 0, children: 0 } });
      ids.push(task.id);
    }
    await until("all 30 end", 90_000, fleet.allEnded(ids)).catch((error: Error) => {
      throw new Error(error.message + fleet.logs());
    });
    const tasks = await fleet.prisma().task.findMany({ where: { id: { in: ids } } });
    expect(tasks.filter((t) => t.state !== "SUCCEEDED").map((t) => [t.id, t.state, t.error])).toEqual([]);
    expect(mostAtOnce(tasks)).toBe(2);
    const runners = new Set((await fleet.prisma().taskEvent.findMany({ where: { taskId: { in: ids }, type: "STATE_CHANGED", actorKind: "WORKER" } })).map((e) => e.actorName));
    expect(runners.size).toBeGreaterThan(1);
  });
});

describe("timeouts", () => {
  let app: TestApp;
  const rolledBack: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ worker: { concurrency: 4, pollMs: 50, timeoutGraceMs: 300 } });
    app.manager.defineTask({
      module: "test",
      type: "stuck-flow",
      steps: [
        { key: "prepare", run: () => null, rollback: (ctx) => void rolledBack.push(`${ctx.task.id}:prepare`) },
        // Ignores its signal: the attempt fails with TIMEOUT after the grace period all the same.
        { key: "wait-for-node", timeoutMs: 200, run: () => new Promise(() => {}), rollback: (ctx) => void rolledBack.push(`${ctx.task.id}:wait-for-node`) },
        { key: "finish", run: () => null },
      ],
    });
    await app.manager.start();
  });
  afterAll(() => app.stop());

  const STEPS = "steps { key state error errorCode }";
  const getWithSteps = async (id: string) =>
    (await ok(app, `query ($id: ID!) { task(id: $id) { id state error errorCode timeoutMs startedAt endedAt ${STEPS} } }`, { id })).task;

  test("a task past its timeoutMs: its signal is aborted and it fails with TIMEOUT", async () => {
    const task = await create(app, { rounds: 20, roundMs: 100, timeoutMs: 300 });
    await until("it fails", 10_000, async () => (await get(app, task.id)).state === "FAILED", 20);
    const failed = await getWithSteps(task.id);
    expect(failed).toMatchObject({ state: "FAILED", errorCode: "TIMEOUT", timeoutMs: 300 });
    expect(failed.error).toContain("time limit (300 ms)");
    // It stopped at the limit (the count honours its signal), not after its 2 s of rounds.
    expect(new Date(failed.endedAt).getTime() - new Date(failed.startedAt).getTime()).toBeLessThan(1_500);
    // A retry runs it again, without the old code; the next failure is its code's own.
    await ok(app, `mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: task.id });
    const retried = await getWithSteps(task.id);
    expect(retried.errorCode).toBeNull();
  });

  test("a step that ignores its signal fails with TIMEOUT after the grace period; the flow fails; Abort Task rolls it back", async () => {
    const task = await app.manager.startTask({ module: "test", type: "stuck-flow" });
    await until("it fails", 10_000, async () => (await get(app, task.id)).state === "FAILED", 20);
    const failed = await getWithSteps(task.id);
    expect(failed.errorCode).toBe("TIMEOUT");
    expect(failed.error).toBe('Step "wait-for-node" failed: The step ran past its time limit (200 ms)');
    expect(failed.steps).toEqual([
      { key: "prepare", state: "SUCCEEDED", error: null, errorCode: null },
      { key: "wait-for-node", state: "FAILED", error: "The step ran past its time limit (200 ms)", errorCode: "TIMEOUT" },
      { key: "finish", state: "WAITING", error: null, errorCode: null },
    ]);
    // Rollback runs as for any failure (OCP's Abort Task): the failed step back to the first.
    await ok(app, `mutation ($id: ID!) { abortTask(id: $id, rollback: true) { id } }`, { id: task.id });
    await until("it is canceled", 10_000, async () => (await get(app, task.id)).state === "CANCELED", 20);
    expect(rolledBack.filter((r) => r.startsWith(task.id))).toEqual([`${task.id}:wait-for-node`, `${task.id}:prepare`]);
  });

  test("a bad timeoutMs is refused with BAD_USER_INPUT and creates nothing", async () => {
    for (const timeoutMs of [0, -5, 1e12]) {
      const result = await app.gql(CREATE, { input: { rounds: 1, timeoutMs } });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    }
  });
});
