// The worker: claims due tasks up to its concurrency and runs them (TaskRun). It is woken by the
// store's change notifications (a task became claimable), not by a tight poll; a slow fallback
// poll only picks up tasks whose worker died (their lease ran out, which notifies no one).
// It also renews its leases, promotes SCHEDULED tasks when they are due, and reaps expired ones.
// A database that fails for a moment stops none of this: polls and renewals are tried again
// soon, a run retries its writes while it holds the lease, and a run that gives up hands its
// task back at once rather than leaving it held until the lease runs out.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { coerceError } from "../domain/errors";
import type { Change, ChangeBus } from "../events/change-bus";
import type { Actor, Claimed, Completion, Store } from "../store";
import { MAX_COMPLETIONS_PER_STATEMENT, SYSTEM_ACTOR, withActor } from "../store";
import type { TaskRegistry } from "./registry";
import { CompletionQueue } from "./completion-queue";
import { TaskRun } from "./task-run";
import { Scheduler } from "./scheduler";
import type { Logger } from "../logger";
import type { TaskMetrics } from "./metrics";

/**
 * A worker's settings: the manager fills them from the Config (where the defaults live), and a test
 * or an embedding program may override some (TaskManagerOptions.worker).
 */
export interface WorkerOptions {
  /** Tasks run at once by this worker. */
  concurrency: number;
  /** How long a claim holds without renewal; renewed every third of it. */
  leaseMs: number;
  /** Fallback poll for tasks of dead workers. */
  pollMs: number;
  /** How often finished tasks past their TTL are removed, and SCHEDULED ones checked at most. */
  housekeepingMs: number;
  /** How long stop() waits for running tasks before handing them back. */
  stopGraceMs: number;
  /** How long work past its time limit may take to stop before it fails with TIMEOUT anyway. */
  timeoutGraceMs: number;
  name?: string;
  /** Test-only fault injection: SIGKILL this process right after recording a lost step attempt. */
  killAfterLostAttempt?: boolean;
}

/** Logged on a task whose run was cut short because its worker stopped (SIGTERM, stop()). */
export const HANDED_BACK_ON_SHUTDOWN = "Handed back on shutdown: the worker stopped before this finished; another worker resumes it";

export class Worker {
  readonly name: string;
  /** Who the journal says made the changes of this worker and its runs (store/actor.ts). */
  private readonly actor: Actor;
  private readonly log: Logger;
  /** The current run of each task (a superseded run may still be winding down, outside this map). */
  private readonly running = new Map<string, TaskRun>();
  private readonly finished = new Set<Promise<void>>();
  private claims = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeatTimer?: NodeJS.Timeout;
  private heartbeatRetry?: NodeJS.Timeout;
  private pollRetry?: NodeJS.Timeout;
  private pollFailures = 0;
  /** Claims whose answer was lost (the statement failed): released once the store answers. */
  private readonly lostClaims = new Set<string>();
  private unsubscribe = () => {};
  private started = false;
  /** The "module/type" keys last written to this worker's row (types are only ever added). */
  private servedTypes: string[] = [];
  private stopping = false;
  private polling = false;
  private pollAgain = false;
  private pollScheduled = false;
  private readonly completions = new CompletionQueue(() => this.pollSoon());
  /** Fires the recurring schedules that are due (every worker looks; each due time fires once). */
  private readonly scheduler: Scheduler;

  constructor(
    private readonly store: Store,
    private readonly registry: TaskRegistry,
    private readonly bus: ChangeBus,
    private readonly options: WorkerOptions,
    /** The manager's log for workers ({ component: "worker" }); lines add this worker's name, a task's its taskId. */
    log: Logger,
    private readonly metrics: TaskMetrics,
  ) {
    this.name = this.options.name ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.log = log.child({ worker: this.name });
    this.actor = Object.freeze({ kind: "WORKER", name: this.name });
    this.scheduler = new Scheduler(store, registry, this.log, options.housekeepingMs);
  }

  get runningTaskIds(): string[] {
    return [...this.running.keys()];
  }

  /** Slots running a task, and slots free to claim one (a run waiting for its children takes none). */
  slots(): { busy: number; free: number } {
    const busy = [...this.running.values()].filter((run) => !run.waiting).length;
    return { busy, free: Math.max(0, this.options.concurrency - busy) };
  }

  /** Timers, polls and runs started here carry the worker as the actor of what they write. */
  start(): Promise<void> {
    return withActor(this.actor, () => this.startAsWorker());
  }

