// The store: all reads and writes of tasks, steps, attempts, logs, events, settings, API tokens and
// worker rows. It is the only door to the database: GraphQL resolvers, the runtime, the journal
// feed and authentication go through it. Every write method is one transaction in which
// the state machine is checked, versions bumped and events appended, or nothing happens.
import type { Config } from "../config";
import type { Database } from "../db/client";
import { notFound } from "../domain/errors";
import type { StepState, TaskState } from "../domain/states";
import type { FailureCode, Prisma, PrismaClient, Task, TaskEvent } from "../generated/prisma/client";
import * as claims from "./claims";
import { currentActor, setActorSql, SYSTEM_ACTOR, withActor } from "./actor";
import type { Completion } from "./completions";
import { completeAndClaim, completeTasks } from "./completions";
import type { ChangeNotice, Tx } from "./journal-writer";
import { collectNotices, MAX_IDS_PER_NOTIFY } from "./journal-writer";
import type { PageArgs, TaskOrder } from "./pagination";
import type { JournalCursor, JournalFilter } from "./journal-reader";
import { journalHead, previousTasks, prunedThrough, pruneJournal, readJournal, readTaskHistory } from "./journal-reader";
import { drainModule, reapExpired } from "./retention";
import type { Settings } from "./settings";
import { readSettings, writeSettings } from "./settings";
import * as controls from "./task-controls";
import type { TaskFilter } from "./task-filter";
import type { TaskCounts, TaskQuery } from "./task-reads";
import { countTasks, findTask, getTask, listTasks, moduleStats, moduleTaskCounts, withPendingDescendants } from "./task-reads";
import { taskTree, type TaskTreeOptions } from "./task-tree";
import type { NewTask, TaskPatch } from "./task-writes";
import type { LookupOptions, Role } from "./tokens";
import { createApiToken, findLiveToken, listApiTokens, liveTokensExist, revokeApiToken, touchToken } from "./tokens";
import type { TaskTypeEntry } from "./task-types";
import * as taskTypes from "./task-types";
import type { ResolvedStep } from "../domain/flow";
import { listWorkers, registerWorker, removeWorker, taskStates, workerHeartbeat } from "./workers";
import { readStoreFigures } from "./metrics-reads";
import type { LogLine } from "./task-writes";
import type { ProgressWrite, StepMove } from "./task-writes";
import { appendLog, checkProgress, createTasks, insertTasks, moveStepRow, moveStepRows, refusingKeys, resumeLostStep, setProgressMany, setStepProgress, spawnChild, transitionTask, type StepChangeOptions } from "./task-writes";
import { WriteBatch } from "./write-batch";
import * as schedules from "./schedules";

export type { NewTask, TaskPatch, TaskFilter, TaskOrder, PageArgs, TaskQuery, TaskCounts, Settings, Tx };
export { asksForRelations } from "./task-reads";
export type { DeleteResult } from "./task-controls";
export type { Claimed } from "./claims";
export type { Completion } from "./completions";
export { MAX_COMPLETIONS_PER_STATEMENT } from "./completions";

export type { JournalCursor, JournalFilter, LookupOptions };
export type { Actor } from "./actor";
export { SYSTEM_ACTOR, currentActor, withActor } from "./actor";
export type { TaskTypeEntry, FlowStep } from "./task-types";
export { taskTypeKey } from "./task-types";
export { ALIVE_WITHIN_MS } from "./workers";
export type { BuildScheduledTasks, FireResult, NewSchedule, Schedule, SchedulePatch } from "./schedules";
export { ruleOf } from "./schedules";

/** Tasks created in bulk after which the planner's statistics of Task are refreshed (Store.refreshStatisticsAfter). */
const ANALYZE_AFTER_CREATED = 1_000;
const ANALYZE_INTERVAL_MS = 60_000;

