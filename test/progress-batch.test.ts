// Progress reports are stored in groups (src/store/progress-batch.ts): the reports of many tasks
// that arrive together go out in one statement, each still stored and journaled exactly once and
// in order; a task another transaction holds locked does not hold up the others, and its report
// is stored once the lock is gone (not lost, and no deadlock with a transaction that locks several
// tasks in another order).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Store } from "../src/store";
import { journalHead, readJournal } from "../src/store/journal-reader";
import { openTestStore, storeKind } from "./support/db";

let opened: Awaited<ReturnType<typeof openTestStore>>;
let store: Store;
const statements: string[] = [];
beforeAll(async () => {
  opened = await openTestStore({ onQuery: (sql) => statements.push(sql) });
  store = opened.store;
  await store.ensureModule("batch");
});
afterAll(() => opened.db.close());

const progressEvents = async (after: Awaited<ReturnType<typeof journalHead>>) =>
  (await readJournal(store.prismaForTests, after, { module: "batch", types: ["PROGRESSED"] }, 10_000)).map((e) => ({
    taskId: e.taskId,
    completed: (e.payload as { completed: number }).completed,
  }));

test("50 tasks reporting at once: every report stored and journaled once, in order per task, in a few statements", async () => {
  const tasks = await Promise.all(Array.from({ length: 50 }, () => store.createTask({ module: "batch", type: "job" })));
  const head = await journalHead(store.prismaForTests);
  const before = statements.length;
  // Three reports per task, each task's in order (as a run sends them: one after the other).
  const stored = await Promise.all(tasks.map(async (task) => [await store.setProgress(task.id, 1, 3), await store.setProgress(task.id, 2), await store.setProgress(task.id, 3)]));
  const progressStatements = statements.slice(before).filter((sql) => sql.includes('"progressCompleted" = i.completed')).length;

  expect(stored.map((s) => s.map((p) => [p.completed, p.total]))).toEqual(tasks.map(() => [[1, 3], [2, 3], [3, 3]]));
  const events = await progressEvents(head);
  for (const task of tasks) expect(events.filter((e) => e.taskId === task.id).map((e) => e.completed)).toEqual([1, 2, 3]);
  expect(events).toHaveLength(150);
  expect(progressStatements).toBeLessThan(50); // one per task would be 150
  for (const task of tasks) expect((await store.getTask(task.id)).progressCompleted).toBe(3);
});

test("a report for a task that is gone is NOT_FOUND for its caller alone", async () => {
  const [kept, gone] = await Promise.all([store.createTask({ module: "batch", type: "job" }), store.createTask({ module: "batch", type: "job" })]);
  await store.deleteTask(gone.id, { force: true }); // a pending task is failed first
  await store.deleteTask(gone.id);
  const [ok, missing] = await Promise.allSettled([store.setProgress(kept.id, 5), store.setProgress(gone.id, 5)]);
  expect(ok.status).toBe("fulfilled");
  expect(missing.status === "rejected" && (missing.reason as { code?: string }).code).toBe("NOT_FOUND");
});

describe.skipIf(storeKind !== "postgresql")("with a task locked by another transaction", () => {
  test("the other tasks' reports are stored at once, the locked one's once the lock is gone", async () => {
    const [free, held] = await Promise.all([store.createTask({ module: "batch", type: "job" }), store.createTask({ module: "batch", type: "job" })]);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = store.prismaForTests.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM "Task" WHERE id = ${held.id}::uuid FOR UPDATE`;
        locked();
        await released;
      },
      { timeout: 20_000 },
    );
    await isLocked;
    const heldReport = store.setProgress(held.id, 7);
    let heldStored = false;
    void heldReport.then(() => (heldStored = true));
    await store.setProgress(free.id, 7); // not held up by the locked task in the same batch
    expect((await store.getTask(free.id)).progressCompleted).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heldStored).toBe(false);
    release();
    await holder;
    expect((await heldReport).completed).toBe(7);
    expect((await store.getTask(held.id)).progressCompleted).toBe(7);
  });
});
