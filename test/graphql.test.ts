import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seed } from "../src/scripts/seed";
import { codes, startTestApp, type TestApp } from "./support/app";

describe("explore", () => {
  let app: TestApp;
  let roots: string[];
  beforeAll(async () => {
    app = await startTestApp();
    roots = (await seed(app.store)).roots;
  });
  afterAll(() => app.stop());
  test("x", async () => {
    const show = async (label: string, q: string, v?: any) => console.log(label, JSON.stringify(await app.gql(q, v)));
    const t = await app.gql(`query($id: ID!){ task(id:$id){ id steps { id attempts { id } } children(first:1){ edges{cursor} pageInfo{endCursor} } } }`, { id: roots[1] });
    console.log(JSON.stringify(t));
    const stepId = t.data!.task.steps[0].id;
    await show("nodeTask", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: roots[1] });
    await show("nodeStep", `query($id: ID!){ node(id:$id){ __typename id ... on Step { key } } }`, { id: stepId });
    await show("nodeAttempt", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: t.data!.task.steps[0].attempts[0].id });
    await show("nodeBad", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: "nope" });
    await show("nodeUnknownUuid", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: "0190a000-0000-7000-8000-000000000000" });
    await show("nodeUnknownType", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: "Bogus:0190a000-0000-7000-8000-000000000000" });
    await show("nodeUnknownStep", `query($id: ID!){ node(id:$id){ __typename id } }`, { id: "Step:0190a000-0000-7000-8000-000000000000" });
    await show("nul", `query($f: TaskFilter){ tasks(filter:$f){ totalCount } }`, { f: { search: "a\u0000b" } });
    await show("nultarget", `query($f: TaskFilter){ tasks(filter:$f){ totalCount } }`, { f: { target: "a\u0000b" } });
    await show("badenum", `query($f: TaskFilter){ tasks(filter:$f){ totalCount } }`, { f: { states: ["BOGUS"] } });
    await show("baddate", `query($f: TaskFilter){ tasks(filter:$f){ totalCount } }`, { f: { createdAfter: "yesterday" } });
    await show("childrenGarbage", `query($id: ID!){ task(id:$id){ children(after:"garbage"){ totalCount } } }`, { id: roots[0] });
    await show("childrenBig", `query($id: ID!){ task(id:$id){ children(first:100000){ totalCount } } }`, { id: roots[0] });
    await show("logsBig", `query($id: ID!){ task(id:$id){ logs(first:100000){ totalCount } } }`, { id: roots[0] });
    await show("logsDefault", `query($id: ID!){ task(id:$id){ logs{ totalCount edges { cursor node { message step { key } attempt { number kind } } } } } }`, { id: roots[1] });
    await show("us", `query{ tasks(filter:{search:"_"}){ totalCount } }`);
    await show("pct", `query{ tasks(filter:{targetPrefix:"shop_"}){ totalCount } }`);
    await show("pct2", `query{ tasks(filter:{targetPrefix:"%"}){ totalCount } }`);
    await show("neg", `query{ tasks(first:-1){ totalCount } }`);
    await show("tree", `query($id: ID!){ taskTree(id:$id){ id depth isInternal } }`, { id: roots[0] });
    await show("modules", `query{ modules { name lastSequenceNumber totalTasks taskCounts { state count } } settings { taskTtlSeconds userTaskTtlSeconds } }`);
  });
});
