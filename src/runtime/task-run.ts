// Runs one claimed task to an outcome: its `run` function, or its flow of steps (independent steps
// at once), honouring abort requests, terminated steps, forced deletes and rollbacks.
//
// The worker holds a lease on the task while this runs. Every outcome and log line is written
// with the lease token, so a worker that lost its lease (another worker resumed the task) or gave
// it back (it is stopping) can never overwrite or add to the work of the next one. A write the
// database fails (restarting, a dropped connection) is tried again while the lease holds.
//
// Steps are the unit of durability: a run resumed after a crash skips the steps that succeeded,
// starts the one that was running again (its lost attempt FAILED, a new one opened, together),
// and gets back the children it had spawned; code outside steps runs again from the start. Control mutations (abort, terminate, delete) change the store
// first; the change notification tells this run to look (onChange), and a re-read before every
// batch of steps catches a missed notification.
import { setTimeout as sleep } from "node:timers/promises";
import { TaskgraphError, coerceError } from "../domain/errors";
import { isEnded, LOST_STEP_ERROR, ROLLBACK_STEP_STATES, type StepState, UNRECORDED_STEP_ERROR } from "../domain/states";
import type { FailureCode, LogLevel, Prisma, Step, Task } from "../generated/prisma/client";
import { nextChange, touches, type Change, type ChangeBus } from "../events/change-bus";
import type { Claimed, Completion, Store } from "../store";
import type { ChildOutcome, SpawnOptions, StepContext, TaskContext } from "./context";
import { makeLogger, taskInfo } from "./context";
import { ProgressReporter } from "./progress";
import { failureCodeOf, underDeadline } from "./deadline";
import { type FullRetryPolicy, normalizeRetryPolicy, pauseText, retryDelay } from "../domain/retry";
import { SYSTEM_ACTOR, withActor } from "../store/actor";
import type { StepDefinition, TaskDefinition, TaskRegistry } from "./registry";
import { toJson } from "./registry";
import { relativeStack } from "./stack";
import type { Logger } from "../logger";
import type { AttemptKind, TaskMetrics } from "./metrics";
import { contextOf, currentTraceparent, inSpan, markActiveSpanFailed, taskAttributes } from "./tracing";

export interface RunEnvironment {
  store: Store;
  registry: TaskRegistry;
  bus: ChangeBus;
  /** The worker's process log; the run's lines carry its taskId. */
  logger: Logger;
  /** The manager's metrics: the run's outcome and its step attempts are counted there. */
  metrics: TaskMetrics;
  /** Safety net while waiting for children, in case a notification is missed. */
  recheckMs: number;
  /** How long a claim or renewal of the lease holds: store calls are retried until then. */
  leaseMs: number;
  /** How long work past its time limit may take to stop before it fails with TIMEOUT anyway. */
  timeoutGraceMs: number;
  /** Test-only fault injection: called right after a lost step attempt was recorded. */
  afterLostAttempt?: () => void;
  /** The run started or stopped waiting for its children (it then needs no worker slot). */
  onWaitingChange(): void;
  /**
   * Records a success together with other runs' (the worker's CompletionQueue, written with its
   * next claim): true once recorded, false when the store left it alone (then the careful path
   * decides). Optional.
   */
  complete?(completion: Completion): Promise<boolean>;
}

const DONE: ReadonlySet<StepState> = new Set(["SUCCEEDED", "SKIPPED"]);

export class TaskRun {
  /** Aborted on abort request or lost lease; every step's signal follows it. */
  private readonly controller = new AbortController();
  /** Aborted only when the lease is lost. */
  private readonly lease = new AbortController();
  private readonly stepControllers = new Map<string, AbortController>();
  private readonly stepStates = new Map<string, StepState>();
  /** No new step starts: the task was aborted, failed, deleted or is no longer ours. */
  private stopLaunching = false;
  private stepFailed = false;
  private leaseLost = false;
  private writes: Promise<unknown> = Promise.resolve();
  private task!: Task;
  private definition!: TaskDefinition<any>;
  private progress!: ProgressReporter;
  /** Each running step's reporter (its ctx.progress), by key. */
  private readonly stepReporters = new Map<string, ProgressReporter>();
  /** Each step's execution count as its last transition in this run returned it (its attempt number; taken once). */
  private readonly executions = new Map<string, number>();
  /** The progress of each step's current attempt as last stored, for the task's derived progress. */
  private readonly stepProgress = new Map<string, { completed: number; total: number | null }>();
  /** The task's progress as last stored (a flow writes its derived progress only when it moves). */
  private taskProgress: { completed: number; total: number | null } = { completed: 0, total: null };
  private stepDefs = new Map<string, StepDefinition<any>>();
  /** Until when the lease holds, as far as this process knows (claim or last renewal). */
  private leaseUntil: number;
  /** Spawns without a key so far, per step ("" for a plain task): the default spawn keys. */
  private readonly spawned = new Map<string, number>();
  private storeTrouble = false;
  /** The process's log (pino), as opposed to the task's own log lines in the store (this.log). */
  private readonly processLog: Logger;
  /** A store call failed until the lease was about to run out: the run gave up. */
  gaveUpOnStore = false;

