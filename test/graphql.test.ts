// Behaviour of the read API through GraphQL only: filters, pagination, trees, task details, modules,
// settings, node(id) and errors. Data is written through the store (or the seed script), read back
// through `app.gql`, on whichever store the run was started for (PGlite or PostgreSQL).
import type { ExecutionResult } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seed } from "../src/scripts/seed";
import { codes, startTestApp, type TestApp } from "./support/app";

const UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000";
const TASK_STATES = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"] as const;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (ids: readonly string[]) => [...ids].sort();

/** No error may tell a client about stack frames, SQL, Prisma or source files. */
function expectNoInternals(result: ExecutionResult) {
  for (const error of result.errors ?? []) {
    const extensions = (error.extensions ?? {}) as Record<string, unknown>;
    expect(Object.keys(extensions)).not.toContain("stack");
    expect(Object.keys(extensions)).not.toContain("exception");
    expect(Object.keys(extensions)).not.toContain("originalError");
    const text = JSON.stringify(error);
    expect(text).not.toMatch(/\bat .*:\d+:\d+/); // a stack frame
    expect(text).not.toMatch(/prisma|node_modules|\.ts\b|\bSELECT\b|invalid byte sequence|P20\d\d|pothos/i);
  }
}

/** The request was refused with exactly this code, and nothing else came back. */
/** Refused with `code`: no data, or (under a nullable lookup such as task(id)) only nulls. */
function expectRefused(result: ExecutionResult, code: string) {
  expect(codes(result)).toEqual([code]);
  expect(Object.values(result.data ?? {}).every((value) => value === null)).toBe(true);
  expectNoInternals(result);
}

// ------------------------------------------------------------------------------------------------

