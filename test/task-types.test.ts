// The task-type catalogue (issue 12, item 3): every defined type is stored with its description,
// flow template and input JSON Schema; startTask validates inputs against the type's schema
// (naming each bad field); an API-only process lists and starts types only workers define, and
// the worker that claims such a task sets it up (re-validates the input, creates input-dependent steps).
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PGLITE_OPTIONS, PGliteAdapterFactory } from "../src/db/pglite-adapter";
import { MIGRATIONS_DIR, applyMigrations } from "../src/db/migrator";
import { z } from "zod";
import { badInput } from "../src/domain/errors";
import type { TaskManager } from "../src/runtime/manager";
import { createTaskManager } from "../src/runtime/manager";
import { codes, startTestApp, type TestApp } from "./support/app";
import { testConfig } from "./support/db";
import { until } from "./support/processes";

const FAST = { pollMs: 100, housekeepingMs: 100, leaseMs: 3000 };

const START = `mutation ($input: StartTaskInput!) { startTask(input: $input) { id state input } }`;
const TYPES = `query ($module: String) {
  taskTypes(module: $module) {
    id name description kind abortable progressUnits isFlow inputSchema served
    module { name }
    steps { key name dependsOn }
    workers { name }
  }
}`;
const TYPE = `query ($module: String!, $name: String!) { taskType(module: $module, name: $name) { id name served workers { name } } }`;

async function taskCount(app: TestApp) {
  return app.store.prismaForTests.task.count();
}

async function waitEnded(app: TestApp, id: string) {
  let task = await app.store.getTask(id);
  await until(`task ${id} ends`, 20_000, async () => {
    task = await app.store.getTask(id);
    return ["SUCCEEDED", "FAILED", "CANCELED"].includes(task.state);
  });
  return task;
}

