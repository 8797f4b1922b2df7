// Counts above 1,000 are estimates (counting exactly would read every matching row on each page):
// the API says so with tasks.totalCountIsExact and taskCounts.isExact, and at or under 1,000 they
// stay exact. test/task-filter-match.test.ts checks the exact counts filter by filter.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

let app: TestApp;

const COUNTS = `query ($filter: TaskFilter) {
  tasks(filter: $filter, first: 5) { totalCount totalCountIsExact edges { node { id } } pageInfo { hasNextPage } }
  taskCounts(filter: $filter) { total isExact byState { state count } byCategory { category count } }
}`;

beforeAll(async () => {
  app = await startTestApp();
  await app.store.ensureModule("bulk");
  // 1,001 tasks: 1,000 labelled "wave: a", one "wave: b".
  const specs = Array.from({ length: 1_000 }, (_, i) => ({ module: "bulk", type: "ping", name: `ping ${i}`, labels: { wave: "a" } }));
  for (let i = 0; i < specs.length; i += 250) await app.store.createTasks(specs.slice(i, i + 250));
  await app.store.createTasks([{ module: "bulk", type: "ping", name: "ping last", labels: { wave: "b" } }]);
}, 120_000);

afterAll(() => app?.stop());

test("over 1,000 matching tasks, totalCount is an estimate of at least 1,001 and says it is not exact", async () => {
  const result = await app.gql(COUNTS, { filter: { module: "bulk" } });
  expect(result.errors).toBeUndefined();
  const { tasks, taskCounts } = result.data!;
  expect(tasks.totalCountIsExact).toBe(false);
  expect(tasks.totalCount).toBeGreaterThanOrEqual(1_001);
  expect(tasks.edges).toHaveLength(5);
  expect(tasks.pageInfo.hasNextPage).toBe(true);
  // taskCounts counts the same way: the same total, flagged the same.
  expect(taskCounts.isExact).toBe(false);
  expect(taskCounts.total).toBe(tasks.totalCount);
});

test("at 1,000 matching tasks and under, the counts are exact and flagged so", async () => {
  for (const [filter, count] of [
    [{ module: "bulk", labels: { wave: "a" } }, 1_000],
    [{ module: "bulk", labels: { wave: "b" } }, 1],
    [{ module: "bulk", search: "ping last" }, 1],
    [{ module: "none" }, 0],
  ] as const) {
    const result = await app.gql(COUNTS, { filter });
    expect(result.errors).toBeUndefined();
    const { tasks, taskCounts } = result.data!;
    expect({ filter, total: tasks.totalCount, exact: tasks.totalCountIsExact }).toEqual({ filter, total: count, exact: true });
    expect({ filter, total: taskCounts.total, exact: taskCounts.isExact }).toEqual({ filter, total: count, exact: true });
    const queued = (taskCounts.byState as { state: string; count: number }[]).find((s) => s.state === "QUEUED")!;
    expect(queued.count).toBe(count);
  }
});

test("a related connection (children) counts exactly as before", async () => {
  const root = await app.store.createTask({ module: "bulk", type: "parent", children: [{ type: "child" }, { type: "child" }] });
  const result = await app.gql(`query ($id: ID!) { task(id: $id) { children(first: 1) { totalCount totalCountIsExact } } }`, { id: root.id });
  expect(result.errors).toBeUndefined();
  expect(result.data!.task.children).toEqual({ totalCount: 2, totalCountIsExact: true });
});