  /** When this run began (the claim), for its duration. */
  private readonly runStarted = performance.now();
  /** When this run's time limit is up (ms since the epoch; null: none): the task's timeoutMs, else its type's. */
  private deadline: number | null = null;
  /** The run went past its time limit between steps: it fails with TIMEOUT. */
  private timedOut = false;
  /** Steps FAILED with an automatic retry to come, and when (Step.nextAttemptAt). */
  private readonly retryAt = new Map<string, Date>();
  /** Each step's automatic retries so far, as its last transition returned it. */
  private readonly stepRetries = new Map<string, number>();
  /** The flow's steps as the run read them at its start (their keys and dependencies). */
  private flowSteps: Step[] = [];
  /** Steps started (RUNNING, attempt opened) by the write that ended the step before them, still to run. */
  private readonly handedOver = new Set<string>();

  /** True while the task code waits for its children. */
  waiting = false;
  /** The run's success is being recorded in a batch: change notices need no look meanwhile. */
  private completing = false;

  /** False once the lease is lost or superseded: nothing this run writes is recorded any more. */
  get holdsLease(): boolean {
    return !this.leaseLost;
  }

  constructor(
    private readonly env: RunEnvironment,
    readonly taskId: string,
    /** What the claim wrote into leaseOwner: this run's, not just this worker's. */
    readonly leaseToken: string,
    /** The task and its steps as the claim returned them (saves reading them again). */
    private readonly claimed?: Pick<Claimed, "task" | "steps">,
  ) {
    this.leaseUntil = Date.now() + env.leaseMs;
    this.processLog = env.logger.child({ taskId });
  }

  /** The worker renewed the lease: it holds until `until`. */
  leaseRenewed(until: number): void {
    this.leaseUntil = until;
  }

  /** When the lease runs out unless renewed (ms since the epoch). */
  get leaseExpiresAt(): number {
    return this.leaseUntil;
  }

  async execute(): Promise<void> {
    const task = this.claimed?.task ?? (await this.io(() => this.env.store.findTask(this.taskId)));
    if (!task || task.leaseOwner !== this.leaseToken) return;
    // The run continues the trace of the request that created the task (its stored traceparent).
    await inSpan("taskgraph.task.run", { ...taskAttributes(task), "taskgraph.lease": this.leaseToken }, () => this.run(task), contextOf(task.traceparent));
  }

  private async run(task: Task): Promise<void> {
    const { store, registry } = this.env;
    this.task = task;
    const definition = registry.get(task.moduleName, task.type);
    if (!definition) return; // claims only take known types; a definition removed meanwhile waits for another worker
    this.definition = definition;
    const limit = task.timeoutMs ?? definition.timeoutMs ?? null;
    this.deadline = limit === null ? null : Date.now() + limit;
    if (task.needsSetup && task.state === "RUNNING" && !task.abortRequestedAt) {
      const ready = await this.setUp(task);
      if (!ready) return;
      this.task = ready;
    }
    this.progress = new ProgressReporter(
      (completed, total) => this.enqueue(() => store.setProgress(this.taskId, completed, total)), // the lease is checked in enqueue
      { completed: task.progressCompleted, total: task.progressTotal },
      this.processLog,
    );
    this.taskProgress = { completed: this.task.progressCompleted, total: this.task.progressTotal };
    if (definition.steps) {
      for (const step of registry.flowOf(definition, this.task.input).steps) this.stepDefs.set(step.key, step);
    }
    if (this.task.abortRequestedAt) return this.finishAbort(this.task);
    if (this.task.state !== "RUNNING") return;
    this.processLog.debug({ module: task.moduleName, type: task.type }, "task started");
    if (definition.run) await this.runSingle();
    else await this.runFlow();
  }

  /**
   * A task created from the catalogue by a process that does not define its type: its input is
   * parsed here with the definition (`input` schema, parseInput) — the task FAILS with the refusal
   * when it is invalid — then the parsed input, abortability and the steps that depend on the input
   * are stored in one transaction (steps only if the task has none). Returns the task set up, or
   * null when this run has nothing more to do.
   */
  private async setUp(task: Task): Promise<Task | null> {
    const { registry, store } = this.env;
    let setup: { input: Prisma.InputJsonValue | null; isAbortable?: boolean; steps: ReturnType<TaskRegistry["flowOf"]>["resolved"] };
    try {
      const input = await registry.parseInput(this.definition, task.input);
      const abortable = this.definition.abortable;
      setup = {
        input: toJson(input),
        ...(typeof abortable === "function" ? { isAbortable: abortable(input) } : {}),
        steps: this.definition.steps ? registry.flowOf(this.definition, input).resolved : [],
      };
    } catch (thrown) {
      const error = coerceError(thrown);
      this.progress = new ProgressReporter(async () => {}, { completed: 0, total: null }, this.processLog);
      await this.writeLog("ERROR", `The worker refused the input: ${error.message}`);
      await this.end("FAILED", { error: error.message });
      return null;
    }
    try {
      return await this.io(() => store.setupTask(this.taskId, this.leaseToken, setup));
    } catch (error) {
      if (!(error instanceof TaskgraphError)) throw error;
      if (error.code === "CONFLICT") this.onLeaseLost();
      return null;
    }
  }

  /** The store says this task changed (state, steps, abort request): react, unless the change is this run's own write. */
  onChange(change?: Change): void {
    if (this.completing) return; // the outcome is in; if it is refused, the careful path reads afresh
    if (change?.by?.includes(this.leaseToken)) return;
    void this.checkControl().catch((error: unknown) => this.processLog.warn(coerceError(error).message));
  }

  /** The worker could not renew the lease: another worker may resume the task, so stop writing. */
  onLeaseLost(): void {
    this.leaseLost = true;
    this.stopLaunching = true;
    const reason = new Error("The worker lost its lease on this task");
    this.controller.abort(reason);
    this.lease.abort(reason);
  }

  // ── plain tasks ────────────────────────────────────────────────────────────

