// Task events: the TaskEvent type with its actor, a task's history (Task.events) and the live
// subscriptions. taskEvents replays the journal from a cursor, then follows the process's shared
// live feed; taskUpdated sends a task's snapshot at once, then again on every change (re-read when
// the change bus mentions it, with a slow fallback re-read).
import { nextChange, touches } from "../events/change-bus";
import { batchOf, recordBatch } from "../events/journal-feed";
import { parseUuid } from "../domain/ids";
import type { JournalCursor, JournalFilter } from "../store/journal-reader";
import { decodeEventCursor, encodeEventCursor, isBefore, matchesFilter } from "../store/journal-reader";
import { TaskgraphError } from "../domain/errors";
import { builder } from "./builder";
import { TaskStateEnum } from "./enums";
import { taskById } from "./loaders";
import { TaskFilterInput, TaskNode } from "./task";
import { TaskSet } from "../events/task-set";
import type { Task, TaskEvent } from "../generated/prisma/client";
import type { Context } from "./builder";
import type { TaskFilter } from "../store/task-filter";
import type { TaskMetrics } from "../runtime/metrics";

const BATCH = 500;
const FALLBACK_MS = 1000;

const TaskEventTypeEnum = builder.enumType("TaskEventType", {
  description: "What kind of change a TaskEvent records.",
  values: {
    CREATED: { description: "The task was created (payload: its state)." },
    STATE_CHANGED: { description: "The task changed state (payload: from, to, error)." },
    PROGRESSED: {
      description:
        "The task's progress moved (payload: completed, total — the task's). When a step's own progress moved, the payload also has stepKey and step {completed, total}; a flow's completed/total are then its derived progress (steps done + the running steps' fractions, of the number of steps).",
    },
    STEP_CHANGED: { description: "One of its steps changed state (payload: stepKey, from, to, attempt, attemptKind, error)." },
    LOG_APPENDED: {
      description:
        "A log line was written (payload: logId, level, message, time, and for a step's line stepKey, stepId (`Step:<uuid>`), attemptId (`StepAttempt:<uuid>`), attempt (its number) and attemptKind; null for a line of the task itself). The stack of an error line is in LogEntry.stack only.",
    },
    DELETED: { description: "The task was deleted." },
  } as const,
});

const ActorKindEnum = builder.enumType("ActorKind", {
  description: "What kind of actor made a change.",
  values: {
    USER: { description: "A request to the API: the name is the API token's name, or `local` (protected mode's local ADMIN)." },
    WORKER: { description: "A worker running the task (claims, steps, progress, log lines, its outcome): the name is the worker's." },
    SYSTEM: { description: "Housekeeping: a scheduled task becoming due, TTL expiry; the name is `system`." },
  } as const,
});

interface ActorShape {
  kind: "USER" | "WORKER" | "SYSTEM";
  name: string;
}

const ActorRef = builder.objectRef<ActorShape>("Actor").implement({
  description: "Who made a change recorded in the journal.",
  fields: (t) => ({
    kind: t.field({ type: ActorKindEnum, description: "A user of the API, a worker, or the system.", resolve: (a) => a.kind }),
    name: t.exposeString("name", { description: "The API token's name (or `local`), the worker's name, or `system`." }),
  }),
});

