// A recurring schedule fired by several worker processes on one PostgreSQL, one of them killed
// (SIGKILL) at a due time: each due time starts exactly one task — no double fire, no lost fire.
// Real processes (src/main.ts, TASKGRAPH_ROLE=work); the test reads the store as a user would.
import { describe, expect, test } from "vitest";
import { createSchedule } from "../src/runtime/schedules";
import { exitOf, pause, until, useWorkerFleet } from "./support/processes";

const EVERY_MS = 2_000;

describe("schedules across worker processes on PostgreSQL", () => {
  const fleet = useWorkerFleet("tg_sched");

  test("a schedule every 2 s fires once per due time over 20 s with two workers, one killed (SIGKILL) at a due time and another started", { timeout: 90_000 }, async () => {
    const [first] = await Promise.all([fleet.startWorker(), fleet.startWorker()]);
    const { manager } = fleet;
    const schedule = await createSchedule(manager.registry, manager.store, {
      module: "test",
      type: "count",
      input: { rounds: 1, roundMs: 0 },
      everySeconds: EVERY_MS / 1000,
      catchUp: true, // a fire held up past its tolerance (a worker killed while it fired) still starts its task
      createdBy: "fleet-test",
    });
    const firstDue = schedule.nextRunAt!.getTime();
    const lastDue = firstDue + 9 * EVERY_MS; // ten due times: 20 s

    // SIGKILL the first worker right at a due time, while one of the workers fires it.
    await pause(firstDue + 4 * EVERY_MS - Date.now());
    first!.child.kill("SIGKILL");
    expect((await exitOf(first!.child)).signal).toBe("SIGKILL");
    await pause(3_000);
    await fleet.startWorker();

    await pause(lastDue - Date.now() + 500);
    await manager.store.updateSchedule(schedule.id, { enabled: false }); // waits for a fire under way
    const prisma = fleet.prisma();
    const tasks = await prisma.task.findMany({ where: { scheduleId: schedule.id }, orderBy: { scheduleDueAt: "asc" } });
    const due = tasks.map((t) => t.scheduleDueAt!.getTime() - firstDue);
    // Every due time from the first on, each once: at least the ten of the 20 s (more when this
    // process, on a busy machine, paused the schedule late).
    expect(due, `due times (ms after the first)${fleet.logs()}`).toEqual(Array.from({ length: due.length }, (_, i) => i * EVERY_MS));
    expect(due.length).toBeGreaterThanOrEqual(10);
    for (const task of tasks) {
      expect(task.createdAt.getTime() - task.scheduleDueAt!.getTime(), "started before the next due time").toBeLessThan(EVERY_MS);
      expect(task.createdBy).toBeNull();
    }
    // Each task was created once, by the system.
    const created = await prisma.taskEvent.findMany({ where: { taskId: { in: tasks.map((t) => t.id) }, type: "CREATED" } });
    expect(created).toHaveLength(tasks.length);
    expect(new Set(created.map((e) => `${e.actorKind}/${e.actorName}`))).toEqual(new Set(["SYSTEM/system"]));
    await until("the scheduled tasks have run", 20_000, fleet.allEnded(tasks.map((t) => t.id)));
    expect(await prisma.task.count({ where: { scheduleId: schedule.id, state: { not: "SUCCEEDED" } } })).toBe(0);
  });
});
