// Unit tests of the pure domain: state machines, categories, available actions, flows and ids.
// Expected tables are written out here by hand from the documented state machines and extensions in
// src/domain/states.ts; they are deliberately NOT derived from the module under test.
import { describe, expect, test } from "vitest";
import type { TaskAction, StepAction } from "../src/domain/actions";
import { stepActions, taskActions } from "../src/domain/actions";
import { TaskgraphError } from "../src/domain/errors";
import { flowEdges, resolveFlow } from "../src/domain/flow";
import { isUuid, newId, parseUuid } from "../src/domain/ids";
import type { StepState, TaskCategory, TaskState } from "../src/domain/states";
import {
  STEP_STATES,
  TASK_STATES,
  assertStepTransition,
  assertTaskTransition,
  canTransitionStep,
  canTransitionTask,
  categoryOf,
  isEnded,
  isPending,
  stepTransitions,
  taskTransitions,
} from "../src/domain/states";

// ---------------------------------------------------------------------------------------------
// Helpers

/** Runs `fn`, expects it to throw a TaskgraphError and returns it. */
function catchTaskgraphError(fn: () => unknown): TaskgraphError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TaskgraphError);
    return error as TaskgraphError;
  }
  throw new Error("expected a TaskgraphError, but nothing was thrown");
}

const sorted = <T extends string>(xs: readonly T[]) => [...xs].sort();

// ---------------------------------------------------------------------------------------------
// Expected tables (hand-written)