const TaskEventNode = builder.prismaNode("TaskEvent", {
  id: { field: "id" },
  findUnique: (id) => ({ id: BigInt(id) }),
  nullable: true, // node(id) of an event the journal no longer keeps is null (Relay)
  description:
    "One change of a task, from the journal written in the change's own transaction. Its id is `TaskEvent:<journal position>`; the journal keeps events for TASKGRAPH_EVENT_RETENTION_HOURS.",
  fields: (t) => ({
    cursor: t.string({ description: "Pass as `after` to resume right after this event.", resolve: (e) => encodeEventCursor(e) }),
    type: t.field({ type: TaskEventTypeEnum, description: "What kind of change it was.", resolve: (e) => e.type }),
    taskId: t.exposeID("taskId", { description: "The id of the task that changed (kept after the task is deleted)." }),
    rootId: t.exposeID("rootId", { description: "The id of the root of that task's tree." }),
    module: t.exposeString("module", { description: "The module of that task." }),
    version: t.exposeInt("version", { description: "The task's version after this change: an older one is stale." }),
    at: t.expose("createdAt", { type: "DateTime", description: "When the change was written." }),
    actor: t.field({
      type: ActorRef,
      description: "Who made the change: the API caller for a mutation, the worker for what a run does, the system for housekeeping.",
      resolve: (e) => ({ kind: e.actorKind, name: e.actorName }),
    }),
    payload: t.field({
      type: "JSON",
      description:
        "What changed, by type (TaskEventType describes each): {state} for CREATED, {from,to,error} for STATE_CHANGED, {completed,total} (+ stepKey and step {completed,total} for a step's own progress) for PROGRESSED, {stepKey,from,to,attempt,attemptKind,error} for STEP_CHANGED, {logId,level,message,time,stepKey,stepId,attemptId,attempt,attemptKind} for LOG_APPENDED.",
      resolve: (e) => e.payload,
    }),
    task: t.field({
      type: TaskNode,
      nullable: true,
      description: "The task as it is now (not as of the event); null once it has been deleted.",
      resolve: (e, _args, ctx) => taskOfEvent(e, ctx),
    }),
    leavesFilter: t.boolean({
      description:
        "True on the last event a taskEvents subscription with `filter.task` sends about a task that no longer matches that filter (a list page drops its row); false otherwise.",
      resolve: (e) => (e as LeavingEvent).leavesFilter === true,
    }),
  }),
});

builder.prismaObjectField(TaskNode, "events", (t) =>
  t.connection(
    {
      type: TaskEventNode,
      description:
        "The task's history: its own journal events, oldest first (created, claimed by a worker, steps, progress, log lines, " +
        "controls and who made each). Only events already final are listed, so the last edge's cursor can be passed as " +
        "taskEvents `after` to follow the task live with no gap. Events older than the journal keeps " +
        "(TASKGRAPH_EVENT_RETENTION_HOURS) are gone from it too.",
      resolve: async (task, args, ctx) => {
        const { events, cursors, pageInfo } = await ctx.store.taskHistory(task.id, {
          first: args.first,
          after: args.after,
          last: args.last,
          before: args.before,
        });
        return { pageInfo, edges: events.map((node, i) => ({ cursor: cursors[i]!, node })) };
      },
    },
    { name: "TaskEventConnection", description: "A page of a task's events, oldest first." },
    { name: "TaskEventEdge", description: "An event in a page, with its journal cursor (also a taskEvents `after`)." },
  ),
);

const TaskEventFilterInput = builder.inputType("TaskEventFilter", {
  description: "Which events a taskEvents subscription receives; every field narrows it (AND).",
  fields: (t) => ({
    module: t.string({ description: "Events of this module's tasks." }),
    taskId: t.id({ description: "Events of one task." }),
    rootId: t.id({ description: "Every task of one tree." }),
    types: t.field({ type: [TaskEventTypeEnum], description: "Only these kinds of change." }),
    states: t.field({ type: [TaskStateEnum], description: "Only events that put a task into one of these states (CREATED, STATE_CHANGED)." }),
    task: t.field({
      type: TaskFilterInput,
      description:
        "Only events of tasks that match this filter (the same as `tasks`' filter) as the event left them, and one last event, with leavesFilter: true, when a task stops matching it: a list page stays current with no query. Example: {category: PENDING, search: \"restart\"}.",
    }),
  }),
});

/** An event that takes its task out of a subscription's task filter. */
type LeavingEvent = TaskEvent & { leavesFilter?: boolean };

/** Each live event's marked copy, made once: every subscriber it leaves receives the same object (shared execution). */
const leavingCopies = new WeakMap<TaskEvent, LeavingEvent>();

