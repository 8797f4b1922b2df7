// Property-style test of the state machines: a running worker executes trees,
// flows and plain counts while random interleavings of the control mutations (abort with and
// without rollback, delete with and without force, retry, rerun / mark succeeded / terminate a
// step) hit random tasks and steps. After every small batch the store must satisfy the invariants
// below, read directly with SQL (one statement per invariant, so each sees one snapshot).
//
// The operation sequence comes from a seeded PRNG (mulberry32). The seed is printed; run again
// with TEST_SEED=<seed> to replay the same sequence (the worker's timing still varies).
//
// Besides the state-machine invariants the random run checks that availableActions never offers
// a mutation that is then refused while nothing changed, and that the worker never runs one task
// twice at once (TaskRun.execute is wrapped to count concurrent runs per task). What it found is
// reproduced deterministically in the describe blocks at the end of this file.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { StepAction, TaskAction } from "../src/domain/actions";
import { stepActions, taskActions } from "../src/domain/actions";
import { STEP_STATES, TASK_STATES, isEnded, type TaskState } from "../src/domain/states";
import { TaskRun } from "../src/runtime/task-run";
import { lockAndBump, transitionTask } from "../src/store/task-writes";
import { storeKind } from "./support/db";
import { codes, startTestApp, type TestApp } from "./support/app";
import { twoStepFlowAtStep1 } from "./support/flows";

