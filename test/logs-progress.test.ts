// Logs per attempt and step progress, as a console's details page uses them: LogFilter on task, step
// and attempt logs, live LOG_APPENDED events naming the step and attempt, an error's stack kept
// apart from its message, and a flow step's own progress rising to 1 with the task's derived sum.
// Runs on whichever store the run was started for (PGlite, or PostgreSQL with TEST_DATABASE_URL).
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { codes, startTestApp, type TestApp } from "./support/app";

const WORKER = { pollMs: 100, housekeepingMs: 100, leaseMs: 5000 };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let app: TestApp;
let client: Client;

interface Line {
  id: string;
  level: string;
  message: string;
  stack: string | null;
  time: string;
  step: { id: string; key: string } | null;
  attempt: { id: string; number: number; kind: string } | null;
}

interface Event {
  type: string;
  taskId: string;
  payload: any;
}

const LINE = "id level message stack time step { id key } attempt { id number kind }";
const TASK_LOGS = `query ($id: ID!, $filter: LogFilter, $includeSteps: Boolean, $first: Int, $after: String) {
  task(id: $id) { logs(filter: $filter, includeSteps: $includeSteps, first: $first, after: $after) {
    totalCount edges { cursor node { ${LINE} } } pageInfo { hasNextPage endCursor } } }
}`;
const STEPS = `query ($id: ID!, $filter: LogFilter) {
  task(id: $id) { state steps { id key state
    logs(first: 100, filter: $filter) { totalCount edges { node { ${LINE} } } }
    attempts { id number kind logs(first: 100) { totalCount edges { node { ${LINE} } } } } } }
}`;

