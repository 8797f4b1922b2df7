// Behaviour tests of the Store against a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL).
// Every describe that lists tasks across the whole database opens its own store, so its expectations
// are exact; the others share one store and keep apart by module name.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TaskgraphError } from "../src/domain/errors";
import type { Task, TaskState } from "../src/generated/prisma/client";
import type { Store, TaskFilter, TaskOrder } from "../src/store";
import { openTestStore } from "./support/db";

type Opened = Awaited<ReturnType<typeof openTestStore>>;

// ---------------------------------------------------------------------------------------------
// Helpers

/** Awaits `promise`, expects a TaskgraphError with `code`, and returns it. */
async function refusal(promise: Promise<unknown>, code: TaskgraphError["code"]): Promise<TaskgraphError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a ${code} refusal, but the call succeeded`);
  expect(outcome.error).toBeInstanceOf(TaskgraphError);
  expect((outcome.error as TaskgraphError).code).toBe(code);
  return outcome.error as TaskgraphError;
}

/**
 * Closes a test store. On PostgreSQL, test/support/db.ts drops the database WITH (FORCE) right
 * after pg-pool's end() resolves, but end() does not wait for its clients' sockets to close; the
 * server then terminates them (57P01) and the pool re-emits that as an 'error' event. Without a
 * listener it becomes an uncaught exception that fails the run, so teardown listens for it here.
 */
async function closeStore(opened: Opened | undefined) {
  if (!opened) return;
  (opened.db.adapterFactory as { pool?: { on(event: "error", listener: () => void): unknown } }).pool?.on("error", () => {});
  await opened.db.close();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh task snapshot straight from the table (not through the code under test). */
const row = (store: Store, id: string) => store.prismaForTests.task.findUniqueOrThrow({ where: { id } });

/** Asserts that a task's journal is CREATED v1 followed by one event per later version, no gaps. */
async function expectContiguousJournal(store: Store, id: string) {
  const task = await row(store, id);
  const events = await store.events(id);
  expect(events.map((e) => e.version)).toEqual(Array.from({ length: task.version }, (_, i) => i + 1));
  expect(events[0]!.type).toBe("CREATED");
}

const FAR_FUTURE = () => new Date(Date.now() + 3_600_000);
const PAST = () => new Date(Date.now() - 3_600_000);

// ---------------------------------------------------------------------------------------------
// One store for the describes that do not list across the whole database.

let shared: Opened;
beforeAll(async () => {
  shared = await openTestStore();
});
afterAll(async () => {
  await closeStore(shared);
});

describe("createTask", () => {
  let store: Store;
  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("create", "createTask tests");
    await store.ensureModule("create-other");
  });

  test("a task with steps and a 3-level tree of children is created in one go", async () => {
    const root = await store.createTask({
      module: "create",
      type: "upgrade",
      name: "Upgrade cluster",
      steps: [{ key: "drain" }, { key: "upgrade", name: "Upgrade binaries" }, { key: "verify", dependsOn: [] }],
      children: [
        { type: "node-1", children: [{ type: "node-1-disk-a" }, { type: "node-1-disk-b" }] },
        { type: "node-2", children: [{ type: "node-2-disk-a" }] },
      ],
    });
    expect(root.state).toBe("QUEUED");
    expect(root.name).toBe("Upgrade cluster");
    expect(root.version).toBe(1);

    const all = await store.prismaForTests.task.findMany({ where: { rootId: root.id } });
    const byType = new Map(all.map((t) => [t.type, t]));
    expect(all).toHaveLength(6);
    const expected: Record<string, { parent: string | null; depth: number }> = {
      upgrade: { parent: null, depth: 0 },
      "node-1": { parent: "upgrade", depth: 1 },
      "node-2": { parent: "upgrade", depth: 1 },
      "node-1-disk-a": { parent: "node-1", depth: 2 },
      "node-1-disk-b": { parent: "node-1", depth: 2 },
      "node-2-disk-a": { parent: "node-2", depth: 2 },
    };
    for (const [type, { parent, depth }] of Object.entries(expected)) {
      const task = byType.get(type)!;
      expect(task, type).toBeDefined();
      expect(task.rootId, type).toBe(root.id);
      expect(task.depth, type).toBe(depth);
      expect(task.parentId, type).toBe(parent === null ? null : byType.get(parent)!.id);
      expect(task.sequenceNumber, type).toBe(root.sequenceNumber);
      expect(task.moduleName, type).toBe("create");
      expect(task.isUserTask, type).toBe(type === "upgrade");
      expect(task.state, type).toBe("QUEUED");
      expect(task.name, type).toBe(type === "upgrade" ? "Upgrade cluster" : type);
      expect(task.version, type).toBe(1);
    }

    const steps = await store.prismaForTests.step.findMany({ where: { taskId: root.id }, orderBy: { index: "asc" } });
    expect(steps.map((s) => [s.key, s.name, s.index, s.dependsOn, s.state])).toEqual([
      ["drain", "drain", 0, [], "WAITING"],
      ["upgrade", "Upgrade binaries", 1, ["drain"], "WAITING"],
      ["verify", "verify", 2, [], "WAITING"],
    ]);

    // One CREATED event, version 1, per task of the tree.
    for (const task of all) {
      const events = await store.events(task.id);
      expect(events.map((e) => [e.type, e.version, e.rootId, e.module])).toEqual([["CREATED", 1, root.id, "create"]]);
    }
  });

  test("sequence numbers count up per module, one per tree", async () => {
    await store.ensureModule("seq-a");
    await store.ensureModule("seq-b");
    const a1 = await store.createTask({ module: "seq-a", type: "x", children: [{ type: "c" }, { type: "c" }] });
    const a2 = await store.createTask({ module: "seq-a", type: "x" });
    const b1 = await store.createTask({ module: "seq-b", type: "x" });
    const a3 = await store.createTask({ module: "seq-a", type: "x", children: [{ type: "c" }] });
    expect([a1.sequenceNumber, a2.sequenceNumber, a3.sequenceNumber, b1.sequenceNumber]).toEqual([1, 2, 3, 1]);
    const modules = await store.prismaForTests.module.findMany({ where: { name: { in: ["seq-a", "seq-b"] } }, orderBy: { name: "asc" } });
    expect(modules.map((m) => m.lastSequenceNumber)).toEqual([3, 1]);
  });

  test("a child added later joins its parent's tree and sequence number without using up a new number", async () => {
    await store.ensureModule("seq-c");
    const root = await store.createTask({ module: "seq-c", type: "root", children: [{ type: "mid" }] });
    const mid = (await store.prismaForTests.task.findFirstOrThrow({ where: { parentId: root.id } }))!;
    const late = await store.createTask({ module: "seq-c", type: "late" }, { parentId: mid.id });
    expect(late.parentId).toBe(mid.id);
    expect(late.rootId).toBe(root.id);
    expect(late.depth).toBe(2);
    expect(late.sequenceNumber).toBe(root.sequenceNumber);
    expect(late.isUserTask).toBe(false);
    expect((await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "seq-c" } })).lastSequenceNumber).toBe(1);
    expect((await store.events(late.id)).map((e) => [e.type, e.version, e.rootId])).toEqual([["CREATED", 1, root.id]]);
  });

  test("a root may be marked as a system task and a child as a user task", async () => {
    const root = await store.createTask({ module: "create", type: "sys", isUserTask: false, children: [{ type: "user-child", isUserTask: true }] });
    expect(root.isUserTask).toBe(false);
    const child = await store.prismaForTests.task.findFirstOrThrow({ where: { parentId: root.id } });
    expect(child.isUserTask).toBe(true);
  });

  test("a CLUSTER root is accepted with cluster scope", async () => {
    const task = await store.createTask({ module: "create", type: "cluster-op", kind: "CLUSTER" });
    expect(task.kind).toBe("CLUSTER");
    expect(task.scope).toBe("cluster");
    expect(task.parentId).toBeNull();
  });

  test("a CLUSTER task inside a tree is refused and nothing of the tree is written", async () => {
    const tasksBefore = await store.prismaForTests.task.count();
    const eventsBefore = await store.prismaForTests.taskEvent.count();
    const seqBefore = (await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "create" } })).lastSequenceNumber;
    const error = await refusal(
      store.createTask({ module: "create", type: "root", children: [{ type: "ok" }, { type: "bad", kind: "CLUSTER" }] }),
      "BAD_USER_INPUT",
    );
    expect(error.message).toContain("CLUSTER");
    expect(await store.prismaForTests.task.count()).toBe(tasksBefore);
    expect(await store.prismaForTests.taskEvent.count()).toBe(eventsBefore);
    expect((await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "create" } })).lastSequenceNumber).toBe(seqBefore);
  });

  test("a CLUSTER task added under an existing parent is refused", async () => {
    const parent = await store.createTask({ module: "create", type: "parent" });
    await refusal(store.createTask({ module: "create", type: "bad", kind: "CLUSTER" }, { parentId: parent.id }), "BAD_USER_INPUT");
    expect(await store.prismaForTests.task.count({ where: { parentId: parent.id } })).toBe(0);
    expect((await row(store, parent.id)).version).toBe(1);
  });

  test("an unknown module is NOT_FOUND, for the root and for a child, and nothing is written", async () => {
    const tasksBefore = await store.prismaForTests.task.count();
    const seqBefore = (await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "create" } })).lastSequenceNumber;
    await refusal(store.createTask({ module: "no-such-module", type: "x" }), "NOT_FOUND");
    await refusal(store.createTask({ module: "create", type: "x", children: [{ module: "no-such-module", type: "y" }] }), "NOT_FOUND");
    expect(await store.prismaForTests.task.count()).toBe(tasksBefore);
    expect((await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "create" } })).lastSequenceNumber).toBe(seqBefore);
  });

  test("a runAt in the future makes the task SCHEDULED, otherwise it is QUEUED at once", async () => {
    const future = FAR_FUTURE();
    const past = PAST();
    const scheduled = await store.createTask({ module: "create", type: "later", runAt: future });
    const overdue = await store.createTask({ module: "create", type: "overdue", runAt: past });
    const now = await store.createTask({ module: "create", type: "now" });
    expect([scheduled.state, overdue.state, now.state]).toEqual(["SCHEDULED", "QUEUED", "QUEUED"]);
    expect(scheduled.scheduledFor?.getTime()).toBe(future.getTime());
    expect(overdue.scheduledFor?.getTime()).toBe(past.getTime());
    expect(now.scheduledFor).toBeNull();
    expect((await store.events(scheduled.id))[0]!.payload).toMatchObject({ state: "SCHEDULED" });
  });

  test("a task that has ended can no longer get children", async () => {
    const parent = await store.createTask({ module: "create", type: "done" });
    await store.transitionTask(parent.id, "CANCELED");
    await refusal(store.createTask({ module: "create", type: "child" }, { parentId: parent.id }), "INVALID_STATE");
    expect(await store.prismaForTests.task.count({ where: { parentId: parent.id } })).toBe(0);
  });

  test("a child for a parent that does not exist is NOT_FOUND", async () => {
    await refusal(store.createTask({ module: "create", type: "orphan" }, { parentId: "0190f5a2-7c3e-7a4b-8c9d-0123456789ab" }), "NOT_FOUND");
  });

  test("a malformed flow is refused and the task is not created", async () => {
    const before = await store.prismaForTests.task.count();
    await refusal(store.createTask({ module: "create", type: "cyclic", steps: [{ key: "a", dependsOn: ["b"] }, { key: "b" }] }), "BAD_USER_INPUT");
    expect(await store.prismaForTests.task.count()).toBe(before);
  });

  test("a bulk creation writes every task with its steps, subtree and CREATED event, in the order given, numbered in turn", async () => {
    await store.ensureModule("bulk", "bulk creation");
    const roots = await store.createTasks([
      { module: "bulk", type: "first", steps: [{ key: "a" }, { key: "b", dependsOn: ["a"] }], labels: { team: "x" } },
      { module: "bulk", type: "second", input: { n: 2 }, children: [{ type: "child", steps: [{ key: "only" }] }] },
      { module: "bulk", type: "third", runAt: FAR_FUTURE() },
    ]);
    expect(roots.map((r) => [r.type, r.sequenceNumber, r.state])).toEqual([
      ["first", 1, "QUEUED"],
      ["second", 2, "QUEUED"],
      ["third", 3, "SCHEDULED"],
    ]);
    expect(roots[0]!.labels).toEqual({ team: "x" });
    expect(roots[1]!.input).toEqual({ n: 2 });
    const steps = await store.steps(roots[0]!.id);
    expect(steps.map((s) => [s.key, s.index, s.dependsOn, s.state])).toEqual([
      ["a", 0, [], "WAITING"],
      ["b", 1, ["a"], "WAITING"],
    ]);
    const [child] = await store.children(roots[1]!.id);
    expect([child!.type, child!.sequenceNumber, child!.rootId, child!.depth]).toEqual(["child", 2, roots[1]!.id, 1]);
    expect((await store.steps(child!.id)).map((s) => s.key)).toEqual(["only"]);
    // One CREATED event each, version 1, with the task's snapshot, in the order given (each root's subtree after it).
    const events = await store.prismaForTests.taskEvent.findMany({ where: { module: "bulk" }, orderBy: { id: "asc" } });
    expect(events.map((e) => [e.taskId, e.type, e.version])).toEqual(
      [roots[0]!, roots[1]!, child!, roots[2]!].map((t) => [t.id, "CREATED", 1]),
    );
    expect(events[2]!.payload).toEqual({ state: "QUEUED", parentId: roots[1]!.id, type: "child", name: "child" });
    expect(events[0]!.task).toMatchObject({ id: roots[0]!.id, module: "bulk", state: "QUEUED", labels: { team: "x" } });
    expect((events[3]!.task as { createdWithRunAt: boolean }).createdWithRunAt).toBe(true);
  });

  test("a bulk creation with one bad spec or one unknown module writes none of the batch", async () => {
    await store.ensureModule("bulk-refused", "refused batches");
    const count = () => store.prismaForTests.task.count({ where: { moduleName: "bulk-refused" } });
    const sequence = async () => (await store.prismaForTests.module.findUniqueOrThrow({ where: { name: "bulk-refused" } })).lastSequenceNumber;
    const ok = { module: "bulk-refused", type: "ok" };
    await refusal(store.createTasks([ok, { module: "bulk-refused", type: "" }, ok]), "BAD_USER_INPUT");
    await refusal(store.createTasks([ok, { module: "bulk-refused", type: "x", children: [{ module: "no-such-module", type: "y" }] }]), "NOT_FOUND");
    await refusal(store.createTasks([ok, { module: "no-such-module", type: "x" }]), "NOT_FOUND");
    expect(await count()).toBe(0);
    expect(await sequence()).toBe(0);
    expect(await store.prismaForTests.taskEvent.count({ where: { module: "bulk-refused" } })).toBe(0);
    await store.createTasks([ok, ok]);
    expect([await count(), await sequence()]).toEqual([2, 2]);
  });

  test("adding a child keeps the parent's journal contiguous (one event per version)", async () => {
    const parent = await store.createTask({ module: "create", type: "journal-parent" });
    await store.createTask({ module: "create", type: "journal-child" }, { parentId: parent.id });
    await store.transitionTask(parent.id, "RUNNING");
    await expectContiguousJournal(store, parent.id);
  });
});

// ---------------------------------------------------------------------------------------------

describe("listTasks filters", () => {
  let opened: Opened;
  let store: Store;
  const t: Record<string, Task> = {};

  /** Types of every task the filter lists (all on one page), sorted; also checks totalCount. */
  async function types(filter: TaskFilter): Promise<string[]> {
    const page = await store.listTasks({ filter, page: { first: 500 } });
    expect(await page.totalCount()).toEqual({ count: page.edges.length, exact: true });
    return page.edges.map((e) => e.node.type).sort();
  }

  beforeAll(async () => {
    opened = await openTestStore();
    store = opened.store;
    await store.ensureModule("kafka");
    await store.ensureModule("scylla");
    await store.ensureModule("ops");
    // Distinct creation times (createdAt has millisecond precision), in the order t1 … t5.
    t.t1 = await store.createTask({
      module: "kafka",
      type: "restart-broker",
      name: "Restart broker 1",
      target: "kafka/broker-1",
      labels: { env: "prod", team: "a" },
    });
    await sleep(5);
    t.t2 = await store.createTask({
      module: "kafka",
      type: "reassign-partitions",
      name: "Reassign 100 partitions",
      target: "kafka/broker-2",
      labels: { env: "staging" },
      runAt: FAR_FUTURE(),
    });
    await sleep(5);
    t.t3 = await store.createTask({
      module: "scylla",
      type: "compact",
      name: "Compact 100% of table",
      kind: "CLUSTER",
      target: "scylla/ks_1.table",
      labels: { env: "prod" },
    });
    await sleep(5);
    t.t4 = await store.createTask({
      module: "scylla",
      type: "repair",
      name: "Repair",
      target: "scylla/ksX1.table",
      children: [
        { type: "repair-range", isInternal: true, target: "scylla/ksX1.table/range-0" },
        { type: "repair-node", name: "Repair node", target: "scylla/node-2" },
      ],
    });
    await sleep(5);
    t.t5 = await store.createTask({ module: "ops", type: "upgrade", name: "UPGRADE cluster", runAt: PAST() });
    await store.transitionTask(t.t1.id, "RUNNING");
    await store.transitionTask(t.t1.id, "SUCCEEDED");
    await store.transitionTask(t.t3.id, "RUNNING");
    await store.transitionTask(t.t3.id, "FAILED", { error: "disk full" });
    await store.transitionTask(t.t5.id, "CANCELED");
  });
  afterAll(async () => {
    await closeStore(opened);
  });

  const ALL_VISIBLE = ["compact", "reassign-partitions", "repair", "repair-node", "restart-broker", "upgrade"];

  test("without a filter every task except internal ones is listed", async () => {
    expect(await types({})).toEqual(ALL_VISIBLE);
  });

  test("includeInternal shows internal tasks too; false is the same as leaving it out", async () => {
    expect(await types({ includeInternal: true })).toEqual([...ALL_VISIBLE, "repair-range"].sort());
    expect(await types({ includeInternal: false })).toEqual(ALL_VISIBLE);
    expect(await types({ includeInternal: null })).toEqual(ALL_VISIBLE);
  });

  test("module lists that module's tasks, including children", async () => {
    expect(await types({ module: "kafka" })).toEqual(["reassign-partitions", "restart-broker"]);
    expect(await types({ module: "scylla" })).toEqual(["compact", "repair", "repair-node"]);
    expect(await types({ module: "nothing-here" })).toEqual([]);
  });

  test("types lists tasks of any of the given types", async () => {
    expect(await types({ types: ["compact", "upgrade"] })).toEqual(["compact", "upgrade"]);
    expect(await types({ types: ["repair-range"] })).toEqual([]);
    expect(await types({ types: [] })).toEqual([]);
  });

  test("states lists tasks in any of the given states", async () => {
    expect(await types({ states: ["SCHEDULED", "SUCCEEDED"] })).toEqual(["reassign-partitions", "restart-broker"]);
    expect(await types({ states: ["QUEUED"] })).toEqual(["repair", "repair-node"]);
    expect(await types({ states: ["RUNNING"] })).toEqual([]);
  });

  test("category groups states: scheduled, pending (queued or running), failed (incl. canceled), finished", async () => {
    expect(await types({ category: "SCHEDULED" })).toEqual(["reassign-partitions"]);
    expect(await types({ category: "PENDING" })).toEqual(["repair", "repair-node"]);
    expect(await types({ category: "FAILED" })).toEqual(["compact", "upgrade"]);
    expect(await types({ category: "FINISHED" })).toEqual(["restart-broker"]);
  });

  test("kind separates cluster and node tasks", async () => {
    expect(await types({ kind: "CLUSTER" })).toEqual(["compact"]);
    expect(await types({ kind: "NODE" })).toEqual(["reassign-partitions", "repair", "repair-node", "restart-broker", "upgrade"]);
  });

  test("target matches exactly", async () => {
    expect(await types({ target: "kafka/broker-1" })).toEqual(["restart-broker"]);
    expect(await types({ target: "kafka/broker" })).toEqual([]);
  });

  test("targetPrefix matches the beginning of the target", async () => {
    expect(await types({ targetPrefix: "kafka/" })).toEqual(["reassign-partitions", "restart-broker"]);
    expect(await types({ targetPrefix: "scylla/" })).toEqual(["compact", "repair", "repair-node"]);
    expect(await types({ targetPrefix: "scylla/ksX1", includeInternal: true })).toEqual(["repair", "repair-range"]);
  });

  test("targetPrefix treats '_' as an ordinary character", async () => {
    // "scylla/ks_" must not match "scylla/ksX1.table".
    expect(await types({ targetPrefix: "scylla/ks_" })).toEqual(["compact"]);
  });

  test("targetPrefix treats '%' as an ordinary character", async () => {
    // "%broker" must not match "kafka/broker-1".
    expect(await types({ targetPrefix: "%broker" })).toEqual([]);
  });

  test("labels: every given label must match exactly", async () => {
    expect(await types({ labels: { env: "prod" } })).toEqual(["compact", "restart-broker"]);
    expect(await types({ labels: { env: "prod", team: "a" } })).toEqual(["restart-broker"]);
    expect(await types({ labels: { env: "dev" } })).toEqual([]);
    expect(await types({ labels: { team: "a", env: "staging" } })).toEqual([]);
    expect(await types({ labels: {} })).toEqual(ALL_VISIBLE);
  });

  test("search is a case-insensitive keyword over name, type, module and target", async () => {
    expect(await types({ search: "restart" })).toEqual(["restart-broker"]); // name and type
    expect(await types({ search: "RESTART BROKER" })).toEqual(["restart-broker"]); // name only
    expect(await types({ search: "upgrade" })).toEqual(["upgrade"]); // "UPGRADE cluster"
    expect(await types({ search: "RePaIr" })).toEqual(["repair", "repair-node"]);
    expect(await types({ search: "partitions" })).toEqual(["reassign-partitions"]);
    expect(await types({ search: "ops" })).toEqual(["upgrade"]); // module only
    expect(await types({ search: "broker-2" })).toEqual(["reassign-partitions"]); // target only
    expect(await types({ search: "NODE-2" })).toEqual(["repair-node"]); // target, other case
    expect(await types({ search: "  compact  " })).toEqual(["compact"]); // trimmed
    expect(await types({ search: "   " })).toEqual(ALL_VISIBLE); // blank = no keyword
    expect(await types({ search: "zzz" })).toEqual([]);
  });

  test("search by a task's exact id finds that task, in any letter case", async () => {
    expect(await types({ search: t.t2!.id })).toEqual(["reassign-partitions"]);
    expect(await types({ search: t.t2!.id.toUpperCase() })).toEqual(["reassign-partitions"]);
  });

  test("search treats '%' and '_' literally", async () => {
    expect(await types({ search: "100" })).toEqual(["compact", "reassign-partitions"]);
    expect(await types({ search: "100%" })).toEqual(["compact"]);
    expect(await types({ search: "%" })).toEqual(["compact"]);
    expect(await types({ search: "ks_1" })).toEqual(["compact"]);
    expect(await types({ search: "_" })).toEqual(["compact"]);
    expect(await types({ search: "\\" })).toEqual([]);
  });

  test("createdAfter is inclusive and createdBefore exclusive", async () => {
    expect(await types({ createdAfter: t.t2!.createdAt, createdBefore: t.t5!.createdAt })).toEqual([
      "compact",
      "reassign-partitions",
      "repair",
      "repair-node",
    ]);
    expect(await types({ createdAfter: t.t4!.createdAt })).toEqual(["repair", "repair-node", "upgrade"]);
    expect(await types({ createdBefore: t.t2!.createdAt })).toEqual(["restart-broker"]);
    expect(await types({ createdAfter: t.t3!.createdAt, createdBefore: t.t3!.createdAt })).toEqual([]);
  });

  test("parentId lists the direct children of a task", async () => {
    expect(await types({ parentId: t.t4!.id })).toEqual(["repair-node"]);
    expect(await types({ parentId: t.t4!.id, includeInternal: true })).toEqual(["repair-node", "repair-range"]);
    expect(await types({ parentId: t.t1!.id })).toEqual([]);
    expect(await types({ parentId: t.t4!.id.toUpperCase() })).toEqual(["repair-node"]);
  });

  test("rootsOnly lists only tasks without a parent", async () => {
    expect(await types({ rootsOnly: true })).toEqual(["compact", "reassign-partitions", "repair", "restart-broker", "upgrade"]);
    expect(await types({ rootsOnly: false })).toEqual(ALL_VISIBLE);
  });

  test("createdWithRunAt separates tasks created with a runAt (in any state now) from the others", async () => {
    expect(await types({ createdWithRunAt: true })).toEqual(["reassign-partitions", "upgrade"]);
    expect(await types({ createdWithRunAt: false })).toEqual(["compact", "repair", "repair-node", "restart-broker"]);
    expect(await types({ scheduled: true })).toEqual(["reassign-partitions", "upgrade"]); // the deprecated name
  });

  test("scheduled (deprecated) and createdWithRunAt that disagree are BAD_USER_INPUT", async () => {
    const error = await refusal(store.listTasks({ filter: { scheduled: true, createdWithRunAt: false } }), "BAD_USER_INPUT");
    expect(error.message).toContain("createdWithRunAt");
  });

  test("filters combine with AND", async () => {
    expect(await types({ module: "scylla", category: "PENDING" })).toEqual(["repair", "repair-node"]);
    expect(await types({ labels: { env: "prod" }, states: ["FAILED"] })).toEqual(["compact"]);
    expect(await types({ search: "repair", rootsOnly: true })).toEqual(["repair"]);
  });

  test("createdAfter later than createdBefore is BAD_USER_INPUT", async () => {
    const error = await refusal(store.listTasks({ filter: { createdAfter: t.t5!.createdAt, createdBefore: t.t1!.createdAt } }), "BAD_USER_INPUT");
    expect(error.message).toContain("createdAfter");
  });

  test("rootsOnly together with parentId is BAD_USER_INPUT", async () => {
    await refusal(store.listTasks({ filter: { rootsOnly: true, parentId: t.t4!.id } }), "BAD_USER_INPUT");
  });

  test("a malformed parentId is BAD_USER_INPUT, not a database error", async () => {
    const error = await refusal(store.listTasks({ filter: { parentId: "not-a-uuid" } }), "BAD_USER_INPUT");
    expect(error.message).toContain("filter.parentId");
  });

  test("a search longer than 200 characters is BAD_USER_INPUT; 200 is fine", async () => {
    await refusal(store.listTasks({ filter: { search: "x".repeat(201) } }), "BAD_USER_INPUT");
    expect(await types({ search: "x".repeat(200) })).toEqual([]);
  });

  test("other malformed filters are BAD_USER_INPUT", async () => {
    await refusal(store.listTasks({ filter: { module: "" } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ filter: { target: "" } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ filter: { types: Array.from({ length: 101 }, (_, i) => `t${i}`) } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ filter: { labels: { env: 5 } } }), "BAD_USER_INPUT");
  });
});

// ---------------------------------------------------------------------------------------------

describe("listTasks pagination", () => {
  let opened: Opened;
  let store: Store;
  /** Every visible task, straight from the table. */
  let visible: Task[];

  // The expected order, written independently of src/store/pagination.ts: by the field (nulls
  // last in both directions), ties broken by id in the same direction.
  const STATE_RANK: TaskState[] = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"];
  function sortKey(task: Task, field: TaskOrder["field"]): number | string | null {
    switch (field) {
      case "CREATED_AT":
        return task.createdAt.getTime();
      case "STARTED_AT":
        return task.startedAt?.getTime() ?? null;
      case "ENDED_AT":
        return task.endedAt?.getTime() ?? null;
      case "STATE":
        return STATE_RANK.indexOf(task.state);
      case "MODULE":
        return task.moduleName;
    }
  }
  function expectedOrder(order: TaskOrder): string[] {
    const sign = order.direction === "ASC" ? 1 : -1;
    const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...visible]
      .sort((a, b) => {
        const ka = sortKey(a, order.field);
        const kb = sortKey(b, order.field);
        if (ka === null && kb !== null) return 1;
        if (kb === null && ka !== null) return -1;
        if (ka !== null && kb !== null && ka !== kb) return sign * cmp(ka, kb);
        return sign * cmp(a.id, b.id);
      })
      .map((task) => task.id);
  }

  async function walkForward(orderBy: TaskOrder, size: number) {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pageNo = 0; pageNo < 50; pageNo++) {
      const page = await store.listTasks({ orderBy, page: { first: size, after } });
      expect(await page.totalCount()).toEqual({ count: visible.length, exact: true });
      expect(page.pageInfo.hasPreviousPage).toBe(pageNo > 0);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) {
        expect(page.edges.length).toBeLessThanOrEqual(size);
        expect(page.edges.length).toBeGreaterThan(0);
        return ids;
      }
      expect(page.edges).toHaveLength(size);
      after = page.pageInfo.endCursor;
    }
    throw new Error("forward walk did not end");
  }

  async function walkBackward(orderBy: TaskOrder, size: number) {
    const ids: string[] = [];
    let before: string | null = null;
    for (let pageNo = 0; pageNo < 50; pageNo++) {
      const page = await store.listTasks({ orderBy, page: { last: size, before } });
      expect(await page.totalCount()).toEqual({ count: visible.length, exact: true });
      expect(page.pageInfo.hasNextPage).toBe(pageNo > 0);
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      ids.unshift(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasPreviousPage) {
        expect(page.edges.length).toBeLessThanOrEqual(size);
        expect(page.edges.length).toBeGreaterThan(0);
        return ids;
      }
      expect(page.edges).toHaveLength(size);
      before = page.pageInfo.startCursor;
    }
    throw new Error("backward walk did not end");
  }

  beforeAll(async () => {
    opened = await openTestStore();
    store = opened.store;
    for (const m of ["alpha", "beta", "gamma"]) await store.ensureModule(m);
    const make = async (module: string, extra: Partial<Parameters<Store["createTask"]>[0]> = {}) => {
      await sleep(3);
      return store.createTask({ module, type: `${module}-task`, ...extra });
    };
    const p1 = await make("alpha");
    const p2 = await make("beta", { children: [{ type: "beta-child" }, { type: "beta-child" }] }); // three equal createdAt
    const p3 = await make("gamma");
    await make("alpha", { runAt: FAR_FUTURE() }); // SCHEDULED
    const p5 = await make("beta");
    await make("gamma", { children: [{ type: "hidden", isInternal: true }] });
    const p7 = await make("alpha");
    const p8 = await make("beta");
    const p9 = await make("gamma");
    const p10 = await make("alpha");
    const [c1] = await store.prismaForTests.task.findMany({ where: { parentId: p2.id }, orderBy: { id: "asc" } });
    const run = async (id: string, ...states: TaskState[]) => {
      for (const state of states) {
        await store.transitionTask(id, state);
        await sleep(2);
      }
    };
    await run(p1.id, "RUNNING", "SUCCEEDED");
    await run(p3.id, "RUNNING");
    await run(p5.id, "RUNNING", "FAILED");
    await run(p7.id, "CANCELED"); // ended without ever starting
    await run(p8.id, "RUNNING", "SUCCEEDED");
    await run(c1!.id, "RUNNING");
    await run(p9.id, "RUNNING", "FAILED", "RUNNING");
    await run(p10.id, "RUNNING", "SUCCEEDED");
    visible = await store.prismaForTests.task.findMany({ where: { isInternal: false } });
  });
  afterAll(async () => {
    await closeStore(opened);
  });

  test("the data set has ties and nulls in every sort field", () => {
    expect(visible).toHaveLength(12);
    expect(visible.filter((t) => t.startedAt === null).length).toBeGreaterThanOrEqual(3);
    expect(visible.filter((t) => t.endedAt === null).length).toBeGreaterThanOrEqual(3);
    expect(new Set(visible.map((t) => t.createdAt.getTime())).size).toBeLessThan(visible.length);
  });

  const ORDERS: TaskOrder[] = (["CREATED_AT", "STARTED_AT", "ENDED_AT", "STATE", "MODULE"] as const).flatMap((field) =>
    (["ASC", "DESC"] as const).map((direction) => ({ field, direction })),
  );

  test.each(ORDERS)("paging forward by $field $direction visits every task once, in order", async (orderBy) => {
    const expected = expectedOrder(orderBy);
    for (const size of [4, 5]) expect(await walkForward(orderBy, size)).toEqual(expected);
  });

  test.each(ORDERS)("paging backward by $field $direction visits every task once, in order", async (orderBy) => {
    const expected = expectedOrder(orderBy);
    for (const size of [4, 5]) expect(await walkBackward(orderBy, size)).toEqual(expected);
  });

  test.each(ORDERS)("going back from a page by $field $direction gives the rows just before it", async (orderBy) => {
    const expected = expectedOrder(orderBy);
    const first = await store.listTasks({ orderBy, page: { first: 4 } });
    const second = await store.listTasks({ orderBy, page: { first: 4, after: first.pageInfo.endCursor } });
    expect(second.edges.map((e) => e.node.id)).toEqual(expected.slice(4, 8));
    const back = await store.listTasks({ orderBy, page: { last: 3, before: second.pageInfo.startCursor } });
    expect(back.edges.map((e) => e.node.id)).toEqual(expected.slice(1, 4));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });

  test("without orderBy the newest task comes first", async () => {
    const page = await store.listTasks({ page: { first: 500 } });
    expect(page.edges.map((e) => e.node.id)).toEqual(expectedOrder({ field: "CREATED_AT", direction: "DESC" }));
    expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  test("without first or last a page holds 20 tasks at most", async () => {
    const page = await store.listTasks({});
    expect(page.edges).toHaveLength(12);
    expect(page.pageInfo.hasNextPage).toBe(false);
  });

  test("a page size larger than the maximum is BAD_USER_INPUT; the maximum itself is fine", async () => {
    const max = store.config.maxPageSize;
    await refusal(store.listTasks({ page: { first: max + 1 } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ page: { last: max + 1 } }), "BAD_USER_INPUT");
    expect((await store.listTasks({ page: { first: max } })).edges).toHaveLength(12);
  });

  test("first and last together are BAD_USER_INPUT, as are after and before together", async () => {
    const page = await store.listTasks({ page: { first: 2 } });
    await refusal(store.listTasks({ page: { first: 2, last: 2 } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ page: { first: 2, after: page.pageInfo.endCursor, before: page.pageInfo.startCursor } }), "BAD_USER_INPUT");
  });

  test("a negative or fractional page size is BAD_USER_INPUT", async () => {
    await refusal(store.listTasks({ page: { first: -1 } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ page: { last: 1.5 } }), "BAD_USER_INPUT");
  });

  test("a cursor that this API did not hand out is BAD_USER_INPUT, not a database error", async () => {
    const enc = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const garbage = [
      "garbage",
      "!!!",
      Buffer.from("not json").toString("base64url"),
      enc({ field: "CREATED_AT" }),
      enc(["CREATED_AT", "2024-01-01T00:00:00.000Z"]),
      enc(["CREATED_AT", 5, "0190f5a2-7c3e-7a4b-8c9d-0123456789ab"]),
      enc(["CREATED_AT", "yesterday", "0190f5a2-7c3e-7a4b-8c9d-0123456789ab"]),
      enc(["CREATED_AT", null, "0190f5a2-7c3e-7a4b-8c9d-0123456789ab"]),
    ];
    for (const cursor of garbage) {
      await refusal(store.listTasks({ page: { first: 2, after: cursor } }), "BAD_USER_INPUT");
      await refusal(store.listTasks({ page: { last: 2, before: cursor } }), "BAD_USER_INPUT");
    }
    await refusal(store.listTasks({ orderBy: { field: "STATE", direction: "ASC" }, page: { first: 2, after: enc(["STATE", "NAPPING", "0190f5a2-7c3e-7a4b-8c9d-0123456789ab"]) } }), "BAD_USER_INPUT");
  });

  test("a well-formed cursor whose task id is not a UUID is BAD_USER_INPUT, not a database error", async () => {
    const cursor = Buffer.from(JSON.stringify(["CREATED_AT", "2024-01-01T00:00:00.000Z", "not-a-uuid"])).toString("base64url");
    await refusal(store.listTasks({ page: { first: 2, after: cursor } }), "BAD_USER_INPUT");
    await refusal(store.listTasks({ page: { last: 2, before: cursor } }), "BAD_USER_INPUT");
  });

  test("a cursor made for another orderBy is BAD_USER_INPUT", async () => {
    const page = await store.listTasks({ orderBy: { field: "MODULE", direction: "ASC" }, page: { first: 2 } });
    const error = await refusal(
      store.listTasks({ orderBy: { field: "STATE", direction: "ASC" }, page: { first: 2, after: page.pageInfo.endCursor } }),
      "BAD_USER_INPUT",
    );
    expect(error.message).toContain("MODULE");
  });

  test("a filter applies to every page and to totalCount", async () => {
    const orderBy: TaskOrder = { field: "STARTED_AT", direction: "ASC" };
    const alpha = visible.filter((t) => t.moduleName === "alpha").map((t) => t.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.listTasks({ filter: { module: "alpha" }, orderBy, page: { first: 1, after } });
      expect(await page.totalCount()).toEqual({ count: alpha.length, exact: true });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(expectedOrder(orderBy).filter((id) => alpha.includes(id)));
  });

  // Last: it adds a task.
  test("a task created between two requests does not shift the next page", async () => {
    const orderBy: TaskOrder = { field: "CREATED_AT", direction: "DESC" };
    const expected = expectedOrder(orderBy);
    const first = await store.listTasks({ orderBy, page: { first: 5 } });
    await store.createTask({ module: "alpha", type: "newcomer" });
    const second = await store.listTasks({ orderBy, page: { first: 5, after: first.pageInfo.endCursor } });
    expect(second.edges.map((e) => e.node.id)).toEqual(expected.slice(5, 10));
  });
});

// ---------------------------------------------------------------------------------------------

describe("taskTree", () => {
  let store: Store;
  let root: Task;
  const byType = new Map<string, Task>();

  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("tree");
    root = await store.createTask({
      module: "tree",
      type: "R",
      children: [{ type: "A", children: [{ type: "A1", children: [{ type: "A1a" }] }, { type: "A2" }] }, { type: "B", children: [{ type: "B1" }] }, { type: "C" }],
    });
    for (const task of await store.prismaForTests.task.findMany({ where: { rootId: root.id } })) byType.set(task.type, task);
    // Added later: they come after their older siblings.
    await store.createTask({ module: "tree", type: "A3" }, { parentId: byType.get("A")!.id });
    await store.createTask({ module: "tree", type: "D", isInternal: true }, { parentId: root.id });
  });

  const typesOf = (tasks: Task[]) => tasks.map((t) => t.type);

  test("the whole tree comes level by level, siblings in creation order", async () => {
    expect(typesOf(await store.taskTree(root.id))).toEqual(["R", "A", "B", "C", "D", "A1", "A2", "A3", "B1", "A1a"]);
  });

  test("maxDepth limits how many levels below the task are included", async () => {
    expect(typesOf(await store.taskTree(root.id, { maxDepth: 0 }))).toEqual(["R"]);
    expect(typesOf(await store.taskTree(root.id, { maxDepth: 1 }))).toEqual(["R", "A", "B", "C", "D"]);
    expect(typesOf(await store.taskTree(root.id, { maxDepth: 2 }))).toEqual(["R", "A", "B", "C", "D", "A1", "A2", "A3", "B1"]);
    expect(typesOf(await store.taskTree(root.id, { maxDepth: 3 }))).toEqual(["R", "A", "B", "C", "D", "A1", "A2", "A3", "B1", "A1a"]);
    expect(typesOf(await store.taskTree(root.id, { maxDepth: null }))).toEqual(["R", "A", "B", "C", "D", "A1", "A2", "A3", "B1", "A1a"]);
  });

  test("the tree of a subtask starts at that subtask", async () => {
    expect(typesOf(await store.taskTree(byType.get("A")!.id))).toEqual(["A", "A1", "A2", "A3", "A1a"]);
    expect(typesOf(await store.taskTree(byType.get("C")!.id))).toEqual(["C"]);
  });

  test("a folded task (internal, succeeded) takes what is below it along, read from the root (by rootId) or from a subtask (walked)", async () => {
    const top = await store.createTask({ module: "tree", type: "F", children: [{ type: "F1", children: [{ type: "F1a", isInternal: true, children: [{ type: "F1a-x" }] }] }] });
    const tasks = new Map((await store.prismaForTests.task.findMany({ where: { rootId: top.id } })).map((task) => [task.type, task]));
    await store.prismaForTests.task.update({ where: { id: tasks.get("F1a")!.id }, data: { state: "SUCCEEDED" } });
    expect(typesOf(await store.taskTree(top.id))).toEqual(["F", "F1"]);
    expect(typesOf(await store.taskTree(top.id, { includeFolded: true }))).toEqual(["F", "F1", "F1a", "F1a-x"]);
    expect(typesOf(await store.taskTree(tasks.get("F1")!.id))).toEqual(["F1"]);
    expect(typesOf(await store.taskTree(tasks.get("F1")!.id, { includeFolded: true }))).toEqual(["F1", "F1a", "F1a-x"]);
    // The task asked for is always there, folded or not.
    expect(typesOf(await store.taskTree(tasks.get("F1a")!.id))).toEqual(["F1a", "F1a-x"]);
  });

  test("rows read with the walk (no relations asked for) equal Prisma's own rows, in the same order", async () => {
    const walked = await store.taskTree(root.id);
    const withSteps = await store.taskTree(root.id, { query: { include: { steps: true } } });
    expect(withSteps.map(({ steps, ...task }: Task & { steps?: unknown }) => task)).toEqual(walked);
    const byId = new Map((await store.prismaForTests.task.findMany({ where: { rootId: root.id } })).map((t) => [t.id, t]));
    expect(walked).toEqual(walked.map((t) => byId.get(t.id)));
    expect(walked.length).toBe(byId.size);
  });

  test("an unknown id is NOT_FOUND and a malformed one BAD_USER_INPUT", async () => {
    await refusal(store.taskTree("0190f5a2-7c3e-7a4b-8c9d-0123456789ab"), "NOT_FOUND");
    await refusal(store.taskTree("nope"), "BAD_USER_INPUT");
  });

  test("getTask finds a task by id in any letter case; unknown is NOT_FOUND, malformed BAD_USER_INPUT", async () => {
    expect((await store.getTask(root.id.toUpperCase())).id).toBe(root.id);
    expect(await store.findTask("0190f5a2-7c3e-7a4b-8c9d-0123456789ab")).toBeNull();
    await refusal(store.getTask("0190f5a2-7c3e-7a4b-8c9d-0123456789ab"), "NOT_FOUND");
    await refusal(store.getTask("nope"), "BAD_USER_INPUT");
  });
});

// ---------------------------------------------------------------------------------------------

describe("transitionTask", () => {
  let store: Store;
  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("trans");
  });

  test("a task runs, fails, is retried and succeeds; times, error, result and version follow", async () => {
    const task = await store.createTask({ module: "trans", type: "job" });
    expect(task).toMatchObject({ state: "QUEUED", version: 1, startedAt: null, endedAt: null });

    const running = await store.transitionTask(task.id, "RUNNING", { node: "host-1" });
    expect(running).toMatchObject({ state: "RUNNING", version: 2, endedAt: null, node: "host-1" });
    expect(running.startedAt).toBeInstanceOf(Date);

    const failed = await store.transitionTask(task.id, "FAILED", { error: "boom" });
    expect(failed).toMatchObject({ state: "FAILED", version: 3, error: "boom" });
    expect(failed.startedAt).toEqual(running.startedAt);
    expect(failed.endedAt).toBeInstanceOf(Date);
    expect(failed.endedAt!.getTime()).toBeGreaterThanOrEqual(running.startedAt!.getTime());

    await sleep(5);
    const retried = await store.transitionTask(task.id, "RUNNING");
    expect(retried).toMatchObject({ state: "RUNNING", version: 4, error: null, endedAt: null });
    expect(retried.startedAt).toEqual(running.startedAt); // first start is kept

    const done = await store.transitionTask(task.id, "SUCCEEDED", { result: { moved: 3 } });
    expect(done).toMatchObject({ state: "SUCCEEDED", version: 5, result: { moved: 3 }, error: null });
    expect(done.endedAt!.getTime()).toBeGreaterThan(failed.endedAt!.getTime());

    const events = await store.events(task.id);
    expect(events.map((e) => [e.type, e.version, e.payload])).toEqual([
      ["CREATED", 1, expect.objectContaining({ state: "QUEUED" })],
      ["STATE_CHANGED", 2, expect.objectContaining({ from: "QUEUED", to: "RUNNING" })],
      ["STATE_CHANGED", 3, expect.objectContaining({ from: "RUNNING", to: "FAILED", error: "boom" })],
      ["STATE_CHANGED", 4, expect.objectContaining({ from: "FAILED", to: "RUNNING", error: null })],
      ["STATE_CHANGED", 5, expect.objectContaining({ from: "RUNNING", to: "SUCCEEDED" })],
    ]);
    expect((await row(store, task.id)).version).toBe(5);
  });

  test("a scheduled task canceled before it ran has an end time but no start time", async () => {
    const task = await store.createTask({ module: "trans", type: "later", runAt: FAR_FUTURE() });
    const canceled = await store.transitionTask(task.id, "CANCELED");
    expect(canceled).toMatchObject({ state: "CANCELED", startedAt: null, version: 2 });
    expect(canceled.endedAt).toBeInstanceOf(Date);
  });

  test("a scheduled task becomes queued when its time comes, without start or end times", async () => {
    const task = await store.createTask({ module: "trans", type: "later", runAt: FAR_FUTURE() });
    const queued = await store.transitionTask(task.id, "QUEUED");
    expect(queued).toMatchObject({ state: "QUEUED", startedAt: null, endedAt: null, version: 2 });
  });

  test("an illegal transition is INVALID_STATE and changes nothing at all", async () => {
    const task = await store.createTask({ module: "trans", type: "job" });
    await store.transitionTask(task.id, "RUNNING");
    await store.transitionTask(task.id, "SUCCEEDED", { result: { ok: true } });
    const before = await row(store, task.id);
    const eventsBefore = await store.events(task.id);
    const totalEventsBefore = await store.prismaForTests.taskEvent.count();

    const error = await refusal(store.transitionTask(task.id, "RUNNING", { error: "should not stick", node: "x" }), "INVALID_STATE");
    expect(error.message).toContain("SUCCEEDED");
    await refusal(store.transitionTask(task.id, "QUEUED"), "INVALID_STATE");

    expect(await row(store, task.id)).toEqual(before);
    expect(await store.events(task.id)).toEqual(eventsBefore);
    expect(await store.prismaForTests.taskEvent.count()).toBe(totalEventsBefore);
  });

  test("a queued task cannot jump straight to SUCCEEDED", async () => {
    const task = await store.createTask({ module: "trans", type: "job" });
    await refusal(store.transitionTask(task.id, "SUCCEEDED"), "INVALID_STATE");
    expect(await row(store, task.id)).toMatchObject({ state: "QUEUED", version: 1, endedAt: null });
    expect(await store.events(task.id)).toHaveLength(1);
  });

  test("an unknown task is NOT_FOUND", async () => {
    await refusal(store.transitionTask("0190f5a2-7c3e-7a4b-8c9d-0123456789ab", "RUNNING"), "NOT_FOUND");
  });
});

// ---------------------------------------------------------------------------------------------

describe("transitionStep, attempts and logs", () => {
  let store: Store;
  let task: Task;

  const attempts = async (stepKey: string) => {
    const step = await store.prismaForTests.step.findUniqueOrThrow({ where: { taskId_key: { taskId: task.id, key: stepKey } } });
    return store.prismaForTests.stepAttempt.findMany({ where: { stepId: step.id }, orderBy: { number: "asc" } });
  };
  const step = (stepKey: string) => store.prismaForTests.step.findUniqueOrThrow({ where: { taskId_key: { taskId: task.id, key: stepKey } } });

  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("steps");
    task = await store.createTask({ module: "steps", type: "flow", steps: [{ key: "a" }, { key: "b" }, { key: "c" }] });
    await store.transitionTask(task.id, "RUNNING");
  });

  test("running a step opens an EXECUTE attempt; failing it closes the attempt with the error", async () => {
    const running = await store.transitionStep(task.id, "a", "RUNNING");
    expect(running).toMatchObject({ state: "RUNNING", endedAt: null, error: null });
    expect(running.startedAt).toBeInstanceOf(Date);
    expect(await attempts("a")).toMatchObject([{ number: 1, kind: "EXECUTE", state: "RUNNING", endedAt: null, error: null }]);

    const failed = await store.transitionStep(task.id, "a", "FAILED", { error: "disk full" });
    expect(failed).toMatchObject({ state: "FAILED", error: "disk full" });
    expect(failed.endedAt).toBeInstanceOf(Date);
    const [first] = await attempts("a");
    expect(first).toMatchObject({ number: 1, kind: "EXECUTE", state: "FAILED", error: "disk full" });
    expect(first!.endedAt).toBeInstanceOf(Date);
  });

  test("rerunning a failed step opens a RETRY attempt and clears the step's error", async () => {
    const rerun = await store.transitionStep(task.id, "a", "RUNNING");
    expect(rerun).toMatchObject({ state: "RUNNING", error: null, endedAt: null });
    expect((await attempts("a")).map((a) => [a.number, a.kind, a.state])).toEqual([
      [1, "EXECUTE", "FAILED"],
      [2, "RETRY", "RUNNING"],
    ]);
    await store.transitionStep(task.id, "a", "SUCCEEDED");
    expect((await attempts("a")).map((a) => [a.number, a.kind, a.state, a.error])).toEqual([
      [1, "EXECUTE", "FAILED", "disk full"],
      [2, "RETRY", "SUCCEEDED", null],
    ]);
  });

  test("rolling a step back opens a ROLLBACK attempt; a later rerun is a RETRY", async () => {
    const rollingBack = await store.transitionStep(task.id, "a", "ROLLING_BACK");
    expect(rollingBack).toMatchObject({ state: "ROLLING_BACK", endedAt: null });
    expect((await attempts("a")).at(-1)).toMatchObject({ number: 3, kind: "ROLLBACK", state: "RUNNING" });
    const rolledBack = await store.transitionStep(task.id, "a", "ROLLED_BACK");
    expect(rolledBack.endedAt).toBeInstanceOf(Date);
    expect((await attempts("a")).at(-1)).toMatchObject({ number: 3, kind: "ROLLBACK", state: "SUCCEEDED" });
    await store.transitionStep(task.id, "a", "RUNNING");
    expect((await attempts("a")).map((a) => [a.number, a.kind, a.state])).toEqual([
      [1, "EXECUTE", "FAILED"],
      [2, "RETRY", "SUCCEEDED"],
      [3, "ROLLBACK", "SUCCEEDED"],
      [4, "RETRY", "RUNNING"],
    ]);
  });

  test("a rollback that fails leaves the step FAILED and its ROLLBACK attempt FAILED", async () => {
    await store.transitionStep(task.id, "b", "RUNNING");
    await store.transitionStep(task.id, "b", "SUCCEEDED");
    await store.transitionStep(task.id, "b", "ROLLING_BACK");
    const failed = await store.transitionStep(task.id, "b", "FAILED", { error: "cannot undo" });
    expect(failed).toMatchObject({ state: "FAILED", error: "cannot undo" });
    expect((await attempts("b")).map((a) => [a.number, a.kind, a.state, a.error])).toEqual([
      [1, "EXECUTE", "SUCCEEDED", null],
      [2, "ROLLBACK", "FAILED", "cannot undo"],
    ]);
  });

  test("failing without a message records a default error", async () => {
    await store.transitionStep(task.id, "c", "RUNNING");
    const failed = await store.transitionStep(task.id, "c", "FAILED");
    expect(failed.error).toBeTruthy();
    expect((await attempts("c"))[0]!.error).toBe(failed.error);
  });

  test("setting a failed step successful (SKIPPED) opens no attempt", async () => {
    const before = await attempts("c");
    const skipped = await store.transitionStep(task.id, "c", "SKIPPED");
    expect(skipped.state).toBe("SKIPPED");
    expect(skipped.endedAt).toBeInstanceOf(Date);
    expect(await attempts("c")).toEqual(before);
  });

  test("an illegal step transition is INVALID_STATE and changes nothing", async () => {
    const other = await store.createTask({ module: "steps", type: "flow", steps: [{ key: "x" }] });
    const taskBefore = await row(store, other.id);
    const stepBefore = await store.prismaForTests.step.findFirstOrThrow({ where: { taskId: other.id } });
    const error = await refusal(store.transitionStep(other.id, "x", "SUCCEEDED"), "INVALID_STATE");
    expect(error.message).toContain("WAITING");
    await refusal(store.transitionStep(other.id, "x", "ROLLING_BACK"), "INVALID_STATE");
    expect(await row(store, other.id)).toEqual(taskBefore);
    expect(await store.prismaForTests.step.findFirstOrThrow({ where: { taskId: other.id } })).toEqual(stepBefore);
    expect(await store.prismaForTests.stepAttempt.count({ where: { taskId: other.id } })).toBe(0);
    expect(await store.events(other.id)).toHaveLength(1);
  });

  test("an unknown step is NOT_FOUND and changes nothing", async () => {
    const before = await row(store, task.id);
    await refusal(store.transitionStep(task.id, "zzz", "RUNNING"), "NOT_FOUND");
    await refusal(store.appendLog(task.id, { stepKey: "zzz", message: "hi" }), "NOT_FOUND");
    expect(await row(store, task.id)).toEqual(before);
  });

  test("a log line for a step goes to the step's current attempt", async () => {
    const other = await store.createTask({ module: "steps", type: "flow", steps: [{ key: "s" }] });
    const waitingLog = await store.appendLog(other.id, { stepKey: "s", message: "before any attempt" });
    await store.transitionStep(other.id, "s", "RUNNING");
    const firstLog = await store.appendLog(other.id, { stepKey: "s", message: "first try", level: "WARN" });
    await store.transitionStep(other.id, "s", "FAILED", { error: "x" });
    await store.transitionStep(other.id, "s", "RUNNING");
    const retryLog = await store.appendLog(other.id, { stepKey: "s", message: "second try" });
    await store.transitionStep(other.id, "s", "SUCCEEDED");
    await store.transitionStep(other.id, "s", "ROLLING_BACK");
    const rollbackLog = await store.appendLog(other.id, { stepKey: "s", message: "undoing" });
    const taskLog = await store.appendLog(other.id, { message: "task-level", level: "ERROR" });

    const stepRow = await store.prismaForTests.step.findFirstOrThrow({ where: { taskId: other.id } });
    const tries = await store.prismaForTests.stepAttempt.findMany({ where: { stepId: stepRow.id }, orderBy: { number: "asc" } });
    expect(tries.map((a) => a.kind)).toEqual(["EXECUTE", "RETRY", "ROLLBACK"]);
    const logs = await store.prismaForTests.logEntry.findMany({ where: { taskId: other.id }, orderBy: { id: "asc" } });
    expect(logs.map((l) => [l.id, l.message, l.level, l.stepId, l.attemptId])).toEqual([
      [waitingLog, "before any attempt", "INFO", stepRow.id, null],
      [firstLog, "first try", "WARN", stepRow.id, tries[0]!.id],
      [retryLog, "second try", "INFO", stepRow.id, tries[1]!.id],
      [rollbackLog, "undoing", "INFO", stepRow.id, tries[2]!.id],
      [taskLog, "task-level", "ERROR", null, null],
    ]);
  });

  test("a very long log message is cut to 10,000 characters plus an ellipsis", async () => {
    const other = await store.createTask({ module: "steps", type: "flow" });
    const id = await store.appendLog(other.id, { message: "y".repeat(12_000) });
    const log = await store.prismaForTests.logEntry.findUniqueOrThrow({ where: { id } });
    expect(log.message).toBe(`${"y".repeat(10_000)}…`);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the event journal", () => {
  let store: Store;
  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("journal");
  });

  test("every write appends exactly one event carrying the task's new version", async () => {
    const task = await store.createTask({ module: "journal", type: "job", steps: [{ key: "a" }], progressUnits: "rounds", progressTotal: 10 });
    const writes: [string, () => Promise<unknown>][] = [
      ["STATE_CHANGED", () => store.transitionTask(task.id, "RUNNING")],
      ["STEP_CHANGED", () => store.transitionStep(task.id, "a", "RUNNING")],
      ["PROGRESSED", () => store.setProgress(task.id, 3)],
      ["LOG_APPENDED", () => store.appendLog(task.id, { stepKey: "a", message: "hello" })],
      ["LOG_APPENDED", () => store.appendLog(task.id, { message: "task log" })],
      ["PROGRESSED", () => store.setProgress(task.id, 10, 10)],
      ["STEP_CHANGED", () => store.transitionStep(task.id, "a", "SUCCEEDED")],
      ["STATE_CHANGED", () => store.transitionTask(task.id, "SUCCEEDED")],
    ];
    let expectedVersion = 1;
    expect((await store.events(task.id)).map((e) => [e.type, e.version])).toEqual([["CREATED", 1]]);
    for (const [type, write] of writes) {
      const before = await store.events(task.id);
      await write();
      expectedVersion++;
      const after = await store.events(task.id);
      expect(after).toHaveLength(before.length + 1);
      expect(after.slice(0, -1)).toEqual(before);
      const last = after.at(-1)!;
      expect([last.type, last.version, last.rootId, last.module]).toEqual([type, expectedVersion, task.id, "journal"]);
      expect((await row(store, task.id)).version).toBe(expectedVersion);
    }
    const events = await store.events(task.id);
    const ids = events.map((e) => e.id);
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.find((e) => e.type === "STEP_CHANGED")!.payload).toMatchObject({ stepKey: "a", from: "WAITING", to: "RUNNING", attempt: 1, attemptKind: "EXECUTE" });
    expect(events.filter((e) => e.type === "PROGRESSED").map((e) => e.payload)).toEqual([
      { completed: 3, total: 10 },
      { completed: 10, total: 10 },
    ]);
  });

  test("event ids increase across tasks in the order the writes happened", async () => {
    const a = await store.createTask({ module: "journal", type: "a" });
    const b = await store.createTask({ module: "journal", type: "b" });
    await store.transitionTask(a.id, "RUNNING");
    const [aCreated, aRunning] = await store.events(a.id);
    const [bCreated] = await store.events(b.id);
    expect(aCreated!.id < bCreated!.id).toBe(true);
    expect(bCreated!.id < aRunning!.id).toBe(true);
  });

  test("a refused progress update writes nothing", async () => {
    const task = await store.createTask({ module: "journal", type: "job" });
    await refusal(store.setProgress(task.id, -1), "BAD_USER_INPUT");
    await refusal(store.setProgress(task.id, Number.NaN), "BAD_USER_INPUT");
    await refusal(store.setProgress(task.id, 1, -5), "BAD_USER_INPUT");
    expect(await store.events(task.id)).toHaveLength(1);
    expect((await row(store, task.id)).version).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe("claims and batched completions", () => {
  let store: Store;
  const kinds = { modules: ["batch"], types: ["job"] };
  const claim = (worker: string, limit: number) => store.claimTasks({ worker, leaseMs: 30_000, limit, ...kinds });
  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("batch");
  });

  test("a claim returns the tasks whole, RUNNING under its lease token, oldest first, with their events", async () => {
    const [a, b, c] = await store.createTasks([{ module: "batch", type: "job" }, { module: "batch", type: "job" }, { module: "batch", type: "other" }]);
    const claimed = await claim("w1#1", 10);
    expect(claimed.map((x) => x.id)).toEqual([a!.id, b!.id]); // "other" is not a kind this worker runs
    for (const { task, previousState } of claimed) {
      expect(previousState).toBe("QUEUED");
      expect(task).toEqual(await row(store, task.id)); // exactly the stored row
      expect(task).toMatchObject({ state: "RUNNING", leaseOwner: "w1#1", version: 2 });
      await expectContiguousJournal(store, task.id);
    }
    expect(await claim("w1#2", 10)).toEqual([]);
    expect((await row(store, c!.id)).state).toBe("QUEUED");
    // Finish them, so later tests of this module start clean.
    expect((await store.completeTasks(claimed.map((x) => ({ taskId: x.id, leaseOwner: "w1#1", result: null })))).length).toBe(2);
    await store.transitionTask(c!.id, "CANCELED");
  });

  test("a task whose lease ran out is claimed again, not QUEUED → RUNNING a second time", async () => {
    const task = await store.createTask({ module: "batch", type: "job" });
    await claim("w2#1", 1);
    await store.prismaForTests.task.update({ where: { id: task.id }, data: { leaseExpiresAt: PAST() } });
    const [again] = await claim("w3#1", 5);
    expect(again).toMatchObject({ id: task.id, previousState: "RUNNING" });
    expect(again!.task).toMatchObject({ state: "RUNNING", leaseOwner: "w3#1", version: 2 });
    expect((await store.events(task.id)).map((e) => e.type)).toEqual(["CREATED", "STATE_CHANGED"]);
    // The superseded claim can no longer complete it; the current one can.
    expect(await store.completeTasks([{ taskId: task.id, leaseOwner: "w2#1", result: null }])).toEqual([]);
    expect(await store.completeTasks([{ taskId: task.id, leaseOwner: "w3#1", result: null }])).toHaveLength(1);
  });

  test("one statement records many successes, each with its own event and version, and refuses the others one by one", async () => {
    const tasks = await store.createTasks(Array.from({ length: 8 }, () => ({ module: "batch", type: "job" })));
    const claimed = await claim("w4#1", 8);
    expect(claimed).toHaveLength(8);
    const [ok1, ok2, superseded, aborted, withChild, deleted, ok3, ended] = tasks.map((t) => t.id) as string[];
    await store.prismaForTests.task.update({ where: { id: superseded }, data: { leaseOwner: "w5#1" } }); // taken over
    await store.abortTask(aborted!);
    const child = await store.createTask({ module: "batch", type: "child-kind" }, { parentId: withChild });
    await store.deleteTask(deleted!, { force: true }); // openATTIC: FAILED at once
    await store.transitionTask(ended!, "SUCCEEDED"); // someone else recorded it first
    const before = new Map(await Promise.all(tasks.map(async (t) => [t.id, await row(store, t.id)] as const)));

    const input = tasks.map((t, i) => ({ taskId: t.id, leaseOwner: "w4#1", result: i === 0 ? { answer: 42 } : null }));
    const done = await store.completeTasks(input);
    expect(new Set(done.map((d) => d.taskId))).toEqual(new Set([ok1, ok2, ok3]));

    for (const id of [ok1!, ok2!, ok3!]) {
      const after = await row(store, id);
      expect(after).toMatchObject({ state: "SUCCEEDED", leaseOwner: null, leaseExpiresAt: null, version: 3 });
      expect(after.endedAt).not.toBeNull();
      const events = await store.events(id);
      expect(events.at(-1)).toMatchObject({ type: "STATE_CHANGED", version: 3, payload: { from: "RUNNING", to: "SUCCEEDED", error: null } });
      await expectContiguousJournal(store, id);
    }
    expect((await row(store, ok1!)).result).toEqual({ answer: 42 });
    expect((await row(store, ok2!)).result).toBeNull();
    // The three events of the batch were written by one transaction.
    const last = await Promise.all([ok1!, ok2!, ok3!].map(async (id) => (await store.events(id)).at(-1)!.txid));
    expect(new Set(last).size).toBe(1);
    // The refused ones are exactly as they were: no write, no event.
    for (const id of [superseded!, aborted!, withChild!, deleted!, ended!]) {
      expect(await row(store, id)).toEqual(before.get(id));
      await expectContiguousJournal(store, id);
    }
    // Once the child has ended, the parent can be completed.
    await store.transitionTask(child.id, "CANCELED");
    expect(await store.completeTasks([{ taskId: withChild!, leaseOwner: "w4#1", result: null }])).toHaveLength(1);
    await store.transitionTask(superseded!, "SUCCEEDED");
  });

  test("completeAndClaim records successes and claims work for the slots they free, in one transaction", async () => {
    const first = await store.createTasks(Array.from({ length: 3 }, () => ({ module: "batch", type: "job" })));
    const claimed = await claim("w7#1", 3);
    expect(claimed).toHaveLength(3);
    const next = await store.createTasks(Array.from({ length: 5 }, () => ({ module: "batch", type: "job" })));
    await store.abortTask(first[2]!.id); // this one's success is refused: its slot stays taken
    const { done, claimed: more } = await store.completeAndClaim(
      first.map((t) => ({ taskId: t.id, leaseOwner: "w7#1", result: null })),
      { worker: "w7#2", leaseMs: 30_000, free: 1, ...kinds },
    );
    expect(done.map((d) => d.taskId).sort()).toEqual([first[0]!.id, first[1]!.id].sort());
    // One free slot plus the two freed: the three oldest QUEUED tasks, never a task being completed.
    expect(more.map((m) => m.id)).toEqual(next.slice(0, 3).map((t) => t.id));
    for (const m of more) {
      expect(m.task).toEqual(await row(store, m.id));
      expect(m.task).toMatchObject({ state: "RUNNING", leaseOwner: "w7#2", version: 2 });
      await expectContiguousJournal(store, m.id);
    }
    const txids = await Promise.all([...done.map((d) => d.taskId), ...more.map((m) => m.id)].map(async (id) => (await store.events(id)).at(-1)!.txid));
    expect(new Set(txids).size).toBe(1);
    expect((await row(store, first[2]!.id)).state).toBe("RUNNING");
    // Nothing to claim: the completions are recorded all the same.
    const rest = await claim("w7#3", 10);
    expect(rest.map((r) => r.id)).toEqual(next.slice(3).map((t) => t.id));
    const last = await store.completeAndClaim(
      [...more, ...rest].map((m) => ({ taskId: m.id, leaseOwner: m.task.leaseOwner!, result: null })),
      { worker: "w7#4", leaseMs: 30_000, free: 4, ...kinds },
    );
    expect(last.done).toHaveLength(5);
    expect(last.claimed).toEqual([]);
    await store.transitionTask(first[2]!.id, "CANCELED");
  });

  test("a run's step does not start once the task's abort is requested (the write refuses it, nothing changes); its own step changes are announced as its own", async () => {
    const notices: { t: unknown; c?: 1; o?: string[] }[] = [];
    const { Store: StoreClass } = await import("../src/store");
    const announcing = new StoreClass(shared.db, store.config, (notice) => notices.push(notice as never));
    const task = await announcing.createTask({ module: "batch", type: "job", steps: [{ key: "a" }, { key: "b", dependsOn: ["a"] }] });
    const [claimed] = await announcing.claimTasks({ worker: "w8#1", leaseMs: 30_000, limit: 5, ...kinds, modules: ["batch"] });
    expect(claimed!.id).toBe(task.id);
    const lease = claimed!.task.leaseOwner!;
    notices.length = 0;
    const started = await announcing.transitionStep(task.id, "a", "RUNNING", { leaseOwner: lease });
    expect(started.executions).toBe(1); // the attempt number the step's code sees
    expect(notices).toEqual([{ t: [task.id], c: 1, o: [lease] }]);
    await announcing.transitionStep(task.id, "a", "SUCCEEDED", { leaseOwner: lease });
    await announcing.abortTask(task.id);
    const before = await row(store, task.id);
    await expect(announcing.transitionStep(task.id, "b", "RUNNING", { leaseOwner: lease })).rejects.toMatchObject({
      code: "INVALID_STATE",
      details: { reason: "abortRequested" },
    });
    expect(await row(store, task.id)).toEqual(before);
    expect((await store.steps(task.id)).find((s) => s.key === "b")!.state).toBe("WAITING");
    // The run then ends it CANCELED, as its abort asks.
    await store.transitionTask(task.id, "CANCELED", { ifLeaseOwner: lease });
  });

  test("runs' step changes arriving together are stored together, each as its one-at-a-time write would be; a refused one gets its own answer", async () => {
    const notices: { t: unknown; c?: 1; o?: string[] }[] = [];
    const { Store: StoreClass } = await import("../src/store");
    const announcing = new StoreClass(shared.db, store.config, (notice) => notices.push(notice as never));
    const tasks = await announcing.createTasks(
      Array.from({ length: 21 }, () => ({ module: "batch", type: "job", steps: [{ key: "a" }, { key: "b", dependsOn: ["a"] }] })),
    );
    const claimed = await announcing.claimTasks({ worker: "w9#1", leaseMs: 30_000, limit: 21, ...kinds });
    expect(claimed).toHaveLength(21);
    const lease = new Map(claimed.map((c) => [c.id, c.task.leaseOwner!]));
    const move = (id: string, key: string, to: "RUNNING" | "SUCCEEDED" | "FAILED", owner = lease.get(id)!, error?: string) =>
      announcing.transitionStep(id, key, to, { leaseOwner: owner, error });
    const [stale, ...rest] = tasks;
    notices.length = 0;
    const outcomes = await Promise.allSettled([move(stale!.id, "a", "RUNNING", "w0#0"), ...rest.map((t) => move(t.id, "a", "RUNNING"))]);
    expect(outcomes[0]).toMatchObject({ status: "rejected", reason: { code: "CONFLICT" } }); // not its lease
    expect(outcomes.slice(1).every((o) => o.status === "fulfilled" && o.value.state === "RUNNING" && o.value.executions === 1)).toBe(true);
    // 20 changes in a few statements, each announced as its run's own.
    expect(notices.length).toBeLessThanOrEqual(3);
    for (const t of rest) expect(notices.some((n) => (n.t as string[]).includes(t.id) && n.o!.includes(lease.get(t.id)!))).toBe(true);
    await Promise.all(rest.map((t, i) => (i % 2 ? move(t.id, "a", "SUCCEEDED") : move(t.id, "a", "FAILED", undefined, "disk full"))));
    for (const [i, t] of rest.entries()) {
      const events = await store.events(t.id);
      const steps = events.filter((e) => e.type === "STEP_CHANGED").map((e) => e.payload);
      const to = i % 2 ? "SUCCEEDED" : "FAILED";
      expect(steps).toEqual([
        { stepKey: "a", from: "WAITING", to: "RUNNING", error: null, attempt: 1, attemptKind: "EXECUTE" },
        { stepKey: "a", from: "RUNNING", to, error: i % 2 ? null : "disk full", attempt: 1, attemptKind: "EXECUTE" },
      ]);
      const step = (await store.steps(t.id)).find((s) => s.key === "a")!;
      expect(step).toMatchObject({ state: to, error: i % 2 ? null : "disk full" });
      expect(step.endedAt).not.toBeNull();
      const attempts = await store.prismaForTests.stepAttempt.findMany({ where: { stepId: step.id } });
      expect(attempts).toMatchObject([{ number: 1, kind: "EXECUTE", state: to }]);
      await expectContiguousJournal(store, t.id);
    }
    expect((await store.steps(stale!.id)).map((s) => s.state)).toEqual(["WAITING", "WAITING"]);
    for (const t of tasks) await store.transitionTask(t.id, "CANCELED");
  });

  test("claims and completions are announced once committed, each once, with the ids that changed", async () => {
    const notices: unknown[] = [];
    const { Store: StoreClass } = await import("../src/store");
    const announcing = new StoreClass(shared.db, store.config, (notice) => notices.push(notice));
    const [a, b] = await announcing.createTasks([{ module: "batch", type: "job" }, { module: "batch", type: "job" }]);
    notices.length = 0;
    const claimed = await announcing.claimTasks({ worker: "w6#1", leaseMs: 30_000, limit: 5, ...kinds });
    expect(claimed).toHaveLength(2);
    expect(notices).toEqual([{ t: [a!.id, b!.id] }]); // a fresh start needs no look from a worker (no c)
    notices.length = 0;
    await announcing.completeTasks([
      { taskId: a!.id, leaseOwner: "w6#1", result: null },
      { taskId: b!.id, leaseOwner: "someone-else#1", result: null },
    ]);
    expect(notices).toEqual([{ t: [a!.id], c: 1 }]);
    notices.length = 0;
    expect(await announcing.completeTasks([{ taskId: b!.id, leaseOwner: "nobody#1", result: null }])).toEqual([]);
    expect(notices).toEqual([]); // nothing changed, nothing announced
    await announcing.completeTasks([{ taskId: b!.id, leaseOwner: "w6#1", result: null }]);
  });
});

describe("moduleStats", () => {
  let store: Store;
  beforeAll(async () => {
    store = shared.store;
    await store.ensureModule("stats", "Statistics");
    await store.ensureModule("stats-empty");
    const a = await store.createTask({
      module: "stats",
      type: "x",
      children: [{ type: "hidden", isInternal: true }, { type: "hidden", isInternal: true }, { type: "visible" }],
    });
    await store.createTask({ module: "stats", type: "y", isInternal: true });
    const b = await store.createTask({ module: "stats", type: "z" });
    await store.transitionTask(a.id, "RUNNING");
    await store.transitionTask(b.id, "CANCELED");
  });

  test("counts per state leave internal tasks out", async () => {
    const [stats] = await store.moduleStats("stats");
    expect(stats).toMatchObject({ name: "stats", description: "Statistics", lastSequenceNumber: 3 });
    expect(stats!.counts).toEqual({ RUNNING: 1, QUEUED: 1, CANCELED: 1 });
  });

  test("a module without tasks has no counts; without a name every module is listed, by name", async () => {
    const [empty] = await store.moduleStats("stats-empty");
    expect(empty).toMatchObject({ name: "stats-empty", lastSequenceNumber: 0, counts: {} });
    const all = await store.moduleStats();
    const names = all.map((m) => m.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["stats", "stats-empty"]));
    expect(all.find((m) => m.name === "stats")!.counts).toEqual({ RUNNING: 1, QUEUED: 1, CANCELED: 1 });
  });

  test("an unknown module gives an empty list", async () => {
    expect(await store.moduleStats("no-such-module")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("settings", () => {
  // Its own database: settings are global.
  let opened: Opened;
  let store: Store;
  beforeAll(async () => {
    opened = await openTestStore();
    store = opened.store;
  });
  afterAll(async () => {
    await closeStore(opened);
  });

  test("defaults come from the configuration: a day for system tasks, a week for user tasks", async () => {
    expect(await store.settings()).toEqual({ taskTtlSeconds: 86_400, userTaskTtlSeconds: 604_800 });
  });

  test("writing one setting keeps the other and is read back", async () => {
    expect(await store.writeSettings({ taskTtlSeconds: 60 })).toEqual({ taskTtlSeconds: 60, userTaskTtlSeconds: 604_800 });
    expect(await store.writeSettings({ userTaskTtlSeconds: 0 })).toEqual({ taskTtlSeconds: 60, userTaskTtlSeconds: 0 });
    expect(await store.writeSettings({ taskTtlSeconds: undefined })).toEqual({ taskTtlSeconds: 60, userTaskTtlSeconds: 0 });
    expect(await store.writeSettings({})).toEqual({ taskTtlSeconds: 60, userTaskTtlSeconds: 0 });
    expect(await store.settings()).toEqual({ taskTtlSeconds: 60, userTaskTtlSeconds: 0 });
  });

  test("ten years is the longest TTL accepted", async () => {
    expect(await store.writeSettings({ taskTtlSeconds: 315_360_000 })).toMatchObject({ taskTtlSeconds: 315_360_000 });
  });

  test.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 315_360_001])("the TTL %s is BAD_USER_INPUT and nothing is written", async (bad) => {
    const before = await store.settings();
    await refusal(store.writeSettings({ taskTtlSeconds: 5, userTaskTtlSeconds: bad }), "BAD_USER_INPUT");
    await refusal(store.writeSettings({ taskTtlSeconds: bad }), "BAD_USER_INPUT");
    expect(await store.settings()).toEqual(before);
  });

  test("a TTL that is not a number is BAD_USER_INPUT", async () => {
    await refusal(store.writeSettings({ taskTtlSeconds: "60" as unknown as number }), "BAD_USER_INPUT");
    await refusal(store.writeSettings({ taskTtlSeconds: null as unknown as number }), "BAD_USER_INPUT");
  });
});
