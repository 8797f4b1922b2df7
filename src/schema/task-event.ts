// Task events: the TaskEvent type and the live subscriptions. taskEvents replays the journal from a
// cursor, then follows the process's shared live feed; taskUpdated sends a task's snapshot at once,
// then again on every change (re-read when the change bus mentions it, with a slow fallback re-read).
import { nextChange, touches } from "../events/change-bus";
import { parseUuid } from "../domain/ids";
import type { JournalCursor, JournalFilter } from "../store/journal-reader";
import { decodeEventCursor, encodeEventCursor, isBefore, matchesFilter } from "../store/journal-reader";
import { TaskgraphError } from "../domain/errors";
import { builder } from "./builder";
import { TaskStateEnum } from "./enums";
import { taskById } from "./loaders";
import { TaskNode } from "./task";

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
    payload: t.field({
      type: "JSON",
      description: "What changed: {from,to,error} for states, {completed,total} for progress, {stepKey,from,to,attempt,attemptKind,error} for steps, {level,message,stepKey} for logs.",
      resolve: (e) => e.payload,
    }),
    task: t.field({
      type: TaskNode,
      nullable: true,
      description: "The task as it is now (not as of the event); null once it has been deleted.",
      resolve: (e, _args, ctx) => taskById(ctx).load(e.taskId),
    }),
  }),
});

const TaskEventFilterInput = builder.inputType("TaskEventFilter", {
  description: "Which events a taskEvents subscription receives; every field narrows it (AND).",
  fields: (t) => ({
    module: t.string({ description: "Events of this module's tasks." }),
    taskId: t.id({ description: "Events of one task." }),
    rootId: t.id({ description: "Every task of one tree." }),
    types: t.field({ type: [TaskEventTypeEnum], description: "Only these kinds of change." }),
    states: t.field({ type: [TaskStateEnum], description: "Only events that put a task into one of these states (CREATED, STATE_CHANGED)." }),
  }),
});

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

  constructor(make: (stream: Interruptible) => AsyncGenerator<T>) {
    this.inner = make(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    return this.inner.next();
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
      const after = args.after ? decodeEventCursor(args.after) : null;
      if (after) {
        const pruned = await ctx.store.prunedThrough();
        if (pruned && !isBefore(pruned, after)) {
          throw new TaskgraphError("CURSOR_EXPIRED", "after is older than the event journal keeps: refetch the tasks, then subscribe without after");
        }
      }
      // Live events are collected from now on; the journal up to this point is replayed first.
      const live = await ctx.manager.feed.subscribe((event) => matchesFilter(event, filter));
      try {
        let last: JournalCursor | null = after;
        if (after) {
          for (;;) {
            const batch = await ctx.store.readJournal(last!, filter, BATCH, live.position);
            for (const event of batch) {
              last = { txid: event.txid, id: event.id };
              yield event;
            }
            if (batch.length < BATCH) break;
          }
        }
        for (;;) {
          const event = await stream.until(live.next());
          if (last && !isBefore(last, event)) continue; // already replayed (a cursor from a process further ahead)
          last = { txid: event.txid, id: event.id };
          yield event;
        }
      } catch (error) {
        if (!stream.closed) throw error; // the client went away: end quietly
      } finally {
        live.close();
      }
    }),
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
    }),
    resolve: (task) => task,
  }),
}));