// ── the seeded PRNG ────────────────────────────────────────────────────────────────────────────

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = process.env.TEST_SEED ? Number(process.env.TEST_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const random = mulberry32(SEED);
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
const chance = (p: number) => random() < p;
function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}
function weighted<T extends string>(weights: Record<T, number>): T {
  const entries = Object.entries(weights) as [T, number][];
  let r = random() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [key, w] of entries) if ((r -= w) < 0) return key;
  return entries[entries.length - 1]![0];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The codes a control mutation may refuse with (the API's documented codes); anything else is a bug. */
const DOCUMENTED = new Set(["NOT_FOUND", "NOT_ABORTABLE", "TASK_NOT_FINISHED", "INVALID_STATE", "BAD_USER_INPUT"]);

// ── watching the worker: no task is run twice at once in this process ─────────────────────────────

const activeRuns = new Map<string, Set<TaskRun>>();
const overlappingRuns: { taskId: string; at: number }[] = [];
const originalExecute = TaskRun.prototype.execute;
TaskRun.prototype.execute = async function (this: TaskRun) {
  // A run superseded by a new claim (its code could not be killed) may still wind down; it no
  // longer holds the lease and its writes are refused. Two runs that both hold it would be a bug.
  const runs = activeRuns.get(this.taskId) ?? new Set<TaskRun>();
  if ([...runs].some((run) => run.holdsLease)) overlappingRuns.push({ taskId: this.taskId, at: Date.now() });
  runs.add(this);
  activeRuns.set(this.taskId, runs);
  try {
    return await originalExecute.call(this);
  } finally {
    runs.delete(this);
    if (runs.size === 0) activeRuns.delete(this.taskId);
  }
};

afterAll(() => {
  TaskRun.prototype.execute = originalExecute;
});

// ── operations ───────────────────────────────────────────────────────────────────────────────

type OpKind = "abort" | "delete" | "retry" | "rerun" | "mark" | "terminate";
interface Op {
  kind: OpKind;
  id: string;
  rollback?: boolean;
  force?: boolean;
  stepKey?: string;
  /** Sent because availableActions listed it (the probe). */
  probe?: boolean;
}

const MUTATIONS: Record<OpKind, string> = {
  abort: `mutation ($id: ID!, $rollback: Boolean) { abortTask(id: $id, rollback: $rollback) { id state version } }`,
  delete: `mutation ($id: ID!, $force: Boolean) { deleteTask(id: $id, force: $force) { deleted deletedIds task { id state } } }`,
  retry: `mutation ($id: ID!) { retryTask(id: $id) { id state version } }`,
  rerun: `mutation ($id: ID!, $stepKey: String!) { rerunStep(taskId: $id, stepKey: $stepKey) { id state version } }`,
  mark: `mutation ($id: ID!, $stepKey: String!) { markStepSucceeded(taskId: $id, stepKey: $stepKey) { id state version } }`,
  terminate: `mutation ($id: ID!, $stepKey: String!) { terminateStep(taskId: $id, stepKey: $stepKey) { id state version } }`,
};

const TASK_ACTION_OPS: Record<TaskAction, (id: string) => Op> = {
  ABORT: (id) => ({ kind: "abort", id, rollback: chance(0.5) }),
  DELETE: (id) => ({ kind: "delete", id, force: false }),
  FORCE_DELETE: (id) => ({ kind: "delete", id, force: true }),
  RETRY: (id) => ({ kind: "retry", id }),
};
const STEP_ACTION_OPS: Record<StepAction, OpKind> = { RERUN: "rerun", MARK_SUCCEEDED: "mark", TERMINATE: "terminate" };

const describeOp = (op: Op) =>
  `${op.probe ? "probe " : ""}${op.kind}(${op.id}${op.stepKey ? `, ${op.stepKey}` : ""}${op.rollback !== undefined ? `, rollback=${op.rollback}` : ""}${op.force !== undefined ? `, force=${op.force}` : ""})`;

// ── the test ─────────────────────────────────────────────────────────────────────────────────

interface Snapshot {
  id: string;
  state: TaskState;
  type: string;
  parentId: string | null;
  isAbortable: boolean;
  abortRequestedAt: Date | null;
  version: number;
  steps: { key: string; state: (typeof STEP_STATES)[number] }[];
}

describe("random interleavings of the control mutations keep the state machines' invariants", () => {
  let app: TestApp;
  const opLog: string[] = [];
  const deletedIds: string[] = [];
  const outcomes = new Map<string, number>();
  const undocumented: string[] = [];

  beforeAll(async () => {
    console.log(`[invariants] seed ${SEED} — reproduce the operation sequence with TEST_SEED=${SEED}`);
    app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100, leaseMs: 3000, concurrency: 8 } });
    // A recurring schedule adds a task every second to the random mix (aborted, deleted, … like the rest).
    const scheduled = await app.gql(`mutation ($input: CreateScheduleInput!) { createSchedule(input: $input) { id } }`, {
      input: { name: "invariants", module: "test", type: "count", input: { rounds: 2, roundMs: 20 }, everySeconds: 1, catchUp: true },
    });
    if (scheduled.errors) throw new Error(`createSchedule failed: ${JSON.stringify(scheduled.errors)}`);
  });

  afterAll(async () => {
    await app?.stop();
  });

  const failure = (message: string) =>
    new Error(`${message}\n(seed ${SEED}; reproduce with TEST_SEED=${SEED})\nlast operations:\n  ${opLog.slice(-25).join("\n  ")}`);

  async function snapshot(): Promise<Snapshot[]> {
    const rows = await app.store.prismaForTests.task.findMany({
      select: { id: true, state: true, type: true, parentId: true, isAbortable: true, abortRequestedAt: true, version: true, steps: { select: { key: true, state: true }, orderBy: { index: "asc" } } },
      orderBy: { id: "asc" },
    });
    return rows as Snapshot[];
  }

  async function createTask(kind: "tree" | "flow" | "count") {
    const rounds = int(2, 5);
    const input: Record<string, unknown> = { rounds, roundMs: int(5, 40), abortable: true };
    if (kind === "tree") {
      input.children = int(2, 3);
      if (chance(0.3)) input.failAtRound = int(1, rounds);
    } else if (kind === "flow") {
      input.steps = int(2, 4);
      if (chance(0.45)) input.failAtRound = int(1, rounds * (input.steps as number));
      // Trees always stay abortable: their parents wait for children, and only an abort frees them.
      if (chance(0.1)) input.abortable = false;
    } else {
      if (chance(0.4)) input.failAtRound = int(1, rounds);
      if (chance(0.1)) input.abortable = false;
    }
    // Some operations share a target (an exclusive key): they wait their turn, or are refused.
    if (chance(0.3)) {
      input.exclusiveKey = pick(["broker-1", "broker-2"]);
      if (chance(0.3)) input.exclusiveMode = "REFUSE";
      if (chance(0.3)) input.priority = int(-5, 5);
    }
    // Some retry failed attempts automatically, some failing more than once.
    if (chance(0.3)) {
      input.retry = { attempts: int(2, 3), backoff: pick(["FIXED", "EXPONENTIAL"]), backoffMs: int(10, 80) };
      if (input.failAtRound !== undefined) input.failAttempts = int(1, 3);
    }
    const result = await app.gql(`mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }`, { input });
    if (input.exclusiveMode === "REFUSE" && codes(result)[0] === "CONFLICT") {
      opLog.push(`create ${kind} ${JSON.stringify(input)} → CONFLICT (the key is held)`);
      outcomes.set("create CONFLICT", (outcomes.get("create CONFLICT") ?? 0) + 1);
      return;
    }
    if (result.errors) throw failure(`createTestTask(${JSON.stringify(input)}) failed: ${JSON.stringify(result.errors)}`);
    opLog.push(`create ${kind} ${JSON.stringify(input)} → ${result.data!.createTestTask.id}`);
  }

  /** Runs one mutation; returns the refusal code, or null when it was accepted. Throws on an undocumented code. */
  async function run(op: Op): Promise<string | null> {
    const result = await app.gql(MUTATIONS[op.kind], { id: op.id, rollback: op.rollback, force: op.force, stepKey: op.stepKey });
    const found = codes(result) as string[];
    const outcome = found[0] ?? "OK";
    outcomes.set(`${op.kind} ${outcome}`, (outcomes.get(`${op.kind} ${outcome}`) ?? 0) + 1);
    opLog.push(`${describeOp(op)} → ${outcome}${found.length ? `: ${result.errors![0]!.message}` : ""}`);
    if (found.length > 1 || (found.length === 1 && !DOCUMENTED.has(found[0]!))) {
      // Reported at the end (with the others), so that one such error does not hide the invariants.
      undocumented.push(`${describeOp(op)} → ${JSON.stringify(found)}: ${JSON.stringify(result.errors)}`);
    }
    if (!found.length && op.kind === "delete") deletedIds.push(...(result.data!.deleteTask.deletedIds as string[]));
    return found[0] ?? null;
  }

  function randomOp(tasks: Snapshot[]): Op {
    const kind = weighted<OpKind>({ abort: 18, delete: 12, retry: 16, rerun: 16, mark: 14, terminate: 24 });
    const roll = random();
    let id: string;
    let task: Snapshot | undefined;
    if (roll < 0.06 && deletedIds.length) id = pick(deletedIds); // NOT_FOUND
    else if (roll < 0.08) id = pick(["not-a-uuid", "0190a000-0000-7000-8000-000000000000"]); // BAD_USER_INPUT, NOT_FOUND
    else {
      // Mostly tasks that still do something (flows, for the step mutations); now and then any task.
      const stepOp = kind === "rerun" || kind === "mark" || kind === "terminate";
      const live = tasks.filter((t) => (!isEnded(t.state) || t.state === "FAILED") && (!stepOp || t.steps.length > 0));
      task = pick(live.length && chance(0.85) ? live : tasks);
      id = task.id;
    }
    switch (kind) {
      case "abort":
        return { kind, id, rollback: chance(0.5) };
      case "delete":
        return { kind, id, force: chance(0.5) };
      case "retry":
        return { kind, id };
      default: {
        const wanted = kind === "terminate" ? "RUNNING" : "FAILED";
        const steps = task?.steps ?? [];
        const preferred = steps.filter((s) => s.state === wanted);
        let stepKey: string;
        if (steps.length === 0 || chance(0.04)) stepKey = pick(["step-1", "no-such-step"]);
        else stepKey = pick(preferred.length && chance(0.7) ? preferred : steps).key;
        return { kind, id, stepKey };
      }
    }
  }

  // ── invariants ─────────────────────────────────────────────────────────────────────────────

  async function violations(final = false): Promise<string[]> {
    const prisma = app.store.prismaForTests;
    const found: string[] = [];
    const report = (name: string, rows: unknown[]) => {
      if (rows.length) found.push(`${name}: ${JSON.stringify(rows.slice(0, 5), (_k, v) => (typeof v === "bigint" ? Number(v) : v))}`);
    };

    const states = await prisma.$queryRaw<{ id: string; state: string }[]>`SELECT id::text, state::text FROM "Task"`;
    report("task state is not a TaskState", states.filter((t) => !(TASK_STATES as readonly string[]).includes(t.state)));
    const stepStates = await prisma.$queryRaw<{ id: string; state: string }[]>`SELECT id::text, state::text FROM "Step"`;
    report("step state is not a StepState", stepStates.filter((s) => !(STEP_STATES as readonly string[]).includes(s.state)));

    report(
      "task version ≠ its events' versions 1..version (gap, duplicate or missing event)",
      await prisma.$queryRaw`
        SELECT t.id::text, t.version, count(e.id)::int AS events, count(DISTINCT e.version)::int AS distinct_versions,
               min(e.version) AS lowest, max(e.version) AS highest
        FROM "Task" t LEFT JOIN "TaskEvent" e ON e."taskId" = t.id
        GROUP BY t.id, t.version
        HAVING count(e.id) <> t.version OR count(DISTINCT e.version) <> t.version
            OR min(e.version) IS DISTINCT FROM 1 OR max(e.version) IS DISTINCT FROM t.version`,
    );

    // A FAILED task being aborted with rollback is held by the worker rolling it back (claims.ts):
    // it has not ended yet in the API's sense (waitForTask waits for it).
    report(
      "ended task holds a lease",
      await prisma.$queryRaw`
        SELECT id::text, state::text, "leaseOwner", "abortRequestedAt" FROM "Task"
        WHERE state IN ('SUCCEEDED', 'FAILED', 'CANCELED') AND ("leaseOwner" IS NOT NULL OR "leaseExpiresAt" IS NOT NULL)
          AND NOT (state = 'FAILED' AND "abortRequestedAt" IS NOT NULL)`,
    );

    // An abort request is pending work for a worker: on a RUNNING task (cancel it), or on a FAILED
    // one to roll back (OCP's Abort Task). Anywhere else nothing will ever clear it (waitForTask
    // waits for it, the TTL reaper skips it).
    report(
      "abort request on a task that no worker will finish aborting",
      await prisma.$queryRaw`
        SELECT id::text, state::text, "rollbackOnAbort", "abortRequestedAt" FROM "Task"
        WHERE "abortRequestedAt" IS NOT NULL AND NOT (state = 'RUNNING' OR (state = 'FAILED' AND "rollbackOnAbort"))`,
    );

    // Exclusive keys: a key is held only by a RUNNING task of that key, and a run in progress (a
    // RUNNING task under a lease) holds its key: two tasks of one key never run at once. A task
    // aborted without rollback is claimed only to end, without its key.
    report(
      "exclusive key held by a task that is not RUNNING with that key",
      await prisma.$queryRaw`
        SELECT k.key, k."holderId"::text AS holder, t.state::text, t."exclusiveKey" FROM "ExclusiveKey" k LEFT JOIN "Task" t ON t.id = k."holderId"
        WHERE k."holderId" IS NOT NULL AND (t.id IS NULL OR t.state <> 'RUNNING' OR t."exclusiveKey" IS DISTINCT FROM k.key)`,
    );
    report(
      "task running under a lease without holding its exclusive key",
      await prisma.$queryRaw`
        SELECT t.id::text, t."exclusiveKey", k."holderId"::text AS holder FROM "Task" t LEFT JOIN "ExclusiveKey" k ON k.key = t."exclusiveKey"
        WHERE t.state = 'RUNNING' AND t."leaseOwner" IS NOT NULL AND t."exclusiveKey" IS NOT NULL AND k."holderId" IS DISTINCT FROM t.id
          AND NOT (t."abortRequestedAt" IS NOT NULL AND NOT t."rollbackOnAbort")`,
    );
    // Automatic retries: a step's promised retry exists only while its task runs and it is FAILED,
    // a plain task waits for its retry SCHEDULED with its last error, and no count passes the policy.
    report(
      "a step's automatic retry promised outside a RUNNING task or a FAILED step",
      await prisma.$queryRaw`
        SELECT s."taskId"::text AS task, s.key, s.state::text, t.state::text AS task_state FROM "Step" s JOIN "Task" t ON t.id = s."taskId"
        WHERE s."nextAttemptAt" IS NOT NULL AND (t.state <> 'RUNNING' OR s.state <> 'FAILED')`,
    );
    report(
      "automatic retries beyond the policy's attempts",
      await prisma.$queryRaw`
        SELECT t.id::text, t."automaticRetries", t."retryPolicy", max(s."automaticRetries") AS step_retries FROM "Task" t LEFT JOIN "Step" s ON s."taskId" = t.id
        WHERE t."retryPolicy" IS NOT NULL
        GROUP BY t.id HAVING greatest(t."automaticRetries", coalesce(max(s."automaticRetries"), 0)) >= (t."retryPolicy"->>'attempts')::int`,
    );
    report(
      "a plain task waiting for an automatic retry without the failure it retries",
      await prisma.$queryRaw`
        SELECT id::text, state::text, "automaticRetries" FROM "Task" WHERE state = 'SCHEDULED' AND "automaticRetries" > 0 AND error IS NULL`,
    );
    // A schedule starts one task per due time, each on its grid (every 1 s from its first), as the system.
    report(
      "a schedule's task off its due times, or one not created by the system",
      await prisma.$queryRaw`
        WITH first AS (SELECT "scheduleId", min("scheduleDueAt") AS at FROM "Task" WHERE "scheduleId" IS NOT NULL GROUP BY "scheduleId")
        SELECT t.id::text, t."scheduleDueAt", e."actorKind"::text FROM "Task" t JOIN first f ON f."scheduleId" = t."scheduleId"
        LEFT JOIN "TaskEvent" e ON e."taskId" = t.id AND e.type = 'CREATED'
        WHERE round(extract(epoch FROM t."scheduleDueAt" - f.at) * 1000)::bigint % 1000 <> 0
           OR (e.id IS NOT NULL AND e."actorKind" <> 'SYSTEM')`,
    );
    report(
      "RUNNING attempt of a step that is neither RUNNING nor ROLLING_BACK",
      await prisma.$queryRaw`
        SELECT a.id::text AS attempt, a.kind::text, s."taskId"::text AS task, s.key, s.state::text AS step_state
        FROM "StepAttempt" a JOIN "Step" s ON s.id = a."stepId"
        WHERE a.state = 'RUNNING' AND s.state NOT IN ('RUNNING', 'ROLLING_BACK')`,
    );
    report(
      "step with more than one RUNNING attempt",
      await prisma.$queryRaw`
        SELECT "stepId"::text AS step, count(*)::int AS running FROM "StepAttempt" WHERE state = 'RUNNING'
        GROUP BY "stepId" HAVING count(*) > 1`,
    );
    report(
      "RUNNING or ROLLING_BACK step without exactly one open attempt of the matching kind",
      await prisma.$queryRaw`
        SELECT s."taskId"::text AS task, s.key, s.state::text,
               count(a.id) FILTER (WHERE a.state = 'RUNNING')::int AS open_attempts,
               string_agg(a.kind::text, ',') FILTER (WHERE a.state = 'RUNNING') AS open_kinds
        FROM "Step" s LEFT JOIN "StepAttempt" a ON a."stepId" = s.id
        WHERE s.state IN ('RUNNING', 'ROLLING_BACK')
        GROUP BY s.id
        HAVING count(a.id) FILTER (WHERE a.state = 'RUNNING') <> 1
            OR (s.state = 'ROLLING_BACK') <> bool_or(a.state = 'RUNNING' AND a.kind = 'ROLLBACK')`,
    );
    report(
      "SUCCEEDED task with a step that is neither SUCCEEDED nor SKIPPED",
      await prisma.$queryRaw`
        SELECT t.id::text AS task, s.key, s.state::text AS step_state FROM "Task" t JOIN "Step" s ON s."taskId" = t.id
        WHERE t.state = 'SUCCEEDED' AND s.state NOT IN ('SUCCEEDED', 'SKIPPED')`,
    );
    report(
      "tree bookkeeping: child's rootId/depth ≠ parent's, or sequenceNumber ≠ root's, or a root that is not its own root",
      await prisma.$queryRaw`
        SELECT c.id::text, c."rootId"::text, p."rootId"::text AS parent_root, c."sequenceNumber", r."sequenceNumber" AS root_seq
        FROM "Task" c
        LEFT JOIN "Task" p ON p.id = c."parentId"
        LEFT JOIN "Task" r ON r.id = c."rootId"
        WHERE (c."parentId" IS NULL AND (c."rootId" <> c.id OR c.depth <> 0))
           OR (c."parentId" IS NOT NULL AND (p.id IS NULL OR c."rootId" <> p."rootId" OR c.depth <> p.depth + 1))
           OR r.id IS NULL OR c."sequenceNumber" <> r."sequenceNumber"`,
    );

    if (final) {
      report(
        "CANCELED or SUCCEEDED task with a RUNNING step while the worker is idle",
        await prisma.$queryRaw`
          SELECT t.id::text AS task, t.state::text, s.key FROM "Task" t JOIN "Step" s ON s."taskId" = t.id
          WHERE t.state IN ('CANCELED', 'SUCCEEDED') AND s.state = 'RUNNING'`,
      );
      report("task still pending at the end", await prisma.$queryRaw`SELECT id::text, state::text, type FROM "Task" WHERE state IN ('SCHEDULED', 'QUEUED', 'RUNNING')`);
      report("task still being aborted at the end", await prisma.$queryRaw`SELECT id::text, state::text FROM "Task" WHERE "abortRequestedAt" IS NOT NULL`);
      report(
        "step still RUNNING at the end",
        await prisma.$queryRaw`SELECT s."taskId"::text AS task, t.state::text AS task_state, s.key FROM "Step" s JOIN "Task" t ON t.id = s."taskId" WHERE s.state = 'RUNNING'`,
      );
      // Nothing runs any more, so no rollback can be under way and no attempt open.
      report(
        "step still ROLLING_BACK (an open rollback attempt) at the end",
        await prisma.$queryRaw`
          SELECT s."taskId"::text AS task, t.state::text AS task_state, s.key FROM "Step" s JOIN "Task" t ON t.id = s."taskId" WHERE s.state = 'ROLLING_BACK'`,
      );
      report("a task is still held by a worker at the end", await prisma.$queryRaw`SELECT id::text, state::text, "leaseOwner" FROM "Task" WHERE "leaseOwner" IS NOT NULL`);
    }
    return found;
  }

  async function checkInvariants(when: string, final = false) {
    const found = await violations(final);
    if (found.length) throw failure(`invariants broken ${when}:\n  ${found.join("\n  ")}`);
  }

  /** Versions of the task and its descendants: unchanged means nothing happened to the subtree. */
  async function fingerprint(id: string): Promise<string> {
    const rows = await app.store.prismaForTests.$queryRaw<{ id: string; version: number }[]>`
      WITH RECURSIVE tree(id) AS (
        SELECT id FROM "Task" WHERE id = ${id}::uuid
        UNION ALL SELECT c.id FROM "Task" c JOIN tree ON c."parentId" = tree.id
      )
      SELECT t.id::text, t.version FROM "Task" t JOIN tree USING (id) ORDER BY t.id`;
    return JSON.stringify(rows);
  }

  const disagreements: string[] = [];

  /**
   * availableActions must list only mutations that are accepted now: take one action the API lists
   * for a task (or one of its steps) and send it. A refusal counts only when nothing in the task's
   * subtree changed between reading the list and the refusal (otherwise the worker moved first).
   */
  async function probe(task: Snapshot) {
    const before = await fingerprint(task.id);
    const read = await app.gql(
      `query ($id: ID!) { task(id: $id) { id state version availableActions steps { key state availableActions } } }`,
      { id: task.id },
    );
    const seen = read.data?.task;
    if (!seen || (await fingerprint(task.id)) !== before) return;
    // The domain function and the API agree on the task's own list.
    const row = await app.store.prismaForTests.task.findUnique({ where: { id: task.id } });
    const pendingBelow = (await app.store.withPendingDescendants([task.id])).has(task.id);
    if (!row || (await fingerprint(task.id)) !== before) return;
    expect(seen.availableActions, `availableActions of ${task.id} vs domain taskActions`).toEqual(
      taskActions({ ...row, hasPendingDescendants: pendingBelow }),
    );
    const steps = await app.store.steps(task.id);
    if ((await fingerprint(task.id)) !== before) return;
    for (const step of seen.steps as { key: string; availableActions: StepAction[] }[]) {
      const domain = stepActions(steps.find((s) => s.key === step.key)!, row);
      if (JSON.stringify(step.availableActions) !== JSON.stringify(domain)) {
        disagreements.push(`task ${task.id} (${row.state}, abortRequestedAt=${row.abortRequestedAt?.toISOString() ?? null}) step ${step.key}: API lists ${JSON.stringify(step.availableActions)}, domain stepActions says ${JSON.stringify(domain)}`);
      }
    }
    const options: Op[] = [
      ...(seen.availableActions as TaskAction[]).map((a) => TASK_ACTION_OPS[a](task.id)),
      ...(seen.steps as { key: string; availableActions: StepAction[] }[]).flatMap((s) =>
        s.availableActions.map((a): Op => ({ kind: STEP_ACTION_OPS[a], id: task.id, stepKey: s.key })),
      ),
    ];
    if (options.length === 0) return;
    const op = { ...pick(options), probe: true };
    const refused = await run(op);
    if (refused && (await fingerprint(task.id)) === before) {
      const subtree = await app.store.prismaForTests.$queryRaw<{ id: string; state: string; type: string; aborting: boolean }[]>`
        WITH RECURSIVE tree(id) AS (
          SELECT id FROM "Task" WHERE id = ${task.id}::uuid
          UNION ALL SELECT c.id FROM "Task" c JOIN tree ON c."parentId" = tree.id
        )
        SELECT t.id::text, t.state::text, t.type, t."abortRequestedAt" IS NOT NULL AS aborting FROM "Task" t JOIN tree USING (id)`;
      disagreements.push(
        `${describeOp(op)} refused with ${refused} although availableActions listed it (task ${seen.state} v${seen.version}, nothing in its subtree changed meanwhile; subtree: ${JSON.stringify(subtree)})`,
      );
    }
  }

  test("hundreds of random aborts, deletes, retries, reruns, marks and terminations", { timeout: 150_000 }, async () => {
    const started = Date.now();
    const OPS = 700;
    const BUDGET_MS = 60_000;
    let ops = 0;
    let batches = 0;

    for (const kind of ["tree", "flow", "flow", "flow", "count", "flow", "tree", "count"] as const) await createTask(kind);
    await pause(150);

    while (ops < OPS && Date.now() - started < BUDGET_MS) {
      let tasks = await snapshot();
      // Keep work going: a few live roots at all times, at most one live tree (their parents wait
      // for children and would fill the worker's slots).
      const liveRoots = tasks.filter((t) => t.parentId === null && !isEnded(t.state));
      const liveTrees = liveRoots.filter((t) => t.type === "tree").length;
      for (let i = liveRoots.length; i < 7; i++) {
        await createTask(liveTrees === 0 && chance(0.3) ? "tree" : chance(0.8) ? "flow" : "count");
      }
      if (liveRoots.length < 7) tasks = await snapshot();
      if (tasks.length === 0) continue;

      // A batch of operations fired at once: they interleave with each other and with the worker.
      const batch = Array.from({ length: int(1, 6) }, () => randomOp(tasks));
      await Promise.all(batch.map((op) => run(op)));
      ops += batch.length;
      batches++;
      if (chance(0.5)) await pause(int(0, 60)); // let the worker move on sometimes
      await checkInvariants(`after batch ${batches} (${ops} operations)`);

      // availableActions probe on one random task.
      const fresh = await snapshot();
      if (fresh.length) {
        await probe(pick(fresh));
        ops++;
        await checkInvariants(`after the probe of batch ${batches}`);
      }
    }

    // The end: the schedule is paused (it fired along the way), then everything still pending is
    // aborted (or force-deleted), until everything has ended.
    const [schedule] = await app.store.prismaForTests.schedule.findMany();
    expect(schedule?.lastRunAt, "the schedule fired during the run").not.toBeNull();
    const paused = await app.gql(`mutation ($id: ID!) { pauseSchedule(id: $id) { id } }`, { id: `Schedule:${schedule!.id}` });
    if (paused.errors) throw failure(`pauseSchedule failed: ${JSON.stringify(paused.errors)}`);
    const deadline = Date.now() + 25_000;
    for (;;) {
      const tasks = await snapshot();
      const pending = tasks.filter((t) => !isEnded(t.state) || t.abortRequestedAt);
      if (pending.length === 0 && activeRuns.size === 0) break;
      if (Date.now() > deadline) {
        throw failure(
          `tasks did not end within 25 s after aborting everything: ${JSON.stringify(pending.map((t) => ({ id: t.id, type: t.type, state: t.state, aborting: !!t.abortRequestedAt, steps: t.steps })))}; runs still active: ${JSON.stringify([...activeRuns.keys()])}`,
        );
      }
      for (const task of pending.filter((t) => !isEnded(t.state) && !t.abortRequestedAt && t.isAbortable)) {
        if (chance(0.5)) await run({ kind: "abort", id: task.id, rollback: chance(0.5) });
        else await run({ kind: "delete", id: task.id, force: true });
      }
      await pause(100);
    }
    await checkInvariants("at the end", true);

    const left = await snapshot();
    expect(left.filter((t) => t.state === "RUNNING")).toEqual([]);
    expect(left.flatMap((t) => t.steps).filter((s) => s.state === "RUNNING")).toEqual([]);

    const summary = [...outcomes.entries()].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
    console.log(`[invariants] seed ${SEED}: ${ops} operations in ${batches} batches, ${((Date.now() - started) / 1000).toFixed(1)} s; ${summary}`);
    // Enough of each kind went through to make the run meaningful.
    for (const kind of ["abort", "delete", "retry", "rerun", "mark", "terminate"]) {
      expect(outcomes.get(`${kind} OK`) ?? 0, `accepted ${kind} operations`).toBeGreaterThan(0);
    }
    // Found problems of the kind that are not state-machine invariants, reported together.
    const problems: string[] = [];
    if (undocumented.length) problems.push(`mutations failed with an undocumented code (${undocumented.length}):\n    ${undocumented.slice(0, 8).join("\n    ")}`);
    if (disagreements.length) problems.push(`availableActions listed a mutation that was then refused (${disagreements.length}):\n    ${disagreements.slice(0, 8).join("\n    ")}`);
    if (overlappingRuns.length) {
      const details = [];
      for (const { taskId, at } of overlappingRuns.slice(0, 3)) {
        const events = await app.store.prismaForTests.taskEvent.findMany({ where: { taskId }, orderBy: { id: "asc" } });
        details.push(
          `task ${taskId}, second run started at ${new Date(at).toISOString()}; journal: ${events
            .filter((e) => e.type !== "PROGRESSED" && e.type !== "LOG_APPENDED")
            .map((e) => `${e.createdAt.toISOString().slice(17, 23)} v${e.version} ${e.type} ${JSON.stringify(e.payload)}`)
            .join(" | ")}`,
        );
      }
      problems.push(`the worker ran the same task twice at once (${overlappingRuns.length} time(s)):\n    ${details.join("\n    ")}`);
    }
    if (problems.length) throw failure(problems.join("\n  "));
  });
});