describe("a type with a zod input schema", () => {
  let app: TestApp;
  const Scale = z.object({ replicas: z.number().int().min(1), name: z.string() });

  beforeAll(async () => {
    app = await startTestApp({ worker: FAST });
    app.manager.defineTask({
      module: "deploy",
      type: "scale",
      description: "Scales a deployment to `replicas` replicas.",
      progressUnits: "replicas",
      input: Scale,
      run: (ctx) => ({ scaled: ctx.input.replicas }),
    });
    await app.manager.registry.ready();
  });
  afterAll(() => app?.stop());

  test("the catalogue shows its description and the JSON Schema of its input; the worker serves it", async () => {
    // Defined after start: the worker's row names it from its next heartbeat on.
    await until("the worker serves deploy/scale", 10_000, async () => (await app.gql(TYPES, { module: "deploy" })).data?.taskTypes[0]?.served === true);
    const result = await app.gql(TYPES, { module: "deploy" });
    expect(result.errors).toBeUndefined();
    const [type] = result.data!.taskTypes;
    expect(type).toMatchObject({
      id: "TaskType:deploy/scale",
      name: "scale",
      description: "Scales a deployment to `replicas` replicas.",
      kind: "NODE",
      abortable: true,
      progressUnits: "replicas",
      isFlow: false,
      steps: null,
      served: true,
      module: { name: "deploy" },
    });
    expect(type.workers).toEqual([{ name: app.manager.workerName }]);
    expect(type.inputSchema).toMatchObject({
      type: "object",
      properties: { replicas: { type: "integer", minimum: 1 }, name: { type: "string" } },
      required: ["replicas", "name"],
    });

    // The built-in test module publishes its explicit JSON Schema; flow's steps depend on the input.
    const test = (await app.gql(TYPES, { module: "test" })).data!.taskTypes;
    expect(test.map((t: any) => t.name)).toEqual(["count", "flow", "limited-count", "node-count", "tree"]);
    for (const t of test) expect(t.inputSchema).toMatchObject({ type: "object", required: ["rounds"] });
    const flow = test.find((t: any) => t.name === "flow");
    expect(flow).toMatchObject({ isFlow: true, steps: null, abortable: null, progressUnits: "steps" });

    const linked = await app.gql(`{ modules { name taskTypes { name } } workers { name taskTypes { id } } }`);
    expect(linked.errors).toBeUndefined();
    expect(linked.data!.modules.find((m: any) => m.name === "deploy").taskTypes).toEqual([{ name: "scale" }]);
    expect(linked.data!.workers[0].taskTypes.map((t: any) => t.id)).toContain("TaskType:deploy/scale");
    expect((await app.gql(TYPE, { module: "deploy", name: "nope" })).data).toEqual({ taskType: null });
  });

  test("a bad input is refused naming each bad field, and nothing is created", async () => {
    const before = await taskCount(app);
    const result = await app.gql(START, { input: { module: "deploy", type: "scale", input: { replicas: "3", name: 5 } } });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    const error = result.errors![0]!;
    expect(error.message).toMatch(/input\.replicas: .*expected number/i);
    expect(error.message).toMatch(/input\.name: .*expected string/i);
    expect((error.extensions!.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(["input.name", "input.replicas"]);
    expect(await taskCount(app)).toBe(before);
  });

  test("a good input is stored as the schema's output and the task runs", async () => {
    const result = await app.gql(START, { input: { module: "deploy", type: "scale", input: { replicas: 3, name: "web", extra: true } } });
    expect(result.errors).toBeUndefined();
    const { id } = result.data!.startTask;
    expect(result.data!.startTask.input).toEqual({ replicas: 3, name: "web" }); // zod strips unknown keys
    const task = await waitEnded(app, id);
    expect(task.state).toBe("SUCCEEDED");
    expect(task.result).toEqual({ scaled: 3 });
    const linked = await app.gql(`query ($id: ID!) { task(id: $id) { taskType { id isFlow } } }`, { id });
    expect(linked.errors).toBeUndefined();
    expect(linked.data!.task.taskType).toEqual({ id: "TaskType:deploy/scale", isFlow: false });
  });
});

describe("an API-only process starts types that only a worker defines", () => {
  let serve: TestApp; // worker: false, defines only the test module
  let worker: TaskManager; // same database: defines the fleet module and runs it
  let catalogueOnly: TaskManager; // defines idle/nobody but runs nothing

  beforeAll(async () => {
    serve = await startTestApp();
    worker = createTaskManager({ config: testConfig(), db: serve.db, worker: FAST });
    worker.defineModule({ name: "fleet", description: "Fleet operations" });
    worker.defineTask({
      module: "fleet",
      type: "resize",
      description: "Resizes a pool.",
      input: z.object({ size: z.number().int().min(1), zone: z.string().default("zone-a") }),
      // What only the worker's definition knows (not in the JSON Schema).
      parseInput: (value) => {
        const input = value as { size: number; zone: string };
        if (input.size > 100) throw badInput("size must be at most 100");
        return input;
      },
      abortable: (input) => input.size < 50,
      run: (ctx) => ({ size: ctx.input.size, zone: ctx.input.zone }),
    });
    worker.defineTask({
      module: "fleet",
      type: "rollout",
      description: "One step per host, in order.",
      input: z.object({ hosts: z.array(z.string()).min(1) }),
      steps: (input) => input.hosts.map((host) => ({ key: host, name: `Roll out ${host}`, run: (ctx) => ctx.log.info(`rolled ${host}`) })),
    });
    worker.defineTask({
      module: "fleet",
      type: "drain",
      steps: [
        { key: "cordon", run: () => {} },
        { key: "evict", run: () => {} },
      ],
    });
    await worker.start();
    catalogueOnly = createTaskManager({ config: testConfig(), db: serve.db, worker: false });
    catalogueOnly.defineTask({ module: "idle", type: "nobody", description: "No worker runs this.", run: () => {} });
    await catalogueOnly.start();
  });
  afterAll(async () => {
    await catalogueOnly?.stop();
    await worker?.stop();
    await serve?.stop();
  });

  test("lists them, with the worker that serves them", async () => {
    expect(serve.manager.registry.get("fleet", "resize")).toBeUndefined();
    const result = await serve.gql(TYPES, { module: "fleet" });
    expect(result.errors).toBeUndefined();
    const types = result.data!.taskTypes;
    expect(types.map((t: any) => t.name)).toEqual(["drain", "resize", "rollout"]);
    for (const t of types) expect(t).toMatchObject({ served: true, workers: [{ name: worker.workerName }] });
    expect(types[0]).toMatchObject({
      isFlow: true,
      steps: [
        { key: "cordon", name: "cordon", dependsOn: [] },
        { key: "evict", name: "evict", dependsOn: ["cordon"] },
      ],
    });
    expect(types[1]).toMatchObject({ abortable: null, isFlow: false, description: "Resizes a pool." });
    expect(types[2]).toMatchObject({ isFlow: true, steps: null });
  });

  test("refuses a bad input by the stored JSON Schema, naming each path; nothing is created", async () => {
    const before = await taskCount(serve);
    const result = await serve.gql(START, { input: { module: "fleet", type: "resize", input: { size: "big", zone: 7 } } });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toMatch(/input\.size: /);
    expect(result.errors![0]!.message).toMatch(/input\.zone: /);
    const issues = result.errors![0]!.extensions!.issues as { path: string; message: string }[];
    expect(issues.map((i) => i.path).sort()).toEqual(["input.size", "input.zone"]);
    const missing = await serve.gql(START, { input: { module: "fleet", type: "rollout", input: {} } });
    expect(codes(missing)).toEqual(["BAD_USER_INPUT"]);
    expect(missing.errors![0]!.message).toContain("input.hosts: is required");
    const unknown = await serve.gql(START, { input: { module: "fleet", type: "nope", input: {} } });
    expect(codes(unknown)).toEqual(["NOT_FOUND"]);
    expect(await taskCount(serve)).toBe(before);
  });

  test("starts one; the worker parses its input with its own definition and runs it", async () => {
    const result = await serve.gql(START, { input: { module: "fleet", type: "resize", input: { size: 60 } } });
    expect(result.errors).toBeUndefined();
    const task = await waitEnded(serve, result.data!.startTask.id);
    expect(task).toMatchObject({ state: "SUCCEEDED", result: { size: 60, zone: "zone-a" }, needsSetup: false, isAbortable: false });
    expect(task.input).toEqual({ size: 60, zone: "zone-a" }); // the worker's parsed input replaced the raw one
  });

  test("an input only the worker's definition refuses fails the task with its message", async () => {
    const result = await serve.gql(START, { input: { module: "fleet", type: "resize", input: { size: 500 } } });
    expect(result.errors).toBeUndefined();
    const task = await waitEnded(serve, result.data!.startTask.id);
    expect(task.state).toBe("FAILED");
    expect(task.error).toBe("size must be at most 100");
  });

  test("steps that depend on the input are created by the worker, once, and run", async () => {
    const result = await serve.gql(START, { input: { module: "fleet", type: "rollout", input: { hosts: ["h1", "h2", "h3"] } } });
    expect(result.errors).toBeUndefined();
    const { id } = result.data!.startTask;
    const task = await waitEnded(serve, id);
    expect(task.state).toBe("SUCCEEDED");
    const steps = await serve.store.steps(id);
    expect(steps.map((s) => [s.key, s.state, s.dependsOn])).toEqual([
      ["h1", "SUCCEEDED", []],
      ["h2", "SUCCEEDED", ["h1"]],
      ["h3", "SUCCEEDED", ["h2"]],
    ]);
    // The journal tells of each step appearing, with its own version.
    const created = (await serve.store.events(id)).filter((e) => e.type === "STEP_CHANGED" && (e.payload as any).from === null);
    expect(created.map((e) => (e.payload as any).stepKey)).toEqual(["h1", "h2", "h3"]);
    expect(new Set(created.map((e) => e.version)).size).toBe(3);
  });

  test("fixed steps come from the catalogue at creation", async () => {
    const result = await serve.gql(START, { input: { module: "fleet", type: "drain" } });
    expect(result.errors).toBeUndefined();
    const { id } = result.data!.startTask;
    const task = await waitEnded(serve, id);
    expect(task.state).toBe("SUCCEEDED");
    expect((await serve.store.steps(id)).map((s) => s.key)).toEqual(["cordon", "evict"]);
  });

  test("a type no live worker serves is accepted, shows as not served, and its task waits QUEUED", async () => {
    const shown = await serve.gql(TYPE, { module: "idle", name: "nobody" });
    expect(shown.errors).toBeUndefined();
    expect(shown.data!.taskType).toEqual({ id: "TaskType:idle/nobody", name: "nobody", served: false, workers: [] });
    const result = await serve.gql(START, { input: { module: "idle", type: "nobody" } });
    expect(result.errors).toBeUndefined();
    const { id } = result.data!.startTask;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await serve.store.getTask(id)).state).toBe("QUEUED");
  });
});

