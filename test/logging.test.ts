// The process log: a task's lifecycle lines carry its taskId, LOG_LEVEL decides which lines are
// written, and a test (or an embedding program) hands in its own logger instead of stdout's.
import { afterEach, describe, expect, test } from "vitest";
import { loadConfig } from "../src/config";
import { createTaskManager, defineTestModule } from "../src/index";
import { TaskManager } from "../src/runtime/manager";
import { openTestDatabase } from "./support/db";
import { LEVEL, recordingLogger } from "./support/log";

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
  return { taskId: task.id, lines: log.lines };
}

describe("the process log", () => {
  test("a task's lifecycle lines carry its taskId and the worker's component; LOG_LEVEL=debug shows them all", async () => {
    const { taskId, lines } = await runFailingTask("debug");
    const about = lines.filter((line) => line.taskId === taskId);
    expect(about.map((line) => line.msg)).toEqual(["task started", "task ended"]);
    expect(about.every((line) => line.component === "worker" && typeof line.worker === "string")).toBe(true);
    expect(about[0]).toMatchObject({ level: LEVEL.debug, module: "test", type: "count" });
    expect(about[1]).toMatchObject({ level: LEVEL.info, state: "FAILED", error: "Failed at round 1, as asked (failAtRound)" });
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

  test("without a logger of its own, a manager logs at LOG_LEVEL; a bad LOG_LEVEL stops start-up with its name", () => {
    expect(new TaskManager({ config: loadConfig({ LOG_LEVEL: "warn" }) }).logger.level).toBe("warn");
    expect(new TaskManager({ config: loadConfig({}) }).logger.level).toBe("info");
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL must be one of .*got "loud"/);
  });
});