/** The event as sent under a task filter: marked when it takes its task out of the filter's set. */
function asSent(set: TaskSet, event: TaskEvent): LeavingEvent {
  if (set.holds(event.task)) return event;
  let copy = leavingCopies.get(event);
  if (!copy) leavingCopies.set(event, (copy = { ...event, leavesFilter: true }));
  return copy;
}

/**
 * An event's task as it is now, read once per event object: the live feed hands all its
 * subscribers the same object, so 1,000 subscribers of one event cost one read, not 1,000. An
 * event's task is read with those of its whole batch (one query for the events of one journal
 * read, live or replayed): a subscriber takes its events one at a time, and a read per event, one after another,
 * is what kept a busy list page behind its events.
 */
const tasksOfEvents = new WeakMap<TaskEvent, Promise<Task | null>>();
const tasksOfBatches = new WeakMap<readonly TaskEvent[], Promise<Map<string, Task>>>();
function taskOfEvent(event: TaskEvent, ctx: Context): Promise<Task | null> {
  let task = tasksOfEvents.get(event);
  if (!task) {
    const batch = batchOf(event);
    task = batch ? tasksOfBatch(batch, ctx).then((tasks) => tasks.get(event.taskId) ?? null) : taskById(ctx).load(event.taskId);
    tasksOfEvents.set(event, task);
  }
  return task;
}

function tasksOfBatch(batch: readonly TaskEvent[], ctx: Context): Promise<Map<string, Task>> {
  let tasks = tasksOfBatches.get(batch);
  if (!tasks) {
    tasks = ctx.store.tasksWithModulesByIds([...new Set(batch.map((e) => e.taskId))]).then((rows) => new Map(rows.map((t) => [t.id, t])));
    tasksOfBatches.set(batch, tasks);
  }
  return tasks;
}

/**
 * A subscription's event stream: wraps its generator so that a client going away stops it at once.
 * return() marks it closed and interrupts the wait in progress (`until`); an async generator only
 * takes a return() at its next yield, so one waiting for events that never come would otherwise
 * live on. A class rather than closures: idle subscriptions should cost little memory.
 */
interface Interruptible {
  readonly closed: boolean;
  until<P>(promise: Promise<P>): Promise<P>;
}

class EventStream<T> implements AsyncIterableIterator<T>, Interruptible {
  closed = false;
  private interrupt: ((error: Error) => void) | undefined;
  private readonly inner: AsyncGenerator<T>;

  /** Counted in `metrics` as an open subscription of `field` until it ends (taskgraph_subscriptions). */
  constructor(
    make: (stream: Interruptible) => AsyncGenerator<T>,
    private readonly metrics: TaskMetrics,
    private readonly field: string,
  ) {
    this.inner = make(this);
    metrics.subscriptionOpened(field);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    try {
      const step = await this.inner.next();
      if (step.done) this.close(); // ended by itself (a deleted task's taskUpdated)
      return step;
    } catch (error) {
      this.close(); // ended by an error
      throw error;
    }
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.close();
    void this.inner.return(undefined as never).catch(() => {});
    return Promise.resolve({ done: true, value: value as never });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return this.inner.throw(error);
  }

  /** Resolves with `promise`, or rejects as soon as the stream is closed. */
  until<P>(promise: Promise<P>): Promise<P> {
    if (this.closed) return Promise.reject(new Error("subscription closed"));
    return new Promise<P>((resolve, reject) => {
      this.interrupt = reject;
      promise.then(resolve, reject);
    });
  }

  private close(): void {
    if (!this.closed) this.metrics.subscriptionClosed(this.field);
    this.closed = true;
    this.interrupt?.(new Error("subscription closed"));
    this.interrupt = undefined;
  }
}

builder.subscriptionType({ description: "Follow tasks live (VIEWER and above).", authScopes: { viewer: true } });

