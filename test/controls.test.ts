// End-to-end behaviour of the control mutations (their states and codes as the README states): abortTask, deleteTask,
// retryTask, rerunStep, markStepSucceeded, terminateStep and availableActions, driven through
// GraphQL against an app with a running worker, on whichever store the run was started for
// (PGlite, or PostgreSQL with TEST_DATABASE_URL). Each test is named after the behaviour of the
// source system it checks. No mocks and no timing assertions: a task is caught RUNNING by giving
// it long rounds and polling (bounded) until it is; everything else waits for an end.
import type { ExecutionResult } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { codes, startTestApp, type TestApp } from "./support/app";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = <T>(items: readonly T[]) => [...items].sort();
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

// ── what the tests read ─────────────────────────────────────────────────────────────────────────

interface AttemptView {
  number: number;
  kind: "EXECUTE" | "RETRY" | "ROLLBACK";
  state: string;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
  logs: string[];
}
interface StepView {
  key: string;
  index: number;
  state: string;
  error: string | null;
  availableActions: string[];
  attempts: AttemptView[];
}
interface LogView {
  level: string;
  message: string;
  step: string | null;
  attemptKind: string | null;
}
interface TaskView {
  id: string;
  state: string;
  category: string;
  error: string | null;
  version: number;
  isAbortable: boolean;
  availableActions: string[];
  endedAt: string | null;
  result: unknown;
  progress: { completed: number; total: number | null };
  steps: StepView[];
  logs: LogView[];
}

const TASK = `query ($id: ID!) {
  task(id: $id) {
    id state category error version isAbortable availableActions endedAt result
    progress { completed total }
    steps {
      key index state error availableActions
      attempts { number kind state startedAt endedAt error logs(first: 100) { edges { node { message } } } }
    }
    logs(first: 500) { edges { node { level message step { key } attempt { kind } } } }
  }
}`;

/** Light enough to poll. */
const PEEK = `query ($id: ID!) { task(id: $id) { id state version availableActions steps { key state availableActions } } }`;
type Peek = { id: string; state: string; version: number; availableActions: string[]; steps: { key: string; state: string; availableActions: string[] }[] };

const TREE = `query ($id: ID!) { taskTree(id: $id, includeFolded: true) { id type state error isInternal depth } }`;
type TreeMember = { id: string; type: string; state: string; error: string | null; isInternal: boolean; depth: number };

const WAIT = `query ($id: ID!, $timeout: Int) { waitForTask(id: $id, timeoutSeconds: $timeout) { id state } }`;

const M = {
  create: `mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id state } }`,
  start: `mutation ($input: StartTaskInput!) { startTask(input: $input) { id state } }`,
  abort: `mutation ($id: ID!, $rollback: Boolean) { abortTask(id: $id, rollback: $rollback) { id state error endedAt availableActions } }`,
  delete: `mutation ($id: ID!, $force: Boolean) { deleteTask(id: $id, force: $force) { deleted deletedIds task { id state error availableActions } } }`,
  retry: `mutation ($id: ID!) { retryTask(id: $id) { id state error } }`,
  rerun: `mutation ($taskId: ID!, $stepKey: String!) { rerunStep(taskId: $taskId, stepKey: $stepKey) { id state error } }`,
  mark: `mutation ($taskId: ID!, $stepKey: String!) { markStepSucceeded(taskId: $taskId, stepKey: $stepKey) { id state error steps { key state } } }`,
  terminate: `mutation ($taskId: ID!, $stepKey: String!) { terminateStep(taskId: $taskId, stepKey: $stepKey) { id state error steps { key state error } } }`,
};

const step = (task: { steps: StepView[] }, key: string): StepView => {
  const found = task.steps.find((s) => s.key === key);
  if (!found) throw new Error(`no step ${key} in ${JSON.stringify(task.steps.map((s) => s.key))}`);
  return found;
};
const peekStep = (task: Peek, key: string) => task.steps.find((s) => s.key === key)!;
/** Attempts as [kind, state] pairs, in the order they started. */
const attemptsOf = (task: TaskView, key: string) => step(task, key).attempts.map((a) => [a.kind, a.state]);
const rollbacks = (task: TaskView) => task.steps.flatMap((s) => s.attempts.filter((a) => a.kind === "ROLLBACK").map((a) => ({ key: s.key, ...a })));
/** What a failed expectation on a task's state shows: its error, steps and attempts. */
const summary = (task: any) =>
  JSON.stringify({
    state: task?.state,
    error: task?.error,
    steps: task?.steps?.map((s: any) => [s.key, s.state, s.error, s.attempts?.map((a: any) => `${a.kind}:${a.state}:${a.error ?? ""}:${a.endedAt ? Date.parse(a.endedAt) - Date.parse(a.startedAt) : "?"}ms`)]),
  });
/** Index in the task's log (oldest first) of the first line with this text; -1 when absent. */
const logIndex = (task: TaskView, text: string) => task.logs.findIndex((l) => l.message.includes(text));