const ALL_TASK_STATES: TaskState[] = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"];
const ALL_STEP_STATES: StepState[] = ["WAITING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "ROLLING_BACK", "ROLLED_BACK"];

/**
 * Task state machine, row = from, columns = to. "x" = legal.
 *   SCHEDULED → QUEUED; QUEUED → RUNNING; RUNNING → SUCCEEDED | FAILED | CANCELED
 *   FAILED → RUNNING (retry / rerun / mark succeeded), FAILED → CANCELED (abort with rollback)
 *   FAILED → SCHEDULED (an automatic retry of a plain task, waiting for its time)
 *   pending → CANCELED (abort before it ran), pending → FAILED (openATTIC: deleted while pending)
 *   A task whose lease expired stays RUNNING (another worker claims it as it is): no RUNNING → QUEUED.
 */
// prettier-ignore
const TASK_TABLE: Record<TaskState, Record<TaskState, boolean>> = {
  //            SCHEDULED QUEUED  RUNNING SUCCEEDED FAILED CANCELED
  SCHEDULED: { SCHEDULED: false, QUEUED: true,  RUNNING: false, SUCCEEDED: false, FAILED: true,  CANCELED: true  },
  QUEUED:    { SCHEDULED: false, QUEUED: false, RUNNING: true,  SUCCEEDED: false, FAILED: true,  CANCELED: true  },
  RUNNING:   { SCHEDULED: false, QUEUED: false, RUNNING: false, SUCCEEDED: true,  FAILED: true,  CANCELED: true  },
  SUCCEEDED: { SCHEDULED: false, QUEUED: false, RUNNING: false, SUCCEEDED: false, FAILED: false, CANCELED: false },
  FAILED:    { SCHEDULED: true,  QUEUED: false, RUNNING: true,  SUCCEEDED: false, FAILED: false, CANCELED: true  },
  CANCELED:  { SCHEDULED: false, QUEUED: false, RUNNING: false, SUCCEEDED: false, FAILED: false, CANCELED: false },
};

/**
 * Step state machine.
 *   WAITING → RUNNING → SUCCEEDED | FAILED; FAILED → SKIPPED (set to successful)
 *   SUCCEEDED | FAILED → ROLLING_BACK → ROLLED_BACK (or FAILED when the rollback fails)
 *   FAILED | ROLLED_BACK → RUNNING (rerun: a new attempt)
 */
// prettier-ignore
const STEP_TABLE: Record<StepState, Record<StepState, boolean>> = {
  WAITING:      { WAITING: false, RUNNING: true,  SUCCEEDED: false, FAILED: false, SKIPPED: false, ROLLING_BACK: false, ROLLED_BACK: false },
  RUNNING:      { WAITING: false, RUNNING: false, SUCCEEDED: true,  FAILED: true,  SKIPPED: false, ROLLING_BACK: false, ROLLED_BACK: false },
  SUCCEEDED:    { WAITING: false, RUNNING: false, SUCCEEDED: false, FAILED: false, SKIPPED: false, ROLLING_BACK: true,  ROLLED_BACK: false },
  FAILED:       { WAITING: false, RUNNING: true,  SUCCEEDED: false, FAILED: false, SKIPPED: true,  ROLLING_BACK: true,  ROLLED_BACK: false },
  SKIPPED:      { WAITING: false, RUNNING: false, SUCCEEDED: false, FAILED: false, SKIPPED: false, ROLLING_BACK: false, ROLLED_BACK: false },
  ROLLING_BACK: { WAITING: false, RUNNING: false, SUCCEEDED: false, FAILED: true,  SKIPPED: false, ROLLING_BACK: false, ROLLED_BACK: true  },
  ROLLED_BACK:  { WAITING: false, RUNNING: true,  SUCCEEDED: false, FAILED: false, SKIPPED: false, ROLLING_BACK: false, ROLLED_BACK: false },
};

const TASK_PAIRS = ALL_TASK_STATES.flatMap((from) => ALL_TASK_STATES.map((to) => ({ from, to, legal: TASK_TABLE[from][to] })));
const STEP_PAIRS = ALL_STEP_STATES.flatMap((from) => ALL_STEP_STATES.map((to) => ({ from, to, legal: STEP_TABLE[from][to] })));

const CATEGORY: Record<TaskState, TaskCategory> = {
  SCHEDULED: "SCHEDULED",
  QUEUED: "PENDING",
  RUNNING: "PENDING",
  SUCCEEDED: "FINISHED",
  FAILED: "FAILED",
  CANCELED: "FAILED",
};

// prettier-ignore
const TASK_ACTIONS_TABLE: Record<TaskState, { abortable: TaskAction[]; notAbortable: TaskAction[] }> = {
  SCHEDULED: { abortable: ["ABORT", "FORCE_DELETE"],    notAbortable: [] },
  QUEUED:    { abortable: ["ABORT", "FORCE_DELETE"],    notAbortable: [] },
  RUNNING:   { abortable: ["ABORT", "FORCE_DELETE"],    notAbortable: [] },
  SUCCEEDED: { abortable: ["DELETE"],                   notAbortable: ["DELETE"] },
  FAILED:    { abortable: ["ABORT", "DELETE", "RETRY"], notAbortable: ["ABORT", "DELETE", "RETRY"] },
  CANCELED:  { abortable: ["DELETE"],                   notAbortable: ["DELETE"] },
};

/** Step actions: only these (step state, task state) combinations allow anything. */
const STEP_ACTIONS_TABLE: { step: StepState; task: TaskState; actions: StepAction[] }[] = [
  { step: "FAILED", task: "FAILED", actions: ["RERUN", "MARK_SUCCEEDED"] },
  { step: "RUNNING", task: "RUNNING", actions: ["TERMINATE"] },
];

// ---------------------------------------------------------------------------------------------

describe("state lists", () => {
  test("the module lists exactly the task and step states of the design, in declaration order", () => {
    expect([...TASK_STATES]).toEqual(ALL_TASK_STATES);
    expect([...STEP_STATES]).toEqual(ALL_STEP_STATES);
  });

  test("the transition listings for docs name exactly the legal pairs", () => {
    const legalTask = TASK_PAIRS.filter((p) => p.legal).map((p) => `${p.from}->${p.to}`);
    const legalStep = STEP_PAIRS.filter((p) => p.legal).map((p) => `${p.from}->${p.to}`);
    expect(sorted(taskTransitions().map(([f, t]) => `${f}->${t}`))).toEqual(sorted(legalTask));
    expect(sorted(stepTransitions().map(([f, t]) => `${f}->${t}`))).toEqual(sorted(legalStep));
  });
});

describe("task state machine", () => {
  test("the expected table has every one of the 36 (from, to) pairs", () => {
    expect(TASK_PAIRS).toHaveLength(36);
    expect(TASK_PAIRS.filter((p) => p.legal)).toHaveLength(12);
  });

  test.each(TASK_PAIRS.filter((p) => p.legal))("a task may go from $from to $to", ({ from, to }) => {
    expect(canTransitionTask(from, to)).toBe(true);
    expect(() => assertTaskTransition(from, to, "t-1")).not.toThrow();
  });

  test.each(TASK_PAIRS.filter((p) => !p.legal))("a task is refused going from $from to $to (INVALID_STATE)", ({ from, to }) => {
    expect(canTransitionTask(from, to)).toBe(false);
    const error = catchTaskgraphError(() => assertTaskTransition(from, to, "t-1"));
    expect(error.code).toBe("INVALID_STATE");
    expect(error.message).toContain(from);
    expect(error.message).toContain(to);
    expect(error.message).toContain("t-1");
    expect(error.details).toMatchObject({ from, to, taskId: "t-1" });
  });

  test("the refusal reads well without a task id", () => {
    const error = catchTaskgraphError(() => assertTaskTransition("SUCCEEDED", "RUNNING"));
    expect(error.message).toBe("Task is SUCCEEDED and cannot become RUNNING");
  });

  test("finished tasks (SUCCEEDED, CANCELED) never change state again", () => {
    for (const to of ALL_TASK_STATES) {
      expect(canTransitionTask("SUCCEEDED", to)).toBe(false);
      expect(canTransitionTask("CANCELED", to)).toBe(false);
    }
  });
});

describe("step state machine", () => {
  test("the expected table has every one of the 49 (from, to) pairs", () => {
    expect(STEP_PAIRS).toHaveLength(49);
    expect(STEP_PAIRS.filter((p) => p.legal)).toHaveLength(10);
  });

  test.each(STEP_PAIRS.filter((p) => p.legal))("a step may go from $from to $to", ({ from, to }) => {
    expect(canTransitionStep(from, to)).toBe(true);
    expect(() => assertStepTransition(from, to, "s1")).not.toThrow();
  });

  test.each(STEP_PAIRS.filter((p) => !p.legal))("a step is refused going from $from to $to (INVALID_STATE)", ({ from, to }) => {
    expect(canTransitionStep(from, to)).toBe(false);
    const error = catchTaskgraphError(() => assertStepTransition(from, to, "s1"));
    expect(error.code).toBe("INVALID_STATE");
    expect(error.message).toContain(from);
    expect(error.message).toContain(to);
    expect(error.message).toContain('"s1"');
    expect(error.details).toMatchObject({ from, to, stepKey: "s1" });
  });

  test("the refusal reads well without a step key", () => {
    const error = catchTaskgraphError(() => assertStepTransition("WAITING", "SUCCEEDED"));
    expect(error.message).toBe("Step is WAITING and cannot become SUCCEEDED");
  });
});

describe("categories", () => {
  test.each(ALL_TASK_STATES)("%s is in the category the design gives it", (state) => {
    expect(categoryOf(state)).toBe(CATEGORY[state]);
    // The runtime's "pending" is broader than the PENDING tab: a SCHEDULED task has not ended either.
    expect(isPending(state)).toBe(CATEGORY[state] === "PENDING" || CATEGORY[state] === "SCHEDULED");
    expect(isEnded(state)).toBe(!isPending(state));
  });
});

describe("available task actions", () => {
  test.each(ALL_TASK_STATES)("a %s task offers the expected actions, abortable or not", (state) => {
    expect(sorted(taskActions({ state, isAbortable: true }))).toEqual(sorted(TASK_ACTIONS_TABLE[state].abortable));
    expect(sorted(taskActions({ state, isAbortable: false }))).toEqual(sorted(TASK_ACTIONS_TABLE[state].notAbortable));
  });

  test("a pending task can never be deleted without force, and a finished one never needs force", () => {
    for (const state of ALL_TASK_STATES) {
      for (const isAbortable of [true, false]) {
        const actions = taskActions({ state, isAbortable });
        expect(actions.includes("DELETE") && actions.includes("FORCE_DELETE")).toBe(false);
      }
    }
  });
});

describe("available step actions", () => {
  const cases = ALL_STEP_STATES.flatMap((step) =>
    ALL_TASK_STATES.map((task) => ({
      step,
      task,
      actions: STEP_ACTIONS_TABLE.find((c) => c.step === step && c.task === task)?.actions ?? [],
    })),
  );

  test.each(cases)("a $step step of a $task task offers $actions", ({ step, task, actions }) => {
    expect(sorted(stepActions({ state: step }, { state: task }))).toEqual(sorted(actions));
  });

  test("a waiting step allows no action whatever its task's state (OCP)", () => {
    for (const task of ALL_TASK_STATES) expect(stepActions({ state: "WAITING" }, { state: task })).toEqual([]);
  });
});

describe("resolveFlow", () => {
  test("steps without dependsOn run one after the other, names default to keys", () => {
    expect(resolveFlow([{ key: "a" }, { key: "b", name: "Bee" }, { key: "c" }])).toEqual([
      { key: "a", name: "a", index: 0, dependsOn: [] },
      { key: "b", name: "Bee", index: 1, dependsOn: ["a"] },
      { key: "c", name: "c", index: 2, dependsOn: ["b"] },
    ]);
  });

  test("an explicit empty dependsOn means the step waits for nothing", () => {
    expect(resolveFlow([{ key: "a" }, { key: "b", dependsOn: [] }, { key: "c" }]).map((s) => s.dependsOn)).toEqual([[], [], ["b"]]);
  });

  test("explicit dependencies form any DAG, e.g. a diamond", () => {
    const flow = resolveFlow([
      { key: "start" },
      { key: "left", dependsOn: ["start"] },
      { key: "right", dependsOn: ["start"] },
      { key: "join", dependsOn: ["left", "right"] },
    ]);
    expect(flow.map((s) => [s.key, s.dependsOn])).toEqual([
      ["start", []],
      ["left", ["start"]],
      ["right", ["start"]],
      ["join", ["left", "right"]],
    ]);
  });

  test("a step may depend on a step listed after it", () => {
    expect(resolveFlow([{ key: "b", dependsOn: ["a"] }, { key: "a", dependsOn: [] }]).map((s) => s.dependsOn)).toEqual([["a"], []]);
  });

  test("resolving does not share arrays with the caller's spec", () => {
    const deps = ["a"];
    const [, b] = resolveFlow([{ key: "a" }, { key: "b", dependsOn: deps }]);
    b!.dependsOn.push("x");
    expect(deps).toEqual(["a"]);
  });

  test("no steps is an empty flow", () => {
    expect(resolveFlow([])).toEqual([]);
  });

  test("a key used twice is refused", () => {
    const error = catchTaskgraphError(() => resolveFlow([{ key: "a" }, { key: "b" }, { key: "a" }]));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe('Step key "a" is used twice');
  });

  test("a dependency on a step that does not exist is refused", () => {
    const error = catchTaskgraphError(() => resolveFlow([{ key: "a" }, { key: "b", dependsOn: ["nope"] }]));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe('Step "b" depends on unknown step "nope"');
  });

  test("a step depending on itself is refused", () => {
    const error = catchTaskgraphError(() => resolveFlow([{ key: "a", dependsOn: ["a"] }]));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe('Step "a" depends on itself');
  });

  test("a cycle is refused and the message shows the cycle's path", () => {
    // a waits for c, c for b, b for a.
    const error = catchTaskgraphError(() =>
      resolveFlow([
        { key: "a", dependsOn: ["c"] },
        { key: "b", dependsOn: ["a"] },
        { key: "c", dependsOn: ["b"] },
      ]),
    );
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe("Steps form a cycle: a → c → b → a");
  });

  test("a cycle deeper in the flow names only the steps on the cycle", () => {
    const error = catchTaskgraphError(() =>
      resolveFlow([
        { key: "root", dependsOn: [] },
        { key: "entry", dependsOn: ["root", "p"] },
        { key: "p", dependsOn: ["q"] },
        { key: "q", dependsOn: ["p"] },
      ]),
    );
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe("Steps form a cycle: p → q → p");
  });

  test("a two-step cycle is refused", () => {
    const error = catchTaskgraphError(() => resolveFlow([{ key: "x", dependsOn: ["y"] }, { key: "y" }]));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe("Steps form a cycle: x → y → x");
  });

  test.each(["", " a", "a b", "-a", "_a", ".a", "a/b", "ä", "a".repeat(101), "a\n"])("the malformed key %j is refused", (key) => {
    const error = catchTaskgraphError(() => resolveFlow([{ key }]));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toContain("must be 1–100 letters, digits or _.:- characters");
  });

  test.each(["a", "Z9", "0", "a_b.c:d-e", "a".repeat(100)])("the key %j is accepted", (key) => {
    expect(resolveFlow([{ key }])[0]!.key).toBe(key);
  });

  test("a flow of 200 steps is accepted and 201 is refused", () => {
    const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `s${i}` }));
    expect(resolveFlow(steps(200))).toHaveLength(200);
    const error = catchTaskgraphError(() => resolveFlow(steps(201)));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe("A task has at most 200 steps, got 201");
  });
});