export class Store {
  private readonly prisma: PrismaClient;
  readonly kind: Database["kind"];
  private readonly defaults: Settings;
  private readonly progressBatch = new WriteBatch(
    async (writes: ProgressWrite[]) => {
      const { stored, busy, notice } = await setProgressMany(this.prisma, writes);
      if (stored.size > 0) this.committed(notice);
      return { stored, busy };
    },
    async (write) => {
      throw notFound("Task", write.taskId);
    },
    500,
  );
  /** Runs' step changes, many tasks' in one statement (moveStepRows); 100 at most, as a notice names at most 100 tasks. */
  private readonly stepBatch = new WriteBatch(
    async (moves: StepMove[]) => {
      const { stored, busy, notice } = await moveStepRows(this.prisma, moves);
      this.committed(notice);
      return { stored, busy };
    },
    async ({ taskId, stepKey, to, error, errorCode, retryAfterMs, leaseOwner, actor }) => {
      const { step, notice } = await withActor(actor, () => moveStepRow(this.prisma, taskId, stepKey, to, { error, errorCode, retryAfterMs, leaseOwner }));
      this.committed(notice);
      return step;
    },
    MAX_IDS_PER_NOTIFY,
  );

  /** Tasks created in bulk since the last refreshStatisticsAfter ANALYZE, and when that ran. */
  private createdSinceAnalyze = 0;
  private analyzedAt = 0;

  constructor(
    db: Database,
    readonly config: Pick<Config, "maxPageSize" | "taskTtlSeconds" | "userTaskTtlSeconds"> & Partial<Pick<Config, "eventRetentionHours">>,
    /** Called with each change notice once its transaction has committed (the Redis fan-out). */
    private readonly afterCommit?: (notice: ChangeNotice) => void,
  ) {
    this.prisma = db.prisma;
    this.kind = db.kind;
    this.defaults = { taskTtlSeconds: config.taskTtlSeconds, userTaskTtlSeconds: config.userTaskTtlSeconds };
  }

  /**
   * The Prisma client for plugin-prisma's `client` option (schema/builder.ts), the one place
   * outside the store that names Prisma: resolvers hand the selection it computes to store reads.
   */
  get prismaForSchema(): PrismaClient {
    return this.prisma;
  }

  /** The Prisma client, for tests that read rows directly. Never used by src/. */
  get prismaForTests(): PrismaClient {
    return this.prisma;
  }

