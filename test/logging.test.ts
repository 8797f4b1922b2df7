// The process log: a task's lifecycle lines carry its taskId, LOG_LEVEL decides which lines are
// written, and a test (or an embedding program) hands in its own logger instead of stdout's.
import { afterEach, describe, expect, test } from "vitest";
import { loadConfig } from "../src/config";
import { createTaskManager, defineTestModule } from "../src/index";
import { TaskManager } from "../src/runtime/manager";
import { openTestDatabase } from "./support/db";
import { LEVEL, recordingLogger } from "./support/log";
import { startTestApp } from "./support/app";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** Runs one test task that fails on its first round, with a manager logging at LOG_LEVEL=`level`. */
async function runFailingTask(level: string) {
  const config = loadConfig({ LOG_LEVEL: level });
  const log = recordingLogger(config.logLevel);
  const db = await openTestDatabase();
  stops.push(() => db.close());
  const manager = createTaskManager({ config, db, logger: log.logger, worker: { pollMs: 100, housekeepingMs: 100 } });
  defineTestModule(manager);
  await manager.start();
  stops.push(() => manager.stop());
  const task = await manager.startTask({ module: "test", type: "count", input: { rounds: 2, roundMs: 10, failAtRound: 1 } });
  expect((await manager.waitForTask(task.id, 30)).state).toBe("FAILED");
  // The run logs its end once its write has returned, a moment after a reader can see the state:
  // stopping waits for the run to wind down, so every line it writes is in.
  await manager.stop();
  return { taskId: task.id, lines: log.lines };
}

describe("the process log", () => {
  test("a task's lifecycle lines carry its taskId and the worker's component; LOG_LEVEL=debug shows them all", async () => {
    const { taskId, lines } = await runFailingTask("debug");
    const about = lines.filter((line) => line.taskId === taskId);
    expect(about.map((line) => line.msg)).toEqual(["task started", "task ended"]);
    expect(about.every((line) => line.component === "worker" && typeof line.worker === "string")).toBe(true);
    expect(about[0]).toMatchObject({ level: LEVEL.debug, module: "test", type: "count" });
    expect(about[1]).toMatchObject({ level: LEVEL.info, module: "test", type: "count", state: "FAILED", error: "Failed at round 1, as asked (failAtRound)" });
    expect(about[1]!.durationMs).toBeGreaterThanOrEqual(10); // one round of 10 ms at least
    // No line mentions the task without carrying its id.
    expect(lines.filter((line) => JSON.stringify(line).includes(taskId) && line.taskId !== taskId)).toEqual([]);
  });

  test("LOG_LEVEL=info leaves out debug lines; LOG_LEVEL=warn leaves out the failed task's info line", async () => {
    const info = await runFailingTask("info");
    expect(info.lines.filter((line) => line.taskId === info.taskId).map((line) => line.msg)).toEqual(["task ended"]);
    expect(info.lines.every((line) => line.level >= LEVEL.info)).toBe(true);
    const warn = await runFailingTask("WARN");
    expect(warn.lines.filter((line) => line.taskId === warn.taskId)).toEqual([]);
  });

  test("a succeeding task's end is an info line too, with its module, type and duration", async () => {
    const log = recordingLogger("info");
    const app = await startTestApp({ logger: log.logger, worker: { pollMs: 50, housekeepingMs: 100 } });
    stops.push(() => app.stop());
    const task = await app.manager.startTask({ module: "test", type: "count", input: { rounds: 2, roundMs: 5 } });
    await app.manager.waitForTask(task.id, 30);
    await app.stop(); // the run's lines are all in once it has wound down (see runFailingTask)
    const ended = log.lines.filter((line) => line.taskId === task.id && line.msg === "task ended");
    expect(ended).toEqual([expect.objectContaining({ level: LEVEL.info, module: "test", type: "count", state: "SUCCEEDED", component: "worker" })]);
    expect(ended[0]!.durationMs).toBeGreaterThanOrEqual(10);
  });

  test("every mutation is one info line with its request id, actor, ids and outcome; the request id comes back in x-request-id", async () => {
    const log = recordingLogger("info");
    const app = await startTestApp({ logger: log.logger });
    stops.push(() => app.stop());
    const post = (query: string, headers: Record<string, string> = {}) =>
      app.yoga.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query }) });
    const started = await post(`mutation { createTestTask(input: { rounds: 1 }) { id } }`, { "x-request-id": "deploy-42" });
    expect(started.headers.get("x-request-id")).toBe("deploy-42");
    const id = ((await started.json()) as { data: { createTestTask: { id: string } } }).data.createTestTask.id;
    const missing = "01900000-0000-7000-8000-000000000000";
    const refused = await post(`mutation { abortTask(id: "${missing}") { id } }`, { "x-request-id": "not a sane id!" });
    const generated = refused.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/); // a new one: the given one was not sane
    const lines = log.lines.filter((line) => line.msg === "mutation");
    expect(lines).toEqual([
      expect.objectContaining({ level: LEVEL.info, component: "server", requestId: "deploy-42", actor: "local", role: "ADMIN", mutation: "createTestTask", resultId: id, outcome: "ok" }),
      expect.objectContaining({ level: LEVEL.info, requestId: generated, actor: "local", mutation: "abortTask", id: missing, outcome: "NOT_FOUND" }),
    ]);
  });

  test("a database's migrations are logged when they are applied", async () => {
    const log = recordingLogger("info");
    const manager = createTaskManager({ config: { ...loadConfig({}), store: { kind: "pglite", dataDir: ":memory:" } }, logger: log.logger, worker: false });
    await manager.start();
    stops.push(() => manager.stop());
    const line = log.lines.find((l) => l.msg === "migrations applied");
    expect(line).toMatchObject({ level: LEVEL.info, component: "db" });
    expect(line!.migrations).toEqual(expect.arrayContaining(["20261122095305_init", "20261202004656_task_traceparent"]));
  });

  test("without a logger of its own, a manager logs at LOG_LEVEL; a bad LOG_LEVEL stops start-up with its name", () => {
    expect(new TaskManager({ config: loadConfig({ LOG_LEVEL: "warn" }) }).logger.level).toBe("warn");
    expect(new TaskManager({ config: loadConfig({}) }).logger.level).toBe("info");
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL must be one of .*got "loud"/);
  });
});