async function ok(query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
  const result = await app.gql(query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!;
}

async function taskLogs(id: string, variables: Record<string, unknown> = {}): Promise<{ totalCount: number; lines: Line[] }> {
  const { task } = await ok(TASK_LOGS, { id, first: 500, ...variables });
  return { totalCount: task.logs.totalCount, lines: task.logs.edges.map((e: { node: Line }) => e.node) };
}

async function waitForState(id: string, states: string[], timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { task } = await ok(`query ($id: ID!) { task(id: $id) { state } }`, { id });
    if (states.includes(task.state)) return task.state;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${task.state}, not ${states.join("|")}`);
    await pause(50);
  }
}

/** Subscribes to taskEvents and collects them until stopped; resolves once the subscription is live, stop() once it is gone. */
async function watch(filter: Record<string, unknown>): Promise<{ events: Event[]; stop(): Promise<void> }> {
  const events: Event[] = [];
  const feed = app.manager.feed;
  const before = feed.size;
  const unsubscribe = client.subscribe<{ taskEvents: Event }>(
    { query: `subscription ($filter: TaskEventFilter) { taskEvents(filter: $filter) { type taskId payload } }`, variables: { filter } },
    { next: (result) => result.data && events.push(result.data.taskEvents), error: () => {}, complete: () => {} },
  );
  await until("the subscription is live", () => feed.size > before);
  return {
    events,
    async stop() {
      unsubscribe();
      await until("the subscription is gone", () => feed.size <= before);
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(20);
  }
}

beforeAll(async () => {
  app = await startTestApp({ worker: WORKER });
  const { url } = await app.start(0);
  client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
  app.manager.defineModule({ name: "logtest", description: "log tests" });
  // A flow whose "move" step fails on its first execution and succeeds when rerun.
  app.manager.defineTask({
    module: "logtest",
    type: "moves",
    steps: [
      {
        key: "prepare",
        async run(ctx) {
          ctx.log.debug("prepare: detail");
          ctx.log.info("prepare: ready");
          try {
            throw new TypeError("caught and logged");
          } catch (error) {
            ctx.log.warn(error); // an error logged on purpose: message and stack apart
          }
        },
      },
      {
        key: "move",
        async run(ctx) {
          ctx.log.info(`move: try ${ctx.attempt}`);
          if (ctx.attempt === 1) {
            ctx.log.warn("move: Timeout talking to broker 4");
            throw new Error("broker 4 offline");
          }
          ctx.log.info("move: done");
        },
      },
    ],
  });
  // A flow whose steps report no progress of their own: each step's end moves the task's progress.
  app.manager.defineTask({
    module: "logtest",
    type: "three",
    steps: ["a", "b", "c"].map((key) => ({ key, run: () => {} })),
  });
});

afterAll(async () => {
  await client?.dispose();
  await app?.stop();
});

describe("logs of a flow whose step failed and was rerun", () => {
  let id: string;
  let live: { events: Event[]; stop(): Promise<void> };

  beforeAll(async () => {
    live = await watch({ module: "logtest", types: ["LOG_APPENDED"] });
    id = (await ok(`mutation { startTask(input: { module: "logtest", type: "moves" }) { id } }`)).startTask.id;
    expect(await waitForState(id, ["FAILED"])).toBe("FAILED");
    await ok(`mutation ($id: ID!) { rerunStep(taskId: $id, stepKey: "move") { id } }`, { id });
    expect(await waitForState(id, ["SUCCEEDED", "FAILED"])).toBe("SUCCEEDED");
  });
  afterAll(() => live.stop());

  test("filter.attempt returns exactly that attempt's lines, on the task's log (with stepKey) and on the step's", async () => {
    const { task } = await ok(STEPS, { id });
    const move = task.steps.find((s: any) => s.key === "move");
    expect(move.attempts.map((a: any) => `${a.number}:${a.kind}`)).toEqual(["1:EXECUTE", "2:ROLLBACK", "3:RETRY"]);
    for (const attempt of move.attempts) {
      const own = attempt.logs.edges.map((e: { node: Line }) => e.node);
      expect(own.length).toBeGreaterThan(0);
      const viaTask = await taskLogs(id, { filter: { stepKey: "move", attempt: attempt.number } });
      expect(viaTask.lines).toEqual(own);
      expect(viaTask.totalCount).toBe(own.length);
      const viaStep = await ok(STEPS, { id, filter: { attempt: attempt.number } });
      expect(viaStep.task.steps.find((s: any) => s.key === "move").logs.edges.map((e: { node: Line }) => e.node)).toEqual(own);
      expect(own.every((l: Line) => l.attempt!.id === attempt.id && l.step!.key === "move")).toBe(true);
    }
    const messages = async (attempt: number) => (await taskLogs(id, { filter: { stepKey: "move", attempt } })).lines.map((l) => l.message);
    expect(await messages(1)).toEqual(["move: try 1", "move: Timeout talking to broker 4", "broker 4 offline"]);
    expect(await messages(3)).toEqual(["move: try 2", "move: done"]);
    expect(await messages(4)).toEqual([]);
    // stepKey alone: every attempt of that step.
    const all = await taskLogs(id, { filter: { stepKey: "move" } });
    expect(all.lines.every((l) => l.step?.key === "move")).toBe(true);
    expect(all.totalCount).toBe(move.logs.totalCount);
  });

  test("minLevel, search (any case) and since/until narrow the lines; totalCount counts what the filter keeps; cursors page on", async () => {
    const everything = await taskLogs(id);
    expect(everything.totalCount).toBe(everything.lines.length);

    const warn = await taskLogs(id, { filter: { minLevel: "WARN" } });
    expect(warn.lines).toEqual(everything.lines.filter((l) => l.level === "WARN" || l.level === "ERROR"));
    expect(warn.totalCount).toBe(warn.lines.length);
    expect((await taskLogs(id, { filter: { minLevel: "DEBUG" } })).lines).toEqual(everything.lines);
    expect((await taskLogs(id, { filter: { minLevel: "INFO" } })).lines.map((l) => l.message)).not.toContain("prepare: detail");

    const timeout = await taskLogs(id, { filter: { search: "TIMEOUT" } });
    expect(timeout.lines.map((l) => l.message)).toEqual(["move: Timeout talking to broker 4"]);
    expect((await taskLogs(id, { filter: { search: "timeout", minLevel: "ERROR" } })).lines).toEqual([]);

    // since is inclusive, until exclusive, both on the line's time.
    const pivot = everything.lines[Math.floor(everything.lines.length / 2)]!.time;
    const since = await taskLogs(id, { filter: { since: pivot } });
    const before = await taskLogs(id, { filter: { until: pivot } });
    expect(since.lines).toEqual(everything.lines.filter((l) => Date.parse(l.time) >= Date.parse(pivot)));
    expect(before.lines).toEqual(everything.lines.filter((l) => Date.parse(l.time) < Date.parse(pivot)));
    expect(since.totalCount + before.totalCount).toBe(everything.totalCount);
    expect((await taskLogs(id, { filter: { since: pivot, until: pivot } })).lines).toEqual([]);

    // A filtered list pages with stable cursors.
    const first = await ok(TASK_LOGS, { id, filter: { minLevel: "WARN" }, first: 1 });
    const next = await ok(TASK_LOGS, { id, filter: { minLevel: "WARN" }, first: 10, after: first.task.logs.pageInfo.endCursor });
    expect([...first.task.logs.edges, ...next.task.logs.edges].map((e: any) => e.node)).toEqual(warn.lines);
  });

  test("an error thrown by a step, or logged with ctx.log: the message without its stack, the stack (relative paths) in `stack`", async () => {
    const { lines } = await taskLogs(id);
    const thrown = lines.find((l) => l.level === "ERROR")!;
    expect(thrown.message).toBe("broker 4 offline");
    expect(thrown.stack).toContain("    at ");
    expect(thrown.stack).toMatch(/test\/logs-progress\.test\.ts:\d+:\d+/);
    expect(thrown.stack).not.toContain(process.cwd());
    const logged = lines.find((l) => l.message === "caught and logged")!;
    expect(logged).toMatchObject({ level: "WARN", step: { key: "prepare" } });
    expect(logged.stack).toMatch(/^TypeError: caught and logged\n\s+at /);
    for (const line of lines) {
      expect(line.message).not.toMatch(/\n|\bat .*:\d+:\d+/);
      if (line !== thrown && line !== logged) expect(line.stack).toBeNull();
    }
  });

  test("live LOG_APPENDED events name the step, the attempt (ids, number, kind) and the line's time", async () => {
    const { lines } = await taskLogs(id);
    await until("an event per line", () => live.events.filter((e) => e.taskId === id).length >= lines.length);
    const events = live.events.filter((e) => e.taskId === id);
    expect(events.map((e) => `LogEntry:${e.payload.logId}`)).toEqual(lines.map((l) => l.id));
    lines.forEach((line, i) => {
      const { payload } = events[i]!;
      expect(payload).toEqual({
        logId: expect.any(String),
        level: line.level,
        message: line.message,
        time: line.time,
        stepKey: line.step?.key ?? null,
        stepId: line.step?.id ?? null,
        attemptId: line.attempt?.id ?? null,
        attempt: line.attempt?.number ?? null,
        attemptKind: line.attempt?.kind ?? null,
      });
      expect(payload).not.toHaveProperty("stack");
    });
    expect(events.some((e) => e.payload.attempt === 3 && e.payload.attemptKind === "RETRY")).toBe(true);
  });
});

describe("a task's own lines", () => {
  test("includeSteps: false lists only the lines of no step; their live events have null step fields", async () => {
    const live = await watch({ module: "logtest", types: ["LOG_APPENDED"] });
    try {
      const id = (await ok(`mutation { startTask(input: { module: "logtest", type: "moves" }) { id } }`)).startTask.id;
      await waitForState(id, ["FAILED"]);
      await ok(`mutation ($id: ID!) { abortTask(id: $id, rollback: true) { id } }`, { id });
      await waitForState(id, ["CANCELED"]);
      const all = await taskLogs(id);
      const own = await taskLogs(id, { includeSteps: false });
      expect(own.lines).toEqual(all.lines.filter((l) => l.step === null));
      expect(own.lines.map((l) => l.message)).toEqual([expect.stringMatching(/^Abort requested/)]);
      expect(own.totalCount).toBe(1);
      expect(all.totalCount).toBeGreaterThan(own.totalCount);
      expect((await taskLogs(id, { includeSteps: false, filter: { minLevel: "ERROR" } })).lines).toEqual([]);
      await until("the abort line's event", () => live.events.some((e) => e.taskId === id && e.payload.stepKey === null));
      const event = live.events.find((e) => e.taskId === id && e.payload.stepKey === null)!;
      expect(event.payload).toMatchObject({ level: "WARN", stepId: null, attemptId: null, attempt: null, attemptKind: null, time: own.lines[0]!.time });
    } finally {
      await live.stop();
    }
  });

  test("filters that make no sense where they are asked are refused (BAD_USER_INPUT), and so are overlong texts", async () => {
    const id = (await ok(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, steps: 1 }) { id } }`)).createTestTask.id;
    const refused = async (query: string, variables: Record<string, unknown>) => expect(codes(await app.gql(query, variables))).toEqual(["BAD_USER_INPUT"]);
    await refused(TASK_LOGS, { id, filter: { attempt: 1 } }); // attempts are numbered per step
    await refused(TASK_LOGS, { id, filter: { stepKey: "step-1", attempt: 0 } });
    await refused(TASK_LOGS, { id, includeSteps: false, filter: { stepKey: "step-1" } });
    await refused(TASK_LOGS, { id, filter: { search: "x".repeat(201) } });
    await refused(TASK_LOGS, { id, filter: { stepKey: "x".repeat(201) } });
    await refused(STEPS, { id, filter: { stepKey: "step-1" } });
    await refused(`query ($id: ID!) { task(id: $id) { steps { attempts { logs(filter: { attempt: 1 }) { totalCount } } } } }`, { id });
    await refused(`query ($id: ID!) { task(id: $id) { steps { attempts { logs(filter: { stepKey: "step-1" }) { totalCount } } } } }`, { id });
  });
});

