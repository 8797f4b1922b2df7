// End-to-end behaviour of the task runtime with a running worker, driven through GraphQL (and, for
// the library surface, through createTaskManager / createServer). Each test is named after the
// behaviour of the source system it reproduces: openATTIC's test task, Kafka's
// Scheduled tasks, ScyllaDB's task trees / wait / TTL / drain, and the embedding API.
// Runs on whichever store the run was started for (PGlite, or PostgreSQL with TEST_DATABASE_URL).
import type { ExecutionResult } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer, createTaskManager, defineTask } from "../src/index";
import { Store } from "../src/store";
import { PROJECT_ROOT } from "../src/db/migrator";
import { codes, startTestApp, type TestApp } from "./support/app";
import { openTestDatabase, testConfig } from "./support/db";

const WORKER = { pollMs: 200, housekeepingMs: 100, leaseMs: 3000 };
const UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000";
const ENDED = ["SUCCEEDED", "FAILED", "CANCELED"];

const TASK = `id module { name } type name kind scope state category isInternal sequenceNumber node target labels
  input result error createdAt scheduledFor startedAt endedAt depth root { id }
  parent { id }
  progress { units total completed fraction }`;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than undefined/false, for at most `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(everyMs);
  }
}

/** The operation succeeded: no errors, data returned. */
async function ok(app: TestApp, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
  const result = await app.gql(query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!;
}

/** Refused with exactly this code and no data. */
/** Refused with `code`: no data, or (under a nullable lookup such as task(id)) only nulls. */
function expectRefused(result: ExecutionResult, code: string) {
  expect(codes(result)).toEqual([code]);
  expect(Object.values(result.data ?? {}).every((value) => value === null)).toBe(true);
}

const CREATE_TEST_TASK = `mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { ${TASK} } }`;
const START_TASK = `mutation ($input: StartTaskInput!) { startTask(input: $input) { ${TASK} } }`;
const GET_TASK = `query ($id: ID!) { task(id: $id) { ${TASK} } }`;
const WAIT = `query ($id: ID!, $timeout: Int) { waitForTask(id: $id, timeoutSeconds: $timeout) { ${TASK} } }`;
const COUNT_ROOTS = `{ tasks(filter: { includeInternal: true }) { totalCount } }`;
const LOGS = `query ($id: ID!) { task(id: $id) { logs(first: 100) { totalCount edges { node { level message stack task { id } } } } } }`;

async function createTestTask(app: TestApp, input: Record<string, unknown>) {
  return (await ok(app, CREATE_TEST_TASK, { input })).createTestTask;
}

async function startTask(app: TestApp, input: Record<string, unknown>) {
  return (await ok(app, START_TASK, { input })).startTask;
}

async function getTask(app: TestApp, id: string) {
  return (await ok(app, GET_TASK, { id })).task;
}

/** waitForTask through GraphQL: the ended task. */
async function waitForEnd(app: TestApp, id: string, timeout = 20) {
  return (await ok(app, WAIT, { id, timeout })).waitForTask;
}

async function logsOf(app: TestApp, id: string): Promise<{ level: string; message: string; stack: string | null; task: { id: string } }[]> {
  return (await ok(app, LOGS, { id })).task.logs.edges.map((e: any) => e.node);
}

async function taskCount(app: TestApp): Promise<number> {
  return (await ok(app, COUNT_ROOTS)).tasks.totalCount;
}

async function abortQuietly(app: TestApp, id: string) {
  await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
}

// ------------------------------------------------------------------------------------------------

describe("with a running worker", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ worker: WORKER });
  });
  afterAll(() => app?.stop());

  describe("openATTIC test task: counts N rounds in the background", () => {
    test("createTestTask returns at once and counts 5 rounds to SUCCEEDED with progress in rounds", async () => {
      const created = await createTestTask(app, { rounds: 5, roundMs: 20 });
      expect(created).toMatchObject({ module: { name: "test" }, type: "count", kind: "NODE", category: "PENDING", isInternal: false });
      expect(["QUEUED", "RUNNING"]).toContain(created.state);
      expect(created.progress.units).toBe("rounds");

      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.category).toBe("FINISHED");
      expect(done.error).toBeNull();
      expect(done.progress).toEqual({ units: "rounds", total: 5, completed: 5, fraction: 1 });
      expect(done.result).toEqual({ rounds: 5 });
      expect(done.input).toMatchObject({ rounds: 5, roundMs: 20 });
      expect(done.startedAt).not.toBeNull();
      expect(done.endedAt).not.toBeNull();
      expect(Date.parse(done.endedAt)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));
      expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));

      // The journal: created QUEUED, then QUEUED → RUNNING → SUCCEEDED, nothing else.
      const transitions = (await app.store.events(created.id))
        .filter((e) => e.type === "STATE_CHANGED")
        .map((e) => `${(e.payload as any).from}→${(e.payload as any).to}`);
      expect(transitions).toEqual(["QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    });

    test("progress seen while the task runs never goes down, and ends at the total", async () => {
      const created = await createTestTask(app, { rounds: 8, roundMs: 150 });
      const seen: number[] = [];
      let last: any;
      await eventually(
        "the task to end",
        async () => {
          last = await getTask(app, created.id);
          if (last.state === "RUNNING") {
            expect(last.progress.total === null || last.progress.total === 8).toBe(true);
            seen.push(last.progress.completed);
          }
          return ENDED.includes(last.state);
        },
        20_000,
        80,
      );
      expect(last.state).toBe("SUCCEEDED");
      expect(seen.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
      expect(seen.every((n) => n >= 0 && n <= 8)).toBe(true);
      expect(new Set(seen).size).toBeGreaterThan(1); // it did move while we watched
      expect(last.progress).toEqual({ units: "rounds", total: 8, completed: 8, fraction: 1 });

      // The stored journal agrees: PROGRESSED values never go down.
      const values = (await app.store.events(created.id)).filter((e) => e.type === "PROGRESSED").map((e) => (e.payload as any).completed as number);
      expect(values.at(-1)).toBe(8);
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]!);
    });

    test("failAtRound fails the task with a readable error naming the round; the stack trace goes to the logs only", async () => {
      const created = await createTestTask(app, { rounds: 5, roundMs: 10, failAtRound: 3 });
      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("FAILED");
      expect(done.category).toBe("FAILED");
      expect(done.error).toMatch(/round 3\b/);
      expect(done.error).not.toMatch(/\n\s+at /);
      expect(done.error).not.toContain("    at ");
      expect(done.result).toBeNull();
      expect(done.progress).toMatchObject({ units: "rounds", completed: 3, total: 5 });

      const logs = await logsOf(app, created.id);
      const errors = logs.filter((l) => l.level === "ERROR");
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toBe("Failed at round 3, as asked (failAtRound)");
      // The stack is kept, in its own field, with paths relative to the project root (no server paths).
      expect(errors[0]!.stack).toContain("    at ");
      expect(errors[0]!.stack).toMatch(/\(src\/modules\/test\.ts:\d+:\d+\)/);
      expect(errors[0]!.stack).not.toContain(PROJECT_ROOT);
      expect(errors[0]!.task.id).toBe(created.id);
      expect(logs.filter((l) => l.level !== "ERROR").every((l) => l.stack === null)).toBe(true);
    });
  });

  describe("createTestTask refuses inputs out of bounds and creates nothing", () => {
    const cases: [string, Record<string, unknown>][] = [
      ["rounds 0", { rounds: 0 }],
      ["rounds 100,001", { rounds: 100_001 }],
      ["roundMs -1", { rounds: 1, roundMs: -1 }],
      ["roundMs 60,001", { rounds: 1, roundMs: 60_001 }],
      ["children 1,001", { rounds: 1, children: 1001 }],
      ["children -1", { rounds: 1, children: -1 }],
      ["steps 51", { rounds: 1, steps: 51 }],
      ["failAtRound beyond the rounds", { rounds: 5, failAtRound: 6 }],
      ["failAtRound 0", { rounds: 5, failAtRound: 0 }],
    ];
    test.each(cases)("%s → BAD_USER_INPUT, no task created", async (_name, input) => {
      const before = await taskCount(app);
      const result = await app.gql(CREATE_TEST_TASK, { input: { roundMs: 0, ...input } });
      expectRefused(result, "BAD_USER_INPUT");
      expect(result.errors![0]!.message).toMatch(/must be/);
      expect(await taskCount(app)).toBe(before);
    });
  });

  describe("Kafka Scheduled tasks: runAt", () => {
    test("runAt 2 s ahead: SCHEDULED and on the Scheduled tab, then it runs after its time", async () => {
      const runAt = new Date(Date.now() + 2_000);
      const created = await createTestTask(app, { rounds: 1, roundMs: 10, runAt: runAt.toISOString() });
      expect(created.state).toBe("SCHEDULED");
      expect(created.category).toBe("SCHEDULED");
      expect(Date.parse(created.scheduledFor)).toBe(runAt.getTime());
      expect(created.startedAt).toBeNull();

      const scheduled = await ok(app, `{ tasks(filter: { createdWithRunAt: true }) { totalCount edges { node { id state } } } }`);
      expect(scheduled.tasks.edges.map((e: any) => e.node)).toContainEqual({ id: created.id, state: "SCHEDULED" });
      const others = await ok(app, `{ tasks(filter: { createdWithRunAt: false }, first: 500) { edges { node { id } } } }`);
      expect(others.tasks.edges.map((e: any) => e.node.id)).not.toContain(created.id);

      const done = await waitForEnd(app, created.id, 20);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.result).toEqual({ rounds: 1 });
      expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(runAt.getTime());
      const transitions = (await app.store.events(created.id))
        .filter((e) => e.type === "STATE_CHANGED")
        .map((e) => `${(e.payload as any).from}→${(e.payload as any).to}`);
      expect(transitions).toEqual(["SCHEDULED→QUEUED", "QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    });

    test("runAt in the past runs at once (never SCHEDULED)", async () => {
      const runAt = new Date(Date.now() - 60_000);
      const created = await createTestTask(app, { rounds: 1, roundMs: 10, runAt: runAt.toISOString() });
      expect(["QUEUED", "RUNNING", "SUCCEEDED"]).toContain(created.state);
      const done = await waitForEnd(app, created.id, 10);
      expect(done.state).toBe("SUCCEEDED");
      const states = (await app.store.events(created.id)).filter((e) => e.type === "STATE_CHANGED").map((e) => (e.payload as any).from);
      expect(states).not.toContain("SCHEDULED");
    });
  });

  describe("startTask: the async variant of any defined operation", () => {
    test("returns the task at once; it runs to SUCCEEDED keeping target and labels", async () => {
      const created = await startTask(app, {
        module: "test",
        type: "count",
        input: { rounds: 2, roundMs: 10 },
        target: "t1",
        labels: { env: "dev" },
      });
      expect(created).toMatchObject({ module: { name: "test" }, type: "count", target: "t1", labels: { env: "dev" }, category: "PENDING" });
      expect(["QUEUED", "RUNNING"]).toContain(created.state);
      expect(created.endedAt).toBeNull();

      const done = await waitForEnd(app, created.id);
      expect(done).toMatchObject({ state: "SUCCEEDED", target: "t1", labels: { env: "dev" }, result: { rounds: 2 } });
      expect(done.progress).toEqual({ units: "rounds", total: 2, completed: 2, fraction: 1 });
      const found = await ok(app, `{ tasks(filter: { target: "t1", labels: { env: "dev" } }) { edges { node { id } } } }`);
      expect(found.tasks.edges.map((e: any) => e.node.id)).toEqual([created.id]);
    });

    test("an unknown module or type is NOT_FOUND; input the type refuses is BAD_USER_INPUT; nothing is created", async () => {
      const before = await taskCount(app);
      expectRefused(await app.gql(START_TASK, { input: { module: "no-such-module", type: "count", input: { rounds: 1 } } }), "NOT_FOUND");
      expectRefused(await app.gql(START_TASK, { input: { module: "test", type: "no-such-type", input: { rounds: 1 } } }), "NOT_FOUND");
      expectRefused(await app.gql(START_TASK, { input: { module: "test", type: "count", input: { rounds: 0 } } }), "BAD_USER_INPUT");
      expectRefused(await app.gql(START_TASK, { input: { module: "test", type: "count", input: "ten rounds" } }), "BAD_USER_INPUT");
      expectRefused(await app.gql(START_TASK, { input: { module: "test", type: "count" } }), "BAD_USER_INPUT");
      expectRefused(
        await app.gql(START_TASK, { input: { module: "test", type: "count", input: { rounds: 1 }, labels: { env: 3 } } }),
        "BAD_USER_INPUT",
      );
      expect(await taskCount(app)).toBe(before);
    });
  });

  describe("ScyllaDB task trees: cluster root, node children, internal grandchildren", () => {
    let root: any;
    let children: any[];
    let grandchildren: any[];

    beforeAll(async () => {
      const created = await createTestTask(app, { children: 3, rounds: 2, roundMs: 10 });
      root = await waitForEnd(app, created.id);
      const tree = await ok(app, `query ($id: ID!) { taskTree(id: $id, includeFolded: true) { ${TASK} } }`, { id: root.id });
      children = tree.taskTree.filter((t: any) => t.depth === 1);
      grandchildren = tree.taskTree.filter((t: any) => t.depth === 2);
    });

    test("the CLUSTER root succeeds once its node children have, with progress in children", async () => {
      expect(root).toMatchObject({ type: "tree", kind: "CLUSTER", state: "SUCCEEDED", isInternal: false, parent: null, depth: 0, node: null });
      expect(root.result).toEqual({ children: 3 });
      expect(root.progress).toEqual({ units: "children", total: 3, completed: 3, fraction: 1 });
    });

    test("children run on node-1..node-3 as NODE tasks, each with one internal grandchild on the same node", async () => {
      expect(children.map((c) => c.node)).toEqual(["node-1", "node-2", "node-3"]);
      for (const child of children) {
        expect(child).toMatchObject({ kind: "NODE", isInternal: false, state: "SUCCEEDED", parent: { id: root.id }, root: { id: root.id } });
        expect(child.result).toEqual({ rounds: 2 });
      }
      expect(grandchildren).toHaveLength(3);
      for (const [i, child] of children.entries()) {
        const mine = grandchildren.filter((g) => g.parent.id === child.id);
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ isInternal: true, state: "SUCCEEDED", type: "count", node: `node-${i + 1}`, root: { id: root.id }, depth: 2 });
      }
    });

    test("the whole tree shares the root's sequenceNumber; the next test task gets the next one", async () => {
      for (const t of [...children, ...grandchildren]) expect(t.sequenceNumber).toBe(root.sequenceNumber);
      const next = await createTestTask(app, { rounds: 1, roundMs: 0 });
      expect(next.sequenceNumber).toBe(root.sequenceNumber + 1);
      const module = await ok(app, `{ module(name: "test") { lastSequenceNumber } }`);
      expect(module.module.lastSequenceNumber).toBe(next.sequenceNumber);
      await waitForEnd(app, next.id);
    });

    test("tasks hides internal tasks unless includeInternal", async () => {
      const ids = async (filter: Record<string, unknown>) =>
        (await ok(app, `query ($filter: TaskFilter) { tasks(filter: $filter, first: 500) { edges { node { id } } } }`, { filter })).tasks.edges.map(
          (e: any) => e.node.id,
        );
      const visible = await ids({ module: "test" });
      const all = await ids({ module: "test", includeInternal: true });
      for (const g of grandchildren) {
        expect(visible).not.toContain(g.id);
        expect(all).toContain(g.id);
      }
      for (const c of children) expect(visible).toContain(c.id);
      expect(await ids({ parentId: children[0].id })).toEqual([]);
      expect(await ids({ parentId: children[0].id, includeInternal: true })).toEqual([grandchildren[0].id]);
      expect((await ids({ parentId: root.id })).sort()).toEqual(children.map((c) => c.id).sort());
    });

    test("children of a node task hide the internal grandchild unless includeInternal; childrenStatus lists it", async () => {
      const data = await ok(
        app,
        `query ($id: ID!) { task(id: $id) {
          hidden: children { totalCount edges { node { id } } }
          shown: children(includeInternal: true) { totalCount edges { node { id isInternal state } } }
          childrenStatus { task { id } type node state isInternal }
        } }`,
        { id: children[1].id },
      );
      const g = grandchildren.find((t) => t.parent.id === children[1].id);
      expect(data.task.hidden).toEqual({ totalCount: 0, edges: [] });
      expect(data.task.shown.totalCount).toBe(1);
      expect(data.task.shown.edges[0].node).toEqual({ id: g.id, isInternal: true, state: "SUCCEEDED" });
      expect(data.task.childrenStatus).toEqual([{ task: { id: g.id }, type: "count", node: "node-2", state: "SUCCEEDED", isInternal: true }]);

      const rootStatus = await ok(app, `query ($id: ID!) { task(id: $id) { childrenStatus { task { id } node state isInternal } } }`, { id: root.id });
      expect(rootStatus.task.childrenStatus).toEqual(children.map((c) => ({ task: { id: c.id }, node: c.node, state: "SUCCEEDED", isInternal: false })));
    });

    test("taskTree folds succeeded internal grandchildren; includeFolded shows them, breadth-first", async () => {
      const folded = await ok(app, `query ($id: ID!) { taskTree(id: $id) { id } }`, { id: root.id });
      expect(folded.taskTree.map((t: any) => t.id)).toEqual([root.id, ...children.map((c) => c.id)]);
      const full = await ok(app, `query ($id: ID!) { taskTree(id: $id, includeFolded: true) { id } }`, { id: root.id });
      const grandchildrenInOrder = children.map((c) => grandchildren.find((g) => g.parent.id === c.id).id);
      expect(full.taskTree.map((t: any) => t.id)).toEqual([root.id, ...children.map((c) => c.id), ...grandchildrenInOrder]);
      // descendants agree with taskTree
      const desc = await ok(app, `query ($id: ID!) { task(id: $id) { folded: descendants { id } all: descendants(includeFolded: true) { id } } }`, {
        id: root.id,
      });
      expect(desc.task.folded.map((t: any) => t.id)).toEqual(children.map((c) => c.id));
      expect(desc.task.all.map((t: any) => t.id)).toEqual([...children.map((c) => c.id), ...grandchildrenInOrder]);
    });

    test("a FAILED internal task stays visible in taskTree while a succeeded sibling is folded", async () => {
      app.manager.defineTask({
        module: "test",
        type: "broken-internal",
        run: () => {
          throw new Error("the internal piece broke");
        },
      });
      app.manager.defineTask({
        module: "test",
        type: "with-internals",
        async run(ctx) {
          await ctx.spawn("count", { rounds: 1, roundMs: 0 }, { internal: true, node: "node-9" });
          await ctx.spawn("broken-internal", undefined, { internal: true, node: "node-9" });
          const outcomes = await ctx.waitForChildren();
          return { states: outcomes.map((o) => o.state) };
        },
      });
      const created = await startTask(app, { module: "test", type: "with-internals" });
      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.result).toEqual({ states: ["SUCCEEDED", "FAILED"] });

      const data = await ok(
        app,
        `query ($id: ID!) {
          folded: taskTree(id: $id) { id type state isInternal error }
          full: taskTree(id: $id, includeFolded: true) { id type state }
          task(id: $id) { childrenStatus { type state isInternal } children { totalCount } }
        }`,
        { id: created.id },
      );
      expect(data.folded.map((t: any) => [t.type, t.state])).toEqual([
        ["with-internals", "SUCCEEDED"],
        ["broken-internal", "FAILED"],
      ]);
      expect(data.folded[1].isInternal).toBe(true);
      expect(data.folded[1].error).toBe("the internal piece broke");
      expect(data.full.map((t: any) => [t.type, t.state])).toEqual([
        ["with-internals", "SUCCEEDED"],
        ["count", "SUCCEEDED"],
        ["broken-internal", "FAILED"],
      ]);
      expect(data.task.childrenStatus).toEqual([
        { type: "count", state: "SUCCEEDED", isInternal: true },
        { type: "broken-internal", state: "FAILED", isInternal: true },
      ]);
      expect(data.task.children.totalCount).toBe(0);
    });

    test("a tree with failAtRound fails its first node task, and the root FAILED", async () => {
      const created = await createTestTask(app, { children: 2, rounds: 3, roundMs: 10, failAtRound: 2 });
      expect(created.kind).toBe("CLUSTER");
      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("FAILED");
      expect(done.error).toMatch(/1 of 2/);
      expect(done.error).not.toContain("    at ");

      // Let any internal grandchild left behind finish before looking at the whole tree.
      const tree = await eventually("the whole tree to end", async () => {
        const data = await ok(app, `query ($id: ID!) { taskTree(id: $id, includeFolded: true) { id node depth state error isInternal } }`, {
          id: created.id,
        });
        return data.taskTree.every((t: any) => ENDED.includes(t.state)) && data.taskTree;
      });
      const nodes = tree.filter((t: any) => t.depth === 1);
      expect(nodes.map((t: any) => [t.node, t.state])).toEqual([
        ["node-1", "FAILED"],
        ["node-2", "SUCCEEDED"],
      ]);
      expect(nodes[0].error).toMatch(/round 2\b/);
      const folded = await ok(app, `query ($id: ID!) { taskTree(id: $id) { id } }`, { id: created.id });
      expect(folded.taskTree.map((t: any) => t.id)).toEqual([created.id, ...nodes.map((t: any) => t.id)]);
    });
  });

  describe("ScyllaDB wait: waitForTask", () => {
    test("resolves with the task once it has ended", async () => {
      const created = await createTestTask(app, { rounds: 3, roundMs: 50 });
      const done = await waitForEnd(app, created.id, 10);
      expect(done).toMatchObject({ id: created.id, state: "SUCCEEDED", result: { rounds: 3 } });
      expect(done.endedAt).not.toBeNull();
      // Waiting again on an ended task returns at once, even with a 0 s timeout.
      expect((await waitForEnd(app, created.id, 0)).state).toBe("SUCCEEDED");
    });

    test("TIMEOUT while the task is still running after timeoutSeconds", async () => {
      const created = await createTestTask(app, { rounds: 100, roundMs: 100 });
      try {
        const result = await app.gql(WAIT, { id: created.id, timeout: 1 });
        expectRefused(result, "TIMEOUT");
        expect(result.errors![0]!.message).toContain(created.id);
        const now = await getTask(app, created.id);
        expect(now.category).toBe("PENDING");
      } finally {
        await abortQuietly(app, created.id);
      }
      expect((await waitForEnd(app, created.id, 10)).state).toBe("CANCELED");
    });

    test("timeoutSeconds out of range is BAD_USER_INPUT; an unknown id is NOT_FOUND", async () => {
      const created = await createTestTask(app, { rounds: 1, roundMs: 0 });
      expectRefused(await app.gql(WAIT, { id: created.id, timeout: -1 }), "BAD_USER_INPUT");
      expectRefused(await app.gql(WAIT, { id: created.id, timeout: 100_000 }), "BAD_USER_INPUT");
      expectRefused(await app.gql(WAIT, { id: UNKNOWN_ID, timeout: 1 }), "NOT_FOUND");
      expectRefused(await app.gql(WAIT, { id: "not-a-uuid", timeout: 1 }), "BAD_USER_INPUT");
      await waitForEnd(app, created.id);
    });
  });

  describe("workers", () => {
    test("lists the running worker, alive, with its concurrency", async () => {
      const data = await ok(app, `{ workers { name host pid concurrency alive startedAt heartbeatAt } }`);
      expect(data.workers).toHaveLength(1);
      expect(data.workers[0]).toMatchObject({
        name: app.manager.workerName,
        pid: process.pid,
        concurrency: app.config.concurrency,
        alive: true,
      });
      expect(data.workers[0].concurrency).toBeGreaterThan(0);
      expect(Date.parse(data.workers[0].heartbeatAt)).toBeGreaterThanOrEqual(Date.parse(data.workers[0].startedAt));
    });
  });

  describe("progress writes are coalesced", () => {
    test("10,000 progress.set calls in a tight loop store the final value with few PROGRESSED events", async () => {
      app.manager.defineTask({
        module: "test",
        type: "tight-progress",
        progressUnits: "items",
        run(ctx) {
          for (let i = 1; i <= 10_000; i++) ctx.progress.set(i, 10_000);
          return { done: true };
        },
      });
      const created = await startTask(app, { module: "test", type: "tight-progress" });
      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.progress).toEqual({ units: "items", total: 10_000, completed: 10_000, fraction: 1 });
      const progressed = (await app.store.events(created.id)).filter((e) => e.type === "PROGRESSED");
      expect(progressed.length).toBeGreaterThanOrEqual(1);
      expect(progressed.length).toBeLessThan(100);
      expect(progressed.at(-1)!.payload).toEqual({ completed: 10_000, total: 10_000 });
    });

    test("progress reported over time is written about ten times a second at most, the last value always", async () => {
      let elapsedMs = 0;
      app.manager.defineTask({
        module: "test",
        type: "steady-progress",
        progressUnits: "items",
        async run(ctx) {
          const started = Date.now();
          for (let i = 1; i <= 10_000; i++) {
            ctx.progress.add(1);
            if (i % 200 === 0) await pause(10);
          }
          elapsedMs = Date.now() - started;
          return null;
        },
      });
      const created = await startTask(app, { module: "test", type: "steady-progress" });
      const done = await waitForEnd(app, created.id);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.progress).toMatchObject({ units: "items", completed: 10_000 });
      const progressed = (await app.store.events(created.id)).filter((e) => e.type === "PROGRESSED");
      expect(progressed.length).toBeGreaterThanOrEqual(2);
      // One write per started 100 ms window, plus the first and the final flush.
      expect(progressed.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 100) + 2);
      expect((progressed.at(-1)!.payload as any).completed).toBe(10_000);
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe("ScyllaDB task_ttl / user_task_ttl and drain", () => {
  let app: TestApp;
  const SETTINGS = `{ settings { taskTtlSeconds userTaskTtlSeconds } }`;
  const SET_TTL = `mutation ($ttl: Int, $user: Int) { setTaskTtl(ttlSeconds: $ttl, userTtlSeconds: $user) { taskTtlSeconds userTaskTtlSeconds } }`;
  const DRAIN = `mutation ($module: String!) { drainModule(module: $module) { deletedCount deletedIds } }`;

  beforeAll(async () => {
    app = await startTestApp({ worker: WORKER });
  });
  afterAll(() => app?.stop());

  const exists = async (id: string) => {
    const result = await app.gql(`query ($id: ID!) { task(id: $id) { id } }`, { id });
    expect(result.errors).toBeUndefined();
    return result.data!.task !== null;
  };

  test("settings start from the configured defaults (a day for system tasks, a week for user tasks)", async () => {
    const config = testConfig();
    expect((await ok(app, SETTINGS)).settings).toEqual({ taskTtlSeconds: config.taskTtlSeconds, userTaskTtlSeconds: config.userTaskTtlSeconds });
    expect(config.taskTtlSeconds).toBe(86_400);
    expect(config.userTaskTtlSeconds).toBe(604_800);
  });

  test("drainModule removes the module's finished trees now and leaves pending tasks", async () => {
    const a = await createTestTask(app, { rounds: 1, roundMs: 0 });
    const b = await createTestTask(app, { rounds: 2, roundMs: 0, failAtRound: 1 });
    const tree = await createTestTask(app, { rounds: 1, roundMs: 0, children: 1 });
    for (const t of [a, b, tree]) await waitForEnd(app, t.id);
    const treeIds = (await ok(app, `query ($id: ID!) { taskTree(id: $id, includeFolded: true) { id } }`, { id: tree.id })).taskTree.map(
      (t: any) => t.id,
    );
    expect(treeIds).toHaveLength(3);
    const scheduled = await createTestTask(app, { rounds: 1, roundMs: 0, runAt: new Date(Date.now() + 3_600_000).toISOString() });
    const running = await createTestTask(app, { rounds: 100, roundMs: 100 });
    await eventually("the long task to run", async () => (await getTask(app, running.id)).state === "RUNNING");
    try {
      const drained = (await ok(app, DRAIN, { module: "test" })).drainModule;
      expect(drained.deletedCount).toBe(5);
      expect([...drained.deletedIds].sort()).toEqual([a.id, b.id, ...treeIds].sort());
      for (const id of [a.id, b.id, ...treeIds]) expect(await exists(id)).toBe(false);
      expect((await getTask(app, scheduled.id)).state).toBe("SCHEDULED");
      expect((await getTask(app, running.id)).state).toBe("RUNNING");
      // Nothing left to drain.
      expect((await ok(app, DRAIN, { module: "test" })).drainModule).toEqual({ deletedCount: 0, deletedIds: [] });
    } finally {
      await abortQuietly(app, running.id);
      await abortQuietly(app, scheduled.id);
    }
    for (const t of [running, scheduled]) expect((await waitForEnd(app, t.id)).state).toBe("CANCELED");
    expect((await ok(app, DRAIN, { module: "test" })).drainModule.deletedCount).toBe(2);
  });

  test("drainModule of an unknown module is NOT_FOUND", async () => {
    expectRefused(await app.gql(DRAIN, { module: "no-such-module" }), "NOT_FOUND");
  });

  test("setTaskTtl refuses a negative TTL and changes nothing", async () => {
    const before = (await ok(app, SETTINGS)).settings;
    expectRefused(await app.gql(SET_TTL, { ttl: -1 }), "BAD_USER_INPUT");
    expectRefused(await app.gql(SET_TTL, { user: -1 }), "BAD_USER_INPUT");
    expectRefused(await app.gql(SET_TTL, { ttl: 10, user: -5 }), "BAD_USER_INPUT");
    expect((await ok(app, SETTINGS)).settings).toEqual(before);
  });

  test("ttlSeconds 0 removes a finished system-started task at once; user-started ones are kept for userTtl", async () => {
    const user = await createTestTask(app, { rounds: 1, roundMs: 0 });
    await waitForEnd(app, user.id);
    expect((await ok(app, SET_TTL, { ttl: 0 })).setTaskTtl).toEqual({ taskTtlSeconds: 0, userTaskTtlSeconds: 604_800 });
    // A task the system started (not through the API): the system TTL applies.
    const system = await app.store.createTask({ module: "test", type: "count", input: { rounds: 1, roundMs: 0 }, isUserTask: false });
    await eventually("the system task to be reaped", async () => !(await exists(system.id)));
    const journal = await app.store.events(system.id);
    expect(journal.some((e) => e.type === "STATE_CHANGED" && (e.payload as any).to === "SUCCEEDED")).toBe(true);
    expect(journal.at(-1)!.type).toBe("DELETED");
    expect(await exists(user.id)).toBe(true);
  });

  test("userTtlSeconds 0 removes a finished user task shortly after it ends, and the setting persists", async () => {
    const set = (await ok(app, SET_TTL, { user: 0 })).setTaskTtl;
    expect(set).toEqual({ taskTtlSeconds: 0, userTaskTtlSeconds: 0 });
    expect((await ok(app, SETTINGS)).settings).toEqual(set);
    // Stored, not remembered by this process: a fresh store on the same database reads the same.
    expect(await new Store(app.db, testConfig()).settings()).toEqual(set);

    const created = await createTestTask(app, { rounds: 2, roundMs: 10 });
    await eventually("the finished user task to be reaped", async () => !(await exists(created.id)), 10_000);
    const journal = await app.store.events(created.id);
    expect(journal.filter((e) => e.type === "STATE_CHANGED").map((e) => (e.payload as any).to)).toEqual(["RUNNING", "SUCCEEDED"]);
    expect(journal.at(-1)!.type).toBe("DELETED");
    expect((await ok(app, GET_TASK, { id: created.id })).task).toBeNull();

    // Pending tasks are never reaped, whatever the TTL.
    const later = await createTestTask(app, { rounds: 1, roundMs: 0, runAt: new Date(Date.now() + 3_600_000).toISOString() });
    await pause(500); // several housekeeping rounds
    expect((await getTask(app, later.id)).state).toBe("SCHEDULED");
  });
});

// ------------------------------------------------------------------------------------------------

describe("library embedding (README): createTaskManager, defineTask, createServer", () => {
  test("a program defines its own module and task type, starts a task, waits for it and serves it over GraphQL", async () => {
    const db = await openTestDatabase();
    const config = testConfig();
    const manager = createTaskManager({ config, db });
    let server: Awaited<ReturnType<typeof createServer>> | undefined;
    try {
      manager.defineModule({ name: "inventory", description: "Warehouse inventory jobs" });
      const reindex = defineTask<{ items: number }>({
        module: "inventory",
        type: "reindex",
        description: "Rebuilds the search index of a warehouse",
        progressUnits: "items",
        name: (input) => `Reindex ${input.items} items`,
        async run(ctx) {
          ctx.log.info(`reindexing ${ctx.input.items} items of ${ctx.task.target}`);
          for (let i = 1; i <= ctx.input.items; i++) ctx.progress.set(i, ctx.input.items);
          ctx.log.warn("2 items had no barcode");
          return { indexed: ctx.input.items, warehouse: ctx.task.target };
        },
      });
      expect(manager.defineTask(reindex)).toBe(reindex);
      await manager.start();

      const task = await manager.startTask({ module: "inventory", type: "reindex", input: { items: 3 }, target: "warehouse-1" });
      expect(task.state).toBe("QUEUED");
      expect(task.name).toBe("Reindex 3 items");
      const done = await manager.waitForTask(task.id, 10);
      expect(done.state).toBe("SUCCEEDED");
      expect(done.result).toEqual({ indexed: 3, warehouse: "warehouse-1" });
      expect(done.progressCompleted).toBe(3);

      server = await createServer(manager);
      const { url } = await server.start(0);
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `query ($id: ID!) {
            task(id: $id) { id module { name } type name state target result progress { units completed total fraction }
              logs { edges { node { level message task { id } } } } }
            module(name: "inventory") { name description totalTasks }
          }`,
          variables: { id: task.id },
        }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as any;
      expect(body.errors).toBeUndefined();
      expect(body.data.task).toMatchObject({
        id: task.id,
        module: { name: "inventory" },
        type: "reindex",
        name: "Reindex 3 items",
        state: "SUCCEEDED",
        target: "warehouse-1",
        result: { indexed: 3, warehouse: "warehouse-1" },
        progress: { units: "items", completed: 3, total: 3, fraction: 1 },
      });
      expect(body.data.task.logs.edges.map((e: any) => e.node)).toEqual([
        { level: "INFO", message: "reindexing 3 items of warehouse-1", task: { id: task.id } },
        { level: "WARN", message: "2 items had no barcode", task: { id: task.id } },
      ]);
      expect(body.data.module).toEqual({ name: "inventory", description: "Warehouse inventory jobs", totalTasks: 1 });

      // A task started over GraphQL runs here too.
      const started = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `mutation { startTask(input: { module: "inventory", type: "reindex", input: { items: 1 } }) { id } }` }),
      });
      const startedBody = (await started.json()) as any;
      expect(startedBody.errors).toBeUndefined();
      expect((await manager.waitForTask(startedBody.data.startTask.id, 10)).result).toEqual({ indexed: 1, warehouse: null });
    } finally {
      await server?.stop();
      await manager.stop();
      await db.close();
    }
  });

  test("a task type of a new module defined after start() can be started at once", async () => {
    const db = await openTestDatabase();
    const manager = createTaskManager({ config: testConfig(), db });
    try {
      await manager.start();
      manager.defineTask(
        defineTask<{ n: number }>({
          module: "billing",
          type: "invoice",
          async run(ctx) {
            return { invoiced: ctx.input.n };
          },
        }),
      );
      const task = await manager.startTask({ module: "billing", type: "invoice", input: { n: 2 } });
      expect(task.moduleName).toBe("billing");
      expect((await manager.waitForTask(task.id, 10)).result).toEqual({ invoiced: 2 });
    } finally {
      await manager.stop();
      await db.close();
    }
  });
});
