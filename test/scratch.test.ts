import { expect, test } from "vitest";
import { openTestStore } from "./support/db";

test("smoke", async () => {
  const { db, store } = await openTestStore();
  await store.ensureModule("test", "Test tasks");
  const t = await store.createTask({ module: "test", type: "count", steps: [{ key: "a" }, { key: "b" }], children: [{ type: "child", children: [{ type: "gc", isInternal: true }] }, { type: "child2" }] });
  await store.transitionTask(t.id, "RUNNING");
  await store.transitionStep(t.id, "a", "RUNNING");
  await store.appendLog(t.id, { stepKey: "a", message: "hello" });
  await store.transitionStep(t.id, "a", "FAILED", { error: "boom" });
  await store.setProgress(t.id, 5, 10);
  const tree = await store.taskTree(t.id);
  console.log(tree.map((x) => `${x.depth} ${x.type} ${x.state} v${x.version} seq${x.sequenceNumber}`));
  const page = await store.listTasks({ filter: { search: "chi" }, orderBy: { field: "STARTED_AT", direction: "ASC" }, page: { first: 1 } });
  console.log(page.edges.map((e) => e.node.type), page.pageInfo, await page.totalCount());
  const page2 = await store.listTasks({ filter: { search: "chi" }, orderBy: { field: "STARTED_AT", direction: "ASC" }, page: { first: 5, after: page.pageInfo.endCursor } });
  console.log(page2.edges.map((e) => e.node.type), page2.pageInfo);
  console.log((await store.events(t.id)).map((e) => `${e.id} ${e.type} ${e.version}`));
  console.log(await store.moduleStats());
  expect(tree.length).toBe(4);
  await db.close();
});
