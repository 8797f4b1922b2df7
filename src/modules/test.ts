// The built-in `test` module: openATTIC's test task, which counts N rounds of about a second each,
// plus a flow variant (one rollback per step) and a ScyllaDB-like tree (a CLUSTER root, a child
// per node, an internal grandchild under each). `failAtRound` injects a failure — on the first
// attempt only (or the first `failAttempts`), so a retry or rerun shows recovery.
import { setTimeout as sleep } from "node:timers/promises";
import { badInput } from "../domain/errors";
import type { TaskContext } from "../runtime/context";
import type { StepDefinition, TaskRegistry } from "../runtime/registry";

/** Anything tasks can be defined on: a TaskManager or its registry. */
export type TaskDefiner = Pick<TaskRegistry, "defineModule" | "defineTask">;

export interface CountInput {
  rounds: number;
  roundMs: number;
  failAtRound: number | null;
  /** failAtRound fails this many attempts (1: the first only), so automatic retries can be watched. */
  failAttempts: number;
  abortable: boolean;
  /** A flow of this many steps, each counting `rounds` rounds. */
  steps: number;
  /** A tree: this many children, each on its own node with an internal grandchild. */
  children: number;
}

export const TEST_LIMITS = { rounds: 100_000, roundMs: 60_000, steps: 50, children: 1_000, failAttempts: 100 } as const;

