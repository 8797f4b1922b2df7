// The task registry: modules and task types that this process knows how to run.
//
// Terminology:
//   module          a group of task types (kafka, storage, test, …)
//   task type       what a task does: either one `run` function, or ordered `steps` (a flow)
//   step            { key, name, dependsOn?, run, rollback? }; independent steps may run at once
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { TaskgraphError, badInput } from "../domain/errors";
import type { Prisma, TaskType } from "../generated/prisma/client";
import type { NewTask } from "../store/task-writes";
import type { FlowStep, TaskTypeEntry } from "../store/task-types";
import { standardJsonSchema, validateJsonSchema, validateStandard } from "./input-schema";
import type { ResolvedStep } from "../domain/flow";
import { resolveFlow } from "../domain/flow";
import { normalizeRetryPolicy, type RetryPolicy } from "../domain/retry";
import type { StepContext, TaskContext } from "./context";

export interface ModuleDefinition {
  name: string;
  description?: string;
  /** At most this many of the module's tasks run at once, across every worker (null: no limit; omitted: as stored). */
  concurrency?: number | null;
}

/** A module as this process defines it (what the catalogue stores). */
export type ModuleEntry = { name: string; description: string; concurrency?: number | null };

export interface StepDefinition<Input = unknown> {
  key: string;
  name?: string;
  /** Keys this step waits for. Omitted: the previous step. [] : none (may run at once with others). */
  dependsOn?: string[];
  run(ctx: StepContext<Input>): Promise<unknown> | unknown;
  /** Undoes the step (OCP rollback); without it, rolling back only records that there was nothing to undo. */
  rollback?(ctx: StepContext<Input>): Promise<unknown> | unknown;
  /** Each attempt's time limit in ms: past it its signal is aborted and it fails with TIMEOUT (a rollback has none). */
  timeoutMs?: number;
  /** Automatic retries of this step (default: the task's, else its type's): see RetryPolicy. */
  retry?: RetryPolicy;
}

/** Tasks with the same key never run at once (exclusive targets: one operation per broker at a time). */
export interface ExclusivePolicy<Input = unknown> {
  /** "target": the task's target is the key; or the key computed from the input (null: none). */
  key: "target" | ((input: Input) => string | null | undefined);
  /** WAIT (default): queued until the key is free (Task.blockedBy); REFUSE: starting it fails with CONFLICT while a pending task has the key. */
  mode?: "WAIT" | "REFUSE";
}

export interface TaskDefinition<Input = unknown> {
  module: string;
  type: string;
  description?: string;
  /** Whether abortTask (and a forced delete while pending) is accepted. Default true. */
  abortable?: boolean | ((input: Input) => boolean);
  /** CLUSTER: spans the cluster (always a root, never internal). Default NODE. */
  kind?: "NODE" | "CLUSTER";
  /** What progress counts (rounds, bytes, partitions, …). */
  progressUnits?: string;
  /**
   * The input's schema (any Standard Schema: zod 4, valibot, arktype, …): startTask validates the
   * input with it and refuses a bad one (BAD_USER_INPUT naming each bad field); its output is the
   * task's input. Its JSON Schema is published in the catalogue when the library provides one
   * (Standard JSON Schema); otherwise give `inputJsonSchema`.
   */
  input?: StandardSchemaV1<unknown, Input>;
  /** The input's JSON Schema (draft 2020-12) for the catalogue; wins over the one `input` publishes. */
  inputJsonSchema?: Record<string, unknown>;
  /** Checks and normalises the input given to startTask (after `input`, if both); throw badInput(…) to refuse it. */
  parseInput?(input: unknown): Input;
  /** The task's display name; default: the type. */
  name?(input: Input): string;
  /** A flow: fixed steps, or steps that depend on the input. */
  steps?: StepDefinition<Input>[] | ((input: Input) => StepDefinition<Input>[]);
  /** A single piece of work (a task without steps). Its return value is the task's result. */
  run?(ctx: TaskContext<Input>): Promise<unknown> | unknown;
  /** One task per key at a time, across every worker (see ExclusivePolicy). */
  exclusive?: ExclusivePolicy<Input>;
  /** Its tasks' priority unless startTask gives one (default 0; higher is claimed first). */
  priority?: number;
  /** Each run's time limit in ms unless startTask gives one: past it the run fails with TIMEOUT. */
  timeoutMs?: number;
  /**
   * Automatic retries of a failed run (a plain task) or failed step (a flow's steps without their
   * own `retry`), unless startTask gives a policy: see RetryPolicy.
   */
  retry?: RetryPolicy;
  /** At most this many of its tasks run at once, across every worker (null: no limit; omitted: as stored). */
  concurrency?: number | null;
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

export class TaskRegistry {
  private readonly modules = new Map<string, ModuleEntry>();
  private readonly tasks = new Map<string, TaskDefinition<any>>();
  private readonly listeners = new Set<(module: ModuleEntry) => Promise<unknown>>();
  private readonly typeListeners = new Set<(entry: TaskTypeEntry) => Promise<unknown>>();
  /** Where types this process does not define are looked up (the stored catalogue). */
  private catalogue?: (key: string) => Promise<TaskType | null>;
  private pending = new Set<Promise<unknown>>();

