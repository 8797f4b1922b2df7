// The task filter exists twice: as SQL (taskWhere, behind `tasks` and `taskCounts`) and in
// TypeScript (matchesTaskFilter, for live lists). Both must keep exactly the same tasks for every
// filter, and refuse the same bad filters.
import { afterAll, beforeAll, expect, test } from "vitest";
import { TaskgraphError } from "../src/domain/errors";
import type { TaskFilter } from "../src/store";
import { matchesTaskFilter, taskSnapshot, type TaskSnapshot } from "../src/store/task-filter";
import { codes, startTestApp, type TestApp } from "./support/app";

let app: TestApp;
let snapshots: TaskSnapshot[];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LIST = `query ($filter: TaskFilter) {
  tasks(filter: $filter, first: 500) { totalCount totalCountIsExact edges { node { id } } }
  taskCounts(filter: $filter) { total isExact byState { state count } }
}`;

/** The API's filter (times as ISO strings) as the store's TaskFilter (times as Dates). */
const TIME_FIELDS = ["createdAfter", "createdBefore", "startedAfter", "startedBefore", "endedAfter", "endedBefore"] as const;
function storeFilter(filter: Record<string, unknown>): TaskFilter {
  const copy: Record<string, unknown> = { ...filter };
  for (const field of TIME_FIELDS) if (typeof copy[field] === "string") copy[field] = new Date(copy[field] as string);
  return copy as TaskFilter;
}

beforeAll(async () => {
  app = await startTestApp();
  const store = app.store;
  for (const name of ["alpha", "beta", "gamma"]) await store.ensureModule(name);
  const hourAhead = new Date(Date.now() + 3_600_000);
  // Varied tasks, created, started and ended at distinct times (pauses), so time ranges tell them apart.
  const root = await store.createTask({
    module: "alpha",
    type: "restart-broker",
    name: "Restart broker 3",
    target: "broker-3",
    labels: { env: "prod" },
    children: [
      { type: "drain", target: "broker-3/p1", isInternal: true },
      { type: "drain", target: "broker-3/p2" },
    ],
  });
  await pause(5);
  const compact = await store.createTask({ module: "beta", type: "compact-table", name: "Compact orders", target: "shop.orders", labels: { env: "dev" } });
  await pause(5);
  const scheduled = await store.createTask({ module: "beta", type: "compact-table", name: "Compact carts", target: "shop.carts", runAt: hourAhead });
  await pause(5);
  const pastRunAt = await store.createTask({ module: "gamma", type: "upgrade", name: "Upgrade cluster", kind: "CLUSTER", runAt: new Date(Date.now() - 1_000) });
  await pause(5);
  const canceled = await store.createTask({ module: "gamma", type: "repair", name: "Repair 50%_done", target: null, labels: { env: "prod", team: "db" } });
  await pause(5);
  const queued = await store.createTask({ module: "alpha", type: "reassign-partitions", name: "Reassign topic orders" });

  for (const id of [root.id, compact.id, pastRunAt.id]) {
    await store.transitionTask(id, "RUNNING");
    await pause(5);
  }
  const [internalChild, child] = await store.children(root.id);
  await store.transitionTask(child!.id, "RUNNING");
  await pause(5);
  await store.transitionTask(internalChild!.id, "RUNNING");
  await pause(5);
  await store.transitionTask(internalChild!.id, "SUCCEEDED");
  await pause(5);
  await store.transitionTask(compact.id, "FAILED", { error: "Disk FULL on node-2" });
  await pause(5);
  await store.transitionTask(child!.id, "FAILED", { error: "Timed out waiting for partition p2" });
  await pause(5);
  await store.transitionTask(pastRunAt.id, "SUCCEEDED");
  await pause(5);
  await store.transitionTask(canceled.id, "CANCELED", { error: "Aborted by dave" });
  void scheduled;
  void queued;

  const rows = await store.prismaForTests.task.findMany({ orderBy: { id: "asc" } });
  snapshots = rows.map(taskSnapshot);
  expect(snapshots).toHaveLength(8);
  expect(JSON.parse(JSON.stringify(snapshots))).toEqual(snapshots); // survives the journal's JSON
});

afterAll(() => app?.stop());

/** Times between the tasks' own: the midpoint of the i-th and (i+1)-th distinct value of a column. */
function between(column: "createdAt" | "startedAt" | "endedAt", i: number): string {
  const times = [...new Set(snapshots.map((s) => s[column]).filter((t): t is string => t !== null))].sort();
  return new Date((Date.parse(times[i]!) + Date.parse(times[i + 1]!)) / 2).toISOString();
}

