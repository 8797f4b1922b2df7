// What task code sees: its input, the task, an AbortSignal, progress, logs, and children.
// Logs and progress are written in order, in the background; the runtime waits for them before
// it records the task's (or step's) outcome, so a task never ends before its last log line.
import type { Prisma, Task } from "../generated/prisma/client";
import type { LogLevel } from "../generated/prisma/client";
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

export interface TaskLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface TaskContext<Input = unknown> {
  input: Input;
  task: TaskInfo;
  /** 1 on the first run of this task (or step), 2 after one retry or rerun, … */
  attempt: number;
  /** Aborted when the task is aborted, its lease is lost, or (for a step) the step is terminated. */
  signal: AbortSignal;
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

/** A logger that queues writes through `append`; `stepKey` ties lines to a step's current attempt. */
export function makeLogger(append: (level: LogLevel, message: string) => void): TaskLogger {
  return {
    debug: (m) => append("DEBUG", m),
    info: (m) => append("INFO", m),
    warn: (m) => append("WARN", m),
    error: (m) => append("ERROR", m),
  };
}

export type { ProgressReporter };
