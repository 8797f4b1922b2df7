// Live fan-out with many subscribers: 200 that share one document (each with its own `after`, as
// console pages opened at different times) and 5 with documents of their own, while tasks run. Each
// receives exactly the journal its filter selects (no gap, no duplicate, commit order), and the
// subscribers of one document receive the same thing for each event.
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { decodeEventCursor, encodeEventCursor, type JournalFilter } from "../src/store/journal-reader";
import { startTestApp, type TestApp } from "./support/app";
import { until } from "./support/cli";

let app: TestApp;
let url: string;
const clients: Client[] = [];

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 200, housekeepingMs: 100, leaseMs: 5000, concurrency: 8 } });
  ({ url } = await app.start(0));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await app.stop();
});

interface Received {
  cursor: string;
  type: string;
  taskId: string;
  json: string;
}

const N = Number(process.env.SHARED_N ?? 200);
const SHARED = `subscription Shared($filter: TaskEventFilter, $after: String) {
  taskEvents(filter: $filter, after: $after) { cursor type taskId version payload actor { kind name } task { id state progress { completed total } availableActions } }
}`;

/** The five with their own documents: a different selection, a narrower filter, a task filter. */
const OWN: { query: string; filter: JournalFilter & { task?: Record<string, unknown> } }[] = [
  { query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor type taskId } }`, filter: { module: "test" } },
  { query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor type taskId payload } }`, filter: { module: "test", types: ["STATE_CHANGED"] } },
  { query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor type taskId version } }`, filter: { module: "test", types: ["PROGRESSED", "CREATED"] } },
  { query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor type taskId task { state } } }`, filter: { module: "test", states: ["SUCCEEDED"] } },
  { query: `subscription ($f: TaskEventFilter, $a: String) { taskEvents(filter: $f, after: $a) { cursor type taskId leavesFilter } }`, filter: { module: "test" } },
];

function subscribe(client: Client, query: string, variables: Record<string, unknown>, into: Received[], failures: unknown[]): void {
  client.subscribe<{ taskEvents: { cursor: string; type: string; taskId: string } }>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) failures.push(result.errors);
        else into.push({ ...result.data!.taskEvents, json: JSON.stringify(result.data!.taskEvents) });
      },
      error: (error) => failures.push(error),
      complete: () => {},
    },
  );
}

/** The journal after `after` that `filter` selects, as cursors. */
async function journalAfter(after: string, filter: JournalFilter): Promise<string[]> {
  const events = await app.store.readJournal(decodeEventCursor(after), filter, 100_000);
  return events.map((e) => encodeEventCursor(e));
}

test("200 subscribers sharing a document and 5 with their own each receive exactly the journal", { timeout: 240_000 }, async () => {
  // Warm-up events, so the shared subscribers can start from different cursors (a page's journalCursor).
  const start = encodeEventCursor(await app.store.journalHead());
  const warmUp = await app.gql(`mutation { createTestTask(input: { rounds: 3, roundMs: 10 }) { id } }`);
  await app.manager.waitForTask(warmUp.data!.createTestTask.id, 20);
  const warmUpCursors = await journalAfter(start, { module: "test" });
  expect(warmUpCursors.length).toBeGreaterThan(4);

  const failures: unknown[] = [];
  const shared: { after: string; received: Received[] }[] = [];
  // 100 operations per connection at most (TASKGRAPH_MAX_OPERATIONS_PER_CONNECTION): 50 per client.
  for (let i = 0; i < N; i++) {
    // A connection at a time, once the previous one's subscriptions are live (as pages open).
    if (i % 50 === 0 && i > 0) await until(() => app.manager.feed.size >= i, 60_000, `${i} live subscriptions`);
    if (i % 50 === 0) clients.push(createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false }));
    const after = warmUpCursors[i % 5]!;
    const received: Received[] = [];
    shared.push({ after, received });
    subscribe(clients.at(-1)!, SHARED, { filter: { module: "test" }, after }, received, failures);
  }
  const ownClient = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
  clients.push(ownClient);
  const own = OWN.map(({ query, filter }) => {
    const received: Received[] = [];
    subscribe(ownClient, query, { filter, after: start, f: filter, a: start }, received, failures);
    return { filter, received };
  });
  await until(() => app.manager.feed.size >= N + 5, 60_000, `205 live subscriptions (${app.manager.feed.size}; ${JSON.stringify(failures).slice(0, 500)})`);

  // Tasks run while the subscribers watch: progress, state changes, one failure among them.
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const input = i === 7 ? `{ rounds: 4, roundMs: 20, failAtRound: 2 }` : `{ rounds: 4, roundMs: 20 }`;
    ids.push((await app.gql(`mutation { createTestTask(input: ${input}) { id } }`)).data!.createTestTask.id);
  }
  for (const id of ids) await app.manager.waitForTask(id, 60);
  const last = (await journalAfter(start, { module: "test" })).at(-1)!;
  const hasLast = (received: Received[]) => received.some((e) => e.cursor === last);
  await until(() => shared.every((s) => hasLast(s.received)) && hasLast(own[0]!.received), 120_000, "every subscriber has the last event");
  await new Promise((r) => setTimeout(r, 300)); // nothing more may come
  expect(failures).toEqual([]);

  for (const { after, received } of shared) {
    expect(received.map((e) => e.cursor)).toEqual(await journalAfter(after, { module: "test" }));
  }
  // One document, one answer: for each event, every shared subscriber that received it got the same JSON.
  const answers = new Map<string, Set<string>>();
  for (const { received } of shared) for (const e of received) (answers.get(e.cursor) ?? answers.set(e.cursor, new Set()).get(e.cursor)!).add(e.json);
  expect([...answers.values()].filter((jsons) => jsons.size > 1)).toEqual([]);

  for (const { filter, received } of own) {
    const expected = await journalAfter(start, filter);
    await until(() => received.length >= expected.length, 60_000, `${JSON.stringify(filter)}: ${expected.length} events`);
    expect(received.map((e) => e.cursor), JSON.stringify(filter)).toEqual(expected);
  }
  expect(own[1]!.received.filter((e) => e.type === "STATE_CHANGED").length).toBe(own[1]!.received.length);
});