  private async runSingle() {
    let error: Error | undefined;
    let result: unknown;
    try {
      const ctx = await this.context(this.controller.signal);
      result = await this.underLimit(() => Promise.resolve(this.definition.run!(ctx)), this.controller, null);
    } catch (thrown) {
      error = coerceError(thrown);
    }
    await this.settle();
    // The common case in one batched write, checked there (still ours, RUNNING, not aborted, no
    // child pending); anything else is left to the careful path below.
    if (!error && (await this.completeInBatch(toJson(result)))) return;
    const fresh = await this.stillOurs();
    if (!fresh) return;
    if (fresh.abortRequestedAt) return this.finishAbort(fresh);
    if (fresh.state !== "RUNNING") return; // deleted while pending, or failed by someone else
    if (error) {
      const errorCode = failureCodeOf(error);
      await this.writeLog("ERROR", error.message, undefined, errorCode ? undefined : error.stack); // a timeout's stack is the runtime's
      const retryAfterMs = retryDelay(this.retryPolicy(), fresh.automaticRetries, error);
      if (retryAfterMs !== null) await this.writeLog("WARN", this.retryNote(fresh.automaticRetries + 1, this.retryPolicy()!, retryAfterMs));
      await this.end("FAILED", { error: error.message, errorCode, retryAfterMs: retryAfterMs ?? undefined });
    } else {
      await this.end("SUCCEEDED", { result: toJson(result) });
    }
  }

  // ── flows ──────────────────────────────────────────────────────────────────

  private async runFlow() {
    const { store } = this.env;
    // The claim's read of the steps, unless set-up created them since.
    const claimedSteps = this.claimed?.task.needsSetup ? undefined : this.claimed?.steps;
    const rows = claimedSteps ?? (await this.io(() => store.steps(this.taskId)));
    this.flowSteps = rows;
    for (const row of rows) {
      this.stepStates.set(row.key, row.state);
      this.stepRetries.set(row.key, row.automaticRetries);
      // A retry promised before this run (by a run that was lost) is kept: at its time, not at once.
      if (row.state === "FAILED" && row.nextAttemptAt) this.retryAt.set(row.key, row.nextAttemptAt);
    }
    // A step left RUNNING belonged to a worker that died: that attempt failed with it, and a new
    // one is opened in the same transaction, so a crash right after this still resumes the step.
    const resumed = new Set<string>();
    for (const row of rows.filter((r) => r.state === "RUNNING")) {
      try {
        const step = await this.io(() => store.resumeLostStep(this.taskId, row.key, this.leaseToken));
        this.executions.set(row.key, step.executions);
      } catch (error) {
        if (!(error instanceof TaskgraphError)) throw error;
        if (error.code === "CONFLICT") {
          this.onLeaseLost();
          return; // taken over: nothing of ours to run
        }
        // Aborted since the claim (the step is not started again): the abort is finished instead.
        const fresh = await this.stillOurs();
        if (fresh?.abortRequestedAt) return this.finishAbort(fresh);
        return;
      }
      resumed.add(row.key);
      this.env.afterLostAttempt?.();
    }
    this.writeFlowProgress(); // a retried or resumed flow starts from what its steps have done
    // Steps handed back by retryTask / rerunStep: roll them back (latest first), then run them again.
    for (const row of rows.filter((r) => r.state === "ROLLING_BACK").reverse()) await this.rollbackStep(row.key, true);

    // No re-read before each batch of steps: starting a step (moveStep RUNNING) is refused once the
    // task is no longer ours, RUNNING and without an abort request, and change notices stop the
    // steps that run.
    const running = new Map<string, Promise<void>>();
    for (;;) {
      // A step handed over to is RUNNING in the store already: it runs whatever happened since
      // (an abort stops it at once), so that it ends like any running step.
      for (const row of rows) {
        if (!this.handedOver.delete(row.key)) continue;
        running.set(row.key, this.runStep(row, false, false, true).finally(() => running.delete(row.key)));
      }
      if (!this.stopLaunching && !this.stepFailed && this.deadline !== null && Date.now() >= this.deadline && running.size === 0) {
        this.timedOut = true; // past the run's time limit between steps: no step starts
        this.stopLaunching = true;
      }
      if (!this.stopLaunching && !this.stepFailed) {
        for (const row of rows) {
          if (running.has(row.key) || this.stopLaunching) continue;
          const state = this.stepStates.get(row.key)!;
          const resuming = state === "RUNNING" && resumed.has(row.key);
          const retryAt = this.retryAt.get(row.key);
          const retrying = state === "FAILED" && retryAt !== undefined && retryAt.getTime() <= Date.now();
          const startable = state === "WAITING" || state === "ROLLED_BACK" || resuming || retrying;
          if (!startable || !row.dependsOn.every((dep) => DONE.has(this.stepStates.get(dep)!))) continue;
          resumed.delete(row.key);
          this.retryAt.delete(row.key);
          running.set(row.key, this.runStep(row, resuming, retrying).finally(() => running.delete(row.key)));
        }
      }
      for (const key of this.retryAt.keys()) if (this.stepStates.get(key) !== "FAILED") this.retryAt.delete(key); // changed by others
      const retries = this.stopLaunching || this.stepFailed ? [] : [...this.retryAt.values()].map((d) => d.getTime());
      if (running.size === 0 && retries.length === 0) break;
      if (retries.length === 0) {
        await Promise.race(running.values());
        continue;
      }
      // A step's automatic retry is due later: wait for it (or a running step, an abort, the time limit).
      const deadline = this.deadline !== null && this.deadline > Date.now() ? this.deadline : Infinity;
      await this.pause(Math.min(...retries, deadline) - Date.now(), running.size === 0, Promise.race(running.values()));
    }

    await this.settle();
    // Every step done by this run's own writes: the batch records the success if the task is still
    // ours, RUNNING and not aborted; anything else is decided below from a fresh read.
    const allDone = [...this.stepStates.values()].every((state) => DONE.has(state));
    if (allDone && !this.stopLaunching && (await this.completeInBatch(null))) return;
    const fresh = await this.stillOurs();
    if (!fresh) return;
    if (fresh.abortRequestedAt) return this.finishAbort(fresh);
    if (fresh.state !== "RUNNING") return;
    const steps = await this.io(() => store.steps(this.taskId));
    if (steps.every((s) => DONE.has(s.state))) {
      if (await this.completeInBatch(null)) return;
      return this.end("SUCCEEDED", { result: null });
    }
    const failed = steps.find((s) => s.state === "FAILED");
    if (!failed && this.timedOut) {
      return this.end("FAILED", { error: `The task ran past its time limit (${this.limitText()})`, errorCode: "TIMEOUT" });
    }
    await this.end("FAILED", {
      error: failed ? `Step "${failed.key}" failed: ${failed.error ?? "failed"}` : "The flow could not continue",
      errorCode: failed?.errorCode ?? null,
    });
  }

