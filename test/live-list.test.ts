// A list page kept current by one subscription: taskEvents with `filter.task` (the same filter as
// `tasks`) sends the events of the tasks in the list, with the row fields selected on `task`, and
// one last event when a task leaves the list; replay with `after` gives exactly the same events.
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { readJournal } from "../src/store/journal-reader";
import { startTestApp, type TestApp } from "./support/app";
import { storeKind } from "./support/db";

let app: TestApp;
let client: Client;

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100 } });
  const { url } = await app.start(0);
  client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client.dispose();
  await app.stop();
});

interface Row {
  cursor: string;
  type: string;
  taskId: string;
  leavesFilter: boolean;
  task: { id: string; name: string; state: string; progress: { completed: number } } | null;
}

const LIST = `subscription ($filter: TaskEventFilter, $after: String) {
  taskEvents(filter: $filter, after: $after) { cursor type taskId leavesFilter task { id name state progress { completed } } }
}`;

/** A subscription that collects its events (or its error) until stopped. */
function watch(variables: Record<string, unknown>) {
  const events: Row[] = [];
  const errors: unknown[] = [];
  const stop = client.subscribe<{ taskEvents: Row }>(
    { query: LIST, variables },
    { next: (r) => (r.errors ? errors.push(r.errors) : events.push(r.data!.taskEvents)), error: (e) => errors.push(e), complete: () => {} },
  );
  return { events, errors, stop };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function start(name: string, rounds = 3, extra: Record<string, unknown> = {}): Promise<string> {
  const started = await app.gql(`mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`, {
    input: { module: "test", type: "count", name, input: { rounds, roundMs: 150 }, ...extra },
  });
  return started.data!.startTask.id;
}

test("a pending-tab subscription with a search sees a task enter and leave the list, and nothing of other tasks", async () => {
  const filter = { task: { category: "PENDING", search: "broker-7" } };
  // Already in the list when the page opens: its leaving must be sent too.
  const before = await start("restart broker-7 (early)", 20);
  await until("the early task to run", async () => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id: before })).data!.task.state === "RUNNING");
  const list = watch({ filter });
  // Live once the running task's progress comes through.
  await until("the subscription to be live", () => list.events.length > 0);
  const other = await start("restart broker-8");
  const id = await start("restart broker-7");
  await until("the task to leave", () => list.events.some((e) => e.taskId === id && e.leavesFilter));
  await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id: before });
  await until("the earlier task to leave", () => list.events.some((e) => e.taskId === before && e.leavesFilter));
  await app.manager.waitForTask(other, 15);
  await new Promise((r) => setTimeout(r, 300));
  list.stop();

  expect(list.errors).toEqual([]);
  expect(list.events.some((e) => e.taskId === other)).toBe(false);
  const mine = list.events.filter((e) => e.taskId === id);
  // It entered queued (CREATED), ran with its progress rising, and left once: the last event about it.
  expect(mine[0]).toMatchObject({ type: "CREATED", leavesFilter: false });
  const staying = mine.slice(0, -1);
  expect(staying.every((e) => !e.leavesFilter)).toBe(true);
  expect(staying.some((e) => e.type === "PROGRESSED")).toBe(true);
  expect(mine.at(-1)).toMatchObject({ type: "STATE_CHANGED", leavesFilter: true, task: { id, state: "SUCCEEDED" } });
  expect(mine.filter((e) => e.leavesFilter)).toHaveLength(1);
  const early = list.events.filter((e) => e.taskId === before);
  expect(early.filter((e) => e.leavesFilter)).toHaveLength(1);
  expect(early.at(-1)!.leavesFilter).toBe(true);

  // Replay from the first event the page saw gives exactly the same events after it.
  const first = list.events[0]!;
  const replay = watch({ filter, after: first.cursor });
  await until("the replay", () => replay.events.length >= list.events.length - 1);
  await new Promise((r) => setTimeout(r, 300));
  replay.stop();
  expect(replay.errors).toEqual([]);
  const shape = (e: Row) => `${e.cursor} ${e.type} ${e.taskId} ${e.leavesFilter}`;
  expect(replay.events.map(shape)).toEqual(list.events.slice(1).map(shape));
});

test("without filter.task nothing changes: every event, never leavesFilter", async () => {
  const id = await start("plain", 1);
  const all = watch({ filter: { taskId: id }, after: Buffer.from("0:0").toString("base64url") });
  await until("the task to succeed", () => all.events.some((e) => e.task?.state === "SUCCEEDED" && e.type === "STATE_CHANGED"));
  all.stop();
  expect(all.events.every((e) => e.leavesFilter === false)).toBe(true);
  expect(all.events.map((e) => e.type)).toContain("CREATED");
});

test("a bad task filter is refused with BAD_USER_INPUT before any event", async () => {
  const bad = watch({ filter: { task: { createdAfter: "2026-01-02T00:00:00Z", createdBefore: "2026-01-01T00:00:00Z" } } });
  await until("the refusal", () => bad.errors.length > 0);
  bad.stop();
  expect(JSON.stringify(bad.errors)).toContain("BAD_USER_INPUT");
  expect(bad.events).toEqual([]);
});