describe("step progress", () => {
  test("a flow step's own progress rises monotonically to 1, live, and the task's progress is the default sum all along", async () => {
    const live = await watch({ module: "test", types: ["PROGRESSED", "STATE_CHANGED"] });
    let id = "";
    try {
      id = (await ok(`mutation { createTestTask(input: { rounds: 5, roundMs: 40, steps: 3 }) { id } }`)).createTestTask.id;
      await until("the task's end", () => live.events.some((e) => e.taskId === id && e.type === "STATE_CHANGED" && e.payload.to === "SUCCEEDED"));
    } finally {
      await live.stop();
    }
    const progressed = live.events.filter((e) => e.taskId === id && e.type === "PROGRESSED");
    const stepReports = progressed.filter((e) => e.payload.stepKey);
    const keys = ["step-1", "step-2", "step-3"];
    for (const [index, key] of keys.entries()) {
      const fractions = stepReports.filter((e) => e.payload.stepKey === key).map((e) => e.payload.step.completed / e.payload.step.total);
      expect(fractions.length, key).toBeGreaterThanOrEqual(2); // it moved while we watched
      for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
      expect(fractions.at(-1)).toBe(1);
      // The task's progress in the same event: the steps before done, plus this step's fraction, of 3.
      for (const event of stepReports.filter((e) => e.payload.stepKey === key)) {
        expect(event.payload.total).toBe(3);
        expect(event.payload.completed).toBeCloseTo(index + event.payload.step.completed / event.payload.step.total, 9);
      }
    }
    // The task's own sequence never goes back and ends at 3 of 3.
    const task = progressed.map((e) => e.payload.completed as number);
    for (let i = 1; i < task.length; i++) expect(task[i]).toBeGreaterThanOrEqual(task[i - 1]!);
    expect(progressed.at(-1)!.payload).toMatchObject({ completed: 3, total: 3 });

    const { task: done } = await ok(
      `query ($id: ID!) { task(id: $id) { progress { units total completed fraction } steps { id progress { id completed total fraction } } } }`,
      { id },
    );
    expect(done.progress).toEqual({ units: "steps", total: 3, completed: 3, fraction: 1 });
    for (const step of done.steps) {
      expect(step.progress).toEqual({ id: `StepProgress:${step.id.slice("Step:".length)}`, completed: 5, total: 5, fraction: 1 });
      const { node } = await ok(`query ($id: ID!) { node(id: $id) { ... on StepProgress { id completed total } } }`, { id: step.progress.id });
      expect(node).toEqual({ id: step.progress.id, completed: 5, total: 5 });
    }
  });

  test("a step's end, the flow progress it moves and the next step's start are one change: consecutive versions at the same time", async () => {
    // A flow's progress counts its steps from its creation: 0 of 3 while it waits.
    const later = (await ok(`mutation { startTask(input: { module: "logtest", type: "three", runAt: "2999-01-01T00:00:00Z" }) { progress { completed total } } }`)).startTask;
    expect(later.progress).toEqual({ completed: 0, total: 3 });
    const id = (await ok(`mutation { startTask(input: { module: "logtest", type: "three" }) { id } }`)).startTask.id;
    await waitForState(id, ["SUCCEEDED"]);
    const { task } = await ok(`query ($id: ID!) { task(id: $id) { events(first: 500) { edges { node { type version at payload } } } } }`, { id });
    const events: { type: string; version: number; at: string; payload: any }[] = task.events.edges.map((e: { node: unknown }) => e.node);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1)); // every change, once, in order
    const ends = events.filter((e) => e.type === "STEP_CHANGED" && e.payload.to === "SUCCEEDED");
    expect(ends.map((e) => e.payload.stepKey)).toEqual(["a", "b", "c"]);
    for (const [index, end] of ends.entries()) {
      const [progressed, started] = events.slice(events.indexOf(end) + 1, events.indexOf(end) + 3);
      // No reader of the journal sees the step done while the task's progress lags behind it.
      expect(progressed).toMatchObject({ type: "PROGRESSED", version: end.version + 1, at: end.at, payload: { completed: index + 1, total: 3 } });
      if (index === 2) continue;
      expect(started).toMatchObject({ type: "STEP_CHANGED", version: end.version + 2, at: end.at, payload: { stepKey: ["b", "c"][index], from: "WAITING", to: "RUNNING", attempt: 1, attemptKind: "EXECUTE" } });
    }
    // The first step starts after the claim; nothing but the steps' changes is written before the end.
    expect(events.map((e) => `${e.type}:${e.payload.stepKey ?? e.payload.to ?? e.payload.completed ?? ""}`)).toEqual([
      "CREATED:", "STATE_CHANGED:RUNNING", "STEP_CHANGED:a", "STEP_CHANGED:a", "PROGRESSED:1", "STEP_CHANGED:b",
      "STEP_CHANGED:b", "PROGRESSED:2", "STEP_CHANGED:c", "STEP_CHANGED:c", "PROGRESSED:3", "STATE_CHANGED:SUCCEEDED",
    ]);
  });

  test("a rerun step starts its progress again from 0 (a new attempt)", async () => {
    const id = (await ok(`mutation { createTestTask(input: { rounds: 4, roundMs: 10, steps: 2, failAtRound: 6 }) { id } }`)).createTestTask.id;
    await waitForState(id, ["FAILED"]);
    const failed = (await ok(`query ($id: ID!) { task(id: $id) { progress { completed total } steps { key state progress { completed total } } } }`, { id })).task;
    // step-2 failed at its 2nd round (round 6 of the flow); step-1 is done: the task has 1 of 2.
    expect(failed.steps.map((s: any) => [s.key, s.state, s.progress.completed, s.progress.total])).toEqual([
      ["step-1", "SUCCEEDED", 4, 4],
      ["step-2", "FAILED", 2, 4],
    ]);
    expect(failed.progress).toEqual({ completed: 1, total: 2 });
    await ok(`mutation ($id: ID!) { rerunStep(taskId: $id, stepKey: "step-2") { id } }`, { id });
    await waitForState(id, ["SUCCEEDED"]);
    const done = (await ok(`query ($id: ID!) { task(id: $id) { progress { completed total } steps { progress { completed total } } } }`, { id })).task;
    expect(done.progress).toEqual({ completed: 2, total: 2 });
    expect(done.steps.map((s: any) => s.progress)).toEqual([{ completed: 4, total: 4 }, { completed: 4, total: 4 }]);
  });
});