  /**
   * Waits `ms` (or until `others` settle, or an abort or lost lease). With nothing else running
   * the run needs no worker slot meanwhile (like a run waiting for its children).
   */
  private async pause(ms: number, idle: boolean, others: Promise<unknown>) {
    if (idle) this.setWaiting(true);
    try {
      await Promise.race([sleep(Math.max(0, ms), undefined, { signal: this.controller.signal }).catch(() => {}), others]);
    } finally {
      if (idle) this.setWaiting(false);
    }
  }

  /**
   * Runs one step; `resumed`: it is RUNNING already (a new attempt was opened when it was resumed);
   * `automatic`: an automatic retry of its failed attempt (started as the system's); `handedOver`:
   * started by the write that ended the step before it.
   */
  private async runStep(row: Step, resumed = false, automatic = false, handedOver = false) {
    // The store opens an EXECUTE attempt for a step never run, a RETRY attempt otherwise.
    const kind: AttemptKind = resumed || automatic || row.startedAt ? "retry" : "execute";
    await inSpan("taskgraph.step.attempt", this.stepAttributes(row.key, kind), () => this.runStepAttempt(row, kind, resumed || handedOver, automatic));
  }

  /** `started`: the step is RUNNING already (resumed, or handed over to). */
  private async runStepAttempt(row: Step, kind: AttemptKind, started: boolean, automatic: boolean) {
    const start = () => this.moveStep(row.key, "RUNNING");
    if (!started && !(await (automatic ? withActor(SYSTEM_ACTOR, start) : start()))) {
      this.stopLaunching = true;
      return;
    }
    // Registered only once RUNNING is stored: checkControl aborts a step whose stored state says
    // it was terminated, and must never mistake a step that is just starting for one.
    const stepController = new AbortController();
    const stop = () => stepController.abort(this.controller.signal.reason);
    if (this.controller.signal.aborted) stop();
    else this.controller.signal.addEventListener("abort", stop, { once: true });
    this.stepControllers.set(row.key, stepController);
    try {
      let error: Error | undefined;
      try {
        const definition = this.stepDefs.get(row.key);
        if (!definition) throw new Error(`This version of ${this.task.moduleName}/${this.task.type} has no step "${row.key}"`);
        const ctx = await this.context(stepController.signal, row);
        await this.underLimit(() => Promise.resolve(definition.run(ctx)), stepController, definition.timeoutMs ?? null);
      } catch (thrown) {
        error = coerceError(thrown);
      }
      await this.settle();
      const errorCode = error ? failureCodeOf(error) : null;
      // An automatic retry is not for an attempt stopped by an abort or a lost lease. The policy is
      // looked at only when the attempt failed (a step's end is the flows' hot path).
      const policy = error ? this.stepRetryPolicy(row.key) : null;
      const retries = this.stepRetries.get(row.key) ?? 0;
      const retryAfterMs = error && !this.controller.signal.aborted ? retryDelay(policy, retries, error) : null;
      if (error && retryAfterMs === null) this.stepFailed = true; // no new step starts
      if (error) {
        await this.writeLog("ERROR", error.message, row.key, errorCode ? undefined : error.stack);
        if (retryAfterMs !== null) await this.writeLog("WARN", this.retryNote(retries + 1, policy!, retryAfterMs), row.key);
      }
      // Refused when the step was terminated or the task taken away meanwhile: then stop.
      const recorded = error
        ? await this.moveStep(row.key, "FAILED", { error: error.message, errorCode, retryAfterMs }, { withProgress: true })
        : await this.moveStep(row.key, "SUCCEEDED", {}, { withProgress: true, handOver: true });
      if (error && !this.retryAt.has(row.key)) this.stepFailed = true; // moveStep notes the retry it recorded
      if (!recorded) this.stopLaunching = true;
      else this.attemptEnded(kind, error);
      // The flow's progress this moved is stored before the next step starts: both lock the task's
      // row, and the one that finds it locked would wait for another batch.
      await this.writes;
    } finally {
      this.controller.signal.removeEventListener("abort", stop);
      this.stepControllers.delete(row.key);
    }
  }

