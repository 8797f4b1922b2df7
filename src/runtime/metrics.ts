// The manager's Prometheus metrics (prom-client), served at /metrics by the server (server/metrics.ts).
// Counters and histograms move where the work happens, in this process: a worker's runs, step
// attempts, the live subscriptions it serves. Gauges of the whole store (tasks per state, the oldest
// queued task, live workers, journal size) come from one statement, read at most once per refresh
// interval however often Prometheus scrapes. Labels are bounded: module, type, state, outcome,
// attempt kind, the subscription's root field — never a task id or anything a client names.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Store } from "../store";
import type { StoreFigures } from "../store/metrics-reads";

export type TaskOutcome = "succeeded" | "failed" | "canceled";
export type AttemptKind = "execute" | "retry" | "rollback";

/** What identifies a task in the metrics: its module and type (a task row has both). */
interface TaskKey {
  moduleName: string;
  type: string;
}

/** From 5 ms to an hour: queue waits and runs of admin operations span that whole range. */
const TASK_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];
/** Live delivery is milliseconds when all is well, seconds when a subscriber or the store lags. */
const DELIVERY_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class TaskMetrics {
  readonly registry = new Registry();
  private readonly finished: Counter<"module" | "type" | "outcome">;
  private readonly attempts: Counter<"module" | "type" | "kind" | "outcome">;
  private readonly queueSeconds: Histogram<"module" | "type">;
  private readonly runSeconds: Histogram<"module" | "type">;
  private readonly deliverySeconds: Histogram;
  private readonly subscriptions: Gauge<"operation">;
  private store: Store | undefined;
  private slots: (() => { busy: number; free: number }) | undefined;
  private figures: { at: number; read: Promise<StoreFigures> } | undefined;

  /** `refreshMs`: how old the store's figures may be before a scrape reads them again. */
  constructor(private readonly refreshMs: number) {
    const registers = [this.registry];
    this.finished = new Counter({
      name: "taskgraph_tasks_finished_total",
      help: "Tasks whose run in this process ended them, by outcome (succeeded, failed, canceled: aborted while running).",
      labelNames: ["module", "type", "outcome"],
      registers,
    });
    this.attempts = new Counter({
      name: "taskgraph_step_attempts_total",
      help: "Step attempts ended in this process, by kind (execute, retry, rollback) and outcome (succeeded, failed).",
      labelNames: ["module", "type", "kind", "outcome"],
      registers,
    });
    const taskHistogram = (name: string, help: string) => new Histogram({ name, help, labelNames: ["module", "type"], buckets: TASK_SECONDS_BUCKETS, registers });
    this.queueSeconds = taskHistogram(
      "taskgraph_task_queue_seconds",
      "From a task's creation (or its runAt, when scheduled) to its first start by a worker of this process.",
    );
    this.runSeconds = taskHistogram("taskgraph_task_run_seconds", "How long the runs that ended a task took in this process (claim to end).");
    this.deliverySeconds = new Histogram({
      name: "taskgraph_event_delivery_seconds",
      help: "From an event's write to its hand-over to a graphql-ws subscriber's connection on this server (taskEvents).",
      buckets: DELIVERY_SECONDS_BUCKETS,
      registers,
    });
    this.subscriptions = new Gauge({
      name: "taskgraph_subscriptions",
      help: "Live subscriptions open on this server, by root field (taskEvents, taskUpdated, …).",
      labelNames: ["operation"],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: "taskgraph_worker_slots",
      help: "This process's worker: slots running a task (busy) and slots free to claim one.",
      labelNames: ["state"],
      registers,
      collect() {
        const slots = metrics.slots?.();
        if (!slots) return;
        this.set({ state: "busy" }, slots.busy);
        this.set({ state: "free" }, slots.free);
      },
    });
    new Gauge({
      name: "taskgraph_tasks",
      help: `Tasks in the store by module, type and state (internal ones included; read at most every ${refreshMs / 1000} s).`,
      labelNames: ["module", "type", "state"],
      registers,
      async collect() {
        const figures = await metrics.storeFigures();
        this.reset();
        for (const { module, type, state, count } of figures?.tasks ?? []) this.set({ module, type, state }, count);
      },
    });
    new Gauge({
      name: "taskgraph_oldest_queued_task_age_seconds",
      help: "Per module, how long its oldest QUEUED task has waited (since its creation or runAt); absent when none waits.",
      labelNames: ["module"],
      registers,
      async collect() {
        const figures = await metrics.storeFigures();
        this.reset();
        for (const { module, seconds } of figures?.oldestQueued ?? []) this.set({ module }, Math.max(0, seconds));
      },
    });
    new Gauge({
      name: "taskgraph_workers_alive",
      help: "Workers of every process whose heartbeat is recent.",
      registers,
      async collect() {
        const figures = await metrics.storeFigures();
        if (figures) this.set(figures.workersAlive);
      },
    });
    new Gauge({
      name: "taskgraph_event_journal_events",
      help: "Events kept in the event journal (the span of ids kept, TASKGRAPH_EVENT_RETENTION_HOURS).",
      registers,
      async collect() {
        const figures = await metrics.storeFigures();
        if (figures) this.set(figures.journalEvents);
      },
    });
  }

  /** Where the store-wide gauges and the worker's slots are read from (set once the manager has started). */
  attach(store: Store, slots?: () => { busy: number; free: number }): void {
    this.store = store;
    this.slots = slots;
  }

  taskStarted(task: TaskKey, queuedSeconds: number): void {
    this.queueSeconds.observe({ module: task.moduleName, type: task.type }, Math.max(0, queuedSeconds));
  }

  taskFinished(task: TaskKey, outcome: TaskOutcome, runSeconds: number): void {
    this.finished.inc({ module: task.moduleName, type: task.type, outcome });
    this.runSeconds.observe({ module: task.moduleName, type: task.type }, runSeconds);
  }

  stepAttemptEnded(task: TaskKey, kind: AttemptKind, outcome: "succeeded" | "failed"): void {
    this.attempts.inc({ module: task.moduleName, type: task.type, kind, outcome });
  }

  subscriptionOpened(operation: string): void {
    this.subscriptions.inc({ operation });
  }

  subscriptionClosed(operation: string): void {
    this.subscriptions.dec({ operation });
  }

  eventDelivered(seconds: number): void {
    this.deliverySeconds.observe(Math.max(0, seconds));
  }

  /** The store's figures, read again once older than refreshMs (one read at a time); undefined when the store cannot answer. */
  private async storeFigures(): Promise<StoreFigures | undefined> {
    if (!this.store) return undefined;
    const now = Date.now();
    if (!this.figures || now - this.figures.at >= this.refreshMs) {
      const read = this.store.storeFigures();
      this.figures = { at: now, read };
      // A failed read is not kept: the next scrape tries again.
      read.catch(() => {
        if (this.figures?.read === read) this.figures = undefined;
      });
    }
    return this.figures.read.catch(() => undefined);
  }
}
