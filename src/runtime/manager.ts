// createTaskManager: the library's entry point. Define modules and task types, start the store,
// the change bus and (unless disabled) a worker, start tasks programmatically, wait for them.
import { checkLabels } from "../domain/input";
import type { Config } from "../config";
import { loadConfig } from "../config";
import type { Database } from "../db/client";
import { openDatabase } from "../db/client";
import { TaskgraphError, badInput, checkText } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import type { RetryPolicy } from "../domain/retry";
import { isEnded } from "../domain/states";
import { ChangeBus, nextChange, touches } from "../events/change-bus";
import { JournalFeed } from "../events/journal-feed";
import type { Task } from "../generated/prisma/client";
import { type NewTask, Store } from "../store";
import type { ModuleDefinition, ModuleEntry, TaskDefinition } from "./registry";
import { TaskRegistry } from "./registry";
import type { WorkerOptions } from "./worker";
import { Worker } from "./worker";
import { createLogger, type Logger } from "../logger";
import { TaskMetrics } from "./metrics";
import { currentTraceparent } from "./tracing";

export interface TaskManagerOptions {
  config?: Config;
  /** An open database to use (and not close); otherwise one is opened from config.store. */
  db?: Database;
  /**
   * Overrides of this process's worker settings (taken from config otherwise), or false to run no
   * tasks here (an API-only process).
   */
  worker?: Partial<WorkerOptions> | false;
  /**
   * Where the manager logs (pino): the program's own logger, or one that records lines in a test.
   * Default: a new one at config.logLevel on stdout. Each part logs through a child of it
   * ({ component: "worker" }, …), and every line about a task carries its taskId.
   */
  logger?: Logger;
}

export interface StartTaskRequest {
  module: string;
  type: string;
  input?: unknown;
  name?: string;
  target?: string | null;
  labels?: Record<string, unknown> | null;
  /** Run at this time (SCHEDULED until then); omitted or past: now. */
  runAt?: Date | null;
  /** Who started it (a token's name); recorded on the task. */
  createdBy?: string | null;
  /**
   * Started by a user (the API) rather than by the system (a program embedding taskgraph):
   * decides which TTL applies once it has finished (ScyllaDB's user_task_ttl / task_ttl).
   * Default false here; the GraphQL mutations set it.
   */
  userStarted?: boolean;
  /** Claimed before tasks of lower priority (default: the type's, else 0). */
  priority?: number | null;
  /** Overrides the type's exclusive key: tasks with the same key never run at once. */
  exclusiveKey?: string | null;
  /** With exclusiveKey: WAIT (default) or REFUSE (CONFLICT while a pending task has the key). */
  exclusiveMode?: "WAIT" | "REFUSE" | null;
  /** Each run's time limit in ms (default: the type's): past it the run fails with TIMEOUT. */
  timeoutMs?: number | null;
  /** Automatic retries of its run or steps, instead of its type's. */
  retry?: RetryPolicy | null;
}

export const MAX_WAIT_SECONDS = 3_600;

/** Writes a module this process defines into the catalogue, with its concurrency limit when it gives one. */
async function storeModule(store: Store, module: ModuleEntry): Promise<void> {
  await store.ensureModule(module.name, module.description);
  if (module.concurrency !== undefined) await store.setModuleConcurrency(module.name, module.concurrency);
}

export class TaskManager {
  readonly registry = new TaskRegistry();
  readonly config: Config;
  readonly logger: Logger;
  /** Prometheus metrics of this manager's work (served at /metrics by its server). */
  readonly metrics: TaskMetrics;
  private database?: Database;
  private changeBus?: ChangeBus;
  private journalFeed?: JournalFeed;
  private taskStore?: Store;
  private worker?: Worker;
  private startedOnce?: Promise<void>;

  constructor(private readonly options: TaskManagerOptions = {}) {
    this.config = options.config ?? loadConfig();
    this.logger = options.logger ?? createLogger(this.config.logLevel);
    this.metrics = new TaskMetrics(this.config.metricsRefreshSeconds * 1000);
    // Catalogue writes one after the other, in the order of definition: a type's module is stored
    // before the type (the row refers to it), and two writes of one module never race.
    this.registry.onModule((module) => this.catalogueWrite((store) => storeModule(store, module)));
    // A type defined after start joins the catalogue.
    this.registry.onTaskType((entry) => this.catalogueWrite((store) => store.upsertTaskTypes([entry])));
    this.registry.useCatalogue((key) => this.store.findTaskType(key));
  }

  private catalogueWrites: Promise<unknown> = Promise.resolve();
  /** Queues a write of a module or type defined after start (before start, start() writes them all). */
  private catalogueWrite(write: (store: Store) => Promise<unknown>): Promise<unknown> {
    const next = this.catalogueWrites.catch(() => {}).then(() => (this.taskStore ? write(this.taskStore) : undefined));
    this.catalogueWrites = next;
    return next;
  }

  defineModule(definition: ModuleDefinition): void {
    this.registry.defineModule(definition);
  }

  defineTask<Input>(definition: TaskDefinition<Input>): TaskDefinition<Input> {
    return this.registry.defineTask(definition);
  }

  get store(): Store {
    return started(this.taskStore);
  }

  get bus(): ChangeBus {
    return started(this.changeBus);
  }

  /** The process's shared reader of the event journal (live subscriptions). */
  get feed(): JournalFeed {
    return started(this.journalFeed);
  }