  /** Rolls a step back: its rollback function in a ROLLBACK attempt (or a note that there is none). */
  private rollbackStep(key: string, alreadyRollingBack = false): Promise<void> {
    return inSpan("taskgraph.step.attempt", this.stepAttributes(key, "rollback"), () => this.rollbackStepAttempt(key, alreadyRollingBack));
  }

  private async rollbackStepAttempt(key: string, alreadyRollingBack: boolean) {
    if (!alreadyRollingBack && !(await this.moveStep(key, "ROLLING_BACK"))) return;
    const definition = this.stepDefs.get(key);
    let error: Error | undefined;
    if (definition?.rollback) {
      try {
        // A rollback runs to the end even though the task is being aborted.
        const row = (await this.io(() => this.env.store.steps(this.taskId))).find((s) => s.key === key)!;
        await definition.rollback(await this.context(new AbortController().signal, row));
      } catch (thrown) {
        error = coerceError(thrown);
      }
    } else {
      this.log("INFO", "Nothing to roll back: this step defines no rollback", key);
    }
    await this.settle();
    if (error) {
      await this.writeLog("ERROR", error.message, key, error.stack);
      if (await this.moveStep(key, "FAILED", { error: `Rollback failed: ${error.message}` })) this.attemptEnded("rollback", error);
    } else if (await this.moveStep(key, "ROLLED_BACK")) {
      this.attemptEnded("rollback");
    }
  }

  private stepAttributes(key: string, kind: AttemptKind) {
    return { ...taskAttributes(this.task), "taskgraph.step.key": key, "taskgraph.attempt.kind": kind };
  }

  /** A step attempt's outcome was recorded: counted, and its span marked when it failed. */
  private attemptEnded(kind: AttemptKind, error?: Error) {
    this.env.metrics.stepAttemptEnded(this.task, kind, error ? "failed" : "succeeded");
    if (error) markActiveSpanFailed(error.message);
  }

  // ── aborting ───────────────────────────────────────────────────────────────

  /**
   * Ends an aborted task: no further step starts; with rollback the completed steps are rolled
   * back in reverse order (a FAILED task: every step from the failed one back to the first, OCP's
   * Abort Task); then CANCELED.
   */
  private async finishAbort(task: Task) {
    this.stopLaunching = true;
    if (!this.controller.signal.aborted) this.controller.abort(new Error("The task was aborted"));
    if (this.definition.steps) {
      let steps = await this.io(() => this.env.store.steps(this.taskId));
      // The task is ours (we hold its lease): a step RUNNING without a run of ours belonged to a
      // run that lost the task (its worker died, its lease ran out, or a forced delete failed the
      // task while the step ran) and can no longer record its outcome.
      const orphans = steps.filter((s) => s.state === "RUNNING" && !this.stepControllers.has(s.key));
      const orphanError = task.state === "FAILED" ? UNRECORDED_STEP_ERROR : LOST_STEP_ERROR;
      for (const s of orphans) await this.moveStep(s.key, "FAILED", { error: orphanError });
      if (orphans.length > 0) steps = await this.io(() => this.env.store.steps(this.taskId));
      for (const s of steps) this.stepStates.set(s.key, s.state);
      // A rollback already under way (handed back by retry or rerun) is always finished.
      let targets = steps.filter((s) => s.state === "ROLLING_BACK");
      if (task.rollbackOnAbort && task.state === "FAILED") {
        // OCP Abort Task: from the failed step (or one left half rolled back) back to the first.
        const failed = steps.filter((s) => s.state === "FAILED" || s.state === "ROLLING_BACK").map((s) => s.index);
        const failedAt = failed.length ? Math.max(...failed) : Number.MAX_SAFE_INTEGER;
        targets = steps.filter((s) => s.index <= failedAt && ROLLBACK_STEP_STATES.includes(s.state));
      } else if (task.rollbackOnAbort) {
        targets = steps.filter((s) => ["SUCCEEDED", "ROLLING_BACK"].includes(s.state));
      }
      for (const s of targets.sort((a, b) => b.index - a.index)) await this.rollbackStep(s.key, s.state === "ROLLING_BACK");
    }
    await this.settle();
    const error = task.state === "FAILED" ? `Aborted after failure: ${task.error ?? "failed"}` : "Aborted";
    await this.end("CANCELED", { error });
  }

  // ── time limits ────────────────────────────────────────────────────────────

  /**
   * Runs a step attempt (`stepLimitMs`: its own limit) or the task's run under the time that is
   * left: the step's limit or what remains of the run's, whichever ends first.
   */
  private underLimit<T>(work: () => Promise<T>, controller: AbortController, stepLimitMs: number | null): Promise<T> {
    const left = this.deadline === null ? null : this.deadline - Date.now();
    const byStep = stepLimitMs !== null && (left === null || stepLimitMs <= left);
    const limit = byStep ? stepLimitMs : left;
    const message = byStep ? `The step ran past its time limit (${stepLimitMs} ms)` : `The task ran past its time limit (${this.limitText()})`;
    return underDeadline(work, controller, limit, this.env.timeoutGraceMs, message);
  }

  private limitText(): string {
    return `${this.task.timeoutMs ?? this.definition.timeoutMs} ms`;
  }

  // ── the store, carefully ───────────────────────────────────────────────────

