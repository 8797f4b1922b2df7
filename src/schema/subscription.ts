// Live subscriptions: taskEvents (the journal replayed from a cursor, then the
// process's shared live feed) and taskUpdated (a task's snapshot at once, then on every change,
// re-read when the change bus mentions it, with a slow fallback re-read).
import type { TaskEvent } from "../generated/prisma/client";
import { touches, type Change, type ChangeBus } from "../events/change-bus";
import { parseUuid } from "../domain/ids";
import type { JournalCursor, JournalFilter } from "../store/journal";
import { decodeEventCursor, encodeEventCursor, isBefore, matchesFilter, prunedThrough, readJournal } from "../store/journal";
import { TaskgraphError } from "../domain/errors";
import { builder } from "./builder";
import { TaskStateEnum } from "./enums";
import { TaskNode } from "./task";

const BATCH = 500;
const FALLBACK_MS = 1000;

const TaskEventTypeEnum = builder.enumType("TaskEventType", {
  values: ["CREATED", "STATE_CHANGED", "PROGRESSED", "STEP_CHANGED", "LOG_APPENDED", "DELETED"] as const,
});

const TaskEventObject = builder.objectRef<TaskEvent>("TaskEvent").implement({
  description: "One change of a task, from the journal written in the change's own transaction.",
  fields: (t) => ({
    cursor: t.string({ description: "Pass as `after` to resume right after this event.", resolve: (e) => encodeEventCursor(e) }),
    type: t.field({ type: TaskEventTypeEnum, resolve: (e) => e.type }),
    taskId: t.exposeID("taskId"),
    rootId: t.exposeID("rootId"),
    module: t.exposeString("module"),
    version: t.exposeInt("version", { description: "The task's version after this change: an older one is stale." }),
    at: t.expose("createdAt", { type: "DateTime" }),
    payload: t.field({
      type: "JSON",
      description: "What changed: {from,to,error} for states, {completed,total} for progress, {stepKey,from,to,attempt,attemptKind,error} for steps, {level,message,stepKey} for logs.",
      resolve: (e) => e.payload,
    }),
  }),
});

const TaskEventFilterInput = builder.inputType("TaskEventFilter", {
  fields: (t) => ({
    module: t.string(),
    taskId: t.id(),
    rootId: t.id({ description: "Every task of one tree." }),
    types: t.field({ type: [TaskEventTypeEnum] }),
    states: t.field({ type: [TaskStateEnum], description: "Only events that put a task into one of these states (CREATED, STATE_CHANGED)." }),
  }),
});

/** Resolves on the next change the predicate cares about, or after the fallback delay. */
function nextChange(bus: ChangeBus, matters: (change: Change) => boolean) {
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  const changed = new Promise<void>((resolve) => {
    unsubscribe = bus.subscribe((change) => matters(change) && resolve());
    timer = setTimeout(resolve, FALLBACK_MS);
  });
  return {
    changed,
    dispose() {
      unsubscribe();
      clearTimeout(timer);
    },
  };
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
    type: TaskEventObject,
    description:
      "Every change matching the filter. With `after` (an event's cursor) the events since then are replayed first, then it continues live with no gap and no duplicate.",
    args: { filter: t.arg({ type: TaskEventFilterInput }), after: t.arg.string() },
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
        const pruned = await prunedThrough(ctx.store.prisma);
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
            const batch = await readJournal(ctx.store.prisma, last!, filter, BATCH, live.position);
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
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => new EventStream(async function* (stream) {
      const id = parseUuid(String(args.id));
      let version = -1;
      for (;;) {
        const next = nextChange(ctx.manager.bus, (change) => touches(change, id));
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