builder.subscriptionFields((t) => ({
  taskEvents: t.field({
    type: TaskEventNode,
    description:
      "Every change matching the filter. With `after` (an event's cursor) the events since then are replayed first, then it continues live with no gap and no duplicate.",
    args: {
      filter: t.arg({ type: TaskEventFilterInput, description: "Which events; omitted: all." }),
      after: t.arg.string({ description: "An event's cursor: replay the events after it first." }),
    },
    subscribe: (_root, args, ctx) => new EventStream(async function* (stream) {
      const filter: JournalFilter = {
        module: args.filter?.module,
        taskId: args.filter?.taskId ? parseUuid(String(args.filter.taskId), "taskId") : null,
        rootId: args.filter?.rootId ? parseUuid(String(args.filter.rootId), "rootId") : null,
        types: args.filter?.types,
        states: args.filter?.states,
      };
      const taskFilter: TaskFilter | null = args.filter?.task ?? null;
      const taskSet = taskFilter ? new TaskSet(taskFilter) : null; // checks the filter first
      const after = args.after ? decodeEventCursor(args.after) : null;
      if (after) {
        const pruned = await ctx.store.prunedThrough();
        if (pruned && !isBefore(pruned, after)) {
          throw new TaskgraphError("CURSOR_EXPIRED", "after is older than the event journal keeps: refetch the tasks, then subscribe without after");
        }
      }
      // Live events are collected from now on; the journal up to this point is replayed first.
      const live = await ctx.manager.feed.subscribe(
        (event, previousTask) => matchesFilter(event, filter) && (!taskSet || taskSet.concerns(event, previousTask)),
        { previousTask: taskSet !== null },
      );
      try {
        let last: JournalCursor | null = after;
        if (after) {
          // What each task was before an event: followed along the replay when it reads every event
          // of its tasks, else looked up for each event.
          const known = filter.types?.length || filter.states?.length ? null : new Map<string, unknown>();
          for (;;) {
            const batch = await ctx.store.readJournal(last!, filter, BATCH, live.position);
            const previous = taskSet ? await ctx.store.previousTasks(batch, known) : null;
            recordBatch(batch); // each event's task is read with those of the whole batch
            for (const [i, event] of batch.entries()) {
              last = { txid: event.txid, id: event.id };
              if (!taskSet) yield event;
              else if (taskSet.concerns(event, previous![i])) yield asSent(taskSet, event);
            }
            if (batch.length < BATCH) break;
          }
        }
        for (;;) {
          const event = live.take() ?? (await stream.until(live.next()));
          if (last && !isBefore(last, event)) continue; // already replayed (a cursor from a process further ahead)
          last = { txid: event.txid, id: event.id };
          yield taskSet ? asSent(taskSet, event) : event;
        }
      } catch (error) {
        if (!stream.closed) throw error; // the client went away: end quietly
      } finally {
        live.close();
      }
    }, ctx.manager.metrics, "taskEvents"),
    resolve: (event) => event,
  }),
  taskUpdated: t.field({
    type: TaskNode,
    nullable: true,
    description: "The task now, then again after every change (a live query of one task). Ends when the task is deleted.",
    args: { id: t.arg.id({ required: true, description: "The task's id." }) },
    subscribe: (_root, args, ctx) => new EventStream(async function* (stream) {
      const id = parseUuid(String(args.id));
      let version = -1;
      for (;;) {
        const next = nextChange(ctx.manager.bus, (change) => touches(change, id), { recheckMs: FALLBACK_MS });
        try {
          const task = version === -1 ? await ctx.store.getTask(id) : await ctx.store.findTask(id);
          if (!task) return;
          if (task.version !== version) {
            version = task.version;
            yield task;
          }
          await stream.until(next.changed);
        } catch (error) {
          if (stream.closed) return; // the client went away: end quietly
          throw error;
        } finally {
          next.dispose();
        }
      }
    }, ctx.manager.metrics, "taskUpdated"),
    resolve: (task) => task,
  }),
}));