  /**
   * Re-reads the task; returns false (and stops new steps) unless it is still ours, RUNNING and
   * not aborted. Aborts the signal on an abort request or when another worker took the task over,
   * and a terminated step's own signal. A task ended by someone else (openATTIC's delete while
   * pending) only stops new steps: the running one is not killed.
   */
  private async checkControl(): Promise<boolean> {
    const task = await this.io(() => this.env.store.findTask(this.taskId));
    const abort = (reason: string) => {
      this.stopLaunching = true;
      if (!this.controller.signal.aborted) this.controller.abort(new Error(reason));
    };
    if (!task) abort("The task was deleted");
    else if (task.abortRequestedAt) abort("The task was aborted");
    else if (task.state !== "RUNNING") this.stopLaunching = true;
    else if (task.leaseOwner !== this.leaseToken) abort("The task was taken over by another worker");
    if (task && this.stepControllers.size > 0) {
      for (const step of await this.io(() => this.env.store.steps(this.taskId))) {
        if (step.state === "FAILED" && this.stepControllers.has(step.key)) {
          this.stepControllers.get(step.key)!.abort(new Error(step.error ?? "The step was terminated"));
        }
      }
    }
    return !this.stopLaunching;
  }

  private async stillOurs(): Promise<Task | null> {
    if (this.leaseLost) return null;
    const task = await this.io(() => this.env.store.findTask(this.taskId));
    return task && task.leaseOwner === this.leaseToken ? task : null;
  }

  /**
   * Records a step transition; false when the store refused it (the step or task moved on). At a
   * step's end (its writes settled) with no other step of this run running, whose progress
   * reports could be stored in between, the same statement also stores what the end moves:
   * `withProgress`, the flow's progress (writeFlowProgress then finds nothing left to write);
   * `handOver`, the start of the next step (stepToHandOver).
   */
  private async moveStep(
    key: string,
    to: StepState,
    options: { error?: string; errorCode?: FailureCode | null; retryAfterMs?: number | null } = {},
    end: { withProgress?: boolean; handOver?: boolean } = {},
  ): Promise<boolean> {
    if (this.leaseLost) return false; // handed back or taken over: the next run records it
    const alone = [...this.stepControllers.keys()].every((running) => running === key);
    const after = end.withProgress && alone ? this.flowProgress({ key, state: to }) : null;
    const progress = after && (after.completed !== this.taskProgress.completed || after.total !== this.taskProgress.total) ? after : null;
    const startNext = end.handOver && alone ? this.stepToHandOver(key) : null;
    let tries = 0;
    try {
      const step = await this.io(() => {
        tries++;
        return this.env.store.transitionStep(this.taskId, key, to, { ...options, leaseOwner: this.leaseToken, progress, startNext });
      });
      if (progress && step.progressStored) this.taskProgress = progress;
      if (step.started) this.handedOverTo(step.started);
      this.executions.set(key, step.executions);
      this.stepRetries.set(key, step.automaticRetries);
      if (step.nextAttemptAt) this.retryAt.set(key, step.nextAttemptAt);
      this.stepStates.set(key, to);
      if (to === "RUNNING" || to === "ROLLING_BACK") this.stepProgress.delete(key); // a new attempt starts from 0
      this.writeFlowProgress();
      return true;
    } catch (error) {
      if (!(error instanceof TaskgraphError)) throw error;
      if (error.code === "CONFLICT") {
        this.onLeaseLost();
        return false;
      }
      const steps = await this.io(() => this.env.store.steps(this.taskId));
      const current = steps.find((s) => s.key === key);
      if (current) this.stepStates.set(key, current.state);
      // A write tried again after a broken connection may have committed the first time, with the
      // step it handed over to (started then: it is run like one handed over to).
      const committed = tries > 1 && current?.state === to;
      const next = steps.find((s) => s.key === startNext);
      if (committed && next?.state === "RUNNING") this.handedOverTo(next);
      return committed;
    }
  }

  /** Records SUCCEEDED through the worker's batch; false when not recorded (then the careful path decides). */
  private async completeInBatch(result: Prisma.InputJsonValue | null): Promise<boolean> {
    if (!this.env.complete || this.leaseLost) return false;
    this.completing = true;
    try {
      const recorded = await this.env.complete({ taskId: this.taskId, leaseOwner: this.leaseToken, result });
      if (recorded) this.ended("SUCCEEDED");
      return recorded;
    } finally {
      this.completing = false;
    }
  }

  private async end(
    to: "SUCCEEDED" | "FAILED" | "CANCELED",
    patch: { error?: string | null; errorCode?: FailureCode | null; result?: Prisma.InputJsonValue | null; retryAfterMs?: number },
  ) {
    if (this.leaseLost) return;
    // A task ends after its children (ScyllaDB): wait for any the code left running.
    try {
      await this.waitForChildren(this.lease.signal);
    } catch {
      return; // lease lost while waiting: not ours to end
    }
    try {
      // SUCCEEDED/FAILED must not swallow an abort accepted a moment ago: then abort instead.
      const ifNotAborted = to !== "CANCELED";
      const task = await this.io(() => this.env.store.transitionTask(this.taskId, to, { ...patch, ifLeaseOwner: this.leaseToken, ifNotAborted }));
      if (task.state === "SCHEDULED") this.attemptFailed(patch.error ?? undefined, task.scheduledFor!);
      else this.ended(to, patch.error ?? undefined);
    } catch (error) {
      if (!(error instanceof TaskgraphError)) throw error;
      if (error.details.reason === "abortRequested") {
        const fresh = await this.stillOurs();
        if (fresh?.abortRequestedAt) return this.finishAbort(fresh);
      }
      // Otherwise someone else decided first (terminated, deleted, lease lost): theirs stands.
    }
  }