/** A GraphQL client over one app: reads, mutations, and bounded waits. */
function consoleOf(app: TestApp) {
  async function ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const result = await app.gql(query, variables);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data as T;
  }
  async function refused(query: string, variables: Record<string, unknown>, code: string): Promise<ExecutionResult> {
    const result = await app.gql(query, variables);
    expect(codes(result), `${JSON.stringify(variables)} should be refused with ${code}`).toEqual([code]);
    expect(result.data ?? null).toBeNull();
    return result;
  }
  async function read(id: string): Promise<TaskView> {
    const { task } = await ok(TASK, { id });
    return {
      ...task,
      steps: task.steps.map((s: any) => ({ ...s, attempts: s.attempts.map((a: any) => ({ ...a, logs: a.logs.edges.map((e: any) => e.node.message) })) })),
      logs: task.logs.edges.map((e: any) => ({ level: e.node.level, message: e.node.message, step: e.node.step?.key ?? null, attemptKind: e.node.attempt?.kind ?? null })),
    };
  }
  async function peek(id: string): Promise<Peek> {
    return (await ok(PEEK, { id })).task;
  }
  async function tree(id: string): Promise<TreeMember[]> {
    return (await ok(TREE, { id })).taskTree;
  }
  async function create(input: Record<string, unknown>): Promise<string> {
    return (await ok(M.create, { input })).createTestTask.id;
  }
  /** Polls (bounded) until the predicate holds; fails with what was last seen. */
  async function until<T>(look: () => Promise<T>, predicate: (seen: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await look();
      if (predicate(seen)) return seen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(seen)}`);
      await pause(20);
    }
  }
  /** Waits (bounded) until the task's step is RUNNING (and with it the task). */
  function untilStepRunning(id: string, key: string) {
    return until(() => peek(id), (t) => t.state === "RUNNING" && peekStep(t, key)?.state === "RUNNING", `${key} of ${id} to run`);
  }
  /** waitForTask, then the whole task. */
  async function settle(id: string, timeoutSeconds = 20): Promise<TaskView> {
    await ok(WAIT, { id, timeout: timeoutSeconds });
    return read(id);
  }
  /** A flow that failed at step-`failAt` (of `steps`), quickly. */
  async function failedFlow(steps = 3, failAt = 2, extra: Record<string, unknown> = {}): Promise<string> {
    const id = await create({ rounds: 1, roundMs: 5, steps, failAtRound: failAt, ...extra });
    const task = await settle(id);
    expect(task.state, summary(task)).toBe("FAILED");
    expect(step(task, `step-${failAt}`).state, summary(task)).toBe("FAILED");
    return id;
  }
  /** Waits for the task to end, in this state. */
  async function expectEnd(id: string, state: string): Promise<TaskView> {
    const task = await settle(id);
    expect(task.state, summary(task)).toBe(state);
    return task;
  }
  async function expectGone(id: string) {
    expect((await ok(`query ($id: ID!) { task(id: $id) { id } }`, { id })).task).toBeNull();
  }
  return { app, ok, refused, read, peek, tree, create, until, untilStepRunning, settle, failedFlow, expectEnd, expectGone };
}
type Console = ReturnType<typeof consoleOf>;

// ── the apps ────────────────────────────────────────────────────────────────────────────────────

let app: TestApp;
/** No worker: tasks stay QUEUED for as long as a test needs. */
let idleApp: TestApp;
let c: Console;
let idle: Console;

/**
 * The "stubborn" task type: its first step ignores its AbortSignal (it only notes that it fired)
 * and returns when the test opens its gate; the second step must never start after an abort.
 */
const stubborn = new Map<string, { sawAbort: boolean; returnedAt: number | null; open: () => void; gate: Promise<void> }>();
const stubbornAfterRan = new Set<string>();
function stubbornGate(taskId: string) {
  let entry = stubborn.get(taskId);
  if (!entry) {
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    entry = { sawAbort: false, returnedAt: null, open, gate };
    stubborn.set(taskId, entry);
  }
  return entry;
}

beforeAll(async () => {
  [app, idleApp] = await Promise.all([startTestApp({ worker: { pollMs: 200, housekeepingMs: 100, leaseMs: 15_000 } }), startTestApp()]);
  c = consoleOf(app);
  idle = consoleOf(idleApp);
  app.manager.defineTask({
    module: "test",
    type: "stubborn",
    description: "A flow whose first step ignores its AbortSignal.",
    steps: [
      {
        key: "slow",
        name: "Works on, ignoring its AbortSignal",
        async run(ctx) {
          const entry = stubbornGate(ctx.task.id);
          ctx.signal.addEventListener("abort", () => (entry.sawAbort = true), { once: true });
          ctx.log.info("working; this step does not listen to its AbortSignal");
          await Promise.race([entry.gate, pause(20_000)]); // never ctx.signal
          entry.returnedAt = Date.now();
          ctx.log.info("returning after the abort signal fired");
        },
      },
      {
        key: "after",
        name: "Must not start once the task is aborted",
        run(ctx) {
          stubbornAfterRan.add(ctx.task.id);
        },
      },
    ],
  });
});

afterAll(async () => {
  for (const entry of stubborn.values()) entry.open();
  await Promise.all([app?.stop(), idleApp?.stop()]);
});

// ── abortTask ───────────────────────────────────────────────────────────────────────────────────

describe("abortTask", () => {
  test("ScyllaDB abort: a running flow becomes CANCELED, its running step is interrupted and no further step starts", async () => {
    const id = await c.create({ rounds: 3, roundMs: 250, steps: 3 });
    await c.untilStepRunning(id, "step-2");

    const { abortTask } = await c.ok(M.abort, { id });
    expect(abortTask.id).toBe(id);
    expect(abortTask.availableActions).not.toContain("ABORT"); // accepted once

    const end = await c.settle(id);
    expect(end.state, summary(end)).toBe("CANCELED");
    expect(end.category).toBe("FAILED");
    expect(end.error).toBe("Aborted");
    expect(end.endedAt).not.toBeNull();
    expect(end.availableActions).toEqual(["DELETE"]);
    expect(step(end, "step-1").state).toBe("SUCCEEDED");
    expect(attemptsOf(end, "step-1")).toEqual([["EXECUTE", "SUCCEEDED"]]);
    // The running step got its AbortSignal and stopped (cooperatively) without completing.
    expect(step(end, "step-2").state).toBe("FAILED");
    expect(attemptsOf(end, "step-2")).toEqual([["EXECUTE", "FAILED"]]);
    expect(step(end, "step-3").state).toBe("WAITING");
    expect(step(end, "step-3").attempts).toEqual([]);
    expect(rollbacks(end)).toEqual([]); // no rollback was asked for
    expect(end.logs.some((l) => l.level === "WARN" && l.message.startsWith("Abort requested"))).toBe(true);
  });

  test("ScyllaDB abort cascades: aborting a running tree cancels every descendant, internal ones included", async () => {
    const id = await c.create({ rounds: 50, roundMs: 100, children: 2 });
    // Root, two node tasks and their two internal grandchildren, all running.
    const members = await c.until(() => c.tree(id), (t) => t.length === 5 && t.every((m) => m.state === "RUNNING"), "the whole tree to run");
    expect(members.filter((m) => m.isInternal)).toHaveLength(2);
    expect(members.filter((m) => m.depth === 1).map((m) => m.type)).toEqual(["node-count", "node-count"]);

    await c.ok(M.abort, { id });

    for (const member of members) {
      const end = await c.settle(member.id);
      expect(end.state, `${member.type} at depth ${member.depth}`).toBe("CANCELED");
      expect(end.error).toBe("Aborted");
      expect(end.logs.some((l) => l.message.startsWith("Abort requested"))).toBe(true);
    }
    expect((await c.tree(id)).map((m) => m.state)).toEqual(["CANCELED", "CANCELED", "CANCELED", "CANCELED", "CANCELED"]);
  });

  test("ScyllaDB: aborting a running task whose type is not abortable is refused with NOT_ABORTABLE and it runs on to the end", async () => {
    const id = await c.create({ rounds: 4, roundMs: 200, steps: 2, abortable: false });
    await c.untilStepRunning(id, "step-1");
    const before = await c.peek(id);
    expect(before.availableActions).toEqual([]);

    await c.refused(M.abort, { id }, "NOT_ABORTABLE");
    await c.refused(M.abort, { id, rollback: true }, "NOT_ABORTABLE");

    const now = await c.read(id);
    expect(now.state, summary(now)).toBe("RUNNING");
    expect(now.isAbortable).toBe(false);
    expect(now.logs.some((l) => l.message.startsWith("Abort requested"))).toBe(false);
    const end = await c.settle(id);
    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(rollbacks(end)).toEqual([]);
  });

  test("ScyllaDB: a QUEUED task that is not abortable is refused with NOT_ABORTABLE and nothing changes", async () => {
    const id = await idle.create({ rounds: 1, roundMs: 0, abortable: false });
    const before = await idle.read(id);
    expect(before.state, summary(before)).toBe("QUEUED");
    await idle.refused(M.abort, { id }, "NOT_ABORTABLE");
    const after = await idle.read(id);
    expect(after.state, summary(after)).toBe("QUEUED");
    expect(after.version).toBe(before.version);
    expect(after.logs).toEqual(before.logs);
  });

  test("abort before it runs: a QUEUED task (and its waiting steps) is CANCELED at once", async () => {
    const id = await idle.create({ rounds: 1, roundMs: 0, steps: 2 });
    expect((await idle.peek(id)).state).toBe("QUEUED");
    const { abortTask } = await idle.ok(M.abort, { id, rollback: true });
    expect(abortTask.state, summary(abortTask)).toBe("CANCELED");
    expect(abortTask.error).toBe("Aborted");
    expect(abortTask.endedAt).not.toBeNull();
    const task = await idle.read(id);
    expect(task.state, summary(task)).toBe("CANCELED");
    expect(task.steps.map((s) => [s.state, s.attempts.length])).toEqual([
      ["WAITING", 0],
      ["WAITING", 0],
    ]);
  });

  test("Kafka scheduled tasks: a SCHEDULED task (runAt in the future) is CANCELED at once and never runs", async () => {
    const { createTestTask } = await c.ok(M.create, { input: { rounds: 1, roundMs: 0, runAt: inAnHour() } });
    expect(createTestTask.state, summary(createTestTask)).toBe("SCHEDULED");
    const { abortTask } = await c.ok(M.abort, { id: createTestTask.id });
    expect(abortTask.state, summary(abortTask)).toBe("CANCELED");
    expect(abortTask.error).toBe("Aborted");
    await pause(300); // a few housekeeping rounds of the worker
    const task = await c.read(createTestTask.id);
    expect(task.state, summary(task)).toBe("CANCELED");
    expect(task.progress.completed).toBe(0);
  });

  test("abortTask(rollback: true) on a running flow rolls the completed steps back in reverse order, then CANCELED", async () => {
    const id = await c.create({ rounds: 3, roundMs: 250, steps: 4 });
    await c.untilStepRunning(id, "step-3");

    await c.ok(M.abort, { id, rollback: true });
    const end = await c.settle(id);

    expect(end.state, summary(end)).toBe("CANCELED");
    expect(end.error).toBe("Aborted");
    for (const key of ["step-1", "step-2"]) {
      expect(step(end, key).state, key).toBe("ROLLED_BACK");
      expect(attemptsOf(end, key), key).toEqual([
        ["EXECUTE", "SUCCEEDED"],
        ["ROLLBACK", "SUCCEEDED"],
      ]);
      const n = key.slice(-1);
      expect(step(end, key).attempts[1]!.logs).toContain(`Rolled back step ${n}`);
    }
    // The interrupted step had not completed: it is not rolled back; the last one never started.
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "FAILED"]]);
    expect(step(end, "step-4").state).toBe("WAITING");
    expect(step(end, "step-4").attempts).toEqual([]);
    // Reverse order: step-2's rollback ran (and ended) before step-1's started.
    const [second, first] = [step(end, "step-2").attempts[1]!, step(end, "step-1").attempts[1]!];
    expect(Date.parse(second.startedAt)).toBeLessThanOrEqual(Date.parse(first.startedAt));
    expect(Date.parse(second.endedAt!)).toBeLessThanOrEqual(Date.parse(first.startedAt));
    expect(rollbacks(end).map((r) => r.key).sort()).toEqual(["step-1", "step-2"]);
    expect(logIndex(end, "Rolled back step 2")).toBeGreaterThanOrEqual(0);
    expect(logIndex(end, "Rolled back step 2")).toBeLessThan(logIndex(end, "Rolled back step 1"));
    expect(end.logs.find((l) => l.message === "Rolled back step 1")).toMatchObject({ step: "step-1", attemptKind: "ROLLBACK" });
  });

  test("OCP Abort Task on a FAILED flow rolls back every step from the failed one back to the first, then CANCELED", async () => {
    const id = await c.failedFlow(4, 3); // step-1, step-2 succeeded; step-3 failed; step-4 waiting
    const failed = await c.read(id);
    expect(failed.error).toContain('Step "step-3" failed');
    expect(failed.availableActions.sort()).toEqual(["ABORT", "DELETE", "RETRY"]);

    const { abortTask } = await c.ok(M.abort, { id });
    // The answer is the task after the abort committed: still being rolled back (nothing else
    // allowed meanwhile), or, when the worker was quicker than the answer, already CANCELED.
    if (abortTask.state === "FAILED") expect(abortTask.availableActions).toEqual([]);
    else expect([abortTask.state, abortTask.availableActions]).toEqual(["CANCELED", ["DELETE"]]);
    const end = await c.settle(id);

    expect(end.state, summary(end)).toBe("CANCELED");
    expect(end.error).toContain("Aborted after failure");
    expect(attemptsOf(end, "step-1")).toEqual([["EXECUTE", "SUCCEEDED"], ["ROLLBACK", "SUCCEEDED"]]);
    expect(attemptsOf(end, "step-2")).toEqual([["EXECUTE", "SUCCEEDED"], ["ROLLBACK", "SUCCEEDED"]]);
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "FAILED"], ["ROLLBACK", "SUCCEEDED"]]);
    expect(end.steps.map((s) => s.state)).toEqual(["ROLLED_BACK", "ROLLED_BACK", "ROLLED_BACK", "WAITING"]);
    expect(step(end, "step-4").attempts).toEqual([]);
    // From the failed one back to the first.
    const order = [3, 2, 1].map((n) => logIndex(end, `Rolled back step ${n}`));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const started = ["step-3", "step-2", "step-1"].map((k) => Date.parse(step(end, k).attempts[1]!.startedAt));
    expect(started).toEqual([...started].sort((a, b) => a - b));
  });

  test("aborting a task that has ended (SUCCEEDED, CANCELED) is refused with INVALID_STATE and changes nothing", async () => {
    const done = await c.create({ rounds: 1, roundMs: 0 });
    await c.expectEnd(done, "SUCCEEDED");
    const { createTestTask: scheduled } = await c.ok(M.create, { input: { rounds: 1, roundMs: 0, runAt: inAnHour() } });
    await c.ok(M.abort, { id: scheduled.id });

    for (const id of [done, scheduled.id]) {
      const before = await c.read(id);
      await c.refused(M.abort, { id }, "INVALID_STATE");
      await c.refused(M.abort, { id, rollback: true }, "INVALID_STATE");
      const after = await c.read(id);
      expect(after.state, summary(after)).toBe(before.state);
      expect(after.version).toBe(before.version);
      expect(after.error).toBe(before.error);
    }
  });

  test("a handler that ignores its AbortSignal: the task is CANCELED once it returns, and no further step starts", async () => {
    const { startTask } = await c.ok(M.start, { input: { module: "test", type: "stubborn" } });
    const id: string = startTask.id;
    const gate = stubbornGate(id);
    await c.untilStepRunning(id, "slow");

    await c.ok(M.abort, { id });
    // The run passed the abort on to the step's signal; the handler ignores it and works on.
    await c.until(async () => gate.sawAbort, Boolean, "the step's AbortSignal to fire");
    const aborting = await c.read(id);
    expect(aborting.state, summary(aborting)).toBe("RUNNING");
    expect(aborting.availableActions).toEqual(["FORCE_DELETE"]); // aborting: only a forced delete is left
    // Soft, so the rest of the behaviour is still checked when this fails: terminateStep is refused
    // below (INVALID_STATE), so the step must not offer TERMINATE either.
    expect.soft(step(aborting, "slow").availableActions, "the running step of a task being aborted").toEqual([]);
    await c.refused(M.abort, { id }, "INVALID_STATE");
    await c.refused(M.retry, { id }, "INVALID_STATE");
    await c.refused(M.delete, { id }, "TASK_NOT_FINISHED");
    await c.refused(M.terminate, { taskId: id, stepKey: "slow" }, "INVALID_STATE");

    gate.open();
    const end = await c.settle(id);
    expect(gate.returnedAt).not.toBeNull();
    expect(end.state, summary(end)).toBe("CANCELED");
    expect(end.error).toBe("Aborted");
    expect(Date.parse(end.endedAt!)).toBeGreaterThanOrEqual(gate.returnedAt!); // only once the handler returned
    expect(step(end, "slow").state).toBe("SUCCEEDED"); // it did finish its work
    expect(step(end, "slow").attempts[0]!.logs).toContain("returning after the abort signal fired");
    expect(step(end, "after").state).toBe("WAITING");
    expect(step(end, "after").attempts).toEqual([]);
    expect(stubbornAfterRan.has(id)).toBe(false);
  });
});

// ── deleteTask ──────────────────────────────────────────────────────────────────────────────────

describe("deleteTask", () => {
  test("Kafka delete: SUCCEEDED, FAILED and CANCELED tasks are removed with their whole subtree", async () => {
    const succeededTree = await c.create({ rounds: 1, roundMs: 0, children: 2 });
    const failedTree = await c.create({ rounds: 1, roundMs: 0, children: 2, failAtRound: 1 });
    const failedFlow = await c.failedFlow(2, 1);
    const { createTestTask: scheduled } = await c.ok(M.create, { input: { rounds: 1, roundMs: 0, runAt: inAnHour() } });
    await c.ok(M.abort, { id: scheduled.id });
    await c.expectEnd(succeededTree, "SUCCEEDED");
    await c.expectEnd(failedTree, "FAILED");

    for (const [id, state, size] of [
      [succeededTree, "SUCCEEDED", 5],
      [failedTree, "FAILED", 5],
      [failedFlow, "FAILED", 1],
      [scheduled.id, "CANCELED", 1],
    ] as const) {
      const members = await c.tree(id);
      expect(members[0]!.state).toBe(state);
      expect(members).toHaveLength(size);
      expect(members.every((m) => ["SUCCEEDED", "FAILED", "CANCELED"].includes(m.state))).toBe(true);
      expect((await c.peek(id)).availableActions).toContain("DELETE");

      const { deleteTask } = await c.ok(M.delete, { id });
      expect(deleteTask.deleted).toBe(true);
      expect(sorted(deleteTask.deletedIds)).toEqual(sorted(members.map((m) => m.id)));
      expect(deleteTask.task).toBeNull();
      for (const member of members) await c.expectGone(member.id);
    }
  });

  test("openATTIC: deleting a pending task without force is refused with TASK_NOT_FINISHED and nothing changes", async () => {
    // QUEUED and SCHEDULED: not even the version moves.
    const queued = await idle.create({ rounds: 1, roundMs: 0 });
    const { createTestTask: scheduled } = await c.ok(M.create, { input: { rounds: 1, roundMs: 0, runAt: inAnHour() } });
    for (const [con, id] of [[idle, queued], [c, scheduled.id]] as const) {
      const before = await con.read(id);
      await con.refused(M.delete, { id }, "TASK_NOT_FINISHED");
      await con.refused(M.delete, { id, force: false }, "TASK_NOT_FINISHED");
      const after = await con.read(id);
      expect([after.state, after.version, after.error]).toEqual([before.state, before.version, before.error]);
    }
    // RUNNING: it runs on to the end as if nothing was asked.
    const running = await c.create({ rounds: 3, roundMs: 200, steps: 2 });
    await c.untilStepRunning(running, "step-1");
    await c.refused(M.delete, { id: running }, "TASK_NOT_FINISHED");
    const now = await c.read(running);
    expect(now.state, summary(now)).toBe("RUNNING");
    expect(now.error).toBeNull();
    const end = await c.settle(running);
    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
  });

  test("openATTIC: a forced delete of a running flow fails it, lets the running step finish, starts nothing more, reverts nothing; a second delete removes it", async () => {
    const id = await c.create({ rounds: 4, roundMs: 250, steps: 3 });
    await c.untilStepRunning(id, "step-1");

    const { deleteTask } = await c.ok(M.delete, { id, force: true });
    expect(deleteTask.deleted).toBe(false);
    expect(deleteTask.deletedIds).toEqual([]);
    expect(deleteTask.task.id).toBe(id);
    expect(deleteTask.task.state).toBe("FAILED");
    expect(deleteTask.task.error).toContain("Deleted while pending");

    // The running step is not killed mid-way: it runs to its end.
    await c.until(() => c.peek(id), (t) => peekStep(t, "step-1").state !== "RUNNING", "step-1 to end");
    await pause(300); // were a further step to start, it would by now
    const task = await c.read(id);
    expect(task.state, summary(task)).toBe("FAILED");
    expect(task.error).toContain("Deleted while pending");
    expect(step(task, "step-1").attempts.map((a) => [a.kind, a.state, a.error])).toEqual([["EXECUTE", "SUCCEEDED", null]]);
    expect(step(task, "step-1").state).toBe("SUCCEEDED");
    expect(step(task, "step-2").state).toBe("WAITING");
    expect(step(task, "step-3").state).toBe("WAITING");
    expect(step(task, "step-2").attempts).toEqual([]);
    expect(step(task, "step-3").attempts).toEqual([]);
    expect(rollbacks(task)).toEqual([]); // nothing reverted

    const again = await c.ok(M.delete, { id });
    expect(again.deleteTask.deleted).toBe(true);
    expect(again.deleteTask.deletedIds).toEqual([id]);
    await c.expectGone(id);
  });

  test("a forced delete while a step runs, then Abort Task: the rollback run records the step the deleted run could not, and the task is CANCELED with no step left RUNNING", async () => {
    const id = await c.create({ rounds: 5, roundMs: 300, steps: 3 });
    await c.untilStepRunning(id, "step-2");
    expect((await c.ok(M.delete, { id, force: true })).deleteTask.task.state).toBe("FAILED");
    // step-1 SUCCEEDED: Abort Task hands the task to a worker to roll it back, while step-2 still runs.
    await c.ok(M.abort, { id });
    await c.until(() => c.peek(id), (t) => t.state === "CANCELED", "the abort to end");
    await pause(2_000); // step-2's code has finished by now
    const task = await c.read(id);
    expect(task.state, summary(task)).toBe("CANCELED");
    expect(task.steps.map((s) => s.state), summary(task)).not.toContain("RUNNING");
    // step-2's run could not record its end: the aborting run did, saying so, and rolled it back with step-1.
    expect(step(task, "step-2").attempts.map((a) => [a.kind, a.state]), summary(task)).toEqual([["EXECUTE", "FAILED"], ["ROLLBACK", "SUCCEEDED"]]);
    expect(step(task, "step-2").attempts[0]!.error).toMatch(/aborted while this step still ran .* outcome is not recorded/);
    expect(step(task, "step-1").state).toBe("ROLLED_BACK");
    expect(step(task, "step-3").state).toBe("WAITING");
  });

  test("openATTIC: a forced delete of a QUEUED task fails it at once (“Deleted while pending”); a second delete removes it", async () => {
    const id = await idle.create({ rounds: 1, roundMs: 0, steps: 2 });
    const { deleteTask } = await idle.ok(M.delete, { id, force: true });
    expect(deleteTask).toMatchObject({ deleted: false, deletedIds: [], task: { id, state: "FAILED" } });
    expect(deleteTask.task.error).toContain("Deleted while pending");
    const task = await idle.read(id);
    expect(task.state, summary(task)).toBe("FAILED");
    expect(task.steps.map((s) => [s.state, s.attempts.length])).toEqual([
      ["WAITING", 0],
      ["WAITING", 0],
    ]);
    expect((await idle.ok(M.delete, { id })).deleteTask.deletedIds).toEqual([id]);
    await idle.expectGone(id);
  });

  test("a forced delete of a pending task whose type is not abortable is refused with NOT_ABORTABLE, like abort", async () => {
    const queued = await idle.create({ rounds: 1, roundMs: 0, abortable: false });
    const before = await idle.read(queued);
    await idle.refused(M.delete, { id: queued, force: true }, "NOT_ABORTABLE");
    const after = await idle.read(queued);
    expect([after.state, after.version]).toEqual(["QUEUED", before.version]);

    const running = await c.create({ rounds: 4, roundMs: 200, abortable: false });
    await c.until(() => c.peek(running), (t) => t.state === "RUNNING", "the task to run");
    await c.refused(M.delete, { id: running, force: true }, "NOT_ABORTABLE");
    const now = await c.read(running);
    expect(now.state, summary(now)).toBe("RUNNING");
    expect(now.error).toBeNull();
    await c.expectEnd(running, "SUCCEEDED");
  });
});

// ── retryTask, rerunStep, markStepSucceeded, terminateStep ──────────────────────────────────────

/** A step that was run again after a failure: failed execute, rollback (with its log), successful retry. */
function expectRolledBackAndRetried(task: TaskView, key: string, failure: RegExp) {
  const s = step(task, key);
  expect(s.state, summary(s)).toBe("SUCCEEDED");
  expect(s.error).toBeNull();
  expect(s.attempts.map((a) => [a.number, a.kind, a.state])).toEqual([
    [1, "EXECUTE", "FAILED"],
    [2, "ROLLBACK", "SUCCEEDED"],
    [3, "RETRY", "SUCCEEDED"],
  ]);
  const [execute, rollback, retry] = s.attempts as [AttemptView, AttemptView, AttemptView];
  expect(execute.error).toMatch(failure);
  expect(rollback.logs).toContain(`Rolled back step ${key.slice(-1)}`);
  expect(Date.parse(rollback.endedAt!)).toBeLessThanOrEqual(Date.parse(retry.startedAt));
}

describe("retryTask", () => {
  test("OCP Retry: the failed step is rolled back, run again, and the flow continues to SUCCEEDED", async () => {
    const id = await c.failedFlow(3, 2);
    const failed = await c.read(id);
    expect(failed.error).toContain('Step "step-2" failed: Failed at round 2');
    expect(step(failed, "step-3").state).toBe("WAITING");

    const { retryTask } = await c.ok(M.retry, { id });
    expect(retryTask.state, summary(retryTask)).toBe("RUNNING");
    expect(retryTask.error).toBeNull();
    const end = await c.settle(id);

    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.error).toBeNull();
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(attemptsOf(end, "step-1")).toEqual([["EXECUTE", "SUCCEEDED"]]); // the succeeded step is left alone
    expectRolledBackAndRetried(end, "step-2", /Failed at round 2/);
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "SUCCEEDED"]]);
    expect(end.progress).toEqual({ completed: 3, total: 3 });
    expect(end.logs.some((l) => l.level === "ERROR" && l.step === "step-2" && l.attemptKind === "EXECUTE")).toBe(true);
  });

  test("openATTIC test task: retrying a failed count task (no steps) runs it again to SUCCEEDED", async () => {
    const id = await c.create({ rounds: 3, roundMs: 5, failAtRound: 2 });
    const failed = await c.settle(id);
    expect(failed.state, summary(failed)).toBe("FAILED");
    expect(failed.error).toBe("Failed at round 2, as asked (failAtRound)");
    expect(failed.steps).toEqual([]);
    expect(failed.availableActions.sort()).toEqual(["ABORT", "DELETE", "RETRY"]);

    await c.ok(M.retry, { id });
    const end = await c.settle(id);
    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.error).toBeNull();
    expect(end.result).toEqual({ rounds: 3 });
    expect(end.progress).toEqual({ completed: 3, total: 3 });
  });

  test("retrying a task that has not failed (QUEUED, RUNNING, SUCCEEDED, CANCELED) is refused with INVALID_STATE and nothing changes", async () => {
    const queued = await idle.create({ rounds: 1, roundMs: 0 });
    const done = await c.create({ rounds: 1, roundMs: 0 });
    await c.settle(done);
    const canceled = await idle.create({ rounds: 1, roundMs: 0 });
    await idle.ok(M.abort, { id: canceled });
    for (const [con, id, state] of [[idle, queued, "QUEUED"], [c, done, "SUCCEEDED"], [idle, canceled, "CANCELED"]] as const) {
      const before = await con.read(id);
      expect(before.state, summary(before)).toBe(state);
      await con.refused(M.retry, { id }, "INVALID_STATE");
      const after = await con.read(id);
      expect([after.state, after.version]).toEqual([state, before.version]);
    }
    const running = await c.create({ rounds: 3, roundMs: 200 });
    await c.until(() => c.peek(running), (t) => t.state === "RUNNING", "the task to run");
    await c.refused(M.retry, { id: running }, "INVALID_STATE");
    await c.expectEnd(running, "SUCCEEDED");
  });
});

describe("rerunStep", () => {
  test("OCP: rerun a failed step rolls it back, runs it again, and the flow continues", async () => {
    const id = await c.failedFlow(3, 2);
    expect(step(await c.read(id), "step-2").availableActions.sort()).toEqual(["MARK_SUCCEEDED", "RERUN"]);

    const { rerunStep } = await c.ok(M.rerun, { taskId: id, stepKey: "step-2" });
    expect(rerunStep.state, summary(rerunStep)).toBe("RUNNING");
    const end = await c.settle(id);

    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(attemptsOf(end, "step-1")).toEqual([["EXECUTE", "SUCCEEDED"]]);
    expectRolledBackAndRetried(end, "step-2", /Failed at round 2/);
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "SUCCEEDED"]]);
  });

  test("OCP: waiting steps allow no action, nor do succeeded ones: rerun is refused with INVALID_STATE and nothing changes", async () => {
    const id = await c.failedFlow(3, 2);
    const before = await c.read(id);
    expect(step(before, "step-1").availableActions).toEqual([]);
    expect(step(before, "step-3").availableActions).toEqual([]);
    for (const stepKey of ["step-1", "step-3"]) {
      await c.refused(M.rerun, { taskId: id, stepKey }, "INVALID_STATE");
      await c.refused(M.mark, { taskId: id, stepKey }, "INVALID_STATE");
      await c.refused(M.terminate, { taskId: id, stepKey }, "INVALID_STATE");
    }
    await c.refused(M.rerun, { taskId: id, stepKey: "step-9" }, "NOT_FOUND");
    const after = await c.read(id);
    expect(after.version).toBe(before.version);
    expect(after.steps).toEqual(before.steps);
    expect(after.state, summary(after)).toBe("FAILED");
  });
});

describe("markStepSucceeded", () => {
  test("OCP set to successful: the failed step becomes SKIPPED and the flow continues to SUCCEEDED", async () => {
    const id = await c.failedFlow(3, 2);
    const { markStepSucceeded } = await c.ok(M.mark, { taskId: id, stepKey: "step-2" });
    expect(markStepSucceeded.state, summary(markStepSucceeded)).toBe("RUNNING");
    expect(markStepSucceeded.steps.find((s: any) => s.key === "step-2").state).toBe("SKIPPED");

    const end = await c.settle(id);
    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.error).toBeNull();
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SKIPPED", "SUCCEEDED"]);
    expect(attemptsOf(end, "step-1")).toEqual([["EXECUTE", "SUCCEEDED"]]);
    expect(attemptsOf(end, "step-2")).toEqual([["EXECUTE", "FAILED"]]); // not run again, not rolled back
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "SUCCEEDED"]]);
    expect(end.logs.some((l) => l.level === "WARN" && l.message.includes('Step "step-2" set to successful'))).toBe(true);
    expect(step(end, "step-2").availableActions).toEqual([]);
  });
});

describe("step mutations by the step's own id", () => {
  const BY_ID = `mutation ($stepId: ID, $taskId: ID, $stepKey: String) {
    markStepSucceeded(stepId: $stepId, taskId: $taskId, stepKey: $stepKey) { id state steps { key state } }
  }`;
  const stepIds = async (taskId: string) =>
    Object.fromEntries(
      ((await c.ok(`query ($id: ID!) { task(id: $id) { steps { id key } } }`, { id: taskId })).task.steps as { id: string; key: string }[]).map((s) => [s.key, s.id]),
    );

  test("a failed step named by its id alone is set to successful, as by task id and key", async () => {
    const id = await c.failedFlow(3, 2);
    const ids = await stepIds(id);
    const { markStepSucceeded } = await c.ok(BY_ID, { stepId: ids["step-2"] });
    expect(markStepSucceeded.id).toBe(id);
    expect(markStepSucceeded.steps.find((s: any) => s.key === "step-2").state).toBe("SKIPPED");
    expect((await c.settle(id)).state).toBe("SUCCEEDED");
  });

  test("naming the step both ways, neither way, by another type's id or by an unknown step id is refused and changes nothing", async () => {
    const id = await c.failedFlow(3, 2);
    const ids = await stepIds(id);
    const before = await c.read(id);
    await c.refused(BY_ID, { stepId: ids["step-2"], taskId: id, stepKey: "step-2" }, "BAD_USER_INPUT");
    await c.refused(BY_ID, {}, "BAD_USER_INPUT");
    await c.refused(BY_ID, { taskId: id }, "BAD_USER_INPUT");
    await c.refused(BY_ID, { stepId: id }, "BAD_USER_INPUT"); // a Task's id
    await c.refused(BY_ID, { stepId: "Step:not-a-uuid" }, "BAD_USER_INPUT");
    await c.refused(BY_ID, { stepId: "Step:0190a000-0000-7000-8000-000000000000" }, "NOT_FOUND");
    const after = await c.read(id);
    expect(after.version).toBe(before.version);
    expect(after.steps).toEqual(before.steps);
  });
});

describe("terminateStep", () => {
  test("OCP terminate: a running step becomes FAILED (“Terminated”), the task FAILED, later steps stay WAITING; rerunning it brings the task to SUCCEEDED", async () => {
    const id = await c.create({ rounds: 3, roundMs: 250, steps: 3 });
    await c.untilStepRunning(id, "step-2");
    expect(peekStep(await c.peek(id), "step-2").availableActions).toEqual(["TERMINATE"]);

    const { terminateStep } = await c.ok(M.terminate, { taskId: id, stepKey: "step-2" });
    expect(terminateStep.state, summary(terminateStep)).toBe("FAILED");
    expect(terminateStep.error).toMatch(/Terminated/);
    expect(terminateStep.steps.find((s: any) => s.key === "step-2")).toMatchObject({ state: "FAILED" });

    await pause(800); // longer than what was left of step-2: had it gone on, or step-3 started, it would show
    const failed = await c.read(id);
    expect(failed.state, summary(failed)).toBe("FAILED");
    expect(failed.error).toMatch(/Step "step-2" failed: Terminated/);
    expect(step(failed, "step-1").state).toBe("SUCCEEDED");
    expect(step(failed, "step-2").state).toBe("FAILED");
    expect(step(failed, "step-2").error).toMatch(/Terminated/);
    expect(step(failed, "step-2").attempts.map((a) => [a.kind, a.state])).toEqual([["EXECUTE", "FAILED"]]);
    expect(step(failed, "step-2").attempts[0]!.error).toMatch(/Terminated/);
    expect(step(failed, "step-3").state).toBe("WAITING");
    expect(step(failed, "step-3").attempts).toEqual([]);
    expect(step(failed, "step-2").availableActions.sort()).toEqual(["MARK_SUCCEEDED", "RERUN"]);

    await c.ok(M.rerun, { taskId: id, stepKey: "step-2" });
    const end = await c.settle(id);
    expect(end.state, summary(end)).toBe("SUCCEEDED");
    expect(end.steps.map((s) => s.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expectRolledBackAndRetried(end, "step-2", /Terminated/);
    expect(attemptsOf(end, "step-3")).toEqual([["EXECUTE", "SUCCEEDED"]]);
  });

  test("terminating a step that is not running (WAITING, SUCCEEDED, FAILED) is refused with INVALID_STATE", async () => {
    const running = await c.create({ rounds: 4, roundMs: 250, steps: 2 });
    await c.untilStepRunning(running, "step-1");
    await c.refused(M.terminate, { taskId: running, stepKey: "step-2" }, "INVALID_STATE");
    const still = await c.peek(running);
    expect(still.state, summary(still)).toBe("RUNNING");
    expect(still.steps.map((s) => s.state)).toEqual(["RUNNING", "WAITING"]);
    await c.ok(M.abort, { id: running });
    await c.expectEnd(running, "CANCELED");

    const failed = await c.failedFlow(3, 2);
    const before = await c.read(failed);
    await c.refused(M.terminate, { taskId: failed, stepKey: "step-1" }, "INVALID_STATE");
    await c.refused(M.terminate, { taskId: failed, stepKey: "step-2" }, "INVALID_STATE");
    await c.refused(M.terminate, { taskId: failed, stepKey: "step-3" }, "INVALID_STATE");
    expect((await c.read(failed)).version).toBe(before.version);
  });
});

// ── availableActions ────────────────────────────────────────────────────────────────────────────

const TASK_ACTIONS = ["ABORT", "DELETE", "FORCE_DELETE", "RETRY"] as const;
const STEP_ACTIONS = ["RERUN", "MARK_SUCCEEDED", "TERMINATE"] as const;
const PENDING = new Set(["SCHEDULED", "QUEUED", "RUNNING"]);

function tryTaskAction(con: Console, action: (typeof TASK_ACTIONS)[number], id: string) {
  switch (action) {
    case "ABORT":
      return con.app.gql(M.abort, { id });
    case "DELETE":
      return con.app.gql(M.delete, { id, force: false });
    case "FORCE_DELETE":
      return con.app.gql(M.delete, { id, force: true });
    case "RETRY":
      return con.app.gql(M.retry, { id });
  }
}

function tryStepAction(con: Console, action: (typeof STEP_ACTIONS)[number], taskId: string, stepKey: string) {
  const query = { RERUN: M.rerun, MARK_SUCCEEDED: M.mark, TERMINATE: M.terminate }[action];
  return con.app.gql(query, { taskId, stepKey });
}

/** The code a refused task action is refused with. */
function refusalCode(action: (typeof TASK_ACTIONS)[number], task: { state: string; isAbortable: boolean }) {
  const pending = PENDING.has(task.state);
  if (action === "DELETE" && pending) return "TASK_NOT_FINISHED";
  if ((action === "ABORT" || action === "FORCE_DELETE") && pending && !task.isAbortable) return "NOT_ABORTABLE";
  return "INVALID_STATE";
}

/** Ends what a trial left pending (so the worker has nothing of ours running when the app stops). */
async function cleanUp(con: Console, id: string) {
  const task = await con.app.gql(PEEK, { id });
  const state = task.data?.task?.state as string | undefined;
  if (!state || !PENDING.has(state)) return;
  if (state === "RUNNING") {
    await con.app.gql(M.abort, { id }); // refused when not abortable: then it runs to its end
    await con.ok(WAIT, { id, timeout: 20 });
  }
}

interface Scenario {
  name: string;
  con: () => Console;
  /** A fresh task in the state under test. */
  make: () => Promise<string>;
  state: string;
  expected: string[];
}

/**
 * For every task action: on a fresh copy, availableActions is exactly `expected`, and trying the
 * action is accepted when it is listed and refused (with its code, changing nothing) when not.
 * deleteTask(force: true) on an ended task is a plain delete: it is offered there as DELETE.
 */
async function checkTaskActions(scenario: Scenario) {
  const con = scenario.con();
  await Promise.all(
    TASK_ACTIONS.map(async (action) => {
      const label = `${scenario.name}, ${action}`;
      const id = await scenario.make();
      const before = await con.read(id);
      expect(before.state, label).toBe(scenario.state);
      expect(sorted(before.availableActions), label).toEqual(sorted(scenario.expected));
      const result = await tryTaskAction(con, action, id);
      const offered = before.availableActions.includes(action) || (action === "FORCE_DELETE" && before.availableActions.includes("DELETE"));
      if (offered) {
        expect(result.errors, `${label} is listed, so it must be accepted: ${JSON.stringify(result.errors)}`).toBeUndefined();
      } else {
        expect(codes(result), `${label} is not listed, so it must be refused`).toEqual([refusalCode(action, before)]);
        const after = await con.peek(id);
        expect(after.state, label).toBe(before.state);
        if (before.state !== "RUNNING") expect(after.version, label).toBe(before.version);
      }
      await cleanUp(con, id);
    }),
  );
}

/** The same for every step action on the step `stepKey` of fresh copies. */
async function checkStepActions(scenario: Scenario & { stepKey: string; stepState: string }) {
  const con = scenario.con();
  await Promise.all(
    STEP_ACTIONS.map(async (action) => {
      const label = `${scenario.name}, ${scenario.stepKey} ${scenario.stepState}, ${action}`;
      const id = await scenario.make();
      const before = await con.read(id);
      expect(before.state, label).toBe(scenario.state);
      expect(step(before, scenario.stepKey).state, label).toBe(scenario.stepState);
      expect(sorted(step(before, scenario.stepKey).availableActions), label).toEqual(sorted(scenario.expected));
      const result = await tryStepAction(con, action, id, scenario.stepKey);
      if (scenario.expected.includes(action)) {
        expect(result.errors, `${label} is listed, so it must be accepted: ${JSON.stringify(result.errors)}`).toBeUndefined();
      } else {
        expect(codes(result), `${label} is not listed, so it must be refused`).toEqual(["INVALID_STATE"]);
        const after = await con.peek(id);
        expect(after.state, label).toBe(before.state);
        if (before.state !== "RUNNING") expect(after.version, label).toBe(before.version);
      }
      await cleanUp(con, id);
    }),
  );
}

describe("availableActions lists exactly the mutations accepted now", () => {
  const queued = (abortable: boolean) => () => idle.create({ rounds: 1, roundMs: 0, steps: 2, abortable });
  const scheduled = (abortable: boolean) => async () =>
    (await c.ok(M.create, { input: { rounds: 1, roundMs: 0, runAt: inAnHour(), abortable } })).createTestTask.id as string;
  /** A flow caught while step-1 runs (long enough to try an action on it). */
  const running = (abortable: boolean) => async () => {
    const id = await c.create({ rounds: 8, roundMs: 250, steps: 2, abortable });
    await c.untilStepRunning(id, "step-1");
    return id;
  };
  const failed = (abortable: boolean) => () => c.failedFlow(3, 2, { abortable });
  const succeeded = async () => {
    const id = await c.create({ rounds: 1, roundMs: 0, steps: 2 });
    await c.expectEnd(id, "SUCCEEDED");
    return id;
  };
  /** A failed flow aborted (OCP Abort Task): rolled back, CANCELED. */
  const canceled = async () => {
    const id = await c.failedFlow(3, 2);
    await c.ok(M.abort, { id });
    await c.expectEnd(id, "CANCELED");
    return id;
  };

  test("task actions in each state: QUEUED, SCHEDULED, RUNNING, FAILED, SUCCEEDED, CANCELED, abortable or not", async () => {
    const scenarios: Scenario[] = [
      { name: "QUEUED abortable", con: () => idle, make: queued(true), state: "QUEUED", expected: ["ABORT", "FORCE_DELETE"] },
      { name: "QUEUED not abortable", con: () => idle, make: queued(false), state: "QUEUED", expected: [] },
      { name: "SCHEDULED abortable", con: () => c, make: scheduled(true), state: "SCHEDULED", expected: ["ABORT", "FORCE_DELETE"] },
      { name: "SCHEDULED not abortable", con: () => c, make: scheduled(false), state: "SCHEDULED", expected: [] },
      { name: "RUNNING abortable", con: () => c, make: running(true), state: "RUNNING", expected: ["ABORT", "FORCE_DELETE"] },
      { name: "RUNNING not abortable", con: () => c, make: running(false), state: "RUNNING", expected: [] },
      { name: "FAILED abortable", con: () => c, make: failed(true), state: "FAILED", expected: ["ABORT", "DELETE", "RETRY"] },
      { name: "FAILED not abortable", con: () => c, make: failed(false), state: "FAILED", expected: ["ABORT", "DELETE", "RETRY"] },
      { name: "SUCCEEDED", con: () => c, make: succeeded, state: "SUCCEEDED", expected: ["DELETE"] },
      { name: "CANCELED", con: () => c, make: canceled, state: "CANCELED", expected: ["DELETE"] },
    ];
    await Promise.all(scenarios.map((s) => checkTaskActions(s)));
  });

  test("step actions: RUNNING steps can be terminated, FAILED ones rerun or set to successful, the others (WAITING, SUCCEEDED, ROLLED_BACK) allow none", async () => {
    const scenarios = [
      { name: "RUNNING flow", make: running(true), state: "RUNNING", stepKey: "step-1", stepState: "RUNNING", expected: ["TERMINATE"] },
      { name: "RUNNING flow", make: running(true), state: "RUNNING", stepKey: "step-2", stepState: "WAITING", expected: [] },
      { name: "FAILED flow", make: failed(true), state: "FAILED", stepKey: "step-1", stepState: "SUCCEEDED", expected: [] },
      { name: "FAILED flow", make: failed(true), state: "FAILED", stepKey: "step-2", stepState: "FAILED", expected: ["RERUN", "MARK_SUCCEEDED"] },
      { name: "FAILED flow", make: failed(true), state: "FAILED", stepKey: "step-3", stepState: "WAITING", expected: [] },
      { name: "SUCCEEDED flow", make: succeeded, state: "SUCCEEDED", stepKey: "step-2", stepState: "SUCCEEDED", expected: [] },
      { name: "CANCELED flow", make: canceled, state: "CANCELED", stepKey: "step-2", stepState: "ROLLED_BACK", expected: [] },
    ];
    await Promise.all(scenarios.map((s) => checkStepActions({ ...s, con: () => c })));
  });

  test("while an abort is under way only a forced delete is offered, and it is accepted", async () => {
    const { startTask } = await c.ok(M.start, { input: { module: "test", type: "stubborn" } });
    const id: string = startTask.id;
    const gate = stubbornGate(id);
    await c.untilStepRunning(id, "slow");
    await c.ok(M.abort, { id });
    await c.until(async () => gate.sawAbort, Boolean, "the step's AbortSignal to fire");
    expect((await c.peek(id)).availableActions).toEqual(["FORCE_DELETE"]);

    const { deleteTask } = await c.ok(M.delete, { id, force: true });
    expect(deleteTask.task.state).toBe("FAILED");
    expect(deleteTask.task.error).toContain("Deleted while pending");
    gate.open();
    await c.until(() => c.peek(id), (t) => peekStep(t, "slow").state !== "RUNNING", "the slow step to end");
    await pause(200);
    const task = await c.read(id);
    expect(task.state, summary(task)).toBe("FAILED");
    expect(task.availableActions.sort()).toEqual(["ABORT", "DELETE", "RETRY"]);
    expect(step(task, "after").state).toBe("WAITING");
    expect(stubbornAfterRan.has(id)).toBe(false);
  });
});