describe("finding tasks with each filter field", () => {
  let app: TestApp;
  // Seeded trees (see src/scripts/seed.ts) and four "test" tasks created a few ms apart.
  let upgrade: string, nodes: string[], internal: { id: string; type: string; parentId: string }[];
  let reassign: string, restart: string, orders: string, carts: string, sessions: string;
  let lab: { id: string; createdAt: Date }[];
  let visible: string[];

  const LIST = `query ($filter: TaskFilter) {
    tasks(filter: $filter, first: 500) { totalCount edges { node { id } } }
  }`;

  async function find(filter: Record<string, unknown>) {
    const result = await app.gql(LIST, { filter });
    expect(result.errors).toBeUndefined();
    const ids: string[] = result.data!.tasks.edges.map((e: any) => e.node.id);
    expect(result.data!.tasks.totalCount).toBe(ids.length);
    return sorted(ids);
  }

  beforeAll(async () => {
    app = await startTestApp();
    const { roots } = await seed(app.store);
    [upgrade, reassign, restart, orders, carts, sessions] = roots as [string, string, string, string, string, string];
    const tree = await app.gql(`query ($id: ID!) { taskTree(id: $id, includeFolded: true) { id type isInternal parent { id } } }`, { id: upgrade });
    const members = tree.data!.taskTree as any[];
    nodes = members.filter((t) => t.type === "upgrade-node").map((t) => t.id);
    internal = members.filter((t) => t.isInternal).map((t) => ({ id: t.id, type: t.type, parentId: t.parent.id }));
    expect(nodes).toHaveLength(3);
    expect(internal).toHaveLength(6);

    lab = [];
    const targets = ["lab/db_1", "lab/db21", "lab/dbx", null];
    for (const target of targets) {
      await pause(5); // distinct creation times for the createdAfter/createdBefore checks
      const task = await app.store.createTask({ module: "test", type: "count", name: "Count rounds", target });
      lab.push({ id: task.id, createdAt: task.createdAt });
    }
    visible = [upgrade, ...nodes, reassign, restart, orders, carts, sessions, ...lab.map((t) => t.id)];
  });
  afterAll(() => app.stop());

  test("without a filter every visible task is listed and internal ones are hidden", async () => {
    expect(await find({})).toEqual(sorted(visible));
    expect(visible).toHaveLength(13);
  });

  test("module narrows to that module's tasks; an unknown module finds nothing", async () => {
    expect(await find({ module: "kafka" })).toEqual(sorted([reassign, restart]));
    expect(await find({ module: "test" })).toEqual(sorted(lab.map((t) => t.id)));
    expect(await find({ module: "cluster" })).toEqual(sorted([upgrade, ...nodes]));
    expect(await find({ module: "no-such-module" })).toEqual([]);
  });

  test("types matches any of the given types", async () => {
    expect(await find({ types: ["compact-table"] })).toEqual(sorted([orders, carts, sessions]));
    expect(await find({ types: ["upgrade-node", "restart-broker"] })).toEqual(sorted([...nodes, restart]));
    expect(await find({ types: ["drain"] })).toEqual([]);
    expect(await find({ types: ["drain"], includeInternal: true })).toEqual(sorted(internal.filter((t) => t.type === "drain").map((t) => t.id)));
  });

  test("states matches any of the given states", async () => {
    expect(await find({ states: ["SCHEDULED"] })).toEqual([carts]);
    expect(await find({ states: ["RUNNING", "FAILED"] })).toEqual(sorted([restart, reassign]));
    expect(await find({ states: ["QUEUED"] })).toEqual(sorted([orders, ...lab.map((t) => t.id)]));
    expect(await find({ states: ["SUCCEEDED"], includeInternal: true })).toEqual(sorted([upgrade, ...nodes, ...internal.map((t) => t.id)]));
  });

  test("category groups states: scheduled, pending (queued or running), failed (failed or canceled), finished", async () => {
    expect(await find({ category: "SCHEDULED" })).toEqual([carts]);
    expect(await find({ category: "PENDING" })).toEqual(sorted([restart, orders, ...lab.map((t) => t.id)]));
    expect(await find({ category: "FAILED" })).toEqual(sorted([reassign, sessions]));
    expect(await find({ category: "FINISHED" })).toEqual(sorted([upgrade, ...nodes]));
  });

  test("kind separates cluster-wide tasks from node tasks", async () => {
    expect(await find({ kind: "CLUSTER" })).toEqual([upgrade]);
    expect(await find({ kind: "NODE" })).toEqual(sorted(visible.filter((id) => id !== upgrade)));
  });

  test("includeInternal shows internal tasks too; false is the default", async () => {
    expect(await find({ includeInternal: true })).toEqual(sorted([...visible, ...internal.map((t) => t.id)]));
    expect(await find({ includeInternal: false })).toEqual(sorted(visible));
  });

  test("target matches the whole target exactly", async () => {
    expect(await find({ target: "kafka-prod/orders" })).toEqual([reassign]);
    expect(await find({ target: "node-2" })).toEqual([nodes[1]]);
    expect(await find({ target: "kafka-prod" })).toEqual([]);
    expect(await find({ target: "KAFKA-PROD/ORDERS" })).toEqual([]);
  });

  test("targetPrefix matches targets that start with it", async () => {
    expect(await find({ targetPrefix: "kafka-prod/" })).toEqual(sorted([reassign, restart]));
    expect(await find({ targetPrefix: "shop." })).toEqual(sorted([orders, carts, sessions]));
    expect(await find({ targetPrefix: "lab/" })).toEqual(sorted(lab.slice(0, 3).map((t) => t.id)));
    expect(await find({ targetPrefix: "node-" })).toEqual(sorted(nodes));
  });

  test("targetPrefix takes _ and % literally, not as wildcards", async () => {
    expect(await find({ targetPrefix: "lab/db_" })).toEqual([lab[0]!.id]);
    expect(await find({ targetPrefix: "%" })).toEqual([]);
    expect(await find({ targetPrefix: "shop_" })).toEqual([]);
  });

  test("labels must all match", async () => {
    expect(await find({ labels: { env: "prod" } })).toEqual(sorted([upgrade, reassign, restart]));
    expect(await find({ labels: { env: "prod", team: "payments" } })).toEqual([reassign]);
    expect(await find({ labels: { env: "staging" } })).toEqual(sorted([orders, carts, sessions]));
    expect(await find({ labels: { env: "prod", region: "us-east-1" } })).toEqual([]);
    expect(await find({ labels: {} })).toEqual(sorted(visible));
  });

  test("search finds a keyword in name, type, module, target or error, ignoring case", async () => {
    expect(await find({ search: "broker" })).toEqual(sorted([restart, reassign])); // name, type and target; error ("Broker 4 is offline")
    expect(await find({ search: "IS OFFLINE" })).toEqual([reassign]); // error only
    expect(await find({ search: "aborted by" })).toEqual([sessions]); // error only
    expect(await find({ search: "ORDERS" })).toEqual(sorted([reassign, orders])); // name / target
    expect(await find({ search: "storage" })).toEqual(sorted([orders, carts, sessions])); // module
    expect(await find({ search: "rolling-upgrade" })).toEqual([upgrade]); // type
    expect(await find({ search: "  Count Rounds  " })).toEqual(sorted(lab.map((t) => t.id))); // trimmed
    expect(await find({ search: "nothing-like-this" })).toEqual([]);
  });

  test("search takes _ and % literally", async () => {
    expect(await find({ search: "db_1" })).toEqual([lab[0]!.id]);
    expect(await find({ search: "_" })).toEqual([lab[0]!.id]);
    expect(await find({ search: "%" })).toEqual([]);
  });

  test("search by a task id finds that task (any case), internal ones only with includeInternal", async () => {
    expect(await find({ search: reassign })).toEqual([reassign]);
    expect(await find({ search: nodes[1]!.toUpperCase() })).toEqual([nodes[1]]);
    expect(await find({ search: internal[0]!.id })).toEqual([]);
    expect(await find({ search: internal[0]!.id, includeInternal: true })).toEqual([internal[0]!.id]);
  });

  test("createdAfter (inclusive) and createdBefore (exclusive) take ISO date-times", async () => {
    const [t0, t1, t2, t3] = lab as [typeof lab[0], typeof lab[0], typeof lab[0], typeof lab[0]];
    expect(await find({ createdAfter: t1.createdAt.toISOString(), createdBefore: t3.createdAt.toISOString() })).toEqual(sorted([t1.id, t2.id]));
    expect(await find({ createdAfter: t2.createdAt.toISOString() })).toEqual(sorted([t2.id, t3.id]));
    expect(await find({ createdBefore: t0.createdAt.toISOString() })).toEqual(sorted(visible.filter((id) => !lab.some((t) => t.id === id))));
    expect(await find({ createdAfter: t1.createdAt.toISOString(), createdBefore: t1.createdAt.toISOString() })).toEqual([]);
    // The same instant written with a +02:00 offset.
    const shifted = new Date(t2.createdAt.getTime() + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    expect(await find({ createdAfter: shifted })).toEqual(sorted([t2.id, t3.id]));
    expect(await find({ createdAfter: new Date(Date.now() + 3600_000).toISOString() })).toEqual([]);
  });

  test("parentId lists the direct children of a task", async () => {
    expect(await find({ parentId: upgrade })).toEqual(sorted(nodes));
    expect(await find({ parentId: nodes[0] })).toEqual([]);
    expect(await find({ parentId: nodes[0], includeInternal: true })).toEqual(sorted(internal.filter((t) => t.parentId === nodes[0]).map((t) => t.id)));
    expect(await find({ parentId: reassign })).toEqual([]);
  });

  test("rootsOnly lists only tasks without a parent", async () => {
    expect(await find({ rootsOnly: true })).toEqual(sorted([upgrade, reassign, restart, orders, carts, sessions, ...lab.map((t) => t.id)]));
  });

  test("createdWithRunAt separates tasks created with a runAt from the others; scheduled (deprecated) means the same", async () => {
    expect(await find({ createdWithRunAt: true })).toEqual([carts]);
    expect(await find({ createdWithRunAt: false })).toEqual(sorted(visible.filter((id) => id !== carts)));
    expect(await find({ scheduled: true })).toEqual([carts]);
    expect(await find({ scheduled: false, createdWithRunAt: false })).toEqual(sorted(visible.filter((id) => id !== carts)));
  });

  test("several fields narrow together", async () => {
    expect(await find({ module: "kafka", category: "FAILED", labels: { env: "prod" } })).toEqual([reassign]);
    expect(await find({ module: "storage", states: ["QUEUED", "CANCELED"], targetPrefix: "shop." })).toEqual(sorted([orders, sessions]));
    expect(await find({ module: "cluster", rootsOnly: true, kind: "CLUSTER", search: "prod-eu" })).toEqual([upgrade]);
    expect(await find({ module: "kafka", category: "FINISHED" })).toEqual([]);
  });

  test("an inline filter literal finds the same tasks as variables", async () => {
    const result = await app.gql(`{ tasks(filter: { module: "kafka", states: [FAILED], labels: { team: "payments" } }) { totalCount edges { node { id } } } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data!.tasks.edges.map((e: any) => e.node.id)).toEqual([reassign]);
    expect(result.data!.tasks.totalCount).toBe(1);
  });
});

// ------------------------------------------------------------------------------------------------

describe("paging through task lists in both directions", () => {
  let app: TestApp;
  type Row = { id: string; createdAt: string; startedAt: string | null; endedAt: string | null; state: string; module: { name: string } };
  let all: Row[];

  const PAGE = `query ($orderBy: TaskOrder, $filter: TaskFilter, $first: Int, $after: String, $last: Int, $before: String) {
    tasks(orderBy: $orderBy, filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id createdAt startedAt endedAt state module { name } } }
    }
  }`;

  beforeAll(async () => {
    app = await startTestApp();
    await app.store.ensureModule("alpha");
    await app.store.ensureModule("beta");
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const task = await app.store.createTask({ module: i % 3 === 0 ? "beta" : "alpha", type: "op", target: `t-${i}` });
      created.push(task.id);
    }
    // A tree: five tasks created in one transaction share one createdAt.
    await app.store.createTask({ module: "alpha", type: "tree", children: [{ type: "c" }, { type: "c" }, { type: "c" }, { type: "c" }] });
    // Start tasks in reverse creation order so STARTED_AT order differs from CREATED_AT order.
    for (let i = 19; i >= 0; i--) {
      const id = created[i]!;
      if (i % 4 === 0 || i % 4 === 1) await app.store.transitionTask(id, "RUNNING");
      if (i % 8 === 0) await app.store.transitionTask(id, "SUCCEEDED");
      if (i % 4 === 1) await app.store.transitionTask(id, "FAILED", { error: "boom" });
      if (i % 5 === 2) await app.store.transitionTask(id, "CANCELED");
    }
    const result = await app.gql(PAGE, { first: 500 });
    expect(result.errors).toBeUndefined();
    all = result.data!.tasks.edges.map((e: any) => e.node);
    expect(all).toHaveLength(25);
    expect(all.filter((t) => t.startedAt === null).length).toBeGreaterThan(5);
    expect(all.filter((t) => t.startedAt !== null).length).toBeGreaterThan(5);
  });
  afterAll(() => app.stop());

  type Field = "CREATED_AT" | "STARTED_AT" | "ENDED_AT" | "STATE" | "MODULE";
  function key(row: Row, field: Field): number | string | null {
    switch (field) {
      case "CREATED_AT":
        return Date.parse(row.createdAt);
      case "STARTED_AT":
        return row.startedAt === null ? null : Date.parse(row.startedAt);
      case "ENDED_AT":
        return row.endedAt === null ? null : Date.parse(row.endedAt);
      case "STATE":
        return TASK_STATES.indexOf(row.state as (typeof TASK_STATES)[number]);
      case "MODULE":
        return row.module.name;
    }
  }

  /** The documented order: by the field in the direction asked, ties by id the same way, tasks without a value last. */
  function expectedOrder(field: Field, direction: "ASC" | "DESC"): string[] {
    const sign = direction === "ASC" ? 1 : -1;
    return [...all]
      .sort((a, b) => {
        const ka = key(a, field);
        const kb = key(b, field);
        if (ka === null && kb !== null) return 1;
        if (kb === null && ka !== null) return -1;
        const byValue = ka === kb ? 0 : ka! < kb! ? -1 : 1;
        const byId = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
        return sign * (byValue || byId);
      })
      .map((t) => t.id);
  }

  async function page(variables: Record<string, unknown>) {
    const result = await app.gql(PAGE, variables);
    expect(result.errors).toBeUndefined();
    const tasks = result.data!.tasks;
    expect(tasks.totalCount).toBe(all.length);
    if (tasks.edges.length) {
      expect(tasks.pageInfo.startCursor).toBe(tasks.edges[0].cursor);
      expect(tasks.pageInfo.endCursor).toBe(tasks.edges.at(-1).cursor);
    } else {
      expect(tasks.pageInfo.startCursor).toBeNull();
      expect(tasks.pageInfo.endCursor).toBeNull();
    }
    return tasks as { pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string }; edges: { cursor: string; node: Row }[] };
  }

  async function forward(orderBy: { field: Field; direction: "ASC" | "DESC" }, size: number) {
    const ids: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 100; n++) {
      const p = await page({ orderBy, first: size, after });
      expect(p.pageInfo.hasPreviousPage).toBe(after !== null);
      ids.push(...p.edges.map((e) => e.node.id));
      if (!p.pageInfo.hasNextPage) {
        expect(p.edges.length).toBeLessThanOrEqual(size);
        return { ids, lastCursor: p.pageInfo.endCursor };
      }
      expect(p.edges).toHaveLength(size);
      after = p.pageInfo.endCursor;
    }
    throw new Error("paging forward never ended");
  }

  async function backward(orderBy: { field: Field; direction: "ASC" | "DESC" }, size: number) {
    const ids: string[] = [];
    let before: string | null = null;
    for (let n = 0; n < 100; n++) {
      const p = await page({ orderBy, last: size, before });
      expect(p.pageInfo.hasNextPage).toBe(before !== null);
      ids.unshift(...p.edges.map((e) => e.node.id));
      if (!p.pageInfo.hasPreviousPage) {
        expect(p.edges.length).toBeLessThanOrEqual(size);
        return { ids, firstCursor: p.pageInfo.startCursor };
      }
      expect(p.edges).toHaveLength(size);
      before = p.pageInfo.startCursor;
    }
    throw new Error("paging backward never ended");
  }

  const ORDERS = [
    ["CREATED_AT", "DESC"],
    ["CREATED_AT", "ASC"],
    ["STARTED_AT", "ASC"],
    ["STARTED_AT", "DESC"],
    ["ENDED_AT", "ASC"],
    ["ENDED_AT", "DESC"],
    ["STATE", "ASC"],
    ["STATE", "DESC"],
    ["MODULE", "ASC"],
    ["MODULE", "DESC"],
  ] as const;

  test.each(ORDERS)("orderBy %s %s: one big page lists every task in that order", async (field, direction) => {
    const p = await page({ orderBy: { field, direction }, first: 500 });
    expect(p.edges.map((e) => e.node.id)).toEqual(expectedOrder(field, direction));
    expect(p.pageInfo.hasNextPage).toBe(false);
    expect(p.pageInfo.hasPreviousPage).toBe(false);
  });

  test.each(ORDERS)("orderBy %s %s: pages forward and backward join up to the whole list, no gaps, no repeats", async (field, direction) => {
    const expected = expectedOrder(field, direction);
    const fwd = await forward({ field, direction }, 4);
    expect(fwd.ids).toEqual(expected);
    const bwd = await backward({ field, direction }, 4);
    expect(bwd.ids).toEqual(expected);
    // Odd page sizes too, so page boundaries fall elsewhere (e.g. inside the never-started tasks).
    expect((await forward({ field, direction }, 7)).ids).toEqual(expected);
    expect((await backward({ field, direction }, 3)).ids).toEqual(expected);
  });

  test("without orderBy the list is newest first", async () => {
    const p = await page({ first: 500 });
    expect(p.edges.map((e) => e.node.id)).toEqual(expectedOrder("CREATED_AT", "DESC"));
  });

  test("without first or last a page holds 20 tasks", async () => {
    const p = await page({});
    expect(p.edges).toHaveLength(20);
    expect(p.pageInfo.hasNextPage).toBe(true);
    expect(p.pageInfo.hasPreviousPage).toBe(false);
  });

  test("first: 0 returns no tasks but still counts them", async () => {
    const p = await page({ first: 0 });
    expect(p.edges).toEqual([]);
    expect(p.pageInfo.hasNextPage).toBe(true);
  });

  test("asking past either end gives an empty page with the right flags", async () => {
    const orderBy = { field: "STARTED_AT", direction: "ASC" } as const;
    const { lastCursor } = await forward(orderBy, 6);
    const past = await page({ orderBy, first: 6, after: lastCursor });
    expect(past.edges).toEqual([]);
    expect(past.pageInfo.hasNextPage).toBe(false);
    expect(past.pageInfo.hasPreviousPage).toBe(true);

    const { firstCursor } = await backward(orderBy, 6);
    const before = await page({ orderBy, last: 6, before: firstCursor });
    expect(before.edges).toEqual([]);
    expect(before.pageInfo.hasPreviousPage).toBe(false);
    expect(before.pageInfo.hasNextPage).toBe(true);
  });

  test("a page before a cursor ends right before it, and after it starts right after it", async () => {
    const orderBy = { field: "STARTED_AT", direction: "ASC" } as const;
    const expected = expectedOrder("STARTED_AT", "ASC");
    const first = await page({ orderBy, first: 10 });
    const middle = first.edges[9]!;
    const cursor = middle.cursor;
    expect(middle.node.id).toBe(expected[9]);
    const before = await page({ orderBy, last: 3, before: cursor });
    expect(before.edges.map((e) => e.node.id)).toEqual(expected.slice(6, 9));
    expect(before.pageInfo.hasPreviousPage).toBe(true);
    expect(before.pageInfo.hasNextPage).toBe(true);
    const after = await page({ orderBy, first: 3, after: cursor });
    expect(after.edges.map((e) => e.node.id)).toEqual(expected.slice(10, 13));
  });

  test("paging a filtered list keeps the filter and its count", async () => {
    const filter = { module: "beta" };
    const beta = expectedOrder("CREATED_AT", "DESC").filter((id) => all.find((t) => t.id === id)!.module.name === "beta");
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const result = await app.gql(PAGE, { filter, first: 2, after });
      expect(result.errors).toBeUndefined();
      const tasks: any = result.data!.tasks;
      expect(tasks.totalCount).toBe(beta.length);
      ids.push(...tasks.edges.map((e: any) => e.node.id));
      if (!tasks.pageInfo.hasNextPage) break;
      after = tasks.pageInfo.endCursor;
    }
    expect(ids).toEqual(beta);
  });

  test("tasks created between two pages neither repeat nor push tasks out of the next page", async () => {
    await app.store.ensureModule("gamma");
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await app.store.createTask({ module: "gamma", type: "g" })).id);
    const newestFirst = [...ids].reverse();
    const filter = { module: "gamma" };
    const one = (await app.gql(PAGE, { filter, first: 3 })).data!.tasks;
    expect(one.edges.map((e: any) => e.node.id)).toEqual(newestFirst.slice(0, 3));
    await app.store.createTask({ module: "gamma", type: "g" });
    const two = (await app.gql(PAGE, { filter, first: 3, after: one.pageInfo.endCursor })).data!.tasks;
    expect(two.edges.map((e: any) => e.node.id)).toEqual(newestFirst.slice(3, 6));
    expect(two.pageInfo.hasNextPage).toBe(false);
    expect(two.totalCount).toBe(7);
  });
});

// ------------------------------------------------------------------------------------------------

describe("task trees in breadth-first order", () => {
  let app: TestApp;
  const id: Record<string, string> = {};
  // root ─ a ─ a1 ─ a1x
  //      │   ├ a2
  //      │   └ a3        (added later)
  //      ├ b ─ b1
  //      ├ c ─ c1, c2 (internal), c3
  //      └ d             (added later, after every level-2 task)
  const BFS = ["root", "a", "b", "c", "d", "a1", "a2", "a3", "b1", "c1", "c2", "c3", "a1x"];
  const DEPTH: Record<string, number> = { root: 0, a: 1, b: 1, c: 1, d: 1, a1: 2, a2: 2, a3: 2, b1: 2, c1: 2, c2: 2, c3: 2, a1x: 3 };

  beforeAll(async () => {
    app = await startTestApp();
    await app.store.ensureModule("tree");
    await app.store.ensureModule("other");
    const root = await app.store.createTask({
      module: "tree",
      type: "root",
      children: [
        { type: "a", children: [{ type: "a1", children: [{ type: "a1x" }] }, { type: "a2" }] },
        { type: "b", children: [{ type: "b1" }] },
        { type: "c", children: [{ type: "c1" }, { type: "c2", isInternal: true }, { type: "c3" }] },
      ],
    });
    // Another tree in the same module, so the tree cannot be "every task of the module".
    await app.store.createTask({ module: "tree", type: "unrelated", children: [{ type: "unrelated-child" }] });
    const all = await app.gql(`{ tasks(first: 100, filter: { module: "tree", includeInternal: true }) { edges { node { id type } } } }`);
    for (const e of all.data!.tasks.edges) id[e.node.type] = e.node.id;
    id.a3 = (await app.store.createTask({ module: "tree", type: "a3" }, { parentId: id.a })).id;
    id.d = (await app.store.createTask({ module: "tree", type: "d" }, { parentId: root.id })).id;
  });
  afterAll(() => app.stop());

  const TREE = `query ($id: ID!, $maxDepth: Int) {
    taskTree(id: $id, maxDepth: $maxDepth) { id type depth root { id } sequenceNumber isInternal parent { id } }
  }`;

  test("taskTree lists the task then each level in turn, siblings in creation order, internal ones included", async () => {
    const result = await app.gql(TREE, { id: id.root });
    expect(result.errors).toBeUndefined();
    const tree = result.data!.taskTree as any[];
    expect(tree.map((t) => t.type)).toEqual(BFS);
    expect(tree.map((t) => t.id)).toEqual(BFS.map((type) => id[type]));
    expect(tree.map((t) => t.depth)).toEqual(BFS.map((type) => DEPTH[type]));
    expect(tree.find((t) => t.type === "c2").isInternal).toBe(true);
  });

  test("every task of a tree shares the root id and the sequence number, children added later too", async () => {
    const tree = (await app.gql(TREE, { id: id.root })).data!.taskTree as any[];
    expect(new Set(tree.map((t) => t.root.id))).toEqual(new Set([id.root]));
    expect(new Set(tree.map((t) => t.sequenceNumber)).size).toBe(1);
    expect(tree[0].parent).toBeNull();
    for (const t of tree.slice(1)) expect(tree.findIndex((p) => p.id === t.parent.id)).toBeLessThan(tree.indexOf(t));
  });

  test("maxDepth limits how many levels below the task are listed", async () => {
    const types = async (maxDepth: number | null) => ((await app.gql(TREE, { id: id.root, maxDepth })).data!.taskTree as any[]).map((t) => t.type);
    expect(await types(0)).toEqual(["root"]);
    expect(await types(1)).toEqual(["root", "a", "b", "c", "d"]);
    expect(await types(2)).toEqual(BFS.slice(0, 12));
    expect(await types(3)).toEqual(BFS);
    expect(await types(50)).toEqual(BFS);
  });

  test("taskTree gives the same tasks, in the same order, whether it selects only task fields or relations too", async () => {
    const FIELDS = `id type depth state category createdAt labels progress { completed total } ...on Task { isInternal }`;
    const only = (await app.gql(`query ($id: ID!) { taskTree(id: $id) { ...T } } fragment T on Task { ${FIELDS} }`, { id: id.root })).data!.taskTree as any[];
    const withRelation = (await app.gql(`query ($id: ID!) { taskTree(id: $id) { ${FIELDS} parent { id } } }`, { id: id.root })).data!.taskTree as any[];
    expect(only.map((t) => t.type)).toEqual(BFS);
    expect(only).toEqual(withRelation.map(({ parent: _parent, ...task }) => task));
    const one = (await app.gql(`query ($id: ID!) { task(id: $id) { ${FIELDS} } }`, { id: id.c2 })).data!.task;
    expect(only.find((t) => t.id === id.c2)).toEqual(one);
  });

  test("taskTree of an inner task lists its subtree with depths counted from the root", async () => {
    const tree = (await app.gql(TREE, { id: id.a })).data!.taskTree as any[];
    expect(tree.map((t) => t.type)).toEqual(["a", "a1", "a2", "a3", "a1x"]);
    expect(tree.map((t) => t.depth)).toEqual([1, 2, 2, 2, 3]);
    const leaf = (await app.gql(TREE, { id: id.b1 })).data!.taskTree as any[];
    expect(leaf.map((t) => t.id)).toEqual([id.b1]);
  });

  test("descendants lists every task below, breadth-first, limited by maxDepth", async () => {
    const result = await app.gql(
      `query ($id: ID!) { task(id: $id) { all: descendants { type depth } one: descendants(maxDepth: 1) { type } none: descendants(maxDepth: 0) { type } } }`,
      { id: id.a },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.task.all.map((t: any) => t.type)).toEqual(["a1", "a2", "a3", "a1x"]);
    expect(result.data!.task.all.map((t: any) => t.depth)).toEqual([2, 2, 2, 3]);
    expect(result.data!.task.one.map((t: any) => t.type)).toEqual(["a1", "a2", "a3"]);
    expect(result.data!.task.none).toEqual([]);
    const root = await app.gql(`query ($id: ID!) { task(id: $id) { descendants { id } } }`, { id: id.root });
    expect(root.data!.task.descendants.map((t: any) => t.id)).toEqual(BFS.slice(1).map((type) => id[type]));
    const leaf = await app.gql(`query ($id: ID!) { task(id: $id) { descendants { id } } }`, { id: id.a1x });
    expect(leaf.data!.task.descendants).toEqual([]);
  });

  test("descendants of each listed task come back in one query", async () => {
    const result = await app.gql(`{ tasks(filter: { module: "tree", rootsOnly: true }) { edges { node { type descendants { type } } } } }`);
    expect(result.errors).toBeUndefined();
    const byType = Object.fromEntries(result.data!.tasks.edges.map((e: any) => [e.node.type, e.node.descendants.map((d: any) => d.type)]));
    expect(byType).toEqual({ root: BFS.slice(1), unrelated: ["unrelated-child"] });
  });

  test("children lists direct children without internal ones unless asked", async () => {
    const result = await app.gql(
      `query ($id: ID!) { task(id: $id) {
        visible: children(first: 10) { totalCount edges { node { type } } }
        everything: children(first: 10, includeInternal: true) { totalCount edges { node { type } } }
      } }`,
      { id: id.c },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.task.visible.totalCount).toBe(2);
    expect(result.data!.task.visible.edges.map((e: any) => e.node.type)).toEqual(["c1", "c3"]);
    expect(result.data!.task.everything.totalCount).toBe(3);
    expect(result.data!.task.everything.edges.map((e: any) => e.node.type)).toEqual(["c1", "c2", "c3"]);
  });

  test("an unknown task has no tree: null; a malformed id: BAD_USER_INPUT; a negative maxDepth: BAD_USER_INPUT", async () => {
    const unknown = await app.gql(`query ($id: ID!) { taskTree(id: $id) { id } me { name } }`, { id: UNKNOWN_ID });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data).toEqual({ taskTree: null, me: { name: "local" } });
    expectRefused(await app.gql(TREE, { id: "not-a-task" }), "BAD_USER_INPUT");
    expectRefused(await app.gql(TREE, { id: id.root, maxDepth: -1 }), "BAD_USER_INPUT");
  });

  test("a query of taskTree alone (compiled with graphql-jit) answers as one with other fields (graphql-js) does", async () => {
    const WITH_ME = `query ($id: ID!, $maxDepth: Int) { taskTree(id: $id, maxDepth: $maxDepth) { id type depth parent { id } } me { name } }`;
    const ALONE = `query ($id: ID!, $maxDepth: Int) { taskTree(id: $id, maxDepth: $maxDepth) { id type depth parent { id } } }`;
    const cases: Record<string, unknown>[] = [
      { id: id.root },
      { id: id.a, maxDepth: 1 },
      { id: UNKNOWN_ID }, // null, no error
      { id: "not-a-task" }, // BAD_USER_INPUT from the resolver
      { id: id.root, maxDepth: -1 }, // BAD_USER_INPUT from argument validation
      { id: id.root, maxDepth: "deep" }, // a variable of the wrong type
      { maxDepth: 1 }, // a required variable missing
    ];
    for (const variables of cases) {
      const alone = await app.gql(ALONE, variables);
      const withMe = await app.gql(WITH_ME, variables);
      const { me: _me, ...withMeData } = withMe.data ?? {};
      expect({ data: alone.data ?? null, errors: alone.errors ?? [] }, JSON.stringify(variables)).toEqual({
        data: withMe.data ? withMeData : null,
        errors: withMe.errors ?? [],
      });
      expectNoInternals(alone);
    }
    expect(codes(await app.gql(ALONE, { id: "not-a-task" }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(ALONE, { id: id.root, maxDepth: "deep" }))).toEqual(["BAD_USER_INPUT"]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("task details", () => {
  let app: TestApp;
  let failed: string; // a flow whose "left" step failed
  let rerun: string; // the same flow after "left" was rolled back and run again, "join" running
  let done: string; // the same flow run to the end
  let child: string;
  let failedVersion: number;
  let rerunVersion: number;
  let doneVersion: number;

  const FLOW = [
    { key: "prepare", name: "Prepare" },
    { key: "left", name: "Move left replicas", dependsOn: ["prepare"] },
    { key: "right", name: "Move right replicas", dependsOn: ["prepare"] },
    { key: "join", dependsOn: ["left", "right"] },
    { key: "finish" }, // no dependsOn: waits for the step before it
  ];

  /** Runs the flow until "left" fails; returns the number of changes made (version bumps). */
  async function runToFailure(id: string) {
    const s = app.store;
    await s.transitionTask(id, "RUNNING", { node: "broker-1" });
    await s.appendLog(id, { message: "starting" });
    await s.transitionStep(id, "prepare", "RUNNING");
    await s.appendLog(id, { stepKey: "prepare", message: "prepared" });
    await s.transitionStep(id, "prepare", "SUCCEEDED");
    await s.transitionStep(id, "left", "RUNNING");
    await s.transitionStep(id, "right", "RUNNING");
    await s.appendLog(id, { stepKey: "left", level: "WARN", message: "left: first try" });
    await s.transitionStep(id, "left", "FAILED", { error: "disk full" });
    await s.transitionStep(id, "right", "SUCCEEDED");
    await s.setProgress(id, 3);
    await s.transitionTask(id, "FAILED", { error: 'Step "left" failed: disk full' });
    return 12;
  }

  /** OCP's rerun: roll the failed step back, run it again; then start "join". */
  async function rerunLeft(id: string) {
    const s = app.store;
    await s.transitionTask(id, "RUNNING");
    await s.transitionStep(id, "left", "ROLLING_BACK");
    await s.appendLog(id, { stepKey: "left", message: "left: rolled back" });
    await s.transitionStep(id, "left", "ROLLED_BACK");
    await s.transitionStep(id, "left", "RUNNING");
    await s.appendLog(id, { stepKey: "left", message: "left: second try" });
    await s.transitionStep(id, "left", "SUCCEEDED");
    await s.transitionStep(id, "join", "RUNNING");
    return 8;
  }

  async function finish(id: string) {
    const s = app.store;
    await s.transitionStep(id, "join", "SUCCEEDED");
    await s.transitionStep(id, "finish", "RUNNING");
    await s.transitionStep(id, "finish", "SUCCEEDED");
    await s.setProgress(id, 8);
    await s.transitionTask(id, "SUCCEEDED", { result: { moved: 24, brokers: [1, 2] } });
    return 5;
  }

  const newFlow = () =>
    app.store.createTask({
      module: "kafka",
      type: "reassign-partitions",
      name: "Reassign partitions of orders",
      target: "kafka-prod/orders",
      labels: { env: "prod", team: "payments" },
      input: { topic: "orders", brokers: [1, 2], options: { dryRun: false, throttle: null } },
      createdBy: "bob",
      progressUnits: "partitions",
      progressTotal: 8,
      steps: FLOW,
      children: [{ type: "check-isr" }, { type: "throttle", name: "Set throttle" }, { type: "probe", isInternal: true }],
    });

  beforeAll(async () => {
    app = await startTestApp();
    await app.store.ensureModule("kafka");
    await app.store.ensureModule("actions");
    const a = await newFlow();
    failed = a.id;
    failedVersion = 1 + (await runToFailure(failed));
    const b = await newFlow();
    rerun = b.id;
    rerunVersion = 1 + (await runToFailure(rerun)) + (await rerunLeft(rerun));
    const c = await newFlow();
    done = c.id;
    doneVersion = 1 + (await runToFailure(done)) + (await rerunLeft(done)) + (await finish(done));
    const children = await app.gql(`query ($id: ID!) { task(id: $id) { children(first: 1) { edges { node { id } } } } }`, { id: failed });
    child = children.data!.task.children.edges[0].node.id;
  });
  afterAll(() => app.stop());

  const DETAILS = `query ($id: ID!) {
    task(id: $id) {
      id module { name } type name kind scope target labels state category isAbortable isInternal sequenceNumber
      input result error createdAt scheduledFor startedAt endedAt createdBy node depth root { id } version
      progress { units total completed fraction }
      availableActions
      parent { id }
      steps {
        id key name index dependsOn { key } state error startedAt endedAt availableActions
        task { id }
        attempts { id number kind state error startedAt endedAt logs(first: 10) { totalCount edges { node { message } } } }
        logs(first: 10) { totalCount edges { node { message attempt { number } } } }
      }
      flow { nodes { key name index state } edges { from { key } to { key } } }
      logs(first: 50) { totalCount edges { node { level message task { id } step { key } attempt { number kind } } } }
      children(first: 10) { totalCount edges { node { id type parent { id } } } }
      internal: children(first: 10, includeInternal: true) { totalCount edges { node { type isInternal } } }
    }
  }`;

  async function details(id: string) {
    const result = await app.gql(DETAILS, { id });
    expect(result.errors).toBeUndefined();
    return result.data!.task;
  }

  test("a task shows what it was created with", async () => {
    const task = await details(failed);
    expect(task).toMatchObject({
      id: failed,
      module: { name: "kafka" },
      type: "reassign-partitions",
      name: "Reassign partitions of orders",
      kind: "NODE",
      scope: "node",
      target: "kafka-prod/orders",
      labels: { env: "prod", team: "payments" },
      isAbortable: true,
      isInternal: false,
      input: { topic: "orders", brokers: [1, 2], options: { dryRun: false, throttle: null } },
      result: null,
      createdBy: "bob",
      node: "broker-1",
      depth: 0,
      root: { id: failed },
      parent: null,
      scheduledFor: null,
    });
    expect(Date.parse(task.createdAt)).not.toBeNaN();
    expect(Date.parse(task.startedAt)).toBeGreaterThanOrEqual(Date.parse(task.createdAt));
  });

  test("a failed flow shows its steps in order with their states, errors and actions", async () => {
    const task = await details(failed);
    expect(task.state).toBe("FAILED");
    expect(task.category).toBe("FAILED");
    expect(task.error).toBe('Step "left" failed: disk full');
    expect(task.endedAt).not.toBeNull();
    expect(task.availableActions).toEqual(["ABORT", "RETRY"]); // no DELETE while its children are QUEUED
    expect(task.version).toBe(failedVersion);
    expect(task.steps.map((s: any) => [s.key, s.index, s.state])).toEqual([
      ["prepare", 0, "SUCCEEDED"],
      ["left", 1, "FAILED"],
      ["right", 2, "SUCCEEDED"],
      ["join", 3, "WAITING"],
      ["finish", 4, "WAITING"],
    ]);
    const step = Object.fromEntries(task.steps.map((s: any) => [s.key, s]));
    expect(step.prepare.name).toBe("Prepare");
    expect(step.join.name).toBe("join");
    expect(step.left.error).toBe("disk full");
    expect(step.left.availableActions).toEqual(["RERUN", "MARK_SUCCEEDED"]);
    expect(step.prepare.availableActions).toEqual([]);
    expect(step.join.availableActions).toEqual([]);
    expect(step.join.startedAt).toBeNull();
    expect(step.join.attempts).toEqual([]);
    expect(step.left.attempts.map((a: any) => [a.number, a.kind, a.state, a.error])).toEqual([[1, "EXECUTE", "FAILED", "disk full"]]);
    expect(step.left.attempts[0].logs.edges.map((e: any) => e.node.message)).toEqual(["left: first try"]);
    expect(task.steps.every((s: any) => s.task.id === failed)).toBe(true);
  });

  test("the flow view shows parallel branches as edges from each dependency", async () => {
    const task = await details(failed);
    expect(task.flow.nodes).toEqual([
      { key: "prepare", name: "Prepare", index: 0, state: "SUCCEEDED" },
      { key: "left", name: "Move left replicas", index: 1, state: "FAILED" },
      { key: "right", name: "Move right replicas", index: 2, state: "SUCCEEDED" },
      { key: "join", name: "join", index: 3, state: "WAITING" },
      { key: "finish", name: "finish", index: 4, state: "WAITING" },
    ]);
    expect(task.flow.edges.map((e: any) => ({ from: e.from.key, to: e.to.key }))).toEqual([
      { from: "prepare", to: "left" },
      { from: "prepare", to: "right" },
      { from: "left", to: "join" },
      { from: "right", to: "join" },
      { from: "join", to: "finish" },
    ]);
    expect(task.steps.map((s: any) => s.dependsOn.map((d: any) => d.key))).toEqual([[], ["prepare"], ["prepare"], ["left", "right"], ["join"]]);
  });

  test("a rerun step keeps every attempt: execute, rollback, then retry, each with its own logs", async () => {
    const task = await details(rerun);
    expect(task.state).toBe("RUNNING");
    expect(task.error).toBeNull();
    expect(task.endedAt).toBeNull();
    expect(task.availableActions).toEqual(["ABORT", "FORCE_DELETE"]);
    expect(task.version).toBe(rerunVersion);
    const step = Object.fromEntries(task.steps.map((s: any) => [s.key, s]));
    expect(step.left.state).toBe("SUCCEEDED");
    expect(step.left.error).toBeNull();
    expect(step.left.attempts.map((a: any) => [a.number, a.kind, a.state])).toEqual([
      [1, "EXECUTE", "FAILED"],
      [2, "ROLLBACK", "SUCCEEDED"],
      [3, "RETRY", "SUCCEEDED"],
    ]);
    expect(step.left.attempts.map((a: any) => a.logs.edges.map((e: any) => e.node.message))).toEqual([
      ["left: first try"],
      ["left: rolled back"],
      ["left: second try"],
    ]);
    expect(step.left.attempts.every((a: any) => a.endedAt !== null)).toBe(true);
    expect(step.left.logs.totalCount).toBe(3);
    expect(step.left.logs.edges.map((e: any) => [e.node.message, e.node.attempt.number])).toEqual([
      ["left: first try", 1],
      ["left: rolled back", 2],
      ["left: second try", 3],
    ]);
    expect(step.join.state).toBe("RUNNING");
    expect(step.join.availableActions).toEqual(["TERMINATE"]);
    expect(step.join.attempts.map((a: any) => [a.number, a.kind, a.state, a.endedAt])).toEqual([[1, "EXECUTE", "RUNNING", null]]);
    expect(step.left.availableActions).toEqual([]);
    expect(step.finish.availableActions).toEqual([]);
  });

  test("rolling back a succeeded step adds a ROLLBACK attempt", async () => {
    const task = await app.store.createTask({ module: "kafka", type: "undo", steps: [{ key: "one" }] });
    await app.store.transitionTask(task.id, "RUNNING");
    await app.store.transitionStep(task.id, "one", "RUNNING");
    await app.store.transitionStep(task.id, "one", "SUCCEEDED");
    await app.store.transitionStep(task.id, "one", "ROLLING_BACK");
    const rolling = await app.gql(`query ($id: ID!) { task(id: $id) { steps { state attempts { number kind state } } } }`, { id: task.id });
    expect(rolling.data!.task.steps[0]).toEqual({
      state: "ROLLING_BACK",
      attempts: [
        { number: 1, kind: "EXECUTE", state: "SUCCEEDED" },
        { number: 2, kind: "ROLLBACK", state: "RUNNING" },
      ],
    });
    await app.store.transitionStep(task.id, "one", "ROLLED_BACK");
    const rolled = await app.gql(`query ($id: ID!) { task(id: $id) { steps { state attempts { kind state } } } }`, { id: task.id });
    expect(rolled.data!.task.steps[0]).toEqual({
      state: "ROLLED_BACK",
      attempts: [
        { kind: "EXECUTE", state: "SUCCEEDED" },
        { kind: "ROLLBACK", state: "SUCCEEDED" },
      ],
    });
  });

  test("the task log lists task and step lines oldest first, with their step and attempt", async () => {
    const task = await details(rerun);
    expect(task.logs.totalCount).toBe(5);
    expect(task.logs.edges.map((e: any) => e.node)).toEqual([
      { level: "INFO", message: "starting", task: { id: rerun }, step: null, attempt: null },
      { level: "INFO", message: "prepared", task: { id: rerun }, step: { key: "prepare" }, attempt: { number: 1, kind: "EXECUTE" } },
      { level: "WARN", message: "left: first try", task: { id: rerun }, step: { key: "left" }, attempt: { number: 1, kind: "EXECUTE" } },
      { level: "INFO", message: "left: rolled back", task: { id: rerun }, step: { key: "left" }, attempt: { number: 2, kind: "ROLLBACK" } },
      { level: "INFO", message: "left: second try", task: { id: rerun }, step: { key: "left" }, attempt: { number: 3, kind: "RETRY" } },
    ]);
  });

  test("the task log pages forward and backward", async () => {
    const LOGS = `query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      task(id: $id) { logs(first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { message } }
      } }
    }`;
    const messages = (r: any) => r.data.task.logs.edges.map((e: any) => e.node.message);
    const one = await app.gql(LOGS, { id: rerun, first: 2 });
    expect(messages(one)).toEqual(["starting", "prepared"]);
    expect(one.data!.task.logs.totalCount).toBe(5);
    expect(one.data!.task.logs.pageInfo.hasNextPage).toBe(true);
    const two = await app.gql(LOGS, { id: rerun, first: 2, after: one.data!.task.logs.pageInfo.endCursor });
    expect(messages(two)).toEqual(["left: first try", "left: rolled back"]);
    const three = await app.gql(LOGS, { id: rerun, first: 2, after: two.data!.task.logs.pageInfo.endCursor });
    expect(messages(three)).toEqual(["left: second try"]);
    expect(three.data!.task.logs.pageInfo.hasNextPage).toBe(false);
    const last = await app.gql(LOGS, { id: rerun, last: 2 });
    expect(messages(last)).toEqual(["left: rolled back", "left: second try"]);
    expect(last.data!.task.logs.pageInfo.hasPreviousPage).toBe(true);
    const earlier = await app.gql(LOGS, { id: rerun, last: 2, before: last.data!.task.logs.pageInfo.startCursor });
    expect(messages(earlier)).toEqual(["prepared", "left: first try"]);
  });

  test("a finished flow shows its result and full progress; DELETE waits for its still-queued children", async () => {
    const task = await details(done);
    expect(task.state).toBe("SUCCEEDED");
    expect(task.category).toBe("FINISHED");
    expect(task.result).toEqual({ moved: 24, brokers: [1, 2] });
    expect(task.error).toBeNull();
    expect(task.endedAt).not.toBeNull();
    expect(task.availableActions).toEqual([]); // its children are still QUEUED: deleteTask would refuse
    expect(codes(await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id: done }))).toEqual(["TASK_NOT_FINISHED"]);
    expect(task.progress).toEqual({ units: "partitions", total: 8, completed: 8, fraction: 1 });
    expect(task.flow.nodes.map((n: any) => n.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(task.steps.every((s: any) => s.availableActions.length === 0)).toBe(true);
    expect(task.version).toBe(doneVersion);
  });

  test("progress shows units, total, completed and the fraction done", async () => {
    expect((await details(failed)).progress).toEqual({ units: "partitions", total: 8, completed: 3, fraction: 0.375 });
    const unknownTotal = await app.store.createTask({ module: "kafka", type: "scan" });
    expect((await details(unknownTotal.id)).progress).toEqual({ units: null, total: null, completed: 0, fraction: null });
    await app.store.setProgress(unknownTotal.id, 5);
    expect((await details(unknownTotal.id)).progress).toEqual({ units: null, total: null, completed: 5, fraction: null });
    await app.store.setProgress(unknownTotal.id, 5, 20);
    expect((await details(unknownTotal.id)).progress).toEqual({ units: null, total: 20, completed: 5, fraction: 0.25 });
    const zero = await app.store.createTask({ module: "kafka", type: "noop", progressUnits: "items", progressTotal: 0 });
    expect((await details(zero.id)).progress).toEqual({ units: "items", total: 0, completed: 0, fraction: null });
    const over = await app.store.createTask({ module: "kafka", type: "over", progressTotal: 4 });
    await app.store.setProgress(over.id, 6);
    expect((await details(over.id)).progress.fraction).toBe(1);
  });

  test("children are listed in creation order with their parent, internal ones only when asked", async () => {
    const task = await details(failed);
    expect(task.children.totalCount).toBe(2);
    expect(task.children.edges.map((e: any) => e.node.type)).toEqual(["check-isr", "throttle"]);
    expect(task.children.edges.every((e: any) => e.node.parent.id === failed)).toBe(true);
    expect(task.internal.totalCount).toBe(3);
    expect(task.internal.edges.map((e: any) => [e.node.type, e.node.isInternal])).toEqual([
      ["check-isr", false],
      ["throttle", false],
      ["probe", true],
    ]);
    const kid = await details(child);
    expect(kid).toMatchObject({ parent: { id: failed }, depth: 1, root: { id: failed }, module: { name: "kafka" }, type: "check-isr", name: "check-isr" });
    expect(kid.children.totalCount).toBe(0);
    expect(kid.steps).toEqual([]);
    expect(kid.flow).toEqual({ nodes: [], edges: [] });
    expect(kid.logs).toEqual({ totalCount: 0, edges: [] });
  });

  test("children page with first/after and keep their total", async () => {
    const CHILDREN = `query ($id: ID!, $after: String) { task(id: $id) {
      children(first: 1, after: $after, includeInternal: true) { totalCount pageInfo { hasNextPage endCursor } edges { node { type } } }
    } }`;
    const types: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 10; n++) {
      const result = await app.gql(CHILDREN, { id: failed, after });
      expect(result.errors).toBeUndefined();
      const c: any = result.data!.task.children;
      expect(c.totalCount).toBe(3);
      types.push(...c.edges.map((e: any) => e.node.type));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(types).toEqual(["check-isr", "throttle", "probe"]);
  });

  test("version counts every change and reading does not change it", async () => {
    const task = await app.store.createTask({ module: "kafka", type: "count", steps: [{ key: "s" }] });
    const version = async () => (await app.gql(`query ($id: ID!) { task(id: $id) { version } }`, { id: task.id })).data!.task.version;
    expect(await version()).toBe(1);
    await app.store.transitionTask(task.id, "RUNNING");
    await app.store.transitionStep(task.id, "s", "RUNNING");
    await app.store.appendLog(task.id, { message: "hello", stepKey: "s" });
    await app.store.setProgress(task.id, 1, 2);
    expect(await version()).toBe(5);
    await details(task.id);
    expect(await version()).toBe(5);
    // A child added later is a change of the child, not of the parent.
    await app.store.createTask({ module: "kafka", type: "late-child" }, { parentId: task.id });
    expect(await version()).toBe(5);
  });

  describe("availableActions follow the state and abortability", () => {
    const cases: [string, { isAbortable: boolean; runAt?: boolean; path: ("RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELED")[] }, string[]][] = [
      ["QUEUED, abortable", { isAbortable: true, path: [] }, ["ABORT", "FORCE_DELETE"]],
      ["QUEUED, not abortable", { isAbortable: false, path: [] }, []],
      ["SCHEDULED, abortable", { isAbortable: true, runAt: true, path: [] }, ["ABORT", "FORCE_DELETE"]],
      ["SCHEDULED, not abortable", { isAbortable: false, runAt: true, path: [] }, []],
      ["RUNNING, abortable", { isAbortable: true, path: ["RUNNING"] }, ["ABORT", "FORCE_DELETE"]],
      ["RUNNING, not abortable", { isAbortable: false, path: ["RUNNING"] }, []],
      ["FAILED, abortable", { isAbortable: true, path: ["RUNNING", "FAILED"] }, ["ABORT", "DELETE", "RETRY"]],
      ["FAILED, not abortable", { isAbortable: false, path: ["RUNNING", "FAILED"] }, ["ABORT", "DELETE", "RETRY"]],
      ["SUCCEEDED", { isAbortable: true, path: ["RUNNING", "SUCCEEDED"] }, ["DELETE"]],
      ["CANCELED", { isAbortable: true, path: ["CANCELED"] }, ["DELETE"]],
    ];
    test.each(cases)("%s → %j", async (_label, spec, actions) => {
      const runAt = spec.runAt ? new Date(Date.now() + 24 * 3600_000) : undefined;
      const task = await app.store.createTask({ module: "actions", type: "op", isAbortable: spec.isAbortable, runAt });
      for (const to of spec.path) await app.store.transitionTask(task.id, to);
      const result = await app.gql(`query ($id: ID!) { task(id: $id) { state isAbortable scheduledFor availableActions } }`, { id: task.id });
      expect(result.errors).toBeUndefined();
      expect(result.data!.task.availableActions).toEqual(actions);
      expect(result.data!.task.isAbortable).toBe(spec.isAbortable);
      if (runAt) {
        expect(result.data!.task.state).toBe("SCHEDULED");
        expect(result.data!.task.scheduledFor).toBe(runAt.toISOString());
      }
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe("modules and settings", () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
    await seed(app.store);
  });
  afterAll(() => app.stop());

  const counts = (entries: Partial<Record<(typeof TASK_STATES)[number], number>>) => TASK_STATES.map((state) => ({ state, count: entries[state] ?? 0 }));

  test("modules lists every module by name with its visible task counts in every state", async () => {
    const result = await app.gql(`{ modules { name description lastSequenceNumber totalTasks taskCounts { state count } } }`);
    expect(result.errors).toBeUndefined();
    const modules = result.data!.modules as any[];
    expect(modules.map((m) => m.name)).toEqual(["cluster", "kafka", "storage", "test"]);
    const byName = Object.fromEntries(modules.map((m) => [m.name, m]));
    // The upgrade tree: root + 3 node tasks succeeded; its 6 internal tasks are not counted.
    expect(byName.cluster.taskCounts).toEqual(counts({ SUCCEEDED: 4 }));
    expect(byName.cluster.totalTasks).toBe(4);
    expect(byName.kafka.taskCounts).toEqual(counts({ RUNNING: 1, FAILED: 1 }));
    expect(byName.kafka.totalTasks).toBe(2);
    expect(byName.storage.taskCounts).toEqual(counts({ SCHEDULED: 1, QUEUED: 1, CANCELED: 1 }));
    expect(byName.test.taskCounts).toEqual(counts({}));
    expect(byName.test.totalTasks).toBe(0);
    expect(byName.kafka.description).toBe("Kafka instance operations (brokers, partitions, topics)");
    // One sequence number per tree, handed out per module.
    expect(modules.map((m) => [m.name, m.lastSequenceNumber])).toEqual([
      ["cluster", 1],
      ["kafka", 2],
      ["storage", 3],
      ["test", 0],
    ]);
  });

  test("module(name) returns one module and follows new tasks", async () => {
    const MODULE = `query ($name: String!) { module(name: $name) { name totalTasks lastSequenceNumber taskCounts { state count } } }`;
    const before = await app.gql(MODULE, { name: "test" });
    expect(before.errors).toBeUndefined();
    expect(before.data!.module).toEqual({ name: "test", totalTasks: 0, lastSequenceNumber: 0, taskCounts: counts({}) });
    const task = await app.store.createTask({ module: "test", type: "count", children: [{ type: "hidden", isInternal: true }, { type: "shown" }] });
    await app.store.transitionTask(task.id, "RUNNING");
    const after = await app.gql(MODULE, { name: "test" });
    expect(after.data!.module).toEqual({ name: "test", totalTasks: 2, lastSequenceNumber: 1, taskCounts: counts({ RUNNING: 1, QUEUED: 1 }) });
  });

  test("an unknown module is null, and the rest of the answer is kept", async () => {
    const result = await app.gql(`{ module(name: "no-such-module") { name } me { name } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ module: null, me: { name: "local" } });
  });

  test("settings start at the configured TTL defaults (a day for system tasks, a week for user tasks)", async () => {
    const result = await app.gql(`{ settings { taskTtlSeconds userTaskTtlSeconds } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data!.settings).toEqual({ taskTtlSeconds: 86_400, userTaskTtlSeconds: 604_800 });
  });
});

// ------------------------------------------------------------------------------------------------

describe("node(id) for refetching any object", () => {
  let app: TestApp;
  let reassign: string;
  let stepId: string;
  let attemptId: string;

  const NODE = `query ($id: ID!) { node(id: $id) {
    __typename id
    ... on Task { type taskState: state }
    ... on Step { key stepState: state task { id } }
    ... on StepAttempt { number kind step { key } }
  } }`;

  beforeAll(async () => {
    app = await startTestApp();
    reassign = (await seed(app.store)).roots[1]!;
    const task = await app.gql(`query ($id: ID!) { task(id: $id) { steps { id key attempts { id } } } }`, { id: reassign });
    const move = task.data!.task.steps.find((s: any) => s.key === "move");
    stepId = move.id;
    attemptId = move.attempts[0].id;
  });
  afterAll(() => app.stop());

  test("a task's plain UUID returns the Task", async () => {
    const result = await app.gql(NODE, { id: reassign });
    expect(result.errors).toBeUndefined();
    expect(result.data!.node).toEqual({ __typename: "Task", id: reassign, type: "reassign-partitions", taskState: "FAILED" });
  });

  test("a task id in upper case returns the same Task", async () => {
    const result = await app.gql(NODE, { id: reassign.toUpperCase() });
    expect(result.errors).toBeUndefined();
    expect(result.data!.node.id).toBe(reassign);
  });

  test("a Step's id returns the Step, and an attempt's id the StepAttempt", async () => {
    const step = await app.gql(NODE, { id: stepId });
    expect(step.errors).toBeUndefined();
    expect(step.data!.node).toEqual({ __typename: "Step", id: stepId, key: "move", stepState: "FAILED", task: { id: reassign } });
    const attempt = await app.gql(NODE, { id: attemptId });
    expect(attempt.errors).toBeUndefined();
    expect(attempt.data!.node).toEqual({ __typename: "StepAttempt", id: attemptId, number: 1, kind: "EXECUTE", step: { key: "move" } });
  });

  test("nodes(ids) returns each object in the order asked", async () => {
    const result = await app.gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, { ids: [stepId, reassign, attemptId] });
    expect(result.errors).toBeUndefined();
    expect(result.data!.nodes).toEqual([
      { __typename: "Step", id: stepId },
      { __typename: "Task", id: reassign },
      { __typename: "StepAttempt", id: attemptId },
    ]);
  });

  test("a malformed id is BAD_USER_INPUT", async () => {
    for (const id of ["not-an-id", "Step:not-a-uuid", `:${reassign}`, ""]) {
      const result = await app.gql(NODE, { id });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
      expect(result.data?.node ?? null).toBeNull();
      expectNoInternals(result);
    }
  });

  test("an id naming a type that has no nodes is BAD_USER_INPUT", async () => {
    const result = await app.gql(NODE, { id: `Bogus:${reassign}` });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.data?.node ?? null).toBeNull();
    expectNoInternals(result);
  });

  test("a well-formed id of nothing returns null, not an internal error", async () => {
    for (const id of [UNKNOWN_ID, `Step:${UNKNOWN_ID}`, `StepAttempt:${UNKNOWN_ID}`]) {
      const result = await app.gql(NODE, { id });
      expect(codes(result).filter((code) => code !== "NOT_FOUND")).toEqual([]);
      expect(result.data?.node ?? null).toBeNull();
      expectNoInternals(result);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe("errors carry a code, return no data and change nothing", () => {
  let app: TestApp;
  let reassign: string;
  let versionBefore: number;
  let countBefore: number;

  const STATE = `query ($id: ID!) { task(id: $id) { version } tasks(filter: { includeInternal: true }) { totalCount } }`;
  const LIST = `query ($filter: TaskFilter, $orderBy: TaskOrder, $first: Int, $after: String, $last: Int, $before: String) {
    tasks(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      totalCount edges { cursor node { id } }
    }
  }`;

  beforeAll(async () => {
    app = await startTestApp();
    reassign = (await seed(app.store)).roots[1]!;
    const state = await app.gql(STATE, { id: reassign });
    versionBefore = state.data!.task.version;
    countBefore = state.data!.tasks.totalCount;
  });
  afterAll(() => app.stop());

  test("a malformed task id is BAD_USER_INPUT and an unknown one null, the rest of the answer kept", async () => {
    const TASK = `query ($id: ID!) { task(id: $id) { id version } }`;
    expectRefused(await app.gql(TASK, { id: "not-a-uuid" }), "BAD_USER_INPUT");
    expectRefused(await app.gql(TASK, { id: "' OR 1=1 --" }), "BAD_USER_INPUT");
    const unknown = await app.gql(`query ($id: ID!) { task(id: $id) { id version } modules { name } }`, { id: UNKNOWN_ID });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data!.task).toBeNull();
    expect(unknown.data!.modules.length).toBeGreaterThan(0);
  });

  test("a page larger than the limit is BAD_USER_INPUT, on tasks and on nested lists", async () => {
    expectRefused(await app.gql(LIST, { first: 100_000 }), "BAD_USER_INPUT");
    expectRefused(await app.gql(LIST, { last: 100_000 }), "BAD_USER_INPUT");
    const id = { id: reassign };
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { children(first: 100000) { totalCount } } }`, id), "BAD_USER_INPUT");
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { logs(first: 100000) { totalCount } } }`, id), "BAD_USER_INPUT");
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { logs(last: 100000) { totalCount } } }`, id), "BAD_USER_INPUT");
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { steps { logs(first: 100000) { totalCount } } } }`, id), "BAD_USER_INPUT");
    expectRefused(
      await app.gql(`query ($id: ID!) { task(id: $id) { steps { attempts { logs(first: 100000) { totalCount } } } } }`, id),
      "BAD_USER_INPUT",
    );
    expectRefused(await app.gql(`{ tasks(first: 5) { edges { node { children(first: 100000) { totalCount } } } } }`), "BAD_USER_INPUT");
  });

  test("the largest allowed page is accepted", async () => {
    const result = await app.gql(LIST, { first: 500 });
    expect(result.errors).toBeUndefined();
  });

  test("a negative page size is BAD_USER_INPUT", async () => {
    expectRefused(await app.gql(LIST, { first: -1 }), "BAD_USER_INPUT");
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { logs(first: -1) { totalCount } } }`, { id: reassign }), "BAD_USER_INPUT");
  });

  test("first and last together are BAD_USER_INPUT", async () => {
    expectRefused(await app.gql(LIST, { first: 2, last: 2 }), "BAD_USER_INPUT");
    expectRefused(await app.gql(`query ($id: ID!) { task(id: $id) { logs(first: 1, last: 1) { totalCount } } }`, { id: reassign }), "BAD_USER_INPUT");
  });

  test("a cursor the API never made is BAD_USER_INPUT", async () => {
    const notJson = Buffer.from("not json").toString("base64url");
    const wrongShape = Buffer.from(JSON.stringify(["CREATED_AT", 42])).toString("base64url");
    const badDate = Buffer.from(JSON.stringify(["CREATED_AT", "yesterday", UNKNOWN_ID])).toString("base64url");
    const badId = Buffer.from(JSON.stringify(["CREATED_AT", "2030-01-01T00:00:00.000Z", "not-a-uuid"])).toString("base64url");
    for (const cursor of ["garbage", "!!!", notJson, wrongShape, badDate, badId]) {
      const after = await app.gql(LIST, { first: 2, after: cursor });
      expect({ cursor, codes: codes(after) }).toEqual({ cursor, codes: ["BAD_USER_INPUT"] });
      expectRefused(after, "BAD_USER_INPUT");
      const before = await app.gql(LIST, { last: 2, before: cursor });
      expect({ cursor, codes: codes(before) }).toEqual({ cursor, codes: ["BAD_USER_INPUT"] });
      expectRefused(before, "BAD_USER_INPUT");
    }
    expectRefused(
      await app.gql(`query ($id: ID!) { task(id: $id) { logs(first: 1, after: "garbage") { totalCount } } }`, { id: reassign }),
      "BAD_USER_INPUT",
    );
  });

  test("a cursor made for one orderBy is BAD_USER_INPUT with another", async () => {
    const byCreated = await app.gql(LIST, { first: 2, orderBy: { field: "CREATED_AT", direction: "DESC" } });
    const cursor = byCreated.data!.tasks.edges[0].cursor;
    expectRefused(await app.gql(LIST, { first: 2, after: cursor, orderBy: { field: "STARTED_AT", direction: "ASC" } }), "BAD_USER_INPUT");
    expectRefused(await app.gql(LIST, { last: 2, before: cursor, orderBy: { field: "STATE", direction: "DESC" } }), "BAD_USER_INPUT");
    // A task-list cursor is not a children cursor either.
    expectRefused(
      await app.gql(`query ($id: ID!, $after: String) { task(id: $id) { children(first: 1, after: $after) { totalCount } } }`, { id: reassign, after: cursor }),
      "BAD_USER_INPUT",
    );
  });

  test("createdAfter later than createdBefore is BAD_USER_INPUT", async () => {
    const filter = { createdAfter: "2030-01-02T00:00:00Z", createdBefore: "2030-01-01T00:00:00Z" };
    expectRefused(await app.gql(LIST, { filter }), "BAD_USER_INPUT");
  });

  test("filter values the API cannot use are BAD_USER_INPUT", async () => {
    for (const filter of [
      { parentId: "not-a-uuid" },
      { parentId: reassign, rootsOnly: true },
      { labels: { env: 1 } },
      { labels: { env: { nested: "x" } } },
      { search: "x".repeat(201) },
      { module: "" },
      { target: "" },
      { targetPrefix: "" },
      { types: [""] },
      { types: Array.from({ length: 101 }, (_, i) => `t${i}`) },
    ]) {
      const result = await app.gql(LIST, { filter });
      expect({ filter, codes: codes(result) }).toEqual({ filter, codes: ["BAD_USER_INPUT"] });
      expect(result.data ?? null).toBeNull();
      expectNoInternals(result);
    }
  });

  test("a NUL character in a text filter is BAD_USER_INPUT, not an internal error", async () => {
    for (const filter of [{ search: "a\u0000b" }, { target: "a\u0000b" }, { targetPrefix: "\u0000" }, { module: "x\u0000" }, { types: ["\u0000"] }]) {
      const result = await app.gql(LIST, { filter });
      expect.soft({ filter, codes: codes(result) }).toEqual({ filter, codes: ["BAD_USER_INPUT"] });
      expect(result.data ?? null).toBeNull();
      expectNoInternals(result);
    }
  });

  test("an invalid enum value or date in the filter is refused before anything runs", async () => {
    const refusedOutright = (result: ExecutionResult) => {
      expect(result.errors?.length).toBeGreaterThan(0);
      expect(result.data ?? null).toBeNull();
      expectNoInternals(result);
    };
    refusedOutright(await app.gql(LIST, { filter: { states: ["BOGUS"] } }));
    refusedOutright(await app.gql(LIST, { filter: { category: "DONE" } }));
    refusedOutright(await app.gql(LIST, { filter: { kind: "cluster" } }));
    refusedOutright(await app.gql(LIST, { orderBy: { field: "NAME" } }));
    refusedOutright(await app.gql(LIST, { filter: { createdAfter: "yesterday" } }));
    refusedOutright(await app.gql(LIST, { filter: { labels: ["env", "prod"] } }));
    refusedOutright(await app.gql(`{ tasks(filter: { states: [BOGUS] }) { totalCount } }`));
    refusedOutright(await app.gql(`{ tasks(filter: { states: ["FAILED"] }) { totalCount } }`));
  });

  test("an internal error is reported without stack traces, SQL or source paths", async () => {
    // Whatever the server cannot handle (here: things the store chokes on) reaches the client as a
    // code and a short message only.
    const results = [
      await app.gql(LIST, { filter: { search: "\u0000" } }),
      await app.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: UNKNOWN_ID }),
    ];
    for (const result of results) {
      for (const error of result.errors ?? []) {
        expect(error.extensions?.code).toBeTypeOf("string");
        expect(error.message.length).toBeLessThan(300);
      }
      expectNoInternals(result);
    }
  });

  test("a request that is not GraphQL is refused without data", async () => {
    const result = await app.gql(`{ tasks(first: ) { totalCount } }`);
    expect(result.errors?.length).toBeGreaterThan(0);
    expect(result.data ?? null).toBeNull();
    expectNoInternals(result);
    const unknownField = await app.gql(`{ tasks { totalCount secretField } }`);
    expect(unknownField.errors?.length).toBeGreaterThan(0);
    expect(unknownField.data ?? null).toBeNull();
  });

  // Runs last in this block: every request above was refused or read-only.
  test("refused requests changed nothing: same version, same tasks", async () => {
    const state = await app.gql(STATE, { id: reassign });
    expect(state.errors).toBeUndefined();
    expect(state.data!.task.version).toBe(versionBefore);
    expect(state.data!.tasks.totalCount).toBe(countBefore);
  });
});