  /**
   * This run ended the task: one log line (a failed task is the task's outcome, not the server's
   * trouble: info, with its error message), its outcome counted, its span marked when not a success.
   */
  private ended(state: "SUCCEEDED" | "FAILED" | "CANCELED", error?: string) {
    const durationMs = Math.round(performance.now() - this.runStarted);
    this.processLog.info({ module: this.task.moduleName, type: this.task.type, state, durationMs, error }, "task ended");
    this.env.metrics.taskFinished(this.task, state.toLowerCase() as Lowercase<typeof state>, durationMs / 1000);
    if (state !== "SUCCEEDED") markActiveSpanFailed(error ?? state);
  }

  /** This run's attempt failed and an automatic retry will run the task again (SCHEDULED): not the task's end. */
  private attemptFailed(error: string | undefined, retryAt: Date) {
    const durationMs = Math.round(performance.now() - this.runStarted);
    this.processLog.info({ module: this.task.moduleName, type: this.task.type, durationMs, error, retryAt }, "task attempt failed, retry scheduled");
    markActiveSpanFailed(error ?? "FAILED");
  }

  /** The policy a plain task's run retries with: the one it was started with, else its type's (null: none). */
  private retryPolicy(): FullRetryPolicy | null {
    const policy = this.task.retryPolicy as FullRetryPolicy | null;
    return policy ?? (this.definition.retry ? normalizeRetryPolicy(this.definition.retry) : null);
  }

  /** The policy a step retries with: its own, else the task's (as started, else its type's). */
  private stepRetryPolicy(key: string): FullRetryPolicy | null {
    const own = this.stepDefs.get(key)?.retry;
    return own ? normalizeRetryPolicy(own) : this.retryPolicy();
  }

  /** The log line that says an automatic retry is coming. */
  private retryNote(retry: number, policy: FullRetryPolicy, pauseMs: number): string {
    return `Attempt ${retry} of ${policy.attempts} failed: automatic retry ${retry} in ${pauseText(pauseMs)}`;
  }

