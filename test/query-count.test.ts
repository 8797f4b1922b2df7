import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "./support/app";
import { recordingLogger } from "./support/log";

// Listing N tasks with their steps, attempts, children and logs must cost the same number of SQL
// queries whatever N is: no query per task (N+1).
describe("listing tasks with nested fields runs a constant number of SQL queries", () => {
  let app: TestApp;
  const queries: string[] = [];

  beforeAll(async () => {
    // Task data only: the per-request token check (cached for a second) is not what N+1 is about.
    app = await startTestApp({ onQuery: (sql) => void (sql.includes('"ApiToken"') || queries.push(sql)) });
    await app.store.ensureModule("kafka");
    for (let i = 0; i < 100; i++) {
      const task = await app.store.createTask({
        module: "kafka",
        type: "restart-broker",
        target: `broker-${i}`,
        steps: [{ key: "stop" }, { key: "start" }],
        children: [{ type: "drain" }, { type: "check" }, { type: "hidden", isInternal: true }],
      });
      if (i % 10 === 0) {
        await app.store.transitionTask(task.id, "RUNNING");
        await app.store.transitionStep(task.id, "stop", "RUNNING");
        await app.store.appendLog(task.id, { stepKey: "stop", message: "stopping" });
      }
    }
  });
  afterAll(() => app.stop());

  const LIST = `query ($n: Int!) {
    tasks(first: $n, filter: { rootsOnly: true }) {
      totalCount
      edges { node {
        id state availableActions progress { fraction }
        parent { id } root { id } module { name totalTasks } taskType { name served } worker { name }
        steps { key state availableActions dependsOn { key } attempts { kind state logs(first: 5) { edges { node { message } } } } }
        flow { nodes { key state } edges { from { key } to { key } } }
        children(first: 10) { totalCount edges { node { id type steps { key } } } }
        logs(first: 10) { totalCount edges { node { message step { key } attempt { number } } } }
      } }
    }
  }`;

  async function countFor(n: number) {
    queries.length = 0;
    const result = await app.gql(LIST, { n });
    expect(result.errors).toBeUndefined();
    expect(result.data!.tasks.edges).toHaveLength(n);
    return queries.length;
  }

  test("10 tasks and 100 tasks cost the same number of queries", async () => {
    const ten = await countFor(10);
    const hundred = await countFor(100);
    console.log(`SQL queries: ${ten} for 10 tasks, ${hundred} for 100 tasks`);
    expect(hundred).toBe(ten);
    expect(hundred).toBeLessThan(20);
  });

  test("a module selection its name answers reads no module row; one that asks for more reads it, once per request", async () => {
    const moduleReads = () => queries.filter((sql) => sql.includes('FROM "public"."Module"')).length;
    queries.length = 0;
    const byName = await app.gql(`{ tasks(first: 20) { edges { node { module { __typename id name totalTasks ...M } } } } } fragment M on Module { name }`);
    expect(byName.errors).toBeUndefined();
    expect(byName.data!.tasks.edges[0].node.module).toEqual({ __typename: "Module", id: "Module:kafka", name: "kafka", totalTasks: 300 }); // 100 roots and their 200 visible children
    expect(moduleReads()).toBe(0);
    queries.length = 0;
    const more = await app.gql(`{ tasks(first: 20) { edges { node { module { name description lastSequenceNumber } } } } }`);
    expect(more.errors).toBeUndefined();
    expect(more.data!.tasks.edges[0].node.module).toEqual({ name: "kafka", description: "", lastSequenceNumber: 100 });
    expect(moduleReads()).toBe(1);
  });

  test("the children listed exclude internal tasks and are counted", async () => {
    const result = await app.gql(LIST, { n: 1 });
    const node = result.data!.tasks.edges[0].node;
    expect(node.children.totalCount).toBe(2);
    expect(node.children.edges.map((e: any) => e.node.type)).toEqual(["drain", "check"]);
  });
});