function whole(input: Record<string, unknown>, name: string, min: number, max: number, fallback?: number): number {
  const value = input[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${name} must be a whole number from ${min} to ${max}`, { field: name });
  }
  return value;
}

export function parseCountInput(raw: unknown): CountInput {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw badInput("input must be an object");
  const input = raw as Record<string, unknown>;
  const rounds = whole(input, "rounds", 1, TEST_LIMITS.rounds);
  const steps = whole(input, "steps", 0, TEST_LIMITS.steps, 0);
  const failAtRound =
    input.failAtRound == null ? null : whole(input, "failAtRound", 1, Math.max(1, rounds * Math.max(1, steps)));
  if (input.abortable != null && typeof input.abortable !== "boolean") throw badInput("abortable must be true or false");
  return {
    rounds,
    roundMs: whole(input, "roundMs", 0, TEST_LIMITS.roundMs, 1000),
    failAtRound,
    failAttempts: whole(input, "failAttempts", 1, TEST_LIMITS.failAttempts, 1),
    abortable: (input.abortable as boolean | undefined) ?? true,
    steps,
    children: whole(input, "children", 0, TEST_LIMITS.children, 0),
  };
}

/**
 * The JSON Schema (draft 2020-12) of a test task's input, for the catalogue (the module uses no
 * schema library at run time). parseCountInput remains the check; this says the same in JSON Schema,
 * except failAtRound's upper bound (rounds × steps), which only parseCountInput knows.
 */
export const COUNT_INPUT_JSON_SCHEMA: Record<string, unknown> = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    rounds: { type: "integer", minimum: 1, maximum: TEST_LIMITS.rounds, description: "Rounds to count." },
    roundMs: { type: "integer", minimum: 0, maximum: TEST_LIMITS.roundMs, default: 1000, description: "Milliseconds per round." },
    failAtRound: { type: ["integer", "null"], minimum: 1, description: "Fail at this round (of the whole task), on the first attempt only (or the first failAttempts)." },
    failAttempts: { type: "integer", minimum: 1, maximum: TEST_LIMITS.failAttempts, default: 1, description: "How many attempts failAtRound fails." },
    abortable: { type: ["boolean", "null"], default: true, description: "Whether abortTask is accepted." },
    steps: { type: "integer", minimum: 0, maximum: TEST_LIMITS.steps, default: 0, description: "A flow of this many steps (flow)." },
    children: { type: "integer", minimum: 0, maximum: TEST_LIMITS.children, default: 0, description: "Children of a tree (tree)." },
  },
  required: ["rounds"],
};

/**
 * Counts rounds [from+1 … from+rounds] of the whole task, reporting `rounds` done of `rounds` (a
 * step's own progress in a flow, the task's otherwise); fails at failAtRound on the first
 * failAttempts attempts.
 */
async function countRounds(ctx: TaskContext<CountInput>, from: number) {
  const { rounds, roundMs, failAtRound, failAttempts } = ctx.input;
  for (let round = from + 1; round <= from + rounds; round++) {
    if (roundMs > 0) await sleep(roundMs, undefined, { signal: ctx.signal });
    else await new Promise((resolve) => setImmediate(resolve)); // let others run between rounds
    ctx.signal.throwIfAborted();
    ctx.progress.set(round - from, rounds);
    if (round === failAtRound && ctx.attempt <= failAttempts) throw new Error(`Failed at round ${round}, as asked (failAtRound)`);
  }
}

/**
 * Defines the built-in `test` module (count, flow, tree) on a manager or registry. The servers
 * `npm start` runs have it; an embedding program adds it only when it asks for it.
 */
export function defineTestModule(registry: TaskDefiner): void {
  registry.defineModule({ name: "test", description: "Test tasks: count rounds, flows with rollbacks, trees of tasks" });
  const abortable = (input: CountInput) => input.abortable;

  registry.defineTask<CountInput>({
    module: "test",
    type: "count",
    description: "Counts rounds of roundMs each (openATTIC's test task).",
    progressUnits: "rounds",
    abortable,
    parseInput: parseCountInput,
    inputJsonSchema: COUNT_INPUT_JSON_SCHEMA,
    name: (input) => `Count ${input.rounds} round(s)`,
    async run(ctx) {
      await countRounds(ctx, 0);
      return { rounds: ctx.input.rounds };
    },
  });

  registry.defineTask<CountInput>({
    module: "test",
    type: "flow",
    description:
      "A flow of `steps` steps, each counting rounds as its own progress (Step.progress); the task's progress counts steps. Each step has a rollback.",
    progressUnits: "steps",
    abortable,
    parseInput: parseCountInput,
    inputJsonSchema: COUNT_INPUT_JSON_SCHEMA,
    name: (input) => `Flow of ${input.steps} step(s)`,
    steps: (input) =>
      Array.from({ length: input.steps }, (_, i): StepDefinition<CountInput> => ({
        key: `step-${i + 1}`,
        name: `Step ${i + 1}: count ${input.rounds} round(s)`,
        run: (ctx) => countRounds(ctx, i * input.rounds),
        rollback: (ctx) => ctx.log.info(`Rolled back step ${i + 1}`),
      })),
  });

  registry.defineTask<CountInput>({
    module: "test",
    type: "limited-count",
    description: "Counts rounds like count, at most 2 at once across every worker (a concurrency limit): the others wait QUEUED.",
    progressUnits: "rounds",
    abortable,
    concurrency: 2,
    parseInput: parseCountInput,
    inputJsonSchema: COUNT_INPUT_JSON_SCHEMA,
    name: (input) => `Count ${input.rounds} round(s), 2 at most at once`,
    async run(ctx) {
      await countRounds(ctx, 0);
      return { rounds: ctx.input.rounds };
    },
  });

  registry.defineTask<CountInput>({
    module: "test",
    type: "tree",
    kind: "CLUSTER",
    description: "A CLUSTER-wide root with one child per node (node-1 …), each with an internal grandchild.",
    progressUnits: "children",
    abortable,
    parseInput: parseCountInput,
    inputJsonSchema: COUNT_INPUT_JSON_SCHEMA,
    name: (input) => `Tree of ${input.children} node task(s)`,
    async run(ctx) {
      const { children } = ctx.input;
      ctx.progress.set(0, children);
      for (let i = 1; i <= children; i++) {
        // Only the first child carries the injected failure.
        const input = { ...ctx.input, children: 0, failAtRound: i === 1 ? ctx.input.failAtRound : null };
        await ctx.spawn("node-count", input, { node: `node-${i}`, name: `Count on node-${i}` });
      }
      const outcomes = await ctx.waitForChildren();
      ctx.progress.set(outcomes.filter((o) => o.state === "SUCCEEDED").length, children);
      const failed = outcomes.filter((o) => o.state !== "SUCCEEDED");
      if (failed.length) throw new Error(`${failed.length} of ${children} node task(s) did not succeed`);
      return { children };
    },
  });

  registry.defineTask<CountInput>({
    module: "test",
    type: "node-count",
    description: "A tree's task on one node: counts rounds alongside an internal grandchild.",
    progressUnits: "rounds",
    abortable,
    parseInput: parseCountInput,
    inputJsonSchema: COUNT_INPUT_JSON_SCHEMA,
    async run(ctx) {
      await ctx.spawn("count", { ...ctx.input, failAtRound: null }, { internal: true, name: `Internal count on ${ctx.task.node}` });
      try {
        await countRounds(ctx, 0);
      } finally {
        await ctx.waitForChildren(); // a task ends after its children, even when it fails
      }
      const [grandchild] = await ctx.waitForChildren();
      if (grandchild && grandchild.state !== "SUCCEEDED") throw new Error(`Internal task ${grandchild.id} ${grandchild.state}`);
      return { rounds: ctx.input.rounds };
    },
  });
}

/** The test task type a createTestTask input asks for. */
export function testTaskType(input: CountInput): "count" | "flow" | "tree" {
  if (input.children > 0) return "tree";
  if (input.steps > 0) return "flow";
  return "count";
}