describe("flowEdges", () => {
  test("edges point from each dependency to the step that waits for it, in step order", () => {
    expect(
      flowEdges([
        { key: "a", dependsOn: [] },
        { key: "b", dependsOn: ["a"] },
        { key: "c", dependsOn: ["a", "b"] },
      ]),
    ).toEqual([
      { from: "a", to: "b" },
      { from: "a", to: "c" },
      { from: "b", to: "c" },
    ]);
  });

  test("a flow without dependencies has no edges", () => {
    expect(flowEdges([{ key: "a", dependsOn: [] }, { key: "b", dependsOn: [] }])).toEqual([]);
    expect(flowEdges([])).toEqual([]);
  });

  test("a sequential flow from resolveFlow is a chain", () => {
    expect(flowEdges(resolveFlow([{ key: "a" }, { key: "b" }, { key: "c" }]))).toEqual([
      { from: "a", to: "b" },
      { from: "b", to: "c" },
    ]);
  });
});

describe("ids", () => {
  test("a valid UUID is accepted and returned in lower case", () => {
    expect(parseUuid("0190f5a2-7c3e-7a4b-8c9d-0123456789ab")).toBe("0190f5a2-7c3e-7a4b-8c9d-0123456789ab");
    expect(parseUuid("0190F5A2-7C3E-7A4B-8C9D-0123456789AB")).toBe("0190f5a2-7c3e-7a4b-8c9d-0123456789ab");
  });

  test.each(["", "nope", "0190f5a2-7c3e-7a4b-8c9d-0123456789a", "0190f5a2-7c3e-7a4b-8c9d-0123456789abc", "0190f5a27c3e7a4b8c9d0123456789ab", "g190f5a2-7c3e-7a4b-8c9d-0123456789ab", " 0190f5a2-7c3e-7a4b-8c9d-0123456789ab"])(
    "the malformed id %j is BAD_USER_INPUT",
    (value) => {
      const error = catchTaskgraphError(() => parseUuid(value));
      expect(error.code).toBe("BAD_USER_INPUT");
      expect(error.message).toBe(`id must be a UUID, got "${value}"`);
      expect(error.details).toEqual({ id: value });
    },
  );

  test("the error names the argument and shortens a very long value", () => {
    const value = "x".repeat(100);
    const error = catchTaskgraphError(() => parseUuid(value, "taskId"));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toBe(`taskId must be a UUID, got "${"x".repeat(60)}…"`);
    expect(error.details).toEqual({ taskId: value });
  });

  test("new ids are version-7 UUIDs that sort in creation order", () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
