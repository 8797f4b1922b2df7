// The console's tabs: categories are disjoint (SCHEDULED, PENDING, FAILED, FINISHED), so a task is
// in exactly one tab at every moment of its life; taskCounts gives the tabs' badges under the same
// filter as the list; search finds a task by an id prefix and by its error text.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seed } from "../src/scripts/seed";
import { codes, startTestApp, type TestApp } from "./support/app";

const CATEGORIES = ["SCHEDULED", "PENDING", "FAILED", "FINISHED"] as const;
type Category = (typeof CATEGORIES)[number];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp(); // no worker: the test moves tasks through their states itself
  await seed(app.store);
});
afterAll(() => app?.stop());

/** One query for a tab list: each tab's rows and totalCount (aliased) and the badges from taskCounts. */
const TABS = `query ($filter: TaskFilter) {
  SCHEDULED: tasks(filter: $filter, first: 500) { totalCount edges { node { id category } } }
  counts: taskCounts(filter: $filter) { total byCategory { category count } byState { state count } }
}`;

async function ok(query: string, variables: Record<string, unknown> = {}) {
  const result = await app.gql(query, variables);
  expect(result.errors).toBeUndefined();
  return result.data!;
}

async function list(filter: Record<string, unknown>): Promise<{ totalCount: number; ids: string[]; states: string[] }> {
  const data = await ok(`query ($filter: TaskFilter) { tasks(filter: $filter, first: 500) { totalCount edges { node { id state } } } }`, { filter });
  const nodes = data.tasks.edges.map((e: { node: { id: string; state: string } }) => e.node);
  return { totalCount: data.tasks.totalCount, ids: nodes.map((n: { id: string }) => n.id), states: nodes.map((n: { state: string }) => n.state) };
}

async function counts(filter: Record<string, unknown>) {
  const data = await ok(`query ($filter: TaskFilter) { taskCounts(filter: $filter) { total byCategory { category count } byState { state count } } }`, {
    filter,
  });
  return data.taskCounts as { total: number; byCategory: { category: Category; count: number }[]; byState: { state: string; count: number }[] };
}

