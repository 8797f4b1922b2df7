// What task code sees: its input, the task, an AbortSignal, progress, logs, and children.
// Logs and progress are written in order, in the background; the runtime waits for them before
// it records the task's (or step's) outcome, so a task never ends before its last log line.
import type { Prisma, Task } from "../generated/prisma/client";
import type { LogLevel } from "../generated/prisma/client";
import { coerceError } from "../domain/errors";
import type { ProgressReporter } from "./progress";

export interface TaskInfo {
  id: string;
  module: string;
  type: string;
  name: string;
  node: string | null;
  target: string | null;
  labels: Record<string, string>;
  parentId: string | null;
  rootId: string;
}

export interface SpawnOptions {
  /** Hidden from lists unless asked for (ScyllaDB's internal tasks). */
  internal?: boolean;
  node?: string;
  target?: string;
  name?: string;
  /** Default: the parent's module. */
  module?: string;
  /**
   * The child's stable key within its parent. A run resumed after a crash (or a retried run)
   * that spawns with a key already used gets that child back instead of a new one. Default: the
   * order of this run's spawn calls without a key (per step in a flow).
   */
  key?: string;
}

export interface ChildOutcome {
  id: string;
  type: string;
  state: Task["state"];
  error: string | null;
  result: unknown;
}

/**
 * A task's log. Each method takes a string, or an error (anything thrown): then the line's
 * `message` is the error's message and its stack goes to the line's own `stack` field (file paths
 * relative to the project root), never into the message.
 */
export interface TaskLogger {
  debug(message: unknown): void;
  info(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown): void;
}

export interface TaskContext<Input = unknown> {
  input: Input;
  task: TaskInfo;
  /** 1 on the first run of this task (or step), 2 after one retry or rerun, … */
  attempt: number;
  /** Aborted when the task is aborted, its lease is lost, or (for a step) the step is terminated. */
  signal: AbortSignal;
  /**
   * How far the work is. In a plain task (`run`): the task's own progress. In a step (and its
   * rollback): the step's own progress (Step.progress), reset when an attempt opens; the task's
   * progress is then derived from its steps (steps done + the running steps' fractions, over the
   * number of steps). `total` omitted keeps the total given before.
   */
  progress: { set(completed: number, total?: number | null): void; add(n?: number): void };
  log: TaskLogger;
  /**
   * Starts a child task (QUEUED at once, run by any worker); resolves with its id. Idempotent
   * across resumes: the same key (options.key, or the call's order) gives the same child.
   */
  spawn(type: string, input?: Prisma.InputJsonValue, options?: SpawnOptions): Promise<string>;
  /** Resolves when every child of this task has ended, with their outcomes in creation order. */
  waitForChildren(): Promise<ChildOutcome[]>;
}

export interface StepContext<Input = unknown> extends TaskContext<Input> {
  step: { key: string; name: string };
}

export function taskInfo(task: Task): TaskInfo {
  return {
    id: task.id,
    module: task.moduleName,
    type: task.type,
    name: task.name,
    node: task.node,
    target: task.target,
    labels: task.labels as Record<string, string>,
    parentId: task.parentId,
    rootId: task.rootId,
  };
}

/** A logger that queues writes through `append`: a string as it is, an error as its message and its stack. */
export function makeLogger(append: (level: LogLevel, message: string, stack?: string) => void): TaskLogger {
  const line = (level: LogLevel) => (value: unknown) => {
    if (value instanceof Error) return append(level, value.message, value.stack);
    append(level, typeof value === "string" ? value : coerceError(value).message);
  };
  return { debug: line("DEBUG"), info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
}

export type { ProgressReporter };