  private async startAsWorker(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { concurrency } = this.options;
    this.servedTypes = this.registry.keys();
    await this.store.registerWorker({ name: this.name, host: hostname(), pid: process.pid, concurrency, taskTypes: this.servedTypes });
    // The bus calls back in its own context (a notification arrived): polls and runs it starts are the worker's.
    this.unsubscribe = this.bus.subscribe((change) => withActor(this.actor, () => this.onChange(change)));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(10, this.options.leaseMs / 3));
    this.heartbeatTimer.unref();
    this.every(this.options.pollMs, () => this.poll());
    this.every(this.options.housekeepingMs, () => this.housekeeping());
    await this.housekeeping();
    this.scheduler.start();
    void this.poll();
  }

  /** Stops claiming; waits up to stopGraceMs for running tasks, then hands the rest back. */
  stop(): Promise<void> {
    return withActor(this.actor, () => this.stopAsWorker());
  }

  private async stopAsWorker(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.unsubscribe();
    await this.scheduler.stop();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.pollRetry);
    // Leases are still renewed during the grace period: the tasks are still ours.
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.finished.values()),
      new Promise((resolve) => (timeout = setTimeout(resolve, this.options.stopGraceMs))),
    ]);
    clearTimeout(timeout);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    clearTimeout(this.heartbeatRetry);
    const unfinished = this.leases();
    for (const run of this.running.values()) run.onLeaseLost(); // they must not write after this
    await this.quietly(() => this.store.releaseLeases(unfinished, HANDED_BACK_ON_SHUTDOWN));
    await this.quietly(() => this.store.removeWorker(this.name));
  }

  /**
   * Records the successes waiting in the completion queue and claims as many due tasks as there is
   * room for, in one statement; again while a full batch came back or more successes wait. While
   * stopping it only records successes.
   */
  async poll(): Promise<void> {
    if (this.stopping && this.completions.size === 0) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      for (const token of this.lostClaims) {
        await this.store.releaseClaim(token);
        this.lostClaims.delete(token);
      }
      do {
        this.pollAgain = false;
        const batch = this.completions.take(MAX_COMPLETIONS_PER_STATEMENT);
        // A run waiting for its children needs no slot: otherwise parents could fill every slot.
        // The runs whose success is in `batch` still count: the statement adds the slots it frees.
        const free = this.stopping ? 0 : this.slots().free;
        const { modules, types } = this.registry.claimable();
        const claiming = !this.stopping && types.length > 0;
        if (batch.length === 0 && (!claiming || free <= 0)) break;
        const token = `${this.name}#${++this.claims}`;
        const claim = { worker: token, leaseMs: this.options.leaseMs, modules, types };
        let done: Completion[] = [];
        let claimed: Claimed[] = [];
        try {
          if (batch.length === 0) claimed = await this.store.claimTasks({ ...claim, limit: free });
          else if (!claiming) done = await this.store.completeTasks(batch.map((p) => p.completion));
          else ({ done, claimed } = await this.store.completeAndClaim(batch.map((p) => p.completion), { ...claim, free }));
        } catch (error) {
          // It may have committed before the connection broke: what it claimed must not stay held.
          if (claiming) this.lostClaims.add(token);
          throw error;
        } finally {
          CompletionQueue.settle(batch, done); // on failure: none recorded, each run takes the careful path
        }
        for (const claim of claimed) {
          const { task } = claim;
          if (claim.firstStart) this.metrics.taskStarted(task, (task.startedAt!.getTime() - (task.scheduledFor ?? task.createdAt).getTime()) / 1000);
          this.launch(claim.id, token, claim);
        }
        if (claiming && claimed.length === Math.max(0, free) + done.length) this.pollAgain = true;
        if (this.completions.size > 0) this.pollAgain = true;
      } while (this.pollAgain && (!this.stopping || this.completions.size > 0));
      this.pollFailures = 0;
    } catch (error) {
      // The store failed (restarting, a dropped connection): try again soon, not at the next
      // fallback poll; successes queued meanwhile would otherwise wait (none comes while stopping).
      this.pollFailures++;
      if (!this.stopping && this.pollFailures === 1) this.log.warn(`poll failed, trying again: ${coerceError(error).message}`);
      if (!this.stopping || this.completions.size > 0) {
        clearTimeout(this.pollRetry);
        this.pollRetry = setTimeout(() => void this.poll(), Math.min(100 * 2 ** (this.pollFailures - 1), 1_000));
        this.pollRetry.unref();
      }
    } finally {
      this.polling = false;
    }
  }

  /**
   * Polls once the current callbacks are through: runs that end together (a batch of completions)
   * free their slots first, and one claim fills them all.
   */
  private pollSoon() {
    if (this.pollScheduled) return;
    this.pollScheduled = true;
    setImmediate(() => {
      this.pollScheduled = false;
      void this.poll();
    });
  }

  private launch(taskId: string, leaseToken: string, claimed?: Claimed) {
    // Claimed again while an earlier run of it still winds down here (terminated, then retried):
    // the earlier run is superseded and its writes are refused from now on.
    this.running.get(taskId)?.onLeaseLost();
    const run = new TaskRun(
      {
        store: this.store,
        registry: this.registry,
        bus: this.bus,
        logger: this.log,
        metrics: this.metrics,
        recheckMs: this.options.pollMs,
        leaseMs: this.options.leaseMs,
        timeoutGraceMs: this.options.timeoutGraceMs,
        ...(this.options.killAfterLostAttempt ? { afterLostAttempt: () => process.kill(process.pid, "SIGKILL") } : {}),
        onWaitingChange: () => void this.poll(),
        complete: (completion) => this.completions.complete(completion),
      },
      taskId,
      leaseToken,
      claimed,
    );
    this.running.set(taskId, run);
    const done: Promise<void> = run
      .execute()
      .catch((error: unknown) => {
        this.log.error({ taskId, err: coerceError(error) }, "the task crashed its runner");
        // The store failed for as long as the run could wait: hand the task back now rather than
        // leave it held by no one until the lease runs out. (Not after a bug in the run itself,
        // which would crash again at once: then the lease paces the next attempt.)
        if (run.gaveUpOnStore && run.holdsLease) {
          run.onLeaseLost();
          void this.handBack(run, "Handed back: the worker could not reach the store while it held this task; another run resumes it");
        }
      })
      .finally(() => {
        if (this.running.get(taskId) === run) this.running.delete(taskId);
        this.finished.delete(done);
        this.pollSoon();
      });
    this.finished.add(done);
  }

  /** Releases one run's lease, trying again while the store fails and the lease would still hold. */
  private async handBack(run: TaskRun, note: string) {
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        await this.store.releaseLeases([{ taskId: run.taskId, owner: run.leaseToken }], note);
        return;
      } catch (error) {
        if (this.stopping || Date.now() + delay >= run.leaseExpiresAt) return; // it runs out by itself
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private leases() {
    return [...this.running.values()].map((run) => ({ taskId: run.taskId, owner: run.leaseToken }));
  }

  private onChange(change: Change) {
    if (change.wake) void this.poll();
    if (!change.control) return;
    for (const [taskId, run] of this.running) {
      if (change.taskIds === "all" || change.taskIds.has(taskId)) run.onChange(change);
    }
  }

  /** Renews the leases; when the store fails, tries again soon (every 500 ms) rather than in a third of a lease. */
  private async heartbeat() {
    clearTimeout(this.heartbeatRetry);
    this.heartbeatRetry = undefined;
    try {
      await this.renew();
    } catch (error) {
      if (this.stopping && !this.heartbeatTimer) return;
      this.log.warn(`renewing leases failed, trying again: ${coerceError(error).message}`);
      // A lease that ran out meanwhile may be another worker's by now: its run must stop writing.
      for (const run of this.running.values()) if (Date.now() >= run.leaseExpiresAt) run.onLeaseLost();
      this.heartbeatRetry = setTimeout(() => void this.heartbeat(), 500);
      this.heartbeatRetry.unref();
    }
  }

  private async renew() {
    const ids = this.runningTaskIds;
    const runs = [...this.running.values()];
    const asked = Date.now();
    const held = new Set(await this.store.renewLeases(this.leases(), this.options.leaseMs));
    for (const run of runs) if (held.has(run.taskId)) run.leaseRenewed(asked + this.options.leaseMs);
    const missing = ids.filter((id) => !held.has(id));
    if (missing.length > 0) {
      // Ended by someone else (deleted while pending, terminated): the run winds down by itself.
      // Still RUNNING under another owner, or gone: the lease is lost.
      const states = await this.store.taskStates(missing);
      const ended = new Set(missing.filter((id) => states.has(id) && states.get(id) !== "RUNNING"));
      for (const id of missing) {
        if (ended.has(id)) this.running.get(id)?.onChange();
        else this.running.get(id)?.onLeaseLost();
      }
    }
    // The types it serves are written again only when one was defined since (rarely, after start).
    const served = this.registry.keys();
    const changed = served.length !== this.servedTypes.length;
    await this.store.workerHeartbeat(this.name, changed ? served : undefined);
    if (changed) this.servedTypes = served;
  }

  /** Housekeeping is the system's, not this worker's: scheduled tasks due, TTL expiry, retention. */
  private housekeeping() {
    return withActor(SYSTEM_ACTOR, () => this.housekeepingAsSystem());
  }

  private async housekeepingAsSystem() {
    await this.store.promoteDueTasks();
    await this.store.reapExpired();
    await this.store.pruneJournal();
  }

  private every(ms: number, fn: () => Promise<unknown>) {
    const timer = setInterval(() => void this.quietly(fn), Math.max(10, ms));
    timer.unref();
    this.timers.push(timer);
  }

  private async quietly(fn: () => Promise<unknown>) {
    try {
      await fn();
    } catch (error) {
      if (!this.stopping) this.log.error(coerceError(error).message);
    }
  }
}