test("the Scheduled tab sees a task leave when its time comes; the Finished tab sees one leave when it is deleted", async () => {
  const scheduled = watch({ filter: { task: { category: "SCHEDULED", search: "nightly-repair" } }, after: Buffer.from("0:0").toString("base64url") });
  // Only state changes: what the task was before each one is looked up, not followed along.
  const scheduledStates = watch({ filter: { types: ["STATE_CHANGED"], task: { category: "SCHEDULED", search: "nightly-repair" } }, after: Buffer.from("0:0").toString("base64url") });
  const finished = watch({ filter: { task: { category: "FINISHED", search: "nightly-repair" } }, after: Buffer.from("0:0").toString("base64url") });
  // From the start of the journal: however late the subscriptions are established, nothing is missed.
  const id = await start("nightly-repair ks1", 1, { runAt: new Date(Date.now() + 1_500).toISOString() });
  await until("the task to succeed", () => finished.events.some((e) => e.taskId === id));
  await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id });
  await until("the deletion", () => finished.events.some((e) => e.type === "DELETED"));
  scheduled.stop();
  scheduledStates.stop();
  finished.stop();
  expect(scheduled.errors).toEqual([]);
  expect(scheduled.events.map((e) => [e.type, e.leavesFilter])).toEqual([
    ["CREATED", false],
    ["STATE_CHANGED", true], // SCHEDULED → QUEUED: out of the Scheduled tab
  ]);
  expect(scheduledStates.events.map((e) => [e.type, e.leavesFilter])).toEqual([["STATE_CHANGED", true]]);
  expect(finished.events.map((e) => [e.type, e.leavesFilter, e.task?.state ?? null])).toEqual([
    ["STATE_CHANGED", false, "SUCCEEDED"],
    ["DELETED", true, null],
  ]);
});

test("what a task was before each event: a task first met with several events in one read is looked up at the first", async () => {
  const { id } = await app.store.createTask({ module: "test", type: "count", runAt: new Date(Date.now() + 60_000) });
  const [created] = await readJournal(app.store.prismaForTests, { txid: 0n, id: 0n }, { taskId: id }, 10);
  await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
  await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id });
  const later = await readJournal(app.store.prismaForTests, { txid: created!.txid, id: created!.id }, { taskId: id }, 10);
  expect(later.map((e) => e.type)).toEqual(["STATE_CHANGED", "DELETED"]);
  // Neither event's task is known yet (a live feed that has just moved to the journal's head).
  const before = await app.store.previousTasks(later, new Map());
  expect(before.map((t) => (t as { state: string } | null)?.state ?? null)).toEqual(["SCHEDULED", "CANCELED"]);
});

test.skipIf(storeKind !== "postgresql")("a task leaves the list even when the live feed reads its leaving and its next event together", async () => {
  const id = await start("held-read ks2", 1, { runAt: new Date(Date.now() + 60_000).toISOString() });
  const scheduled = watch({ filter: { task: { category: "SCHEDULED", search: "held-read" } }, after: Buffer.from("0:0").toString("base64url") });
  await until("its creation, replayed", () => scheduled.events.length > 0);
  // An open write transaction holds the journal's horizon: the feed reads nothing written after it
  // began until it ends, and then reads the abort and the deletion in one batch.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let began!: () => void;
  const begun = new Promise<void>((resolve) => (began = resolve));
  const holder = app.store.prismaForTests.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT pg_current_xact_id()::text`;
      began();
      await held;
    },
    { timeout: 20_000 },
  );
  await begun;
  await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
  await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id });
  release();
  await holder;
  await until("the task to leave", () => scheduled.events.some((e) => e.leavesFilter));
  await new Promise((r) => setTimeout(r, 300));
  scheduled.stop();
  expect(scheduled.errors).toEqual([]);
  expect(scheduled.events.map((e) => [e.type, e.leavesFilter])).toEqual([
    ["CREATED", false],
    ["STATE_CHANGED", true], // SCHEDULED → CANCELED
  ]);
});

test("a list's journalCursor closes the gap between reading the page and subscribing", async () => {
  const filter = { category: "PENDING", search: "gap-check" };
  const page = await app.gql(`query ($filter: TaskFilter) { tasks(first: 10, filter: $filter) { totalCount journalCursor } }`, { filter });
  expect(page.data!.tasks.totalCount).toBe(0);
  // Created after the page was read, before the page subscribes: it must not be lost.
  const id = await start("gap-check 1", 1);
  const live = watch({ filter: { task: filter }, after: page.data!.tasks.journalCursor });
  await until("the new task's events", () => live.events.some((e) => e.taskId === id && e.leavesFilter));
  live.stop();
  expect(live.events.filter((e) => e.taskId === id)[0]).toMatchObject({ type: "CREATED", leavesFilter: false });
});
