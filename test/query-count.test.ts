import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

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

  test("the children listed exclude internal tasks and are counted", async () => {
    const result = await app.gql(LIST, { n: 1 });
    const node = result.data!.tasks.edges[0].node;
    expect(node.children.totalCount).toBe(2);
    expect(node.children.edges.map((e: any) => e.node.type)).toEqual(["drain", "check"]);
  });
});
