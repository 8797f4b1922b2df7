// The store: all reads and writes of tasks, steps, attempts, logs, events and settings (DESIGN §2).
// GraphQL resolvers and the runtime go through it; it enforces the state machine on every write.
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { StepState, TaskState } from "../domain/states";
import type { LogLevel, Prisma, PrismaClient } from "../generated/prisma/client";
import { ensureModule } from "./modules";
import type { PageArgs, TaskOrder } from "./pagination";
import type { Settings } from "./settings";
import { readSettings, writeSettings } from "./settings";
import type { TaskFilter } from "./task-filter";
import type { TaskQuery } from "./task-reads";
import { findTask, getTask, listTasks, moduleStats, taskTree } from "./task-reads";
import type { NewTask, TaskPatch } from "./task-writes";
import { appendLog, createTask, setProgress, transitionStep, transitionTask } from "./task-writes";

export type { NewTask, TaskPatch, TaskFilter, TaskOrder, PageArgs, TaskQuery, Settings };

export class Store {
  readonly prisma: PrismaClient;
  readonly kind: Database["kind"];
  private readonly defaults: Settings;

  constructor(
    db: Database,
    readonly config: Pick<Config, "maxPageSize" | "taskTtlSeconds" | "userTaskTtlSeconds">,
  ) {
    this.prisma = db.prisma;
    this.kind = db.kind;
    this.defaults = { taskTtlSeconds: config.taskTtlSeconds, userTaskTtlSeconds: config.userTaskTtlSeconds };
  }

  // writes
  ensureModule(name: string, description?: string) {
    return ensureModule(this.prisma, name, description);
  }
  createTask(spec: NewTask, options?: { parentId?: string }) {
    return createTask(this.prisma, spec, options);
  }
  transitionTask(taskId: string, to: TaskState, patch?: TaskPatch) {
    return transitionTask(this.prisma, taskId, to, patch);
  }
  transitionStep(taskId: string, stepKey: string, to: StepState, options?: { error?: string }) {
    return transitionStep(this.prisma, taskId, stepKey, to, options);
  }
  setProgress(taskId: string, completed: number, total?: number | null) {
    return setProgress(this.prisma, taskId, completed, total);
  }
  appendLog(taskId: string, entry: { level?: LogLevel; message: string; stepKey?: string }) {
    return appendLog(this.prisma, taskId, entry);
  }
  writeSettings(changes: Partial<Settings>) {
    return writeSettings(this.prisma, changes, this.defaults);
  }

  // reads
  findTask(id: string, query?: TaskQuery) {
    return findTask(this.prisma, id, query);
  }
  getTask(id: string, query?: TaskQuery) {
    return getTask(this.prisma, id, query);
  }
  listTasks(options: { filter?: TaskFilter; orderBy?: TaskOrder | null; page?: PageArgs; query?: TaskQuery }) {
    return listTasks(this.prisma, { ...options, maxPageSize: this.config.maxPageSize });
  }
  taskTree(id: string, options?: { maxDepth?: number | null; query?: TaskQuery }) {
    return taskTree(this.prisma, id, options);
  }
  moduleStats(name?: string) {
    return moduleStats(this.prisma, name);
  }
  settings() {
    return readSettings(this.prisma, this.defaults);
  }
  events(taskId: string): Promise<Prisma.TaskEventGetPayload<object>[]> {
    return this.prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: "asc" } });
  }
}