  /** Whether the database answers (/health). */
  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }

  /** Runs `fn` in one transaction (several writes that must commit together). */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const notices: ChangeNotice[] = [];
    const setActor = setActorSql(); // the events it appends record who made the change (actor.ts)
    const result = await this.prisma.$transaction(
      async (tx) => {
        if (this.afterCommit) collectNotices(tx, notices);
        if (setActor) await tx.$queryRaw(setActor);
        return fn(tx);
      },
      { timeout: 30_000, maxWait: 30_000 },
    );
    for (const notice of notices) this.afterCommit?.(notice); // only now: the change is committed
    return result;
  }

  /** Sets a module's concurrency limit (null: none). */
  setModuleConcurrency(module: string, limit: number | null) {
    return taskTypes.setConcurrencyLimit(this.prisma, taskTypes.moduleScope(module), limit);
  }
  /** The concurrency limits of these scopes (taskTypes.typeScope, moduleScope); a scope without one is missing. */
  concurrencyLimits(scopes: readonly string[]) {
    return taskTypes.concurrencyLimits(this.prisma, scopes);
  }
  /** The task holding each of these exclusive keys (a free key is missing). */
  async keyHolders(keys: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.prisma.exclusiveKey.findMany({ where: { key: { in: [...new Set(keys)] }, holderId: { not: null } } });
    return new Map(rows.map((r) => [r.key, r.holderId!]));
  }

  /** Publishes the notice of a single-statement write (committed when the statement returned). */
  private committed(notice: ChangeNotice | null) {
    if (notice) this.afterCommit?.(notice);
  }

  // ── writes ────────────────────────────────────────────────────────────────
  /** Stores a module (a description given replaces the stored one). Safe when processes start at once: one INSERT … ON CONFLICT. */
  async ensureModule(name: string, description = ""): Promise<void> {
    await this.prisma.$executeRaw`
      INSERT INTO "Module" ("name", "description") VALUES (${name}, ${description})
      ON CONFLICT ("name") DO UPDATE SET "description" = CASE WHEN EXCLUDED."description" <> '' THEN EXCLUDED."description" ELSE "Module"."description" END`;
  }
  async createTask(spec: NewTask, options?: { parentId?: string }) {
    const [root] = await this.createTasks([spec], options);
    return root!;
  }
  /**
   * Many tasks at once (the bulk path): without a parent ONE statement, atomic by itself (no
   * BEGIN/COMMIT round trips); with one, or with a task that refuses to wait for its exclusive
   * key, a transaction that locks the parent or the key first.
   */
  async createTasks(specs: NewTask[], options?: { parentId?: string }) {
    // A parent is locked first; a task refusing to wait checks its key first (refusingKeys).
    if (options?.parentId || refusingKeys(specs).length > 0) return this.transaction((tx) => createTasks(tx, specs, options));
    const { roots, notice } = await insertTasks(this.prisma, specs);
    this.committed(notice);
    this.refreshStatisticsAfter(specs.length);
    return roots;
  }
  /**
   * The planner's statistics of Task, refreshed (ANALYZE, not awaited) once ANALYZE_AFTER_CREATED
   * tasks were created in bulk here, at most once per ANALYZE_INTERVAL_MS. A table whose statistics
   * say the queue is nearly empty gets claims planned as "read every QUEUED row and sort": ~40 ms a
   * claim with 20,000 queued, until autovacuum analyzes it (within a minute on PostgreSQL; PGlite
   * never does). With them, a claim reads the queue's index in order and stops after its batch.
   */
  private refreshStatisticsAfter(created: number) {
    this.createdSinceAnalyze += created;
    if (this.createdSinceAnalyze < ANALYZE_AFTER_CREATED || Date.now() - this.analyzedAt < ANALYZE_INTERVAL_MS) return;
    this.createdSinceAnalyze = 0;
    this.analyzedAt = Date.now();
    // An optimisation only: a failure (the database gone meanwhile) changes nothing.
    this.prisma.$executeRawUnsafe(`ANALYZE "Task"`).catch(() => {});
  }
  /**
   * The child of `parentId` known by `spawnKey`: created now, or the one a previous run of the
   * parent created (a resumed run spawning again).
   */
  async spawnChild(spec: NewTask, parentId: string, spawnKey: string): Promise<{ task: Task; created: boolean }> {
    try {
      return await this.transaction((tx) => spawnChild(tx, spec, parentId, spawnKey));
    } catch (error) {
      // Two runs of one parent raced past each other (only possible around a lost lease): the
      // unique index refused the second child; the first one is the child.
      if ((error as { code?: string }).code !== "P2002") throw error;
      const task = await this.prisma.task.findUnique({ where: { parentId_spawnKey: { parentId, spawnKey } } });
      if (!task) throw error;
      return { task, created: false };
    }
  }
  transitionTask(taskId: string, to: TaskState, patch?: TaskPatch) {
    return this.transaction((tx) => transitionTask(tx, taskId, to, patch));
  }
  /**
   * One statement (see task-writes.ts transitionStep). A run's change (with `leaseOwner`) is
   * stored with the other runs' changes that arrive meanwhile (moveStepRows).
   */
  async transitionStep(taskId: string, stepKey: string, to: StepState, options?: StepChangeOptions) {
    if (options?.leaseOwner) {
      return this.stepBatch.write({ ...options, leaseOwner: options.leaseOwner, taskId, stepKey, to, actor: currentActor() ?? SYSTEM_ACTOR });
    }
    const { step, notice } = await moveStepRow(this.prisma, taskId, stepKey, to, options);
    this.committed(notice);
    return step;
  }
  /** A step left RUNNING by a lost worker: its attempt FAILED and a new one RUNNING, together. */
  resumeLostStep(taskId: string, stepKey: string, leaseOwner: string) {
    return this.transaction((tx) => resumeLostStep(tx, taskId, stepKey, leaseOwner));
  }
  /** Stored with the other tasks' reports that arrive meanwhile (a WriteBatch): one statement for them all. */
  async setProgress(taskId: string, completed: number, total?: number | null) {
    return this.progressBatch.write(checkProgress({ taskId, completed, total, actor: currentActor() ?? SYSTEM_ACTOR }));
  }
  /**
   * A running step's own progress and, with `task`, the task's progress derived from its steps, in
   * one statement with one PROGRESSED event (nothing when the step is no longer running).
   */
  async setStepProgress(taskId: string, stepKey: string, step: { completed: number; total?: number | null }, task: { completed: number; total: number } | null) {
    const { version, notice } = await setStepProgress(this.prisma, taskId, stepKey, step, task);
    if (version) this.committed(notice);
    return version;
  }
  /** With `leaseOwner`, refused (CONFLICT) unless that claim still holds the task. */
  /** One statement (no transaction held across round trips); returns the line's id. */
  async appendLog(taskId: string, entry: LogLine, options: { leaseOwner?: string } = {}) {
    const { id, notice } = await appendLog(this.prisma, taskId, entry, options);
    this.committed(notice);
    return id;
  }
  writeSettings(changes: Partial<Settings>) {
    return writeSettings(this.prisma, changes, this.defaults);
  }

  // ── control mutations ────────────────────────────────────────────────────
  abortTask(id: string, options?: { rollback?: boolean; by?: string | null }) {
    return this.transaction((tx) => controls.abortTask(tx, id, options));
  }
  deleteTask(id: string, options?: { force?: boolean; by?: string | null }) {
    return this.transaction((tx) => controls.deleteTask(tx, id, options));
  }
  retryTask(id: string) {
    return this.transaction((tx) => controls.retryTask(tx, id));
  }
  rerunStep(taskId: string, stepKey: string) {
    return this.transaction((tx) => controls.rerunStep(tx, taskId, stepKey));
  }
  markStepSucceeded(taskId: string, stepKey: string, by?: string | null) {
    return this.transaction((tx) => controls.markStepSucceeded(tx, taskId, stepKey, by));
  }
  terminateStep(taskId: string, stepKey: string, by?: string | null) {
    return this.transaction((tx) => controls.terminateStep(tx, taskId, stepKey, by));
  }

  // ── workers and retention ────────────────────────────────────────────────
  /** One statement: the claim, its events and its NOTIFY. */
  async claimTasks(options: claims.ClaimOptions): Promise<claims.Claimed[]> {
    const { claimed, notice } = await claims.claimTasks(this.prisma, options);
    this.committed(notice);
    return claimed;
  }
  /**
   * Records many runs' success in one statement (see completions.ts); returns those recorded.
   * The others were left alone: their runs take the careful path.
   */
  async completeTasks(completions: Completion[]): Promise<Completion[]> {
    const { done, notice } = await completeTasks(this.prisma, completions);
    this.committed(notice);
    return done;
  }
  /**
   * completeTasks, then a claim of up to `free` plus as many tasks as that freed, in ONE statement
   * (one round trip and one commit per batch).
   */
  async completeAndClaim(completions: Completion[], claim: Omit<claims.ClaimOptions, "limit"> & { free: number }) {
    const { done, claimed, notices } = await completeAndClaim(this.prisma, completions, claim);
    for (const notice of notices) this.committed(notice);
    return { done, claimed };
  }
  async promoteDueTasks() {
    const { promoted, notice } = await claims.promoteDueTasks(this.prisma);
    this.committed(notice);
    return promoted;
  }
  renewLeases(leases: claims.Lease[], leaseMs: number) {
    return claims.renewLeases(this.prisma, leases, leaseMs);
  }
  /** Hands the tasks back (see claims.releaseLeases); `note` is logged on each one handed back. */
  releaseLeases(leases: claims.Lease[], note?: string) {
    return this.transaction((tx) => claims.releaseLeases(tx, leases, note));
  }
  releaseClaim(owner: string) {
    return this.transaction((tx) => claims.releaseClaim(tx, owner));
  }
  releaseAllLeases() {
    return this.transaction((tx) => claims.releaseAllLeases(tx));
  }
  async reapExpired() {
    const settings = await this.settings();
    return this.transaction((tx) => reapExpired(tx, settings));
  }
  /** Removes journal events past the retention horizon (TASKGRAPH_EVENT_RETENTION_HOURS). */
  pruneJournal(now = Date.now()) {
    const hours = this.config.eventRetentionHours ?? 168;
    return pruneJournal(this.prisma, new Date(now - hours * 3_600_000));
  }
  async drainModule(module: string) {
    if (!(await this.findModule(module, { select: { name: true } }))) throw notFound("Module", module);
    return this.transaction((tx) => drainModule(tx, module));
  }

  // ── reads ─────────────────────────────────────────────────────────────────
  findTask(id: string, query?: TaskQuery) {
    return findTask(this.prisma, id, query);
  }
  getTask(id: string, query?: TaskQuery) {
    return getTask(this.prisma, id, query);
  }
  /** With `count`, the total count starts with the page (the caller will ask for it). */
  listTasks(options: { filter?: TaskFilter; orderBy?: TaskOrder | null; page?: PageArgs; query?: TaskQuery; count?: boolean }) {
    return listTasks(this.prisma, { ...options, maxPageSize: this.config.maxPageSize });
  }
  /** Tasks the filter selects (as listTasks), counted per state and category in one statement (exact up to EXACT_COUNT_LIMIT). */
  taskCounts(filter?: TaskFilter) {
    return countTasks(this.prisma, filter);
  }
  taskTree(id: string, options?: TaskTreeOptions) {
    return taskTree(this.prisma, this.kind, id, options);
  }
  withPendingDescendants(ids: readonly string[]) {
    return withPendingDescendants(this.prisma, ids);
  }
  moduleStats(name?: string) {
    return moduleStats(this.prisma, name);
  }
  /** Whole task rows by id, in no particular order; missing ids are left out (batched edge loads). */
  tasksByIds(ids: readonly string[]) {
    return this.prisma.task.findMany({ where: { id: { in: [...ids] } } });
  }
  /** The same, each with its module row (a live batch's tasks: Task.module then costs no read). */
  tasksWithModulesByIds(ids: readonly string[]) {
    return this.prisma.task.findMany({ where: { id: { in: [...ids] } }, include: { module: true } });
  }
  /** Module rows by name, in no particular order (batched edge loads). */
  modulesByNames(names: readonly string[]) {
    return this.prisma.module.findMany({ where: { name: { in: [...names] } } });
  }
  /** Modules by name; `query`: plugin-prisma's selection. */
  listModules(query: { select?: Prisma.ModuleSelect; include?: Prisma.ModuleInclude } = {}) {
    return this.prisma.module.findMany({ ...query, orderBy: { name: "asc" } } as Prisma.ModuleFindManyArgs);
  }
  findModule(name: string, query: { select?: Prisma.ModuleSelect; include?: Prisma.ModuleInclude } = {}) {
    return this.prisma.module.findUnique({ ...query, where: { name } } as Prisma.ModuleFindUniqueArgs);
  }
  /** Visible (non-internal) tasks per module and state, for the given modules, in one query. */
  taskCountsByModule(names: readonly string[]) {
    return moduleTaskCounts(this.prisma, names);
  }
  /** A step's task and key (the step mutations take a step id too). */
  findStep(id: string) {
    return this.prisma.step.findUnique({ where: { id }, select: { taskId: true, key: true } });
  }
  /** Step rows by id, in no particular order; missing ids are left out (StepProgress nodes). */
  stepsByIds(ids: readonly string[]) {
    return this.prisma.step.findMany({ where: { id: { in: [...ids] } } });
  }
  /** Worker rows by name; missing names are left out. */
  workersByNames(names: readonly string[]) {
    return this.prisma.worker.findMany({ where: { name: { in: [...names] } } });
  }
  settings() {
    return readSettings(this.prisma, this.defaults);
  }
  events(taskId: string) {
    return this.prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: "asc" } });
  }
  steps(taskId: string) {
    return this.prisma.step.findMany({ where: { taskId }, orderBy: { index: "asc" } });
  }
  /** A task's children, in creation order. */
  children(taskId: string) {
    return this.prisma.task.findMany({ where: { parentId: taskId }, orderBy: { id: "asc" } });
  }
  /** How many times a step was executed (its EXECUTE and RETRY attempts). */
  executions(stepId: string) {
    return this.prisma.stepAttempt.count({ where: { stepId, kind: { in: ["EXECUTE", "RETRY"] } } });
  }
  /** How many times a task was retried (changes out of FAILED in its journal). */
  retries(taskId: string) {
    return this.prisma.taskEvent.count({ where: { taskId, type: "STATE_CHANGED", payload: { path: ["from"], equals: "FAILED" } } });
  }

  /** The states of these tasks (a missing id is gone). */
  taskStates(ids: readonly string[]) {
    return taskStates(this.prisma, ids);
  }

  // ── the event journal (read side) ─────────────────────────────────────────
  /** A cursor just before everything not yet final. */
  journalHead() {
    return journalHead(this.prisma);
  }
  /** Final events after `after` (and up to `upTo`), in commit-safe order. */
  readJournal(after: JournalCursor, filter: JournalFilter, limit: number, upTo?: JournalCursor) {
    return readJournal(this.prisma, after, filter, limit, upTo);
  }
  /** A page of one task's final events, oldest first (Task.events); pruned ones are gone. */
  taskHistory(taskId: string, page: PageArgs) {
    return readTaskHistory(this.prisma, taskId, page, this.config.maxPageSize);
  }
  /** What each event's task was before it (live lists: was it in the list?); see journal-reader. */
  previousTasks(events: readonly TaskEvent[], known: Map<string, unknown> | null) {
    return previousTasks(this.prisma, events, known);
  }
  /** The newest cursor removed by pruning (null: nothing pruned yet). */
  prunedThrough() {
    return prunedThrough(this.prisma);
  }

  // ── the task-type catalogue ───────────────────────────────────────────────
  /** Writes the entries of types this process defines (their modules must exist). */
  upsertTaskTypes(entries: TaskTypeEntry[]) {
    return taskTypes.upsertTaskTypes(this.prisma, entries);
  }
  /** One entry by "module/type"; `query`: plugin-prisma's selection. */
  findTaskType(key: string, query?: { select?: Prisma.TaskTypeSelect; include?: Prisma.TaskTypeInclude }) {
    return taskTypes.findTaskType(this.prisma, key, query);
  }
  /** Entries by module, then name (of one module, or of these keys). */
  listTaskTypes(options?: { module?: string | null; keys?: readonly string[]; query?: { select?: Prisma.TaskTypeSelect; include?: Prisma.TaskTypeInclude } }) {
    return taskTypes.listTaskTypes(this.prisma, options);
  }
  taskTypesByKey(keys: readonly string[]) {
    return taskTypes.taskTypesByKey(this.prisma, keys);
  }
  /** Live workers serving the type. */
  workersServing(key: string, query?: { select?: Prisma.WorkerSelect }) {
    return taskTypes.workersServing(this.prisma, key, query);
  }
  /** Which of these keys a live worker serves. */
  servedTaskTypes(keys: readonly string[]) {
    return taskTypes.servedKeys(this.prisma, keys);
  }
  /** Sets up a task created from the catalogue (see task-types.ts setupTask). */
  setupTask(taskId: string, leaseOwner: string, setup: { input: Prisma.InputJsonValue | null; isAbortable?: boolean; steps: ResolvedStep[] }) {
    return this.transaction((tx) => taskTypes.setupTask(tx, taskId, leaseOwner, setup));
  }

  // ── worker rows ───────────────────────────────────────────────────────────
  registerWorker(worker: { name: string; host: string; pid: number; concurrency: number; taskTypes?: string[] }) {
    return registerWorker(this.prisma, worker);
  }
  removeWorker(name: string) {
    return removeWorker(this.prisma, name);
  }
  /** With `taskTypes`: the "module/type" keys it serves now. */
  workerHeartbeat(name: string, taskTypes?: string[]) {
    return workerHeartbeat(this.prisma, name, taskTypes);
  }
  /** `query`: plugin-prisma's selection. */
  /** The figures the metrics read from the store: task counts, oldest queued tasks, live workers, journal size (one statement). */
  storeFigures() {
    return readStoreFigures(this.prisma);
  }
  listWorkers(query?: { select?: Prisma.WorkerSelect }) {
    return listWorkers(this.prisma, query);
  }

  // ── recurring schedules (schedules.ts) ─────────────────────────────────────
  createSchedule(schedule: schedules.NewSchedule) {
    return schedules.createSchedule(this.prisma, schedule);
  }
  updateSchedule(id: string, patch: schedules.SchedulePatch) {
    return this.transaction((tx) => schedules.updateSchedule(tx, id, patch));
  }
  deleteSchedule(id: string) {
    return schedules.deleteSchedule(this.prisma, id);
  }
  /** `query`: plugin-prisma's selection (with a connection's cursor, take and skip). */
  findSchedule(id: string, query: { select?: Prisma.ScheduleSelect; include?: Prisma.ScheduleInclude } = {}) {
    return this.prisma.schedule.findUnique({ ...query, where: { id } } as Prisma.ScheduleFindUniqueArgs);
  }
  listSchedules(query: Omit<Prisma.ScheduleFindManyArgs, "where">, where: Prisma.ScheduleWhereInput) {
    return this.prisma.schedule.findMany({ ...query, where } as Prisma.ScheduleFindManyArgs);
  }
  countSchedules(where: Prisma.ScheduleWhereInput) {
    return this.prisma.schedule.count({ where });
  }
  /** A schedule's newest task (by due time); `query`: plugin-prisma's selection. */
  lastScheduledTask(scheduleId: string, query: { select?: Prisma.TaskSelect; include?: Prisma.TaskInclude } = {}) {
    return this.prisma.task.findFirst({ ...query, where: { scheduleId }, orderBy: { scheduleDueAt: "desc" } } as Prisma.TaskFindFirstArgs);
  }
  /**
   * Fires up to `limit` due schedules in one transaction (schedules.ts): exactly once per due time.
   * When none is due, one read and no transaction (every worker looks at least every second).
   */
  async fireDueSchedules(build: schedules.BuildScheduledTasks, limit = 100): Promise<schedules.FireResult> {
    const earliest = await schedules.earliestDue(this.prisma);
    if (!earliest.nextRunAt || earliest.nextRunAt > earliest.now) return { started: [], refused: [], full: false, ...earliest };
    return this.transaction((tx) => schedules.fireDueSchedules(tx, build, limit));
  }

  // ── API tokens ────────────────────────────────────────────────────────────
  createApiToken(token: { name: string; role: Role; createdBy: string | null }) {
    return createApiToken(this.prisma, token);
  }
  revokeApiToken(name: string) {
    return revokeApiToken(this.prisma, name);
  }
  listApiTokens() {
    return listApiTokens(this.prisma);
  }
  findLiveToken(secret: string, options?: LookupOptions) {
    return findLiveToken(this.prisma, secret, options);
  }
  liveTokensExist(options?: LookupOptions) {
    return liveTokensExist(this.prisma, options);
  }
  touchToken(id: string, at: Date) {
    return touchToken(this.prisma, id, at);
  }
}
