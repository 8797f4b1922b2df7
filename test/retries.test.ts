// Automatic retries: a failed run (plain task) or step (flow) is tried again after its backoff, as
// the system's decision, up to the policy's attempts; then manual Retry still works and starts the
// count again. On the test store (PGlite, or PostgreSQL with TEST_DATABASE_URL), with the worker
// in the test process; then a worker process killed (SIGKILL) while a step waits for its retry.
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { RetryableError } from "../src";
import { codes, startTestApp, type TestApp } from "./support/app";
import { twoStepFlowAtStep1 } from "./support/flows";
import { exitOf, until, useWorkerFleet } from "./support/processes";

const CREATE = `mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }`;
const TASK = `id state error automaticRetries nextAttemptAt scheduledFor
  retryPolicy { attempts backoff backoffMs maxBackoffMs retryOn }
  steps { key state error nextAttemptAt automaticRetries attempts { number kind state startedAt endedAt logs(first: 20) { edges { node { message } } } } }
  events(first: 500) { edges { node { type at actor { kind name } payload } } }`;
const GET = `query ($id: ID!) { task(id: $id) { ${TASK} } }`;

interface Event {
  type: string;
  at: string;
  actor: { kind: string; name: string };
  payload: { from?: string; to?: string; stepKey?: string; attempt?: number; error?: string; nextAttemptAt?: string };
}

