// A task's history (Task.events) and who made each change (TaskEvent.actor): API tokens for
// mutations, the worker for what its runs do, the system for housekeeping. Paging both ways, and
// the last history cursor resumes taskEvents with no gap and no duplicate.
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "./support/app";
import { runCli } from "./support/cli";

let app: TestApp;
let url: string;
let worker: string;
let alice: string; // TASK_MANAGER
let admin: string; // ADMIN
let localTaskId: string;

interface HistoryEvent {
  cursor: string;
  type: string;
  payload: any;
  actor: { kind: string; name: string };
}

const EVENT_FIELDS = "cursor type payload actor { kind name }";

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 200, housekeepingMs: 100, leaseMs: 3000 } });
  ({ url } = await app.start(0));
  worker = app.manager.workerName!;
  // Protected mode: the local ADMIN creates a task, then the tokens (which end protected mode).
  const local = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`);
  localTaskId = local.data!.createTestTask.id;
  const token = async (name: string, role: string, as?: string) => {
    const created = await app.gql(`mutation ($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { secret } }`, { name, role }, as ? { token: as } : {});
    return created.data!.createApiToken.secret as string;
  };
  admin = await token("ops-admin", "ADMIN");
  alice = await token("ops-alice", "TASK_MANAGER", admin);
});
afterAll(() => app.stop());

async function ok(query: string, variables: Record<string, unknown>, token: string) {
  const result = await app.gql(query, variables, { token });
  expect(result.errors).toBeUndefined();
  return result.data!;
}

const create = async (input: Record<string, unknown>, token = alice): Promise<string> =>
  (await ok(`mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }`, { input }, token)).createTestTask.id;

async function waitFor(id: string, states: string[]): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { task } = await ok(`query ($id: ID!) { task(id: $id) { state } }`, { id }, admin);
    if (states.includes(task.state)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`task ${id} never reached ${states.join("|")}`);
}

/** A page of Task.events. */
async function page(id: string, args: Record<string, unknown>) {
  const { task } = await ok(
    `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      task(id: $id) { events(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { ${EVENT_FIELDS} } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      } }
    }`,
    { id, ...args },
    admin,
  );
  return task.events as { edges: { cursor: string; node: HistoryEvent }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } };
}

const history = async (id: string): Promise<HistoryEvent[]> => (await page(id, { first: 500 })).edges.map((e) => e.node);

const stateChange = (events: HistoryEvent[], from: string, to: string) =>
  events.find((e) => e.type === "STATE_CHANGED" && e.payload.from === from && e.payload.to === to);

/** Subscribes over graphql-ws as `token` and collects events until `done` says so. */
function follow(token: string, variables: Record<string, unknown>, done: (events: HistoryEvent[]) => boolean, onLive: () => Promise<unknown>) {
  const client: Client = createClient({
    url: url.replace("http", "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const events: HistoryEvent[] = [];
  const before = app.manager.feed.size;
  const collected = new Promise<HistoryEvent[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(events.map((e) => e.type))}`)), 20_000);
    client.subscribe<{ taskEvents: HistoryEvent }>(
      { query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { ${EVENT_FIELDS} } }`, variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          events.push(result.data!.taskEvents);
          if (done(events)) {
            clearTimeout(timer);
            resolve(events);
          }
        },
        error: reject,
        complete: () => {},
      },
    );
  });
  return (async () => {
    for (let i = 0; i < 500 && app.manager.feed.size <= before; i++) await new Promise((r) => setTimeout(r, 10));
    await onLive();
    try {
      return await collected;
    } finally {
      await client.dispose();
    }
  })();
}

describe("Task.events and TaskEvent.actor", () => {
  test("the local ADMIN's creation says `local`; a run's claim, steps, progress, log lines and completion say the worker", async () => {
    await waitFor(localTaskId, ["SUCCEEDED"]);
    const local = await history(localTaskId);
    expect(local[0]).toMatchObject({ type: "CREATED", actor: { kind: "USER", name: "local" } });
    expect(stateChange(local, "RUNNING", "SUCCEEDED")!.actor).toEqual({ kind: "WORKER", name: worker });

    // A flow whose second step fails on its first attempt: every change of the run is the worker's.
    const id = await create({ rounds: 2, roundMs: 5, steps: 2, failAtRound: 3 });
    await waitFor(id, ["FAILED"]);
    const events = await history(id);
    expect(events[0]).toMatchObject({ type: "CREATED", actor: { kind: "USER", name: "ops-alice" } });
    expect(stateChange(events, "QUEUED", "RUNNING")!.actor).toEqual({ kind: "WORKER", name: worker }); // the claim
    for (const type of ["STEP_CHANGED", "PROGRESSED", "LOG_APPENDED"]) {
      const ofType = events.filter((e) => e.type === type);
      expect(ofType.length, type).toBeGreaterThan(0);
      for (const event of ofType) expect(event.actor, type).toEqual({ kind: "WORKER", name: worker });
    }
    expect(stateChange(events, "RUNNING", "FAILED")!.actor).toEqual({ kind: "WORKER", name: worker });

    // A plain success is recorded by the worker's batched completion (its claim statement).
    const count = await create({ rounds: 1, roundMs: 0 });
    await waitFor(count, ["SUCCEEDED"]);
    const counted = await history(count);
    expect(stateChange(counted, "QUEUED", "RUNNING")!.actor).toEqual({ kind: "WORKER", name: worker });
    expect(stateChange(counted, "RUNNING", "SUCCEEDED")!.actor).toEqual({ kind: "WORKER", name: worker });
  });

  test("each control mutation shows the token that made it; the history's last cursor resumes taskEvents with no gap", async () => {
    const id = await create({ rounds: 1, roundMs: 5, steps: 2, failAtRound: 2 });
    await waitFor(id, ["FAILED"]);
    const before = await page(id, { first: 500 });
    const last = before.pageInfo.endCursor!;
    expect(before.edges.at(-1)!.cursor).toBe(last);

    // ops-admin retries (the run then succeeds), then deletes it; followed from the history's last cursor.
    const afterRetry: HistoryEvent[] = [];
    const live = await follow(
      admin,
      { filter: { taskId: id }, after: last },
      (events) => events.some((e) => e.type === "DELETED"),
      async () => {
        await ok(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id }, admin);
        await waitFor(id, ["SUCCEEDED"]);
        const all = await history(id);
        // No gap, no duplicate: the history so far is the first read plus what the subscription saw.
        expect(all.slice(0, before.edges.length).map((e) => e.cursor)).toEqual(before.edges.map((e) => e.cursor));
        expect(stateChange(all, "FAILED", "RUNNING")!.actor).toEqual({ kind: "USER", name: "ops-admin" });
        expect(stateChange(all, "RUNNING", "SUCCEEDED")!.actor).toEqual({ kind: "WORKER", name: worker });
        afterRetry.push(...all.slice(before.edges.length));
        await ok(`mutation ($id: ID!) { deleteTask(id: $id) { deletedIds } }`, { id }, admin);
      },
    );
    expect(live.slice(0, -1).map((e) => e.cursor)).toEqual(afterRetry.map((e) => e.cursor));
    // The retry's own events come first (its failed step set to roll back, the task RUNNING again), all ops-admin's.
    expect(live[0]!.actor).toEqual({ kind: "USER", name: "ops-admin" });
    expect(stateChange(live, "FAILED", "RUNNING")!.actor).toEqual({ kind: "USER", name: "ops-admin" });
    expect(live.at(-1)).toMatchObject({ type: "DELETED", actor: { kind: "USER", name: "ops-admin" } });

    // ops-alice aborts a running task: her request is hers, the run's wind-down the worker's.
    const running = await create({ rounds: 400, roundMs: 50, abortable: true });
    await waitFor(running, ["RUNNING"]);
    await ok(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id: running }, alice);
    await waitFor(running, ["CANCELED"]);
    const aborted = await history(running);
    const byAlice = aborted.filter((e) => e.actor.name === "ops-alice");
    expect(byAlice.map((e) => e.type)).toContain("CREATED");
    expect(byAlice.length).toBeGreaterThan(1); // the creation and the abort request
    for (const event of byAlice) expect(event.actor.kind).toBe("USER");
    expect(aborted.find((e) => e.type === "STATE_CHANGED" && e.payload.to === "CANCELED")).toBeDefined();
    expect(aborted.filter((e) => e.actor.name === "ops-admin")).toEqual([]);
  });

  test("a scheduled task's promotion when due is the system's", async () => {
    const id = await create({ rounds: 1, roundMs: 0, runAt: new Date(Date.now() + 1_000).toISOString() });
    await waitFor(id, ["SUCCEEDED"]);
    const events = await history(id);
    expect(events[0]).toMatchObject({ type: "CREATED", payload: { state: "SCHEDULED" }, actor: { kind: "USER", name: "ops-alice" } });
    expect(stateChange(events, "SCHEDULED", "QUEUED")!.actor).toEqual({ kind: "SYSTEM", name: "system" });
    expect(stateChange(events, "QUEUED", "RUNNING")!.actor).toEqual({ kind: "WORKER", name: worker });
  });

  test("the CLI prints the history with who made each change", async () => {
    const id = await create({ rounds: 1, roundMs: 0 });
    await waitFor(id, ["SUCCEEDED"]);
    const env = { TASKGRAPH_TOKEN: admin };
    const table = await runCli(url, ["tasks", "history", id], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/user:ops-alice\s+CREATED/);
    expect(table.stdout).toContain(`worker:${worker}`);
    expect(table.stdout).toMatch(/STATE_CHANGED\s+RUNNING → SUCCEEDED/);
    const json = await runCli(url, ["tasks", "history", id, "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual(await history(id).then((events) => events.map((e) => expect.objectContaining({ cursor: e.cursor, actor: e.actor }))));
    expect((await runCli(url, ["tasks", "history", "0b9f4e1c-0000-4000-8000-000000000000"], env)).code).toBe(2); // NOT_FOUND
  });

  test("paging forward and backward gives the same events, in journal order", async () => {
    const id = await create({ rounds: 3, roundMs: 5, steps: 3 });
    await waitFor(id, ["SUCCEEDED"]);
    const all = await history(id);
    expect(all.length).toBeGreaterThan(10);

    const forward: HistoryEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const p = await page(id, { first: 3, after });
      forward.push(...p.edges.map((e) => e.node));
      expect(p.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    const backward: HistoryEvent[] = [];
    let before: string | null = null;
    for (;;) {
      const p = await page(id, { last: 4, before });
      backward.unshift(...p.edges.map((e) => e.node));
      expect(p.pageInfo.hasNextPage).toBe(before !== null);
      if (!p.pageInfo.hasPreviousPage) break;
      before = p.pageInfo.startCursor;
    }
    expect(forward).toEqual(all);
    expect(backward).toEqual(all);
    expect(all[0]!.type).toBe("CREATED");
    expect(all.at(-1)).toMatchObject({ type: "STATE_CHANGED", payload: { to: "SUCCEEDED" } });

    const bad = await app.gql(`query ($id: ID!) { task(id: $id) { events(first: 2, before: "nope") { edges { cursor } } } }`, { id }, { token: admin });
    expect(bad.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
  });
});
