// Live subscriptions through real clients: graphql-ws over a WebSocket, and SSE.
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "./support/app";

let app: TestApp;
let url: string;
let client: Client;

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 200, housekeepingMs: 100, leaseMs: 3000 } });
  ({ url } = await app.start(0));
  client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client.dispose();
  await app.stop();
});

interface Event {
  cursor: string;
  type: string;
  taskId: string;
  version: number;
  payload: any;
  /** The task as it is when the event is delivered (null once deleted). */
  task: { id: string; state: string; worker: { name: string } | null } | null;
}

const EVENTS = `subscription ($filter: TaskEventFilter, $after: String) {
  taskEvents(filter: $filter, after: $after) { cursor type taskId version payload task { id state worker { name } } }
}`;

/** Subscribes and collects events until `done(events)` says so (bounded by a timeout). */
function collect(variables: Record<string, unknown>, done: (events: Event[]) => boolean, timeoutMs = 15_000): Promise<Event[]> {
  const events: Event[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out with ${events.length} events: ${JSON.stringify(events.map((e) => e.type))}`));
    }, timeoutMs);
    const stop = client.subscribe<{ taskEvents: Event }>(
      { query: EVENTS, variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          events.push(result.data!.taskEvents);
          if (done(events)) {
            clearTimeout(timer);
            stop();
            resolve(events);
          }
        },
        error: reject,
        complete: () => {},
      },
    );
  });
}

/** Waits until the server has `count` more subscribers on its journal feed than `before`. */
async function subscribed(before: number, count = 1): Promise<void> {
  for (let i = 0; i < 500 && app.manager.feed.size < before + count; i++) await new Promise((r) => setTimeout(r, 10));
  expect(app.manager.feed.size).toBeGreaterThanOrEqual(before + count);
}

const ended = (events: Event[]) => events.some((e) => e.type === "STATE_CHANGED" && e.payload.to === "SUCCEEDED");

describe("taskEvents over graphql-ws", () => {
  test("a subscriber sees every state change of a test task and a monotonic progress sequence ending at the total", async () => {
    const before = app.manager.feed.size;
    const watching = collect({ filter: { module: "test" } }, ended);
    await subscribed(before); // the subscription is live before the task starts
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 4, roundMs: 30 }) { id } }`);
    const id = created.data!.createTestTask.id;
    const events = (await watching).filter((e) => e.taskId === id);
    const states = events.filter((e) => e.type === "STATE_CHANGED").map((e) => `${e.payload.from}→${e.payload.to}`);
    expect(events[0]!.type).toBe("CREATED");
    expect(states).toEqual(["QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    const progress = events.filter((e) => e.type === "PROGRESSED").map((e) => e.payload.completed as number);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(4);
    const versions = events.map((e) => e.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  test("a client that disconnects mid-task and reconnects with `after` receives exactly the missed events", async () => {
    const created = await app.gql(
      `mutation { createTestTask(input: { rounds: 6, roundMs: 80, runAt: "${new Date(Date.now() + 800).toISOString()}" }) { id } }`,
    );
    const id = created.data!.createTestTask.id;
    // Takes the task's events from its creation (so a slow connect on a loaded machine misses
    // none) until its second progress report, then drops.
    const firstClient = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const seen = await new Promise<Event[]>((resolve, reject) => {
      const events: Event[] = [];
      let done = false;
      firstClient.subscribe<{ taskEvents: Event }>(
        { query: EVENTS, variables: { filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") } },
        {
          next: ({ data }) => {
            if (done) return; // what arrives after the cut (a replay comes in a burst) counts as missed
            events.push(data!.taskEvents);
            if (events.filter((e) => e.type === "PROGRESSED").length === 2) {
              done = true;
              resolve(events);
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await firstClient.dispose(); // the connection is gone, mid-task
    expect(seen.at(-1)!.type).toBe("PROGRESSED");
    await new Promise((r) => setTimeout(r, 250)); // the task goes on meanwhile
    const resumed = await collect({ filter: { taskId: id }, after: seen.at(-1)!.cursor }, ended);
    // What the task did, from the start of the journal, to compare against.
    const full = await collect({ filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") }, ended);
    const cut = full.findIndex((e) => e.cursor === seen.at(-1)!.cursor);
    expect(cut).toBeGreaterThan(0);
    const show = (events: Event[]) => events.map((e) => `${Buffer.from(e.cursor, "base64url")} ${e.type} v${e.version}`).join(", ");
    expect(resumed.map((e) => e.cursor), `seen: ${show(seen)}\nresumed: ${show(resumed)}\nfull: ${show(full)}`).toEqual(full.slice(cut + 1).map((e) => e.cursor));
    expect(resumed.some((e) => e.type === "PROGRESSED")).toBe(true);
    const versions = [...seen, ...resumed].map((e) => e.version);
    expect(new Set(versions).size).toBe(versions.length); // no duplicate at the seam
  });

  test("each event carries the task as it is now: its worker while it runs, null once it is deleted", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 8, roundMs: 100 }) { id } }`);
    const id = created.data!.createTestTask.id;
    const live = await collect({ filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") }, ended);
    expect(live.every((e) => e.task?.id === id)).toBe(true);
    const running = live.filter((e) => e.task!.state === "RUNNING");
    expect(running.length).toBeGreaterThan(0);
    // A RUNNING task names the one worker there is; only a lease handed back for a moment (a loaded
    // machine renewing late) shows none.
    const workers = running.map((e) => e.task!.worker?.name ?? null);
    expect(workers.filter((name) => name !== null && name !== app.manager.workerName), JSON.stringify(running)).toEqual([]);
    expect(workers, JSON.stringify(running)).toContain(app.manager.workerName);
    await app.manager.waitForTask(id, 10);
    const after = await app.gql(`query ($id: ID!) { task(id: $id) { state worker { name } } }`, { id });
    expect(after.data!.task).toEqual({ state: "SUCCEEDED", worker: null }); // no worker once it has ended
    expect((await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id })).data!.deleteTask.deleted).toBe(true);
    const replayed = await collect(
      { filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") },
      (events) => events.some((e) => e.type === "DELETED"),
    );
    expect(replayed.map((e) => e.cursor)).toEqual([...live.map((e) => e.cursor), replayed.at(-1)!.cursor]);
    expect(replayed.every((e) => e.task === null && e.taskId === id)).toBe(true);
  });

  test("filtering by states keeps only the events that put a task into those states", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 2, roundMs: 10 }) { id } }`);
    const id = created.data!.createTestTask.id;
    const events = await collect({ filter: { taskId: id, states: ["RUNNING", "SUCCEEDED"] }, after: Buffer.from("0:0").toString("base64url") }, ended);
    expect(events.map((e) => `${e.type} ${e.payload.to}`)).toEqual(["STATE_CHANGED RUNNING", "STATE_CHANGED SUCCEEDED"]);
  });

  test("a client that goes away leaves no subscription behind on the server", async () => {
    // The earlier tests' clients are gone too: their subscriptions have ended.
    for (let i = 0; i < 100 && app.manager.feed.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const before = app.manager.feed.size;
    expect(before).toBe(0);
    const leaving = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const started = new Promise<void>((resolve) => {
      leaving.subscribe({ query: EVENTS, variables: { filter: { module: "nothing-happens-here" } } }, { next: () => {}, error: () => {}, complete: () => {} });
      const check = setInterval(() => app.manager.feed.size > before && (clearInterval(check), resolve()), 20);
    });
    await started;
    await leaving.dispose();
    for (let i = 0; i < 100 && app.manager.feed.size > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(app.manager.feed.size).toBe(before);
  });

  test("on one connection, a completed subscription gets nothing more while the others go on, and one that ends sends `complete` after its last result", async () => {
    const runAt = new Date(Date.now() + 600_000).toISOString(); // pending until aborted: nothing else changes them
    const create = async () => (await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 10, runAt: "${runAt}" }) { id } }`)).data!.createTestTask.id as string;
    const kept = await create();
    const dropped = await create();
    const messages: { id?: string; type: string; payload?: any }[] = [];
    const ws = new WebSocket(url.replace("http", "ws"), "graphql-transport-ws");
    ws.on("message", (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve) => ws.once("open", resolve));
    const send = (message: object) => ws.send(JSON.stringify(message));
    const until = async (what: string, check: () => boolean) => {
      for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
      if (!check()) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(messages)}`);
    };
    const of = (id: string) => messages.filter((m) => m.id === id);
    try {
      send({ type: "connection_init" });
      await until("the acknowledgement", () => messages.some((m) => m.type === "connection_ack"));
      const before = app.manager.feed.size;
      const events = `subscription ($id: ID!) { taskEvents(filter: { taskId: $id }) { type payload } }`;
      send({ id: "kept", type: "subscribe", payload: { query: events, variables: { id: kept } } });
      send({ id: "dropped", type: "subscribe", payload: { query: events, variables: { id: dropped } } });
      send({ id: "snapshots", type: "subscribe", payload: { query: `subscription ($id: ID!) { taskUpdated(id: $id) { state } }`, variables: { id: kept } } });
      await until("both event subscriptions on the server", () => app.manager.feed.size === before + 2);
      await until("the first snapshot", () => of("snapshots").length > 0);
      send({ id: "dropped", type: "complete" });
      await until("the completed subscription to end on the server", () => app.manager.feed.size === before + 1);

      for (const id of [kept, dropped]) await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { state } }`, { id });
      expect((await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id: kept })).data!.deleteTask.deleted).toBe(true);
      await until("the deletion", () => of("kept").some((m) => m.payload?.data?.taskEvents.type === "DELETED"));
      await until("the end of the snapshots", () => of("snapshots").some((m) => m.type === "complete"));

      expect(of("dropped")).toEqual([]);
      const keptEvents = of("kept").map((m) => `${m.type} ${m.payload.data.taskEvents.type} ${m.payload.data.taskEvents.payload.to ?? ""}`.trim());
      expect(keptEvents).toContain("next STATE_CHANGED CANCELED");
      expect(keptEvents.at(-1)).toBe("next DELETED");
      const snapshots = of("snapshots").map((m) => (m.type === "next" ? `next ${m.payload.data.taskUpdated.state}` : m.type));
      expect(snapshots[0]).toBe("next SCHEDULED");
      expect(snapshots.slice(-2)).toEqual(["next CANCELED", "complete"]);
      expect(snapshots.filter((s) => s === "complete")).toHaveLength(1);
    } finally {
      ws.close();
    }
  });

  test("a cursor the API never made is BAD_USER_INPUT", async () => {
    const error = await collect({ after: "garbage!" }, () => true).catch((e: unknown) => e);
    expect(JSON.stringify(error)).toContain("BAD_USER_INPUT");
  });
});

describe("taskUpdated", () => {
  test("sends the task at once, then a newer snapshot on every change until it ends", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 3, roundMs: 40, runAt: "${new Date(Date.now() + 1500).toISOString()}" }) { id } }`);
    const id = created.data!.createTestTask.id;
    const snapshots: { state: string; version: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      const stop = client.subscribe<{ taskUpdated: { state: string; version: number } }>(
        { query: `subscription ($id: ID!) { taskUpdated(id: $id) { state version } }`, variables: { id } },
        {
          next: (r) => {
            snapshots.push(r.data!.taskUpdated);
            if (r.data!.taskUpdated.state === "SUCCEEDED") {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    expect(snapshots[0]!.state).toBe("SCHEDULED");
    expect(snapshots.at(-1)!.state).toBe("SUCCEEDED");
    const versions = snapshots.map((s) => s.version);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });
});

describe("SSE", () => {
  test("a Server-Sent Events client receives every state change and a monotonic progress sequence ending at the total", async () => {
    const created = await app.gql(
      `mutation { createTestTask(input: { rounds: 4, roundMs: 30, runAt: "${new Date(Date.now() + 1000).toISOString()}" }) { id } }`,
    );
    const id = created.data!.createTestTask.id;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({
        query: `subscription ($id: ID!) { taskEvents(filter: { taskId: $id }) { type payload } }`,
        variables: { id },
      }),
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const events: { type: string; payload: any }[] = [];
    let buffer = "";
    while (!events.some((e) => e.type === "STATE_CHANGED" && e.payload.to === "SUCCEEDED")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (data) {
          const parsed = JSON.parse(data);
          if (parsed.data?.taskEvents) events.push(parsed.data.taskEvents);
        }
      }
    }
    await reader.cancel();
    const states = events.filter((e) => e.type === "STATE_CHANGED").map((e) => `${e.payload.from}→${e.payload.to}`);
    expect(states).toEqual(["SCHEDULED→QUEUED", "QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    const progress = events.filter((e) => e.type === "PROGRESSED").map((e) => e.payload.completed as number);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(4);
  });

  test("taskUpdated over Server-Sent Events streams the task's snapshot", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`);
    const id = created.data!.createTestTask.id;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: `subscription ($id: ID!) { taskUpdated(id: $id) { id state } }`, variables: { id } }),
    });
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes(`"id":"${id}"`)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain(`"id":"${id}"`);
  });
});

describe("journal retention", () => {
  test("events past the retention horizon are pruned, and an `after` from before it gets CURSOR_EXPIRED", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`);
    const id = created.data!.createTestTask.id;
    const history = await collect({ filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") }, ended);
    // As if a week had passed: everything now in the journal is past the horizon.
    const pruned = await app.store.pruneJournal(Date.now() + 8 * 24 * 3_600_000);
    expect(pruned).toBeGreaterThanOrEqual(history.length);
    expect(await app.store.events(id)).toEqual([]);
    const error = await collect({ filter: { taskId: id }, after: history[0]!.cursor }, () => true).catch((e: unknown) => e);
    expect(JSON.stringify(error)).toContain("CURSOR_EXPIRED");
    // Without `after`, a client subscribes afresh and gets what happens from now on.
    const retried = await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id });
    expect(retried.data!.deleteTask.deleted).toBe(true);
  });
});