describe("setting up a task created from the catalogue", () => {
  let app: TestApp;
  let other: TaskManager;
  beforeAll(async () => {
    app = await startTestApp();
    other = createTaskManager({ config: testConfig(), db: app.db, worker: false });
    other.defineTask({ module: "setup", type: "late", steps: (input: { n: number }) => [{ key: `s${input.n}`, run: () => {} }] });
    await other.start();
  });
  afterAll(async () => {
    await other?.stop();
    await app?.stop();
  });

  test("is one transaction, done once: a second set-up (a resumed run) neither adds nor loses steps", async () => {
    const task = await app.manager.startTask({ module: "setup", type: "late", input: { n: 1 } });
    expect(task.needsSetup).toBe(true);
    expect(await app.store.steps(task.id)).toEqual([]);
    const [claimed] = await app.store.claimTasks({ worker: "w#1", leaseMs: 60_000, limit: 1, modules: ["setup"], types: ["late"] });
    expect(claimed?.id).toBe(task.id);
    const steps = [{ key: "s1", name: "s1", index: 0, dependsOn: [] }];
    const first = await app.store.setupTask(task.id, "w#1", { input: { n: 1 }, steps });
    expect(first.needsSetup).toBe(false);
    const again = await app.store.setupTask(task.id, "w#1", { input: { n: 1 }, steps: [...steps, { key: "s2", name: "s2", index: 1, dependsOn: [] }] });
    expect(again.version).toBe(first.version);
    expect((await app.store.steps(task.id)).map((s) => s.key)).toEqual(["s1"]);
    await expect(app.store.setupTask(task.id, "someone-else", { input: null, steps })).rejects.toMatchObject({ code: "CONFLICT" });
  });
});