  defineModule(definition: ModuleDefinition): void {
    if (!NAME.test(definition.name)) throw badInput(`Module name "${definition.name}" must be lower-case letters, digits, _ . or -`);
    checkConcurrency(definition.concurrency, `Module ${definition.name}`);
    const module = { name: definition.name, description: definition.description ?? "", concurrency: definition.concurrency };
    this.modules.set(module.name, module);
    for (const listener of this.listeners) this.track(listener(module));
  }

  /** Resolves once every module defined so far is stored (a type can be started right after defineTask). */
  async ready(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(promise: Promise<unknown>) {
    const tracked = promise.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  defineTask<Input>(definition: TaskDefinition<Input>): TaskDefinition<Input> {
    if (!NAME.test(definition.type)) throw badInput(`Task type "${definition.type}" must be lower-case letters, digits, _ . or -`);
    if (!definition.run === !definition.steps) throw badInput(`Task type ${definition.module}/${definition.type} needs either run or steps, not both`);
    if (Array.isArray(definition.steps)) this.flowOf(definition, undefined as Input); // refuse a cycle or unknown key now
    const where = `Task type ${definition.module}/${definition.type}`;
    if (definition.retry) normalizeRetryPolicy(definition.retry, `${where}: retry`);
    if (Array.isArray(definition.steps)) for (const step of definition.steps) if (step.retry) normalizeRetryPolicy(step.retry, `${where}, step ${step.key}: retry`);
    checkConcurrency(definition.concurrency, `Task type ${definition.module}/${definition.type}`);
    if (!this.modules.has(definition.module)) this.defineModule({ name: definition.module });
    this.tasks.set(key(definition.module, definition.type), definition);
    const entry = this.entryOf(definition);
    for (const listener of this.typeListeners) this.track(listener(entry));
    return definition;
  }

  /** The catalogue entry of a definition (what TaskType stores). */
  entryOf(definition: TaskDefinition<any>): TaskTypeEntry {
    const flow: FlowStep[] | null = Array.isArray(definition.steps)
      ? this.flowOf(definition, undefined).resolved.map((s) => ({ key: s.key, name: s.name, dependsOn: s.dependsOn }))
      : null;
    return {
      module: definition.module,
      type: definition.type,
      description: definition.description ?? "",
      kind: definition.kind ?? "NODE",
      abortable: typeof definition.abortable === "function" ? null : (definition.abortable ?? true),
      progressUnits: definition.progressUnits ?? null,
      hasSteps: Boolean(definition.steps),
      flow,
      inputSchema: definition.inputJsonSchema ?? (definition.input ? standardJsonSchema(definition.input) : null),
      exclusive: definition.exclusive
        ? { by: definition.exclusive.key === "target" ? "target" : "input", mode: definition.exclusive.mode ?? "WAIT" }
        : null,
      priority: definition.priority ?? 0,
      retry: definition.retry ? normalizeRetryPolicy(definition.retry) : null,
      concurrency: definition.concurrency,
    };
  }

  /** Catalogue entries of every type defined here. */
  entries(): TaskTypeEntry[] {
    return [...this.tasks.values()].map((d) => this.entryOf(d));
  }

  /** "module/type" keys of every type defined here (what this process's worker serves). */
  keys(): string[] {
    return [...this.tasks.keys()];
  }

  /** Called for each task type defined from now on; ready() waits for the promise it returns. */
  onTaskType(listener: (entry: TaskTypeEntry) => Promise<unknown>): void {
    this.typeListeners.add(listener);
  }

  /** Types not defined here are looked up with `lookup` (startTask of a type only workers define). */
  useCatalogue(lookup: (key: string) => Promise<TaskType | null>): void {
    this.catalogue = lookup;
  }

  /** The definition's view of a raw input: validated by `input`, then `parseInput`. */
  async parseInput<Input>(definition: TaskDefinition<Input>, rawInput: unknown): Promise<Input> {
    let value: unknown = rawInput;
    if (definition.input) value = await validateStandard(definition.input, value, key(definition.module, definition.type));
    return definition.parseInput ? definition.parseInput(value) : (value as Input);
  }

  get(module: string, type: string): TaskDefinition<any> | undefined {
    return this.tasks.get(key(module, type));
  }

  /**
   * What the store needs to create a task of this type: checks the type exists (NOT_FOUND) and
   * its input (`input` schema, parseInput), and fills name, kind, abortability, progress units and
   * steps. A type not defined here is taken from the catalogue (see fromCatalogue), read with
   * `lookup` when given (a schedule's fire reads it in its own transaction).
   */
  async newTask(
    module: string,
    type: string,
    rawInput: unknown,
    extra: Omit<Partial<NewTask>, "module" | "type" | "input"> = {},
    lookup = this.catalogue,
  ): Promise<NewTask> {
    const definition = this.get(module, type);
    if (!definition) {
      const stored = await lookup?.(key(module, type));
      if (!stored) throw new TaskgraphError("NOT_FOUND", `Task type ${module}/${type} is not defined`);
      return fromCatalogue(stored, rawInput, extra);
    }
    const input = await this.parseInput(definition, rawInput);
    const policy = definition.exclusive;
    return {
      kind: definition.kind ?? "NODE",
      name: definition.name?.(input) ?? type,
      isAbortable: typeof definition.abortable === "function" ? definition.abortable(input) : (definition.abortable ?? true),
      progressUnits: definition.progressUnits ?? null,
      steps: definition.steps ? this.flowOf(definition, input).resolved : [],
      ...(definition.priority !== undefined ? { priority: definition.priority } : {}),
      ...(policy ? { exclusiveKey: (policy.key === "target" ? extra.target : policy.key(input)) ?? null, exclusiveMode: policy.mode ?? "WAIT" } : {}),
      ...withoutUndefined(extra),
      module,
      type,
      input: toJson(input),
    };
  }

  /** The steps of a task of this definition, validated (unique keys, known dependencies, no cycle). */
  flowOf<Input>(definition: TaskDefinition<Input>, input: Input): { resolved: ResolvedStep[]; steps: StepDefinition<Input>[] } {
    const steps = typeof definition.steps === "function" ? definition.steps(input) : (definition.steps ?? []);
    return { resolved: resolveFlow(steps), steps };
  }

  moduleList(): ModuleEntry[] {
    return [...this.modules.values()];
  }

  /** (module, type) pairs, as the parallel arrays the claim query takes. */
  claimable(): { modules: string[]; types: string[] } {
    const defs = [...this.tasks.values()];
    return { modules: defs.map((d) => d.module), types: defs.map((d) => d.type) };
  }

  /** Called for each module defined from now on; ready() waits for the promise it returns. */
  onModule(listener: (module: ModuleEntry) => Promise<unknown>): void {
    this.listeners.add(listener);
  }
}

const key = (module: string, type: string) => `${module}/${type}`;

/**
 * A task of a type this process does not define, from its catalogue entry: the input checked
 * against the stored JSON Schema, name = type, abortable unless the entry says it is not, the
 * fixed steps if any. It needs set-up (needsSetup): the worker that claims it parses the input
 * with its definition (failing the task if it is refused) and creates steps that depend on it.
 */
function fromCatalogue(stored: TaskType, rawInput: unknown, extra: Omit<Partial<NewTask>, "module" | "type" | "input">): NewTask {
  const input = rawInput === undefined ? null : rawInput;
  if (stored.inputSchema != null) validateJsonSchema(stored.inputSchema as Record<string, unknown>, input, stored.key, stored.key);
  const flow = (stored.flow ?? null) as FlowStep[] | null;
  // A key computed from the input needs the definition: only a target key is known from here.
  const exclusive = stored.exclusive as { by: "target" | "input"; mode: "WAIT" | "REFUSE" } | null;
  return {
    kind: stored.kind,
    name: stored.name,
    isAbortable: stored.abortable ?? true,
    progressUnits: stored.progressUnits,
    steps: flow ? resolveFlow(flow) : [],
    needsSetup: true,
    priority: stored.priority,
    ...(exclusive?.by === "target" ? { exclusiveKey: extra.target ?? null, exclusiveMode: exclusive.mode } : {}),
    ...withoutUndefined(extra),
    module: stored.moduleName,
    type: stored.name,
    input: toJson(input),
  };
}

/** A concurrency limit is a whole number from 1 (or null: none). */
function checkConcurrency(limit: number | null | undefined, what: string) {
  if (limit != null && !(Number.isInteger(limit) && limit >= 1 && limit <= 100_000)) {
    throw badInput(`${what}: concurrency must be a whole number from 1 to 100000, or null`);
  }
}

/** The fields given (a field set to undefined does not override a default). */
function withoutUndefined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Inputs and results are JSON; anything else (undefined, functions) is stored as null. */
export function toJson(value: unknown): Prisma.InputJsonValue | null {
  if (value === undefined || value === null) return null;
  return JSON.parse(JSON.stringify(value) ?? "null") as Prisma.InputJsonValue | null;
}