  /**
   * A store call, tried again while the database fails for a moment (restarting, a dropped
   * connection) and this run still holds its lease. A refusal (TaskgraphError) is an answer and
   * comes back at once; past the lease the error is thrown, and the worker hands the task back.
   */
  private async io<T>(call: () => Promise<T>): Promise<T> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        const result = await call();
        if (this.storeTrouble) {
          this.storeTrouble = false;
          this.processLog.warn("the store answers again");
        }
        return result;
      } catch (error) {
        if (error instanceof TaskgraphError || this.leaseLost) throw error;
        if (Date.now() + delay >= this.leaseUntil) {
          this.gaveUpOnStore = true;
          throw error;
        }
        if (!this.storeTrouble) this.processLog.warn(`a store call failed, trying again: ${coerceError(error).message}`);
        this.storeTrouble = true;
        await sleep(delay);
      }
    }
  }

  /** Queues a write behind the earlier ones (logs and progress are stored in order); none once the lease is gone. */
  private enqueue(write: () => Promise<unknown>): Promise<void> {
    const next = this.writes.then(() => (this.leaseLost ? undefined : this.io(write))).then(
      () => {},
      (error: unknown) => {
        this.processLog.warn(`a log or progress write failed: ${coerceError(error).message}`);
      },
    );
    this.writes = next;
    return next;
  }

  private log(level: LogLevel, message: string, stepKey?: string, stack?: string) {
    const entry = { level, message, stepKey, stack: stack === undefined ? null : relativeStack(stack) };
    void this.enqueue(() => this.env.store.appendLog(this.taskId, entry, { leaseOwner: this.leaseToken }));
  }

  private async writeLog(level: LogLevel, message: string, stepKey?: string, stack?: string) {
    this.log(level, message, stepKey, stack);
    await this.settle();
  }

  /** Waits until every progress and log write so far is stored. */
  private async settle() {
    await Promise.all([this.progress.flush(), ...[...this.stepReporters.values()].map((r) => r.flush())]);
    await this.writes;
  }

  // ── step progress ───────────────────────────────────────────────────────────

  /** A step's ctx.progress: its attempt's own progress, stored with the task's derived progress. */
  private stepReporter(key: string): ProgressReporter {
    const reporter = new ProgressReporter(
      (completed, total) =>
        this.enqueue(() => {
          // Computed when the write runs (writes run in order), so the task's value never goes back.
          this.stepProgress.set(key, { completed, total: total ?? null });
          const task = this.flowProgress();
          return this.env.store.setStepProgress(this.taskId, key, { completed, total }, task).then((version) => {
            if (version) this.taskProgress = task; // 0: the step had ended, nothing was stored
          });
        }),
      { completed: 0, total: null },
      this.processLog,
    );
    this.stepReporters.set(key, reporter);
    return reporter;
  }

  /** `step` was started by the write that ended the step before it: runFlow runs it next. */
  private handedOverTo(step: Step & { executions?: number }) {
    if (step.executions !== undefined) this.executions.set(step.key, step.executions); // else read when it runs
    this.stepRetries.set(step.key, step.automaticRetries);
    this.stepStates.set(step.key, "RUNNING");
    this.stepProgress.delete(step.key); // a new attempt starts from 0
    this.handedOver.add(step.key);
  }

  /**
   * The step that `key`'s success lets start, when runFlow would start it next and it alone: a
   * WAITING (or rolled back) step whose dependencies are then done, while steps may start (no
   * abort, failure or time limit reached). Started by the same write (moveStep), it saves the
   * flow a write per step.
   */
  private stepToHandOver(key: string): string | null {
    if (this.stopLaunching || this.stepFailed || this.retryAt.size > 0 || (this.deadline !== null && Date.now() >= this.deadline)) return null;
    const done = (dep: string) => dep === key || DONE.has(this.stepStates.get(dep)!);
    const startable = this.flowSteps.filter((row) => {
      const state = this.stepStates.get(row.key);
      return row.key !== key && (state === "WAITING" || state === "ROLLED_BACK") && row.dependsOn.every(done);
    });
    return startable.length === 1 ? startable[0]!.key : null;
  }

  /**
   * A flow's progress as the default sum: steps done (SUCCEEDED, SKIPPED) count 1, a RUNNING step
   * its own fraction (0 until it reports a total), the others 0; total = the number of steps. With
   * `change`: as it will be once that step is in that state.
   */
  private flowProgress(change?: { key: string; state: StepState }): { completed: number; total: number } {
    let completed = 0;
    for (const [key, stored] of this.stepStates) {
      const state = key === change?.key ? change.state : stored;
      if (DONE.has(state)) completed += 1;
      else if (state === "RUNNING") {
        const p = this.stepProgress.get(key);
        if (p?.total) completed += Math.min(1, p.completed / p.total);
      }
    }
    return { completed, total: this.stepStates.size };
  }

  /** Queues a write of the flow's derived progress when it moved (a step started, ended, was rolled back). */
  private writeFlowProgress() {
    if (!this.definition.steps) return;
    void this.enqueue(() => {
      const next = this.flowProgress();
      if (next.completed === this.taskProgress.completed && next.total === this.taskProgress.total) return Promise.resolve();
      return this.env.store.setProgress(this.taskId, next.completed, next.total).then(() => {
        this.taskProgress = next;
      });
    });
  }

  // ── what task code sees ─────────────────────────────────────────────────────

  private async context(signal: AbortSignal): Promise<TaskContext<any>>;
  private async context(signal: AbortSignal, step: Step): Promise<StepContext<any>>;
  private async context(signal: AbortSignal, step?: Step): Promise<TaskContext<any> | StepContext<any>> {
    const attempt = await this.attemptNumber(step);
    const progress = step ? this.stepReporter(step.key) : this.progress;
    const base: TaskContext<any> = {
      input: this.task.input,
      task: taskInfo(this.task),
      attempt,
      signal,
      progress: { set: (completed, total) => progress.set(completed, total), add: (n) => progress.add(n) },
      log: makeLogger((level, message, stack) => this.log(level, message, step?.key, stack)),
      spawn: (type, input, options) => this.spawn(type, input, options, step?.key),
      waitForChildren: () => this.waitForChildren(signal),
    };
    return step ? { ...base, step: { key: step.key, name: step.name } } : base;
  }

  /** 1 on the first run of this task (or step), 2 after one retry, … */
  private async attemptNumber(step?: Step): Promise<number> {
    const { store } = this.env;
    if (step) {
      const known = this.executions.get(step.key);
      this.executions.delete(step.key);
      return known ?? this.io(() => store.executions(step.id));
    }
    // A retry is an event leaving FAILED, which needs a change into FAILED before it: with every
    // change bumping the version from 1 (CREATED), a task at version 2 or less was never retried.
    if (this.task.version <= 2) return 1;
    const retries = await this.io(() => store.retries(this.taskId));
    return retries + 1;
  }

  /**
   * Starts a child, or gets back the one a previous run of this task (or step) started with the
   * same key: `options.key`, else the order of this run's spawn calls without a key ("#1", "#2",
   * …, per step in a flow, prefixed with the step's key).
   */
  private async spawn(type: string, input: Prisma.InputJsonValue | undefined, options: SpawnOptions = {}, stepKey?: string): Promise<string> {
    let key = options.key;
    if (key === undefined) {
      const n = (this.spawned.get(stepKey ?? "") ?? 0) + 1;
      this.spawned.set(stepKey ?? "", n);
      key = `${stepKey ?? ""}#${n}`;
    }
    await this.env.registry.ready();
    const spec = await this.env.registry.newTask(options.module ?? this.task.moduleName, type, input, {
      isInternal: options.internal ?? false,
      node: options.node ?? this.task.node,
      target: options.target ?? null,
      ...(options.name ? { name: options.name } : {}),
      traceparent: currentTraceparent(), // the child's runs continue this run's (or step's) trace
    });
    const spawnKey = key;
    return (await this.io(() => this.env.store.spawnChild(spec, this.taskId, spawnKey))).task.id;
  }

  private async waitForChildren(signal: AbortSignal): Promise<ChildOutcome[]> {
    this.setWaiting(true);
    try {
      return await this.untilChildrenEnd(signal);
    } finally {
      this.setWaiting(false);
    }
  }

  private setWaiting(waiting: boolean) {
    if (this.waiting === waiting) return;
    this.waiting = waiting;
    this.env.onWaitingChange();
  }

  private async untilChildrenEnd(signal: AbortSignal): Promise<ChildOutcome[]> {
    const { store, bus, recheckMs } = this.env;
    for (;;) {
      let childIds: Set<string> | null = null; // until known, any change counts
      const next = nextChange(bus, (change) => !childIds || touches(change, childIds), { recheckMs, signal });
      try {
        const children = await this.io(() => store.children(this.taskId));
        childIds = new Set(children.map((c) => c.id));
        if (children.every((c) => isEnded(c.state))) {
          return children.map((c) => ({ id: c.id, type: c.type, state: c.state, error: c.error, result: c.result }));
        }
        if (signal.aborted) throw signal.reason;
        await next.changed;
      } finally {
        next.dispose();
      }
    }
  }
}
