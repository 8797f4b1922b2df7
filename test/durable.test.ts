// Durable execution, in-process, on whichever store the run was started for: the store's part of
// resuming (a lost step attempt closed and the next one opened together), idempotent spawn, writes
// refused once a lease is handed back, and a resumed tree run that gets its children back.
// The crash, database-hiccup and SIGTERM behaviour of real worker processes is in
// crash-recovery.test.ts, shutdown.test.ts and embedded-restart.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import { TaskgraphError } from "../src/domain/errors";
import type { Database } from "../src/db/client";
import { createTaskManager, type TaskManager } from "../src/runtime/manager";
import { relativeStack } from "../src/runtime/stack";
import type { Store } from "../src/store";
import { openTestDatabase, openTestStore, testConfig } from "./support/db";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} refusal`).toBeInstanceOf(TaskgraphError);
  expect((error as TaskgraphError).code).toBe(code);
}

/** Closes a test database; on PostgreSQL the drop terminates the pool's sockets, which it reports as errors. */
async function closeDb(db: Database | undefined) {
  (db?.adapterFactory as { pool?: { on(event: "error", listener: () => void): unknown } } | undefined)?.pool?.on("error", () => {});
  await db?.close();
}

describe("the store's part of durable execution", () => {
  let db: Database;
  let store: Store;
  let flows = 0;
  const claim = (worker: string, type: string, leaseMs = 60_000) => store.claimTasks({ worker, leaseMs, limit: 10, modules: ["durable"], types: [type] });

  beforeAll(async () => {
    ({ db, store } = await openTestStore());
    await store.ensureModule("durable");
  });
  afterAll(() => closeDb(db));

  /** A flow (of a type of its own) whose step "a" runs under `owner`'s claim, which has run out. */
  async function runningFlow(owner: string) {
    const task = await store.createTask({ module: "durable", type: `flow-${++flows}`, steps: [{ key: "a" }, { key: "b" }] });
    expect((await claim(owner, task.type, 1)).map((c) => c.id)).toEqual([task.id]);
    await store.transitionStep(task.id, "a", "RUNNING", { leaseOwner: owner });
    await pause(10); // the 1 ms lease has run out: the worker is dead as far as anyone can tell
    return task.id;
  }

  test("resuming a lost step closes its attempt FAILED and opens the next one RUNNING in one transaction; the dead claim can no longer write", async () => {
    const id = await runningFlow("dead#1");
    expect((await claim("next#1", "flow-1")).map((c) => c.id)).toEqual([id]);
    const versionBefore = (await store.findTask(id))!.version;

    const step = await store.resumeLostStep(id, "a", "next#1");
    expect(step.state).toBe("RUNNING");
    const attempts = await store.prismaForTests.stepAttempt.findMany({ where: { stepId: step.id }, orderBy: { number: "asc" } });
    expect(attempts.map((a) => [a.number, a.kind, a.state])).toEqual([
      [1, "EXECUTE", "FAILED"],
      [2, "RETRY", "RUNNING"],
    ]);
    expect(attempts[0]!.error).toMatch(/stopped .* before the step finished/);
    // The lost attempt ended before the new one started: no two attempts overlap.
    expect(attempts[0]!.endedAt!.getTime()).toBeLessThanOrEqual(attempts[1]!.startedAt.getTime());
    // Both changes are in the journal, one version each, written together.
    const events = (await store.events(id)).filter((e) => e.version > versionBefore);
    expect(events.map((e) => [e.type, (e.payload as any).from, (e.payload as any).to])).toEqual([
      ["STEP_CHANGED", "RUNNING", "FAILED"],
      ["STEP_CHANGED", "FAILED", "RUNNING"],
    ]);
    expect(new Set(events.map((e) => e.txid)).size).toBe(1);

    // The dead worker's claim is refused everything, and nothing changes.
    await refusal(store.resumeLostStep(id, "a", "dead#1"), "CONFLICT");
    await refusal(store.transitionStep(id, "a", "SUCCEEDED", { leaseOwner: "dead#1" }), "CONFLICT");
    await refusal(store.appendLog(id, { message: "late" }, { leaseOwner: "dead#1" }), "CONFLICT");
    expect(await store.prismaForTests.stepAttempt.count({ where: { stepId: step.id } })).toBe(2);
  });

  test("once a worker hands a task back, its claim can record no outcome and no log line; the hand-back is logged as a WARN on the running step", async () => {
    const id = await runningFlow("w#1");
    await store.renewLeases([{ taskId: id, owner: "w#1" }], 60_000);
    expect(await store.releaseLeases([{ taskId: id, owner: "w#1" }], "Handed back on shutdown")).toEqual([id]);

    await refusal(store.transitionStep(id, "a", "SUCCEEDED", { leaseOwner: "w#1" }), "CONFLICT");
    await refusal(store.transitionStep(id, "a", "FAILED", { leaseOwner: "w#1", error: "AbortError" }), "CONFLICT");
    await refusal(store.transitionTask(id, "SUCCEEDED", { ifLeaseOwner: "w#1" }), "CONFLICT");
    await refusal(store.appendLog(id, { level: "ERROR", message: "AbortError: The operation was aborted" }, { leaseOwner: "w#1" }), "CONFLICT");

    const task = (await store.findTask(id))!;
    expect([task.state, task.leaseOwner]).toEqual(["RUNNING", null]);
    const steps = await store.steps(id);
    expect(steps.map((s) => [s.key, s.state])).toEqual([
      ["a", "RUNNING"],
      ["b", "WAITING"],
    ]);
    const logs = await store.prismaForTests.logEntry.findMany({ where: { taskId: id } });
    expect(logs.map((l) => [l.level, l.message, l.stepId])).toEqual([["WARN", "Handed back on shutdown", steps[0]!.id]]);
  });

  test("a task ended by someone else (a forced delete) still gets its running step's outcome from the worker", async () => {
    const id = await runningFlow("w#2");
    await store.renewLeases([{ taskId: id, owner: "w#2" }], 60_000);
    await store.deleteTask(id, { force: true });
    expect((await store.findTask(id))!.state).toBe("FAILED");
    const step = await store.transitionStep(id, "a", "SUCCEEDED", { leaseOwner: "w#2" });
    expect(step.state).toBe("SUCCEEDED");
  });

  test("spawnChild: one child per (parent, key), even when spawns of the same key race; another key is another child", async () => {
    const parent = await store.createTask({ module: "durable", type: "flow" });
    const spec = { module: "durable", type: "leaf" };
    const results = await Promise.all(Array.from({ length: 6 }, () => store.spawnChild(spec, parent.id, "#1")));
    expect(new Set(results.map((r) => r.task.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const second = await store.spawnChild(spec, parent.id, "#2");
    expect(second.created).toBe(true);
    expect(await store.prismaForTests.task.count({ where: { parentId: parent.id } })).toBe(2);
    // The same key for a different type is a mistake in the task's code, not a second child.
    await refusal(store.spawnChild({ module: "durable", type: "other" }, parent.id, "#1"), "BAD_USER_INPUT");
    // The unique index itself refuses a duplicate, whoever writes it.
    const existing = await store.prismaForTests.task.findFirstOrThrow({ where: { parentId: parent.id, spawnKey: "#1" } });
    await expect(
      store.prismaForTests.task.create({
        data: { ...existing, id: "0190a000-0000-7000-8000-0000000000aa", labels: {}, input: undefined, result: undefined, retryPolicy: undefined },
      }),
    ).rejects.toMatchObject({ code: "P2002" });
  });
});

describe("a resumed tree run gets its existing children back", () => {
  let db: Database;
  let creator: TaskManager;
  let runner: TaskManager | undefined;

  beforeAll(async () => {
    db = await openTestDatabase();
    creator = createTaskManager({ config: testConfig(), db, worker: false });
    for (const manager of [creator]) defineSpawner(manager);
    await creator.start();
  });
  afterAll(async () => {
    await runner?.stop();
    await creator?.stop();
    await closeDb(db);
  });

  function defineSpawner(manager: TaskManager) {
    manager.defineModule({ name: "durable", description: "durable-execution tests" });
    manager.defineTask({ module: "durable", type: "leaf", async run() {} });
    manager.defineTask({
      module: "durable",
      type: "spawner",
      async run(ctx) {
        const ids: string[] = [];
        for (let i = 1; i <= 3; i++) ids.push(await ctx.spawn("leaf", { i }, { name: `leaf ${i}` }));
        ids.push(await ctx.spawn("leaf", { i: "keyed" }, { key: "the-keyed-one" }));
        const outcomes = await ctx.waitForChildren();
        return { ids, states: outcomes.map((o) => o.state) };
      },
    });
  }

  test("a run that died after two spawns is resumed: the new run spawns four times and there are four children, the first two the old ones", { timeout: 30_000 }, async () => {
    const task = await creator.startTask({ module: "durable", type: "spawner" });
    // A worker claims it (with a lease that runs out at once: it died) and its run spawned two children.
    const [claimed] = await creator.store.claimTasks({ worker: "dead#1", leaseMs: 1, limit: 1, modules: ["durable"], types: ["spawner"] });
    expect(claimed?.id).toBe(task.id);
    const leaf = (i: number) => creator.registry.newTask("durable", "leaf", { i }, { name: `leaf ${i}` });
    const first = (await creator.store.spawnChild(await leaf(1), task.id, "#1")).task.id;
    const second = (await creator.store.spawnChild(await leaf(2), task.id, "#2")).task.id;
    await pause(10);

    runner = createTaskManager({ config: testConfig(), db, worker: { pollMs: 200, housekeepingMs: 100, leaseMs: 3000 } });
    defineSpawner(runner);
    await runner.start();
    const done = await runner.waitForTask(task.id, 20);
    expect(done.state).toBe("SUCCEEDED");
    const result = done.result as { ids: string[]; states: string[] };
    expect(result.ids.slice(0, 2)).toEqual([first, second]);
    expect(new Set(result.ids).size).toBe(4);
    const children = await creator.store.prismaForTests.task.findMany({ where: { parentId: task.id }, orderBy: { id: "asc" } });
    expect(children.map((c) => c.spawnKey)).toEqual(["#1", "#2", "#3", "the-keyed-one"]);
    expect(children.map((c) => c.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(result.states).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
  });
});

describe("an abort met by the next worker after the run was lost", () => {
  let db: Database;
  const managers: TaskManager[] = [];
  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    await closeDb(db);
  });

  /** A manager knowing the two-step flow type (a worker only when given its options). */
  function managerWithFlow(worker: false | { pollMs: number; housekeepingMs: number; leaseMs: number }) {
    const manager = createTaskManager({ config: testConfig(), db, worker });
    manager.defineTask({
      module: "durable",
      type: "two-steps",
      abortable: true,
      steps: [
        { key: "a", name: "A", run: async () => {} },
        { key: "b", name: "B", run: async () => {} },
      ],
    });
    managers.push(manager);
    return manager;
  }

  test("the step left RUNNING by the lost run is closed FAILED, the task CANCELED: no ended task keeps a running step", { timeout: 30_000 }, async () => {
    db = await openTestDatabase();
    const creator = managerWithFlow(false);
    await creator.start();
    const store = creator.store;
    // A worker that then died: it claimed the task and started step "a"; its lease runs out at once.
    const task = await creator.startTask({ module: "durable", type: "two-steps" });
    const [claimed] = await store.claimTasks({ worker: "dead#1", leaseMs: 1, limit: 1, modules: ["durable"], types: ["two-steps"] });
    expect(claimed?.id).toBe(task.id);
    await store.transitionStep(task.id, "a", "RUNNING", { leaseOwner: "dead#1" });
    await store.abortTask(task.id);
    await pause(10);

    // The next worker claims the aborted task and finishes the abort.
    const runner = managerWithFlow({ pollMs: 200, housekeepingMs: 100, leaseMs: 3000 });
    await runner.start();
    const done = await runner.waitForTask(task.id, 20);
    expect(done.state).toBe("CANCELED");
    const steps = await store.steps(task.id);
    expect(steps.map((s) => [s.key, s.state])).toEqual([
      ["a", "FAILED"],
      ["b", "WAITING"],
    ]);
    expect(steps[0]!.error).toMatch(/stopped .* before the step finished/);
    expect(await store.prismaForTests.stepAttempt.count({ where: { taskId: task.id, state: "RUNNING" } })).toBe(0);
  });
});

describe("configuration and stacks", () => {
  test("TASKGRAPH_STOP_GRACE_MS sets the stop grace period (default 10 s); a bad value names the variable", () => {
    expect(loadConfig({}).stopGraceMs).toBe(10_000);
    expect(loadConfig({ TASKGRAPH_STOP_GRACE_MS: "1500" }).stopGraceMs).toBe(1500);
    expect(() => loadConfig({ TASKGRAPH_STOP_GRACE_MS: "soon" })).toThrow(ConfigError);
    expect(() => loadConfig({ TASKGRAPH_STOP_GRACE_MS: "-1" })).toThrow(/TASKGRAPH_STOP_GRACE_MS/);
    expect(loadConfig({}).testKillAfterLostAttempt).toBe(false);
  });

  test("stack paths are made relative to the project root; other frames are kept", () => {
    const stack = [
      "Error: Failed at round 3",
      "    at countRounds (/srv/app/taskgraph/src/modules/test.ts:52:52)",
      "    at file:///srv/app/taskgraph/node_modules/x/index.js:1:2",
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ].join("\n");
    expect(relativeStack(stack, ["/srv/app/taskgraph"])).toBe(
      [
        "Error: Failed at round 3",
        "    at countRounds (src/modules/test.ts:52:52)",
        "    at node_modules/x/index.js:1:2",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
      ].join("\n"),
    );
  });
});