// A list page resuming with `after` replays the events since then, each with its `task`: the tasks
// are read once per replayed batch, not once per event (which left a busy page seconds behind).
describe("replaying events with their task runs a constant number of SQL queries", () => {
  let app: TestApp;
  let client: Client;
  const queries: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ onQuery: (sql) => void (sql.includes('"ApiToken"') || queries.push(sql)) });
    const { url } = await app.start(0);
    client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
  });
  afterAll(async () => {
    await client.dispose();
    await app.stop();
  });

  /** Writes `n` tasks' CREATED events in module `module`; returns the cursor from before them. */
  async function eventsAfterCursor(module: string, n: number): Promise<string> {
    await app.store.ensureModule(module);
    const before = await app.gql(`{ tasks(first: 1) { journalCursor } }`);
    for (let i = 0; i < n; i++) await app.store.createTask({ module, type: "job", target: `node-${i}` });
    return before.data!.tasks.journalCursor;
  }

  /** The reads of tasks and modules (not the journal's) while `n` events are replayed. */
  async function replayQueries(module: string, n: number): Promise<number> {
    const after = await eventsAfterCursor(module, n);
    queries.length = 0;
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const stop = client.subscribe<{ taskEvents: { task: { id: string; state: string; module: { name: string } } | null } }>(
        {
          query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor task { id state module { name } } } }`,
          variables: { filter: { module }, after },
        },
        {
          next: (result) => {
            if (result.errors || !result.data!.taskEvents.task) return reject(new Error(JSON.stringify(result)));
            if (++received === n) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    return queries.filter((sql) => sql.includes('"Task"') || sql.includes('"Module"')).length;
  }

  test("20 and 200 replayed events cost the same number of task reads", async () => {
    const twenty = await replayQueries("replay-small", 20);
    const twoHundred = await replayQueries("replay-large", 200);
    console.log(`task and module reads: ${twenty} for 20 replayed events, ${twoHundred} for 200`);
    expect(twoHundred).toBe(twenty);
    expect(twoHundred).toBeLessThanOrEqual(2);
  });
});

// Events written while nobody subscribed are owed to no one: the first subscriber starts at the
// journal's head at once, however many there were (a subscriber with `after` replays its own).
describe("the first subscriber after a quiet spell", () => {
  let app: TestApp;
  let client: Client;
  const queries: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ onQuery: (sql) => void (sql.includes('"ApiToken"') || queries.push(sql)) });
    const { url } = await app.start(0);
    client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    await app.store.ensureModule("quiet");
  });
  afterAll(async () => {
    await client.dispose();
    await app.stop();
  });

  /**
   * Writes `unwatched` events with no subscriber, then subscribes; the journal reads (SELECTs of
   * TaskEvent, not the writes of the tasks created to see an event) until a new event arrives.
   */
  async function queriesToFirstEvent(unwatched: number): Promise<number> {
    for (let i = 0; i < unwatched; i += 500) await app.store.createTasks(Array.from({ length: Math.min(500, unwatched - i) }, () => ({ module: "quiet", type: "backlog" })));
    queries.length = 0;
    const seen: string[] = [];
    const stop = client.subscribe<{ taskEvents: { type: string; taskId: string } }>(
      { query: `subscription { taskEvents(filter: { module: "quiet" }) { type taskId } }` },
      { next: (result) => void seen.push(result.data!.taskEvents.taskId), error: () => {}, complete: () => {} },
    );
    try {
      for (let attempt = 0; seen.length === 0 && attempt < 100; attempt++) {
        const task = await app.store.createTask({ module: "quiet", type: "after" });
        const end = Date.now() + 200;
        while (!seen.includes(task.id) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen.length).toBeGreaterThan(0);
      return queries.filter((sql) => sql.includes('"TaskEvent"') && !/\bINSERT\b/i.test(sql)).length;
    } finally {
      stop();
      await new Promise((r) => setTimeout(r, 100)); // the subscription ends: nobody listens again
    }
  }

  test("starts at once after 10 or 4,000 unwatched events, reading none of them", async () => {
    const few = await queriesToFirstEvent(10);
    const many = await queriesToFirstEvent(4_000);
    console.log(`journal reads to the first event: ${few} after 10 unwatched events, ${many} after 4,000`);
    expect(many).toBeLessThanOrEqual(few + 1);
  });
});

// A flow's run writes each step's start and end and does not read its steps (the claim that
// started it returned them, one less round trip per flow); it does not re-read the
// task before every step, nor look again at the notices of its own step changes (which took 22
// statements per 3-step flow and made flows 36 times slower than plain tasks).
describe("running a flow costs a few statements per step, not a re-read per change", () => {
  let app: TestApp;
  const queries: string[] = [];
  const log = recordingLogger("info");

  beforeAll(async () => {
    app = await startTestApp({
      onQuery: (sql) => void (sql.includes('"ApiToken"') || queries.push(sql)),
      worker: { concurrency: 4, pollMs: 50 },
      logger: log.logger,
    });
    app.manager.defineTask({
      module: "count",
      type: "flow3",
      steps: [
        { key: "a", run: () => null },
        { key: "b", dependsOn: ["a"], run: (ctx) => void ctx.log.info(`attempt ${ctx.attempt}`) },
        { key: "c", dependsOn: ["b"], run: () => null },
      ],
    });
    await app.manager.start();
  });
  afterAll(() => app.stop());

  test("a 3-step flow: its 6 step changes in 4 writes (each step's end starts the next), its steps read by the claim, no per-step look", async () => {
    // The run's "task ended" line says when it is done, with no read of ours among the statements.
    const ended = (id: string) => vi.waitFor(() => expect(log.lines.find((l) => l.msg === "task ended" && l.taskId === id)?.state).toBe("SUCCEEDED"), { timeout: 10_000 });
    const warm = await app.manager.startTask({ module: "count", type: "flow3" });
    await ended(warm.id);
    await new Promise((r) => setTimeout(r, 200));
    queries.length = 0;
    const task = await app.manager.startTask({ module: "count", type: "flow3" });
    await ended(task.id);
    await new Promise((r) => setTimeout(r, 200)); // late notices would show as reads here
    const stepWrites = queries.filter((sql) => /UPDATE "Step"/.test(sql)).length;
    const stepReads = queries.filter((sql) => /^SELECT .*FROM "public"\."Step"/s.test(sql)).length;
    const taskReads = queries.filter((sql) => /^SELECT .*FROM "public"\."Task" WHERE .*"id" = /s.test(sql)).length;
    const attemptCounts = queries.filter((sql) => /COUNT\(\*\).*"StepAttempt"/s.test(sql)).length;
    if (process.env.SHOW_SQL) for (const q of queries) console.log(q.replace(/\s+/g, " ").slice(0, 160));
    console.log(`a 3-step flow: ${queries.length} statements (${stepWrites} step writes, ${stepReads} step reads, ${taskReads} task reads)`);
    // 6 changes in 4 writes: the first step's start, then each step's end with the next one's start
    // (and the progress it moves). One may be written twice: a claim whose snapshot still saw the
    // task QUEUED locks its row while it re-checks it (and keeps the lock to its commit); the step
    // write, which never waits for a lock, then tries again 10 ms later (seen in CI: the first
    // RUNNING write, twice).
    expect(stepWrites).toBeGreaterThanOrEqual(4);
    expect(stepWrites).toBeLessThanOrEqual(5);
    expect(stepReads).toBe(0);
    expect(attemptCounts).toBe(0); // ctx.attempt comes back with the step's start
    expect(taskReads).toBe(0);
    // The step saw its attempt number.
    const logs = await app.gql(`query ($id: ID!) { task(id: $id) { logs(first: 5) { edges { node { message } } } } }`, { id: task.id });
    expect(logs.data!.task.logs.edges.map((e: any) => e.node.message)).toContain("attempt 1");
  });
});
