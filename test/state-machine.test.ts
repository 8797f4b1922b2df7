// One state machine: the set-based SQL (claims, promotion, batched completions, retention) and the
// control mutations must only make the transitions domain/states.ts allows. This drives every
// path that changes a task's state and checks each STATE_CHANGED and STEP_CHANGED event the
// journal recorded against the table. The SQL records the state a row really had before its
// UPDATE (store/sql.ts stateChangedPayload), so a wrong state list in a statement shows up here.
import { afterAll, beforeAll, expect, test } from "vitest";
import { canTransitionStep, canTransitionTask, ENDED_STATES, type StepState, type TaskState } from "../src/domain/states";
import type { Store } from "../src/store";
import { openTestStore } from "./support/db";

let opened: Awaited<ReturnType<typeof openTestStore>>;
let store: Store;
const kinds = { modules: ["sm"], types: ["job"] };
const job = { module: "sm", type: "job" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  opened = await openTestStore();
  store = opened.store;
  await store.ensureModule("sm");
});

afterAll(async () => {
  (opened.db.adapterFactory as { pool?: { on(event: "error", listener: () => void): unknown } }).pool?.on("error", () => {});
  await opened.db.close();
});

test("every state change any store path records is a transition the domain table allows", async () => {
  // Promotion: one SCHEDULED task comes due; another, deleted while pending (now FAILED), is due too.
  const soon = new Date(Date.now() + 300);
  const [due, deleted] = await store.createTasks([{ ...job, runAt: soon }, { ...job, runAt: soon }]);
  await store.deleteTask(deleted!.id, { force: true });
  await sleep(400);
  expect(await store.promoteDueTasks()).toBeGreaterThan(0); // which ones: the journal check below says

  // Claims: QUEUED → RUNNING (the promoted one among them).
  const [a, b, c, d] = await store.createTasks([job, job, job, job]);
  const claimed = await store.claimTasks({ worker: "w#1", leaseMs: 30_000, limit: 10, ...kinds });
  expect(claimed.map((x) => x.id)).toEqual(expect.arrayContaining([due!.id, a!.id, b!.id, c!.id, d!.id]));

  // Batched completions, alone and with a claim: RUNNING → SUCCEEDED.
  expect(await store.completeTasks([{ taskId: a!.id, leaseOwner: "w#1", result: null }])).toHaveLength(1);
  const [e] = await store.createTasks([job]);
  const both = await store.completeAndClaim([{ taskId: b!.id, leaseOwner: "w#1", result: { ok: true } }], { worker: "w#2", leaseMs: 30_000, free: 1, ...kinds });
  expect(both.done).toHaveLength(1);
  expect(both.claimed.map((x) => x.id)).toEqual([e!.id]);

  // A handed-back task claimed again (no state change), then failed, retried, aborted.
  await store.releaseLeases([{ taskId: c!.id, owner: "w#1" }]);
  expect((await store.claimTasks({ worker: "w#3", leaseMs: 30_000, limit: 10, ...kinds })).map((x) => x.id)).toEqual([c!.id]);
  await store.transitionTask(c!.id, "FAILED", { error: "boom" });
  await store.retryTask(c!.id);
  await store.transitionTask(c!.id, "FAILED", { error: "boom again" });
  await store.abortTask(c!.id, { rollback: false });

  // Aborts and deletes of pending tasks: → CANCELED, → FAILED.
  const [f, g] = await store.createTasks([job, { ...job, runAt: new Date(Date.now() + 3_600_000) }]);
  await store.abortTask(f!.id);
  await store.deleteTask(g!.id, { force: true });
  await store.abortTask(d!.id); // RUNNING: only asks its run to stop

  // Retention: the ended trees are removed (with their DELETED events).
  await store.writeSettings({ taskTtlSeconds: 0, userTaskTtlSeconds: 0 });
  await sleep(10);
  expect((await store.reapExpired()).length).toBeGreaterThan(0);

  const events = await store.prismaForTests.taskEvent.findMany({ orderBy: { id: "asc" } });
  const illegal: string[] = [];
  for (const event of events) {
    const payload = event.payload as { from?: string; to?: string; state?: string; stepKey?: string };
    if (event.type === "STATE_CHANGED" && !canTransitionTask(payload.from as TaskState, payload.to as TaskState)) {
      illegal.push(`task ${event.taskId}: ${payload.from} → ${payload.to}`);
    }
    if (event.type === "STEP_CHANGED" && !canTransitionStep(payload.from as StepState, payload.to as StepState)) {
      illegal.push(`step ${payload.stepKey} of ${event.taskId}: ${payload.from} → ${payload.to}`);
    }
    if (event.type === "DELETED" && !ENDED_STATES.includes(payload.state as TaskState)) {
      illegal.push(`task ${event.taskId} deleted while ${payload.state}`);
    }
  }
  expect(illegal).toEqual([]);
  // Every path above recorded its change.
  const changes = new Set(events.filter((x) => x.type === "STATE_CHANGED").map((x) => `${(x.payload as { from: string }).from}→${(x.payload as { to: string }).to}`));
  expect([...changes].sort()).toEqual(
    ["SCHEDULED→QUEUED", "SCHEDULED→FAILED", "QUEUED→RUNNING", "RUNNING→SUCCEEDED", "RUNNING→FAILED", "FAILED→RUNNING", "FAILED→CANCELED", "QUEUED→CANCELED"].sort(),
  );
});