describe("the migration that adds the catalogue", () => {
  test("backfills a type for every (module, type) already in Task", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-task-types-"));
    const pglite = new PGlite(PGLITE_OPTIONS);
    try {
      // The history up to the migration before it, on a database with tasks.
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      const later = (await readdir(dir)).filter((name) => /^\d{14}_/.test(name) && name >= "20261130195324_task_types").sort();
      for (const name of later) await rm(join(dir, name), { recursive: true });
      const factory = new PGliteAdapterFactory(pglite);
      await applyMigrations(factory, dir);
      await pglite.exec(`
        INSERT INTO "Module" (name) VALUES ('kafka'), ('storage');
        INSERT INTO "Task" (id, "moduleName", type, name, kind, state, "sequenceNumber", "rootId", "progressUnits") VALUES
          ('01900000-0000-7000-8000-000000000001', 'kafka', 'restart', 'a', 'NODE', 'SUCCEEDED', 1, '01900000-0000-7000-8000-000000000001', 'steps'),
          ('01900000-0000-7000-8000-000000000002', 'kafka', 'restart', 'b', 'NODE', 'QUEUED', 2, '01900000-0000-7000-8000-000000000002', 'steps'),
          ('01900000-0000-7000-8000-000000000003', 'storage', 'compact', 'c', 'CLUSTER', 'QUEUED', 1, '01900000-0000-7000-8000-000000000003', NULL);
        INSERT INTO "Step" (id, "taskId", key, name, index, "dependsOn") VALUES
          ('01900000-0000-7000-8000-0000000000a1', '01900000-0000-7000-8000-000000000002', 'one', 'one', 0, '{}');
      `);
      expect(await applyMigrations(factory)).toEqual(later);
      const { rows } = await pglite.query(`SELECT key, "moduleName", name, kind, abortable, "progressUnits", "hasSteps", flow FROM "TaskType" ORDER BY key`);
      expect(rows).toEqual([
        { key: "kafka/restart", moduleName: "kafka", name: "restart", kind: "NODE", abortable: null, progressUnits: "steps", hasSteps: true, flow: null },
        { key: "storage/compact", moduleName: "storage", name: "compact", kind: "CLUSTER", abortable: null, progressUnits: null, hasSteps: false, flow: null },
      ]);
    } finally {
      await pglite.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000); // initdb and every migration in PGlite: ~15 s alone, far more on a busy machine
});