test("tasks(filter) via the API and matchesTaskFilter over the tasks' snapshots keep exactly the same tasks", async () => {
  const byId = (type: string) => snapshots.find((s) => s.type === type)!.id;
  const compactFailed = snapshots.find((s) => s.error?.startsWith("Disk"))!.id;
  const cases: Record<string, unknown>[] = [
    {},
    { includeInternal: true },
    { module: "alpha" },
    { module: "nope" },
    { modules: ["alpha", "gamma"] },
    { modules: ["beta"], module: "beta" },
    { modules: ["beta"], module: "alpha" },
    { modules: [] },
    { types: ["compact-table", "upgrade"] },
    { types: ["drain"], includeInternal: true },
    { states: ["RUNNING", "FAILED"] },
    { states: ["SUCCEEDED"], includeInternal: true },
    { category: "SCHEDULED" },
    { category: "PENDING" },
    { category: "PENDING", includeInternal: true },
    { category: "FAILED" },
    { category: "FINISHED" },
    { category: "FINISHED", states: ["FAILED"] },
    { kind: "CLUSTER" },
    { kind: "NODE", module: "alpha" },
    { target: "broker-3" },
    { targetPrefix: "broker-3/", includeInternal: true },
    { targetPrefix: "shop." },
    { labels: { env: "prod" } },
    { labels: { env: "prod", team: "db" } },
    { labels: { env: "staging" } },
    // search: name, type, module, target, error; literal % and _; id prefixes and whole ids
    { search: "broker" },
    { search: "COMPACT" },
    { search: "gamma" },
    { search: "shop.carts" },
    { search: "disk full" },
    { search: "timed out" },
    { search: "aborted BY" },
    { search: "50%_" },
    { search: "%" },
    { search: "orders" },
    { search: byId("upgrade") },
    { search: byId("upgrade").toUpperCase() },
    { search: byId("upgrade").slice(0, 8) },
    { search: byId("upgrade").slice(0, 11) },
    { search: byId("upgrade").slice(0, 23).replace(/-/g, "") },
    { search: compactFailed.slice(0, 7) }, // too short for an id prefix: only a keyword
    { search: "01" },
    { search: "ffffffff" },
    { search: "00000000-0000" },
    // time ranges: After inclusive, Before exclusive
    { createdAfter: between("createdAt", 2) },
    { createdBefore: between("createdAt", 2) },
    { createdAfter: between("createdAt", 1), createdBefore: between("createdAt", 3) },
    { createdAfter: snapshots[3]!.createdAt, includeInternal: true },
    { createdBefore: snapshots[3]!.createdAt, includeInternal: true },
    { startedAfter: between("startedAt", 1) },
    { startedBefore: between("startedAt", 2), includeInternal: true },
    { startedAfter: between("startedAt", 0), startedBefore: between("startedAt", 3) },
    { endedAfter: between("endedAt", 1) },
    { endedBefore: between("endedAt", 1), includeInternal: true },
    { endedAfter: between("endedAt", 0), endedBefore: between("endedAt", 3), category: "FAILED" },
    { endedAfter: snapshots.find((s) => s.endedAt)!.endedAt, includeInternal: true },
    // tree, runAt and combinations
    { parentId: byId("restart-broker") },
    { parentId: byId("restart-broker"), includeInternal: true },
    { rootsOnly: true },
    { rootsOnly: false, includeInternal: true },
    { createdWithRunAt: true },
    { createdWithRunAt: false },
    { scheduled: true },
    { scheduled: false, createdWithRunAt: false, includeInternal: true },
    { module: "beta", category: "FAILED", search: "disk", labels: { env: "dev" } },
    { modules: ["alpha", "beta"], search: "o", startedAfter: between("startedAt", 0), rootsOnly: true },
    { createdWithRunAt: true, category: "FINISHED", kind: "CLUSTER" },
    { search: "drain", includeInternal: true, endedBefore: between("endedAt", 2) },
  ];
  const sizes = new Set<number>();
  for (const filter of cases) {
    const result = await app.gql(LIST, { filter });
    expect({ filter, errors: result.errors }).toEqual({ filter, errors: undefined });
    const byApi = (result.data!.tasks.edges as { node: { id: string } }[]).map((e) => e.node.id).sort();
    const kept = snapshots.filter((s) => matchesTaskFilter(s, storeFilter(filter)));
    expect({ filter, ids: byApi }).toEqual({ filter, ids: kept.map((s) => s.id).sort() });
    // taskCounts counts the same set, state by state.
    expect(result.data!.tasks.totalCount).toBe(kept.length);
    expect(result.data!.taskCounts.total).toBe(kept.length);
    expect([result.data!.tasks.totalCountIsExact, result.data!.taskCounts.isExact]).toEqual([true, true]);
    for (const { state, count } of result.data!.taskCounts.byState as { state: string; count: number }[]) {
      expect({ filter, state, count }).toEqual({ filter, state, count: kept.filter((s) => s.state === state).length });
    }
    sizes.add(kept.length);
  }
  expect(sizes.size).toBeGreaterThan(6); // the cases tell tasks apart, not all-or-nothing
});

test("the API and matchesTaskFilter refuse the same bad filters with BAD_USER_INPUT", async () => {
  const bad: Record<string, unknown>[] = [
    { startedAfter: "2026-01-02T00:00:00Z", startedBefore: "2026-01-01T00:00:00Z" },
    { endedAfter: "2026-01-02T00:00:00Z", endedBefore: "2026-01-01T00:00:00Z" },
    { createdAfter: "2026-01-02T00:00:00Z", createdBefore: "2026-01-01T00:00:00Z" },
    { module: "" },
    { modules: ["alpha", ""] },
    { modules: Array.from({ length: 101 }, (_, i) => `m${i}`) },
    { parentId: "not-a-uuid" },
    { parentId: snapshots[0]!.id, rootsOnly: true },
    { scheduled: true, createdWithRunAt: false },
    { labels: { env: "" } },
    { search: "x".repeat(201) },
  ];
  for (const filter of bad) {
    const result = await app.gql(LIST, { filter });
    expect({ filter, codes: [...new Set(codes(result))] }).toEqual({ filter, codes: ["BAD_USER_INPUT"] });
    let thrown: unknown;
    try {
      matchesTaskFilter(snapshots[0]!, storeFilter(filter));
    } catch (error) {
      thrown = error;
    }
    expect({ filter, code: thrown instanceof TaskgraphError ? thrown.code : thrown }).toEqual({ filter, code: "BAD_USER_INPUT" });
  }
});