describe("each task is in exactly one tab through its whole life", () => {
  /** The tabs that list the task, by tasks(filter: { category }) and by taskCounts, and its own category field. */
  async function tabsOf(id: string, marker: string) {
    const listed: Category[] = [];
    for (const category of CATEGORIES) if ((await list({ category, search: marker })).ids.includes(id)) listed.push(category);
    const badges = await counts({ search: marker });
    const task = await ok(`query ($id: ID!) { task(id: $id) { state category } }`, { id });
    return {
      listed,
      counted: badges.byCategory.filter((c) => c.count > 0).map((c) => `${c.category}:${c.count}`),
      total: badges.total,
      category: task.task.category as Category,
      state: task.task.state as string,
    };
  }

  const expectOnlyIn = async (id: string, marker: string, state: string, category: Category) => {
    expect(await tabsOf(id, marker)).toEqual({ listed: [category], counted: [`${category}:1`], total: 1, category, state });
  };

  test("scheduled with a runAt → queued → running → succeeded", async () => {
    const marker = "tab-life-succeeds";
    const task = await app.store.createTask({ module: "test", type: "count", name: marker, runAt: new Date(Date.now() + 3_600_000) });
    await expectOnlyIn(task.id, marker, "SCHEDULED", "SCHEDULED");
    await app.store.transitionTask(task.id, "QUEUED"); // its time has come
    await expectOnlyIn(task.id, marker, "QUEUED", "PENDING");
    await app.store.transitionTask(task.id, "RUNNING");
    await expectOnlyIn(task.id, marker, "RUNNING", "PENDING");
    await app.store.transitionTask(task.id, "SUCCEEDED");
    await expectOnlyIn(task.id, marker, "SUCCEEDED", "FINISHED");
    // Created with a runAt it stays, whatever its state: that filter is not a tab.
    expect((await list({ createdWithRunAt: true, search: marker })).ids).toEqual([task.id]);
  });

  test("scheduled with a runAt → queued → running → failed → retried → canceled", async () => {
    const marker = "tab-life-fails";
    const task = await app.store.createTask({ module: "test", type: "count", name: marker, runAt: new Date(Date.now() + 3_600_000) });
    await expectOnlyIn(task.id, marker, "SCHEDULED", "SCHEDULED");
    await app.store.transitionTask(task.id, "QUEUED");
    await expectOnlyIn(task.id, marker, "QUEUED", "PENDING");
    await app.store.transitionTask(task.id, "RUNNING");
    await expectOnlyIn(task.id, marker, "RUNNING", "PENDING");
    await app.store.transitionTask(task.id, "FAILED", { error: "boom" });
    await expectOnlyIn(task.id, marker, "FAILED", "FAILED");
    await app.store.transitionTask(task.id, "RUNNING"); // a retry runs it again
    await expectOnlyIn(task.id, marker, "RUNNING", "PENDING");
    await app.store.transitionTask(task.id, "CANCELED", { error: "aborted" });
    await expectOnlyIn(task.id, marker, "CANCELED", "FAILED");
  });

  test("a scheduled task aborted before its time goes from the Scheduled tab to the Failed one, through the API", async () => {
    const created = await ok(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, runAt: "2999-01-01T00:00:00Z" }) { id name } }`);
    const { id } = created.createTestTask;
    const marker = id; // a whole id is a search too
    await expectOnlyIn(id, marker, "SCHEDULED", "SCHEDULED");
    await ok(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
    await expectOnlyIn(id, marker, "CANCELED", "FAILED");
  });
});

describe("taskCounts gives the badges: the same numbers as the lists, under any filter", () => {
  let ids: { compactFailed: string; queued: string };
  let window: { from: string; to: string };

  beforeAll(async () => {
    await app.store.ensureModule("alpha");
    const from = new Date().toISOString();
    await pause(5);
    const compact = await app.store.createTask({ module: "alpha", type: "compact-table", name: "Compact shop.orders", target: "shop.orders" });
    const queued = await app.store.createTask({ module: "alpha", type: "compact-table", name: "Compact shop.carts", target: "shop.carts" });
    await app.store.createTask({ module: "alpha", type: "reassign", runAt: new Date(Date.now() + 3_600_000) });
    await app.store.transitionTask(compact.id, "RUNNING");
    await app.store.transitionTask(compact.id, "FAILED", { error: "Disk full on node-2 (errno 28)" });
    await pause(5);
    window = { from, to: new Date().toISOString() };
    ids = { compactFailed: compact.id, queued: queued.id };
  });

  const FILTERS: [string, () => Record<string, unknown>][] = [
    ["no filter", () => ({})],
    ["search", () => ({ search: "shop" })],
    ["search in the error text", () => ({ search: "DISK FULL" })],
    ["created time range", () => ({ createdAfter: window.from, createdBefore: window.to })],
    ["started time range", () => ({ startedAfter: window.from })],
    ["ended time range", () => ({ endedAfter: window.from, endedBefore: window.to })],
    ["modules", () => ({ modules: ["alpha", "kafka"] })],
    ["state", () => ({ states: ["QUEUED", "FAILED"] })],
    ["category", () => ({ category: "FAILED" })],
    ["module and search with internal tasks", () => ({ module: "cluster", search: "upgrade", includeInternal: true })],
    ["created with a runAt", () => ({ createdWithRunAt: true })],
  ];

  test.each(FILTERS)("%s: total = tasks.totalCount, each category = that tab's totalCount, states add up", async (_name, make) => {
    const filter = make();
    const badges = await counts(filter);
    const all = await list(filter);
    expect(badges.total).toBe(all.totalCount);
    expect(badges.total).toBe(all.ids.length);
    expect(badges.byCategory.map((c) => c.category)).toEqual([...CATEGORIES]); // every tab, zeros included, in tab order
    expect(badges.byState.map((s) => s.state)).toEqual(["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"]);
    // Each badge is what its tab lists: the same filter with the tab's category (a filter that names another category: no tab but its own).
    for (const { category, count } of badges.byCategory) {
      const tab = filter.category && filter.category !== category ? 0 : (await list({ ...filter, category })).totalCount;
      expect({ category, count }).toEqual({ category, count: tab });
    }
    for (const { state, count } of badges.byState) expect({ state, count }).toEqual({ state, count: all.states.filter((s) => s === state).length });
    expect(badges.byState.reduce((sum, s) => sum + s.count, 0)).toBe(badges.total);
  });

  test("the filters above are not all alike: the badges differ between them", async () => {
    const totals = new Set<number>();
    for (const [, make] of FILTERS) totals.add((await counts(make())).total);
    expect(totals.size).toBeGreaterThanOrEqual(5);
    expect((await counts({ search: "disk full" })).byCategory).toEqual([
      { category: "SCHEDULED", count: 0 },
      { category: "PENDING", count: 0 },
      { category: "FAILED", count: 1 },
      { category: "FINISHED", count: 0 },
    ]);
    expect((await list({ search: "errno 28" })).ids).toEqual([ids.compactFailed]);
    expect((await list({ ...FILTERS[3]![1](), states: ["QUEUED"] })).ids).toEqual([ids.queued]);
  });

  test("a tab list with badges is one request: taskCounts beside tasks", async () => {
    const data = await ok(TABS, { filter: { modules: ["alpha"], category: "SCHEDULED" } });
    expect(data.SCHEDULED.totalCount).toBe(1);
    expect(data.SCHEDULED.edges[0].node.category).toBe("SCHEDULED");
    expect(data.counts.byCategory.find((c: { category: string }) => c.category === "SCHEDULED").count).toBe(1);
  });
});

describe("search by id prefix and by error text", () => {
  let everyone: string[];
  beforeAll(async () => {
    everyone = (await list({ includeInternal: true })).ids;
  });

  const startingWith = (prefix: string) => everyone.filter((id) => id.replace(/-/g, "").startsWith(prefix.replace(/-/g, "").toLowerCase())).sort();
  const found = async (search: string) => (await list({ search, includeInternal: true })).ids.sort();

  test("8 or more hex digits, with or without dashes, any case, find the tasks whose id starts so", async () => {
    const id = everyone[everyone.length - 1]!;
    for (const prefix of [id.slice(0, 8), id.slice(0, 13), id.slice(0, 23), id.slice(0, 23).replace(/-/g, ""), id.slice(0, 18).toUpperCase()]) {
      const hits = await found(prefix);
      expect(hits).toContain(id);
      expect({ prefix, hits }).toEqual({ prefix, hits: startingWith(prefix) }); // names, types, … hold no hex ids here
    }
    expect(await found(id)).toEqual([id]); // a whole id: exactly that task
    expect(await found(id.replace(/-/g, ""))).toEqual([id]);
    expect(await found("ffffffff-ffff")).toEqual([]);
  });

  test("fewer than 8 hex digits are only a keyword, not an error (and not an id prefix)", async () => {
    const id = everyone[0]!;
    const result = await app.gql(`query ($s: String) { tasks(filter: { search: $s, includeInternal: true }) { totalCount } }`, { s: id.slice(0, 7) });
    expect(result.errors).toBeUndefined();
    expect(result.data!.tasks.totalCount).toBe(0); // no name, type, module, target or error contains it
    // Dashes only where a UUID has them: elsewhere it is a keyword too.
    expect(await found(`${id.slice(0, 4)}-${id.slice(4, 8)}`)).toEqual([]);
  });

  test("the error text is searched case-insensitively, % and _ literally", async () => {
    const task = await app.store.createTask({ module: "test", type: "count", name: "plain" });
    await app.store.transitionTask(task.id, "RUNNING");
    await app.store.transitionTask(task.id, "FAILED", { error: "Quota at 100%_exceeded for tenant ACME" });
    expect(await found("tenant acme")).toEqual([task.id]);
    expect(await found("100%_EXCEEDED")).toEqual([task.id]);
    expect(await found("100%%")).toEqual([]);
  });
});

describe("bad inputs", () => {
  const refused = async (filter: Record<string, unknown>) => {
    for (const query of [
      `query ($filter: TaskFilter) { tasks(filter: $filter) { totalCount } }`,
      `query ($filter: TaskFilter) { taskCounts(filter: $filter) { total } }`,
    ]) {
      const result = await app.gql(query, { filter });
      expect({ filter, codes: codes(result) }).toEqual({ filter, codes: ["BAD_USER_INPUT"] });
    }
  };

  test("After later than Before is BAD_USER_INPUT for each time range; equal is an empty range", async () => {
    await refused({ startedAfter: "2026-06-02T00:00:00Z", startedBefore: "2026-06-01T00:00:00Z" });
    await refused({ endedAfter: "2026-06-02T00:00:00Z", endedBefore: "2026-06-01T00:00:00Z" });
    await refused({ createdAfter: "2026-06-02T00:00:00Z", createdBefore: "2026-06-01T00:00:00Z" });
    expect((await counts({ startedAfter: "2026-06-01T00:00:00Z", startedBefore: "2026-06-01T00:00:00Z" })).total).toBe(0);
  });

  test("an empty module name, scheduled disagreeing with createdWithRunAt: BAD_USER_INPUT", async () => {
    await refused({ modules: [""] });
    await refused({ scheduled: true, createdWithRunAt: false });
  });

  test("an unknown category is refused by GraphQL itself", async () => {
    const result = await app.gql(`{ taskCounts(filter: { category: DONE }) { total } }`);
    expect(result.errors).toBeDefined();
    expect(result.data ?? null).toBeNull();
  });

  test("the deprecated scheduled field is marked so in the schema", async () => {
    const data = await ok(`{ __type(name: "TaskFilter") { inputFields(includeDeprecated: true) { name isDeprecated deprecationReason } } }`);
    const fields = data.__type.inputFields as { name: string; isDeprecated: boolean; deprecationReason: string | null }[];
    expect(fields.find((f) => f.name === "scheduled")).toMatchObject({ isDeprecated: true });
    expect(fields.find((f) => f.name === "scheduled")!.deprecationReason).toContain("createdWithRunAt");
    expect(fields.find((f) => f.name === "createdWithRunAt")).toMatchObject({ isDeprecated: false });
  });
});