async function ok(app: TestApp, query: string, variables?: Record<string, unknown>) {
  const result = await app.gql(query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!;
}

const create = async (app: TestApp, input: Record<string, unknown>): Promise<string> => (await ok(app, CREATE, { input })).createTestTask.id;
const get = async (app: TestApp, id: string) => (await ok(app, GET, { id })).task;
const eventsOf = (task: { events: { edges: { node: Event }[] } }) => task.events.edges.map((e) => e.node);
const stateChanges = (events: Event[]) => events.filter((e) => e.type === "STATE_CHANGED");
const ms = (at: string) => new Date(at).getTime();

async function ended(app: TestApp, id: string, timeout = 15_000) {
  let task: any;
  await vi.waitFor(
    async () => {
      task = await get(app, id);
      expect(["SUCCEEDED", "FAILED", "CANCELED"]).toContain(task.state);
    },
    { timeout, interval: 50 },
  );
  return task;
}

/**
 * Each automatic retry of a plain task: the pause its FAILED→SCHEDULED event promised after the
 * failure, and when the next attempt started (QUEUED→RUNNING) relative to that promise, in ms.
 */
function retries(events: Event[]): { promised: number; late: number }[] {
  const changes = stateChanges(events);
  return changes.flatMap((e, i) => {
    if (e.payload.to !== "SCHEDULED") return [];
    const failed = changes[i - 1]!;
    const next = changes.slice(i).find((n) => n.payload.from === "QUEUED" && n.payload.to === "RUNNING")!;
    const due = ms(e.payload.nextAttemptAt!);
    return [{ promised: due - ms(failed.at), late: ms(next.at) - due }];
  });
}

/**
 * The promised pause is the backoff after the failure as recorded (both times are the
 * transaction's; the event's time is stored to the millisecond, rounded), and no retry starts
 * before its time.
 */
function expectBackoff(retry: { promised: number; late: number }, backoffMs: number) {
  expect(Math.abs(retry.promised - backoffMs)).toBeLessThanOrEqual(1);
  expect(retry.late).toBeGreaterThanOrEqual(0);
  expect(retry.late).toBeLessThan(1_500);
}

describe("automatic retries, with a worker", () => {
  let app: TestApp;
  const thrown: string[] = [];

  beforeAll(async () => {
    // Housekeeping (which starts SCHEDULED retries when due) every 50 ms: timestamps within ~50 ms of the backoff.
    app = await startTestApp({ worker: { concurrency: 4, pollMs: 50, housekeepingMs: 50 } });
    // Retries only errors marked retryable; its policy is the type's, shown in the catalogue.
    app.manager.defineTask<{ retryable: boolean }>({
      module: "retries",
      type: "picky",
      retry: { attempts: 3, backoff: "fixed", backoffMs: 100, retryOn: "retryable" },
      run: (ctx) => {
        thrown.push(`${ctx.task.id}#${ctx.attempt}`);
        throw ctx.input.retryable ? new RetryableError("the node is restarting") : new Error("the config is wrong");
      },
    });
    await app.manager.start();
  });
  afterAll(() => app.stop());

  test("a plain task retried with a fixed backoff: FAILED then SCHEDULED (by the system) until it succeeds", async () => {
    const id = await create(app, { rounds: 1, roundMs: 0, failAtRound: 1, failAttempts: 2, retry: { attempts: 3, backoff: "FIXED", backoffMs: 1_200 } });
    // The pause is wide enough for a poll to see it under a loaded CI run (two 300 ms pauses were once both missed).
    // While it waits for its retry it is SCHEDULED, with the next attempt's time and the last error.
    let waiting: any;
    await vi.waitFor(
      async () => {
        waiting = await get(app, id);
        expect(waiting.state).toBe("SCHEDULED");
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(waiting.nextAttemptAt).toBe(waiting.scheduledFor);
    expect(waiting.error).toBe("Failed at round 1, as asked (failAtRound)");
    expect(waiting.retryPolicy).toEqual({ attempts: 3, backoff: "FIXED", backoffMs: 1_200, maxBackoffMs: 300_000, retryOn: "ALL" });
    // taskTree (which reads only the selected columns) says the same.
    const tree = await ok(app, `query ($id: ID!) { taskTree(id: $id) { state scheduledFor nextAttemptAt automaticRetries retryPolicy { attempts } } }`, { id });
    const node = tree.taskTree[0];
    expect(node.automaticRetries).toBeGreaterThanOrEqual(1);
    expect(node.retryPolicy).toEqual({ attempts: 3 });
    // It may have moved on since: the tree's own answer is consistent.
    expect(node.nextAttemptAt).toBe(node.state === "SCHEDULED" ? node.scheduledFor : null);

    const task = await ended(app, id);
    expect(task).toMatchObject({ state: "SUCCEEDED", error: null, automaticRetries: 2, nextAttemptAt: null });
    const events = eventsOf(task);
    expect(stateChanges(events).map((e) => `${e.payload.from}→${e.payload.to} ${e.actor.kind}`)).toEqual([
      "QUEUED→RUNNING WORKER",
      "RUNNING→FAILED WORKER",
      "FAILED→SCHEDULED SYSTEM",
      "SCHEDULED→QUEUED SYSTEM",
      "QUEUED→RUNNING WORKER",
      "RUNNING→FAILED WORKER",
      "FAILED→SCHEDULED SYSTEM",
      "SCHEDULED→QUEUED SYSTEM",
      "QUEUED→RUNNING WORKER",
      "RUNNING→SUCCEEDED WORKER",
    ]);
    const made = retries(events);
    expect(made).toHaveLength(2);
    for (const retry of made) expectBackoff(retry, 1_200);
  });

  test("exponential backoff doubles the pause, stops at the limit; manual Retry starts the count again", async () => {
    const id = await create(app, { rounds: 1, roundMs: 0, failAtRound: 1, failAttempts: 5, retry: { attempts: 3, backoffMs: 250 } });
    const failed = await ended(app, id);
    expect(failed).toMatchObject({ state: "FAILED", automaticRetries: 2, nextAttemptAt: null, error: "Failed at round 1, as asked (failAtRound)" });
    const [first, second, third] = retries(eventsOf(failed));
    expectBackoff(first!, 250);
    expectBackoff(second!, 500); // doubled
    expect(third).toBeUndefined(); // the third failure is the last attempt
    expect(stateChanges(eventsOf(failed)).filter((e) => e.payload.to === "FAILED")).toHaveLength(3);

    // Attempts 4 and 5 fail (retried automatically again: the count started over), the 6th succeeds.
    await ok(app, `mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id });
    const retried = await ended(app, id, 20_000);
    expect(retried).toMatchObject({ state: "SUCCEEDED", automaticRetries: 2 });
    const manual = eventsOf(retried).find((e) => e.type === "STATE_CHANGED" && e.payload.from === "FAILED" && e.payload.to === "RUNNING");
    expect(manual?.actor.kind).toBe("USER");
  });

  test("a flow's step retried: FAILED with nextAttemptAt while the task runs, then a RETRY attempt started by the system, each with its own logs", async () => {
    const id = await create(app, { rounds: 1, roundMs: 0, steps: 3, failAtRound: 2, failAttempts: 2, retry: { attempts: 3, backoff: "FIXED", backoffMs: 1_200 } });
    let waiting: any;
    await vi.waitFor(
      async () => {
        waiting = await get(app, id);
        expect(waiting.steps[1].nextAttemptAt).not.toBeNull();
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(waiting.state).toBe("RUNNING");
    expect(waiting.steps[1]).toMatchObject({ key: "step-2", state: "FAILED", error: "Failed at round 2, as asked (failAtRound)" });
    expect(waiting.steps[2].state).toBe("WAITING"); // nothing after it starts meanwhile

    const task = await ended(app, id);
    expect(task.state).toBe("SUCCEEDED");
    const step = task.steps[1];
    expect(step).toMatchObject({ state: "SUCCEEDED", nextAttemptAt: null, automaticRetries: 2, error: null });
    expect(step.attempts.map((a: any) => `${a.number} ${a.kind} ${a.state}`)).toEqual(["1 EXECUTE FAILED", "2 RETRY FAILED", "3 RETRY SUCCEEDED"]);
    // Each failure's event promised the retry 1,200 ms after the attempt ended; it started then, not before.
    const promises = eventsOf(task).filter((e) => e.type === "STEP_CHANGED" && e.payload.stepKey === "step-2" && e.payload.to === "FAILED");
    expect(promises).toHaveLength(2);
    promises.forEach((event, i) => {
      const due = ms(event.payload.nextAttemptAt!);
      expect(due - ms(step.attempts[i].endedAt)).toBe(1_200);
      expect(ms(step.attempts[i + 1].startedAt)).toBeGreaterThanOrEqual(due);
      expect(ms(step.attempts[i + 1].startedAt) - due).toBeLessThan(1_500);
    });
    // Each attempt has its own log: the failure and the note of the retry to come.
    expect(step.attempts[0].logs.edges.map((e: any) => e.node.message)).toEqual([
      "Failed at round 2, as asked (failAtRound)",
      "Attempt 1 of 3 failed: automatic retry 1 in 1.2 s",
    ]);
    expect(step.attempts[2].logs.edges.map((e: any) => e.node.message)).toEqual([]);
    const stepChanges = eventsOf(task).filter((e) => e.type === "STEP_CHANGED" && e.payload.stepKey === "step-2");
    expect(stepChanges.map((e) => `${e.payload.from}→${e.payload.to} ${e.actor.kind}`)).toEqual([
      "WAITING→RUNNING WORKER",
      "RUNNING→FAILED WORKER",
      "FAILED→RUNNING SYSTEM",
      "RUNNING→FAILED WORKER",
      "FAILED→RUNNING SYSTEM",
      "RUNNING→SUCCEEDED WORKER",
    ]);
  });

  test("a step that fails every attempt fails the flow at the limit; Rerun is available and counts again", async () => {
    const id = await create(app, { rounds: 1, roundMs: 0, steps: 2, failAtRound: 2, failAttempts: 3, retry: { attempts: 2, backoff: "FIXED", backoffMs: 100 } });
    const failed = await ended(app, id);
    expect(failed.state).toBe("FAILED");
    expect(failed.steps[1]).toMatchObject({ state: "FAILED", nextAttemptAt: null, automaticRetries: 1 });
    expect(failed.steps[1].attempts.map((a: any) => a.kind)).toEqual(["EXECUTE", "RETRY"]);
    // Attempt 3 (the rerun) fails, its automatic retry (attempt 4) succeeds.
    await ok(app, `mutation ($id: ID!) { rerunStep(taskId: $id, stepKey: "step-2") { id } }`, { id });
    const rerun = await ended(app, id);
    expect(rerun.state).toBe("SUCCEEDED");
    expect(rerun.steps[1].attempts.filter((a: any) => a.kind !== "ROLLBACK").map((a: any) => a.state)).toEqual(["FAILED", "FAILED", "FAILED", "SUCCEEDED"]);
    expect(rerun.steps[1].automaticRetries).toBe(1);
  });

  test("Abort Task during a step's backoff cancels at once; the promised retry is gone", async () => {
    const id = await create(app, { rounds: 1, roundMs: 0, steps: 2, failAtRound: 1, retry: { attempts: 3, backoff: "FIXED", backoffMs: 60_000 } });
    await vi.waitFor(async () => expect((await get(app, id)).steps[0].nextAttemptAt).not.toBeNull(), { timeout: 10_000, interval: 20 });
    const asked = Date.now();
    await ok(app, `mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
    const task = await ended(app, id, 5_000);
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(task.state).toBe("CANCELED");
    expect(task.steps[0]).toMatchObject({ state: "FAILED", nextAttemptAt: null });
    expect(task.steps[0].attempts).toHaveLength(1);
  });

  test("retryOn RETRYABLE: an error marked retryable is retried, another fails at once; the type's policy is in the catalogue", async () => {
    const type = await ok(app, `{ taskType(module: "retries", name: "picky") { retry { attempts backoff backoffMs retryOn } } }`);
    expect(type.taskType.retry).toEqual({ attempts: 3, backoff: "FIXED", backoffMs: 100, retryOn: "RETRYABLE" });
    const start = `mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`;
    const retryable = (await ok(app, start, { input: { module: "retries", type: "picky", input: { retryable: true } } })).startTask.id;
    const fatal = (await ok(app, start, { input: { module: "retries", type: "picky", input: { retryable: false } } })).startTask.id;
    const [a, b] = [await ended(app, retryable), await ended(app, fatal)];
    expect(a).toMatchObject({ state: "FAILED", automaticRetries: 2, error: "the node is restarting" });
    expect(b).toMatchObject({ state: "FAILED", automaticRetries: 0, error: "the config is wrong" });
    expect(thrown.filter((t) => t.startsWith(retryable))).toEqual([`${retryable}#1`, `${retryable}#2`, `${retryable}#3`]);
    expect(thrown.filter((t) => t.startsWith(fatal))).toEqual([`${fatal}#1`]);
  });

  test("a step failure recorded after the task was ended by someone else promises no retry", async () => {
    // As a worker whose task was failed meanwhile (a forced delete) records its step's late failure.
    const app2 = await startTestApp({ worker: false });
    try {
      const id = await twoStepFlowAtStep1(app2, "running");
      await app2.store.transitionTask(id, "FAILED", { error: "deleted while pending" });
      const step = await app2.store.transitionStep(id, "step-1", "FAILED", { error: "boom", retryAfterMs: 1_000 });
      expect(step).toMatchObject({ state: "FAILED", nextAttemptAt: null, automaticRetries: 0 });
    } finally {
      await app2.stop();
    }
  });

  test("a bad retry policy is refused with BAD_USER_INPUT naming the field, and creates nothing", async () => {
    const before = await app.store.prismaForTests.task.count();
    const bad: [Record<string, unknown>, string][] = [
      [{ attempts: 0 }, "retry.attempts"],
      [{ attempts: 101 }, "retry.attempts"],
      [{ attempts: 3, backoffMs: -1 }, "retry.backoffMs"],
      [{ attempts: 3, backoffMs: 2_000, maxBackoffMs: 1_000 }, "retry.maxBackoffMs"],
      [{ attempts: 3, backoffMs: 86_400_001 }, "retry.backoffMs"],
    ];
    for (const [retry, field] of bad) {
      const result = await app.gql(CREATE, { input: { rounds: 1, retry } });
      expect(codes(result), JSON.stringify(retry)).toEqual(["BAD_USER_INPUT"]);
      expect(result.errors![0]!.extensions!.field).toBe(field);
    }
    expect(await app.store.prismaForTests.task.count()).toBe(before);
  });
});

describe("automatic retries survive a worker killed during the backoff (PostgreSQL)", () => {
  const fleet = useWorkerFleet("tg_retry", { TASKGRAPH_LEASE_MS: "2000", TASKGRAPH_CONCURRENCY: "4" });

  test("kill -9 while a step waits for its retry: another worker runs the retry at its time, once", { timeout: 60_000 }, async () => {
    const first = await fleet.startWorker();
    const task = await fleet.manager.startTask({
      module: "test",
      type: "flow",
      input: { rounds: 1, roundMs: 0, steps: 2, failAtRound: 1, failAttempts: 1, abortable: true, children: 0 },
      retry: { attempts: 3, backoff: "fixed", backoffMs: 3_000 },
    });
    const prisma = fleet.prisma();
    await until("step-1 waits for its retry", 20_000, async () => (await prisma.step.findFirst({ where: { taskId: task.id, key: "step-1", nextAttemptAt: { not: null } } })) !== null);
    const { nextAttemptAt } = await prisma.step.findFirstOrThrow({ where: { taskId: task.id, key: "step-1" } });
    first.child.kill("SIGKILL");
    await exitOf(first.child);
    await fleet.startWorker();
    await until("the task has ended", 30_000, fleet.allEnded([task.id])).catch((error: Error) => {
      throw new Error(error.message + fleet.logs());
    });
    const done = await prisma.task.findUniqueOrThrow({ where: { id: task.id }, include: { steps: { include: { attempts: { orderBy: { number: "asc" } } }, orderBy: { index: "asc" } } } });
    expect(done.state, fleet.logs()).toBe("SUCCEEDED");
    const attempts = done.steps[0]!.attempts;
    expect(attempts.map((a) => `${a.kind} ${a.state}`)).toEqual(["EXECUTE FAILED", "RETRY SUCCEEDED"]);
    // Not before its time, though the worker that promised it died.
    expect(attempts[1]!.startedAt.getTime()).toBeGreaterThanOrEqual(nextAttemptAt!.getTime());
  });
});