// ── what the random test found, reproduced deterministically ────────────────────────────────────

/** Polls `read` until `done(value)`; fails after `ms`. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last seen: ${JSON.stringify(value)}`);
    await pause(20);
  }
}

const TASK_ACTIONS_QUERY = `query ($id: ID!) { task(id: $id) { state availableActions steps { key state availableActions } } }`;

describe("availableActions agrees with the mutations (no worker: states built through the store)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  test("a step of a FAILED task whose abort (rollback) is under way offers no action, like the step mutations", async () => {
    const id = await twoStepFlowAtStep1(app, "failed");
    // OCP's Abort Task on the FAILED task: accepted, the rollback waits for a worker.
    const abort = await app.gql(`mutation ($id: ID!) { abortTask(id: $id, rollback: true) { state } }`, { id });
    expect(codes(abort)).toEqual([]);

    const { task } = (await app.gql(TASK_ACTIONS_QUERY, { id })).data!;
    expect(task.availableActions).toEqual([]); // the task offers nothing while being aborted
    const step1 = task.steps.find((s: { key: string }) => s.key === "step-1");
    const rerun = await app.gql(`mutation ($id: ID!) { rerunStep(taskId: $id, stepKey: "step-1") { id } }`, { id });
    const mark = await app.gql(`mutation ($id: ID!) { markStepSucceeded(taskId: $id, stepKey: "step-1") { id } }`, { id });
    expect(codes(rerun)).toEqual(["INVALID_STATE"]);
    expect(codes(mark)).toEqual(["INVALID_STATE"]);
    // …so the step must not offer them either.
    expect(step1.availableActions, "Step.availableActions of a step whose task is being aborted").toEqual([]);
  });

  test("a RUNNING step of a task whose abort is under way does not offer TERMINATE, which terminateStep refuses", async () => {
    const id = await twoStepFlowAtStep1(app, "running");
    expect(codes(await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { state } }`, { id }))).toEqual([]);

    const { task } = (await app.gql(TASK_ACTIONS_QUERY, { id })).data!;
    const terminate = await app.gql(`mutation ($id: ID!) { terminateStep(taskId: $id, stepKey: "step-1") { id } }`, { id });
    expect(codes(terminate)).toEqual(["INVALID_STATE"]);
    expect(task.steps.find((s: { key: string }) => s.key === "step-1").availableActions).toEqual([]);
  });

  test("DELETE is offered on an ended task only when deleteTask accepts it (a descendant still pending)", async () => {
    // A failed parent whose child has not ended: e.g. the test module's node-count fails at
    // failAtRound without waiting for its internal child.
    const root = await app.store.createTask({
      module: "test",
      type: "node-count",
      input: { rounds: 1, roundMs: 0, failAtRound: 1, abortable: true, steps: 0, children: 0 },
      children: [{ type: "count", isInternal: true, input: { rounds: 1, roundMs: 0, failAtRound: null, abortable: true, steps: 0, children: 0 } }],
    });
    await app.store.transitionTask(root.id, "RUNNING");
    await app.store.transitionTask(root.id, "FAILED", { error: "Failed at round 1, as asked (failAtRound)" });

    const { task } = (await app.gql(TASK_ACTIONS_QUERY, { id: root.id })).data!;
    const offered = (task.availableActions as string[]).includes("DELETE");
    const result = await app.gql(`mutation ($id: ID!) { deleteTask(id: $id) { deleted } }`, { id: root.id });
    const accepted = codes(result).length === 0;
    expect(
      { offered, accepted },
      `availableActions ${JSON.stringify(task.availableActions)}; deleteTask → ${JSON.stringify(codes(result))} ${result.errors?.[0]?.message ?? ""}`,
    ).toEqual({ offered: accepted, accepted });
  });
});

describe("no rollback is left half-done (no worker: states built through the store)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  test("retry, then a forced delete before a worker took it, then Abort Task: the step handed back for rollback does not stay ROLLING_BACK", async () => {
    const id = await twoStepFlowAtStep1(app, "failed");

    // OCP Retry: step-1 is handed to the workers to be rolled back (ROLLING_BACK), the task RUNNING …
    expect(codes(await app.gql(`mutation ($id: ID!) { retryTask(id: $id) { state } }`, { id }))).toEqual([]);
    // … openATTIC forced delete before any worker claimed it: FAILED, nothing reverted …
    expect(codes(await app.gql(`mutation ($id: ID!) { deleteTask(id: $id, force: true) { task { state } } }`, { id }))).toEqual([]);
    // … then OCP Abort Task (roll back every step from the failed one back to the first, then CANCELED).
    const abort = await app.gql(`mutation ($id: ID!) { abortTask(id: $id, rollback: true) { state } }`, { id });
    expect(codes(abort)).toEqual([]);

    const task = (await app.store.findTask(id))!;
    const steps = await app.store.steps(id);
    const open = await app.store.prismaForTests.stepAttempt.findMany({ where: { taskId: id, state: "RUNNING" }, select: { kind: true } });
    // Either the abort waits for a worker to finish the rollback (FAILED, abort under way), or it
    // ended the task: then no step may be left "rolling back" with an open attempt that nothing will close.
    const seen = { state: task.state, aborting: task.abortRequestedAt !== null, steps: steps.map((s) => `${s.key} ${s.state}`), openAttempts: open.map((a) => a.kind) };
    if (task.state === "CANCELED") {
      expect(
        { rollingBack: steps.filter((s) => s.state === "ROLLING_BACK").map((s) => s.key), openAttempts: seen.openAttempts },
        `CANCELED at once: ${JSON.stringify(seen)}`,
      ).toEqual({ rollingBack: [], openAttempts: [] });
    } else {
      expect({ state: seen.state, aborting: seen.aborting }).toEqual({ state: "FAILED", aborting: true });
    }
  });
});

describe("control mutations and a worker's writes on a descendant do not deadlock", () => {
  // The random test hit "deadlock detected" on PostgreSQL (INTERNAL_SERVER_ERROR from abortTask and
  // deleteTask(force), and worker runs crashing). PGlite runs one transaction at a time, so there
  // this passes trivially; on PostgreSQL (TEST_DATABASE_URL) it reproduces the lock-order cycle.
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  for (const [name, mutation] of [
    ["abortTask", `mutation ($id: ID!) { abortTask(id: $id) { state } }`],
    ["deleteTask(force)", `mutation ($id: ID!) { deleteTask(id: $id, force: true) { task { state } } }`],
  ] as const) {
    test(`${name} on a parent while a worker stores progress of its running child (${storeKind})`, async () => {
      const input = { rounds: 1, roundMs: 0, failAtRound: null, abortable: true, steps: 0, children: 0 };
      const root = await app.store.createTask({ module: "test", type: "node-count", input, children: [{ type: "count", isInternal: true, input }] });
      const child = (await app.store.prismaForTests.task.findFirst({ where: { parentId: root.id } }))!;
      await app.store.transitionTask(root.id, "RUNNING");
      await app.store.transitionTask(child.id, "RUNNING");

      // What store.setProgress does for the worker running the child: bump the child's version
      // (locking its row), then write the progress — here with a pause between the two statements.
      let bumped!: () => void;
      const childLocked = new Promise<void>((resolve) => (bumped = resolve));
      const progress = app.store.transaction(async (tx) => {
        await lockAndBump(tx, child.id);
        bumped();
        await pause(300);
        await tx.task.update({ where: { id: child.id }, data: { progressCompleted: 1 } });
      });
      await childLocked;
      const control = app.gql(mutation, { id: root.id });
      const [stored, refused] = await Promise.all([
        progress.then(() => "stored", (error: Error) => `failed: ${error.message.split("\n").filter(Boolean).at(-1)}`),
        control.then((r) => codes(r)),
      ]);
      const outcome = { progress: stored, [name]: refused };
      expect(outcome, JSON.stringify(outcome)).toEqual({ progress: "stored", [name]: [] });
    });
  }
});

describe("abort cascades to every descendant (no worker: the spawn is the one TaskRun.spawn makes)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  test("a descendant that ends while abortTask cascades keeps no abort request (it would never be cleared)", async () => {
    // root → child → grandchild, all RUNNING. The grandchild's worker ends it in a transaction that
    // commits only after abortTask(root) has read the subtree (PostgreSQL; PGlite runs one
    // transaction at a time, so there abortTask simply sees the grandchild SUCCEEDED).
    const input = { rounds: 1, roundMs: 0, failAtRound: null, abortable: true, steps: 0, children: 0 };
    const root = await app.store.createTask({
      module: "test",
      type: "node-count",
      input,
      children: [{ type: "node-count", input, children: [{ type: "count", isInternal: true, input }] }],
    });
    const tree = await app.store.prismaForTests.task.findMany({ where: { rootId: root.id }, orderBy: { depth: "asc" } });
    const grandchild = tree.find((t) => t.depth === 2)!;
    for (const t of tree) await app.store.transitionTask(t.id, "RUNNING");

    let ended!: () => void;
    let commit!: () => void;
    const endedInTx = new Promise<void>((resolve) => (ended = resolve));
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const worker = app.store.transaction(async (tx) => {
      await transitionTask(tx, grandchild.id, "SUCCEEDED", { result: { rounds: 1 } });
      ended();
      await committing;
    });
    await endedInTx;
    const abort = app.gql(`mutation ($id: ID!) { abortTask(id: $id) { state } }`, { id: root.id });
    await pause(300);
    commit();
    await worker;
    expect(codes(await abort)).toEqual([]);

    const after = (await app.store.findTask(grandchild.id))!;
    // What a client sees too: waitForTask of the SUCCEEDED task returns at once (no TIMEOUT).
    const waited = await app.gql(`query ($id: ID!) { waitForTask(id: $id, timeoutSeconds: 1) { state } }`, { id: grandchild.id });
    expect({ state: after.state, abortRequested: after.abortRequestedAt !== null, waitForTask: codes(waited) }).toEqual({
      state: "SUCCEEDED",
      abortRequested: false,
      waitForTask: [],
    });
  });

  test("a child spawned after its parent's abort was accepted is refused, or born aborted", async () => {
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, children: 2 }) { id type } }`);
    const rootId: string = created.data!.createTestTask.id;
    await app.store.transitionTask(rootId, "RUNNING");
    // abortTask while the tree's run is still spawning its node tasks (it spawns them in a loop).
    expect(codes(await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { state } }`, { id: rootId }))).toEqual([]);

    const input = { rounds: 1, roundMs: 0, failAtRound: null, abortable: true, steps: 0, children: 0 };
    let outcome: string;
    try {
      const child = await app.store.createTask(await app.manager.registry.newTask("test", "node-count", input, { node: "node-2" }), { parentId: rootId });
      const row = (await app.store.findTask(child.id))!;
      outcome = row.state === "CANCELED" || row.abortRequestedAt ? "born aborted" : `created ${row.state}, not aborted`;
    } catch (error) {
      outcome = `refused ${(error as { code?: string }).code}`;
    }
    // Otherwise a worker runs the new child to its end after its parent was CANCELED.
    expect(["refused INVALID_STATE", "born aborted"], `spawn under a task being aborted: ${outcome}`).toContain(outcome);
  });
});

describe("one worker never runs the same task twice at once", () => {
  let app: TestApp;
  const gates: (() => void)[] = [];
  beforeAll(async () => {
    app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100, leaseMs: 3000, concurrency: 4 } });
  });
  afterAll(async () => {
    for (const open of gates) open(); // a failed assertion must not leave handlers blocking the worker's stop
    await app?.stop();
  });

  test("terminate a step whose handler is slow to stop, then retry: the first run's late end is not recorded on the retried attempt", async () => {
    // A step that ignores its AbortSignal: its task is still handled once the handler returns.
    app.manager.defineTask({
      module: "test",
      type: "gated-flow",
      steps: [
        { key: "slow", run: () => new Promise<void>((resolve) => gates.push(resolve)) },
        { key: "after", run: () => {} },
      ],
    });
    const { id } = await app.manager.startTask({ module: "test", type: "gated-flow", input: {} });
    await waitFor("the slow step runs", async () => gates.length, (n) => n === 1);

    expect(codes(await app.gql(`mutation ($id: ID!) { terminateStep(taskId: $id, stepKey: "slow") { state } }`, { id }))).toEqual([]);
    await pause(200); // the worker has heard of it; the handler has not returned
    expect(codes(await app.gql(`mutation ($id: ID!) { retryTask(id: $id) { state } }`, { id }))).toEqual([]);
    // The worker takes the task again and runs the step again (a RETRY attempt) …
    await waitFor("the retried step runs", async () => gates.length, (n) => n === 2);
    // … and now the first attempt's handler returns, late.
    gates[0]!();
    await pause(300);

    const task = (await app.store.findTask(id))!;
    const slow = (await app.store.steps(id)).find((s) => s.key === "slow")!;
    const attempts = await app.store.prismaForTests.stepAttempt.findMany({ where: { stepId: slow.id }, orderBy: { number: "asc" } });
    const seen = {
      task: task.state,
      step: slow.state,
      attempts: attempts.map((a) => `${a.number} ${a.kind} ${a.state}`),
    };
    // The first run's handler could not be killed (cancellation is cooperative) and returned late,
    // but that run was superseded by the retry's claim: nothing it wrote after that was recorded.
    // The retried attempt's handler has not returned: its step is RUNNING, its attempt open, the task RUNNING.
    expect(seen, JSON.stringify(await app.store.events(id).then((es) => es.map((e) => `v${e.version} ${e.type} ${JSON.stringify(e.payload)}`)))).toEqual({
      task: "RUNNING",
      step: "RUNNING",
      attempts: ["1 EXECUTE FAILED", "2 ROLLBACK SUCCEEDED", "3 RETRY RUNNING"],
    });

    gates[1]!();
    const done = await app.manager.waitForTask(id, 10);
    expect([done.state, done.error]).toEqual(["SUCCEEDED", null]);
  });
});