  get db(): Database {
    return started(this.database);
  }

  get workerName(): string | undefined {
    return this.worker?.name;
  }

  /** Opens the store (migrating it), listens for changes, registers the modules, starts the worker. */
  start(): Promise<void> {
    this.startedOnce ??= (async () => {
      const log = this.logger;
      this.database = this.options.db ?? (await openDatabase(this.config.store, { migrate: this.config.migrateOnStart, logger: log.child({ component: "db" }) }));
      this.changeBus = new ChangeBus(this.database, this.config.redisUrl, log.child({ component: "change-bus" }));
      this.taskStore = new Store(this.database, this.config, this.changeBus.publisher);
      await this.changeBus.start();
      this.journalFeed = new JournalFeed(this.taskStore, this.changeBus, log.child({ component: "journal-feed" }));
      await this.journalFeed.start();
      for (const module of this.registry.moduleList()) await storeModule(this.taskStore, module);
      await this.taskStore.upsertTaskTypes(this.registry.entries());
      // The embedded store's files belong to this process alone: a lease found there was held by
      // a previous process, now gone. Its tasks are resumed at once, not after the lease runs out.
      // (A database handed in by the caller may be shared with another manager that is alive.)
      if (this.database.kind === "pglite" && !this.options.db) await this.taskStore.releaseAllLeases();
      if (this.options.worker !== false) {
        const options: WorkerOptions = {
          concurrency: this.config.concurrency,
          leaseMs: this.config.leaseMs,
          pollMs: this.config.workerPollMs,
          housekeepingMs: this.config.housekeepingMs,
          stopGraceMs: this.config.stopGraceMs,
          timeoutGraceMs: this.config.timeoutGraceMs,
          killAfterLostAttempt: this.config.testKillAfterLostAttempt,
          ...this.options.worker,
        };
        this.worker = new Worker(this.taskStore, this.registry, this.changeBus, options, log.child({ component: "worker" }), this.metrics);
        await this.worker.start();
      }
      const worker = this.worker;
      this.metrics.attach(this.taskStore, worker && (() => worker.slots()));
    })();
    return this.startedOnce;
  }

  /** Stops the worker (running tasks get a grace period), the bus, and the store if we opened it. */
  async stop(): Promise<void> {
    if (!this.startedOnce) return;
    await this.startedOnce.catch(() => {});
    await this.worker?.stop();
    this.journalFeed?.stop();
    await this.changeBus?.stop();
    if (!this.options.db) await this.database?.close();
  }

  /** The async variant of any defined operation: creates the task and returns it at once. */
  async startTask(request: StartTaskRequest): Promise<Task> {
    await this.registry.ready();
    const spec = await this.taskSpec(request);
    return this.store.createTask(spec);
  }

  /** Many tasks in one transaction (bulk creation). */
  async startTasks(requests: StartTaskRequest[]): Promise<Task[]> {
    await this.registry.ready();
    const specs = await Promise.all(requests.map((r) => this.taskSpec(r)));
    return this.store.createTasks(specs);
  }

  /**
   * A type this process does not define (an API-only process) is started from the catalogue:
   * its input checked against the stored JSON Schema, set up by the worker that claims it.
   */
  private async taskSpec(request: StartTaskRequest): Promise<NewTask> {
    if (request.name != null) checkText("name", request.name, LIMITS.nameLength);
    const spec = await this.registry.newTask(request.module, request.type, request.input, {
      target: request.target ?? null,
      labels: checkLabels("labels", request.labels),
      runAt: request.runAt ?? null,
      createdBy: request.createdBy ?? null,
      isUserTask: request.userStarted ?? false,
      traceparent: currentTraceparent(), // the request's trace, continued by the task's runs
      priority: request.priority ?? undefined,
      exclusiveKey: request.exclusiveKey ?? undefined,
      exclusiveMode: request.exclusiveMode ?? undefined,
      timeoutMs: request.timeoutMs ?? undefined,
      retryPolicy: request.retry ?? undefined,
    });
    return request.name != null ? { ...spec, name: request.name } : spec;
  }

  /** Resolves with the task once it has ended; TIMEOUT after `timeoutSeconds`. No polling: the bus wakes it. */
  async waitForTask(id: string, timeoutSeconds: number): Promise<Task> {
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_WAIT_SECONDS) {
      throw badInput(`timeoutSeconds must be from 0 to ${MAX_WAIT_SECONDS}`);
    }
    const taskId = parseUuid(id);
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      // Only a control change (state, steps, abort, deletion) can end the wait: progress and log
      // lines, most of a running task's changes, cost no read. Re-checked at the deadline: then it times out.
      const next = nextChange(this.bus, (change) => change.control && touches(change, taskId), { recheckMs: Math.max(0, deadline - Date.now()) });
      try {
        const task = await this.store.getTask(taskId);
        if (isEnded(task.state) && !task.abortRequestedAt) return task;
        if (deadline - Date.now() <= 0) throw new TaskgraphError("TIMEOUT", `Task ${taskId} is still ${task.state} after ${timeoutSeconds} s`, { taskId, state: task.state });
        await next.changed;
      } finally {
        next.dispose();
      }
    }
  }
}

/** A part that exists once the manager has started. */
function started<T>(part: T | undefined): T {
  if (!part) throw new Error("The task manager is not started: call start() first");
  return part;
}

export function createTaskManager(options: TaskManagerOptions = {}): TaskManager {
  return new TaskManager(options);
}
