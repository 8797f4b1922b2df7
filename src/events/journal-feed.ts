// One reader of the event journal per process, shared by every live subscription in it: on each
// change notification it reads the new final events once and hands each subscriber those its
// filter keeps. (A read per subscriber per notification does not scale past a few dozen.) While a
// subscriber filters by task (a live list), each event comes with what its task was before it,
// looked up once per batch for all of them.
import { isDatabaseUnavailable } from "../db/availability";
import { TaskgraphError } from "../domain/errors";
import { type Logger, noteOutage } from "../logger";
import type { TaskEvent } from "../generated/prisma/client";
import type { Store } from "../store";
import { isBefore, type JournalCursor } from "../store/journal-reader";
import type { ChangeBus } from "./change-bus";

const BATCH = 1_000;
/** Safety net: events held back behind a transaction that was still running get read by then. */
const FALLBACK_MS = 1_000;
/** Events waiting for one subscriber before it counts as too slow (it resumes with `after`). */
export const MAX_QUEUED_EVENTS = 10_000;

/**
 * One live subscriber: the events its filter keeps, queued until it asks for them. A class, not
 * closures: an idle subscription should cost little (test/bench memory), and every closure tsx
 * names costs a property store of its own.
 */
export class FeedSubscription {
  private readonly queue: TaskEvent[] = [];
  private waiting: { resolve: (e: TaskEvent) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;

  constructor(
    private readonly feed: JournalFeed,
    /** `previousTask`: the snapshot of the task before this event (only for `wantsPreviousTask`). */
    private readonly keep: (event: TaskEvent, previousTask: unknown) => boolean,
    /** The feed's position when subscribed: the subscriber receives every event after it. */
    readonly position: JournalCursor,
    readonly wantsPreviousTask: boolean,
  ) {}

  /** Called by the feed with every new event, in journal order. */
  offer(event: TaskEvent, previousTask: unknown): void {
    if (this.failure || !this.keep(event, previousTask)) return;
    if (this.waiting) {
      this.waiting.resolve(event);
      this.waiting = undefined;
    } else if (this.queue.length >= MAX_QUEUED_EVENTS) {
      this.failure = new TaskgraphError("RATE_LIMITED", "This subscriber fell too far behind: resubscribe with after to resume");
      this.queue.length = 0;
      this.feed.remove(this);
    } else {
      this.queue.push(event);
    }
  }

  /** The next queued event, if one is waiting (a burst is taken without a promise per event). */
  take(): TaskEvent | undefined {
    return this.queue.shift();
  }

  next(): Promise<TaskEvent> {
    const queued = this.take();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  close(): void {
    this.feed.remove(this);
    this.waiting = undefined;
  }
}

/** Each event's batch: the events one read of the journal returned (the live feed's or a replay's). */
const batches = new WeakMap<TaskEvent, readonly TaskEvent[]>();

/** Remembers that these events were read together, so that what they need is read once for all of them. */
export function recordBatch(batch: readonly TaskEvent[]): void {
  for (const event of batch) batches.set(event, batch);
}

/** The events read with this one (its batch), or undefined for an event not read by a feed or a replay. */
export function batchOf(event: TaskEvent): readonly TaskEvent[] | undefined {
  return batches.get(event);
}

export class JournalFeed {
  private cursor!: JournalCursor;
  private readonly subscribers = new Set<FeedSubscription>();
  /** The last task snapshot of each task seen, while a subscriber wants previous tasks (else empty: it would go stale). */
  private readonly knownTasks = new Map<string, unknown>();
  private reading = false;
  private again = false;
  /** Changes came while nobody listened: the position is behind; moved to the head on the next subscribe. */
  private behind = false;
  /** The move to the head in progress: subscribers wait for it, so that none starts behind it. */
  private skipping: Promise<void> | undefined;
  private unsubscribe = () => {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly bus: ChangeBus,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.cursor = await this.store.journalHead();
    this.unsubscribe = this.bus.subscribe(() => this.poke());
    this.timer = setInterval(() => this.subscribers.size > 0 && this.poke(), FALLBACK_MS);
    this.timer.unref();
  }

  /** Live subscriptions in this process. */
  get size(): number {
    return this.subscribers.size;
  }

  stop(): void {
    this.unsubscribe();
    clearInterval(this.timer);
  }

  async subscribe(keep: (event: TaskEvent, previousTask: unknown) => boolean, options: { previousTask?: boolean } = {}): Promise<FeedSubscription> {
    if (this.behind || this.skipping) await (this.skipping ??= this.skipToHead()); // so "live" starts now, not at the last subscriber
    const subscription = new FeedSubscription(this, keep, this.cursor, options.previousTask === true);
    this.subscribers.add(subscription);
    return subscription;
  }

  remove(subscription: FeedSubscription): void {
    this.subscribers.delete(subscription);
  }

  private poke() {
    if (this.subscribers.size === 0) {
      this.behind = true; // no one to read for: no query now
      return;
    }
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  /** What each event's task was before it, when a subscriber wants that. */
  private wantPreviousTasks(): boolean {
    for (const subscription of this.subscribers) if (subscription.wantsPreviousTask) return true;
    return false;
  }

  private async previousTasks(batch: TaskEvent[]): Promise<unknown[] | null> {
    if (!this.wantPreviousTasks()) {
      this.knownTasks.clear();
      return null;
    }
    return batch.length ? this.store.previousTasks(batch, this.knownTasks) : [];
  }

  /**
   * Nobody listened while events were written: nothing is owed to anyone, so the position moves to
   * the journal's head instead of reading everything since (after a busy quiet spell that could be
   * millions of events, and the first subscriber would wait for all of them). A subscriber with
   * `after` replays its own past from the journal.
   */
  private async skipToHead(): Promise<void> {
    while (this.reading) await new Promise((r) => setTimeout(r, 5)); // a read that began before the last subscriber left
    this.reading = true;
    try {
      const head = await this.store.journalHead();
      if (isBefore(this.cursor, head)) this.cursor = head;
      this.knownTasks.clear(); // what it knew is stale by now
      this.behind = false;
    } finally {
      this.reading = false;
      this.skipping = undefined;
    }
    if (this.again) this.poke();
  }

  private async read() {
    this.reading = true;
    try {
      do {
        this.again = false;
        const batch = await this.store.readJournal(this.cursor, {}, BATCH);
        let previous = await this.previousTasks(batch);
        // A subscriber that wants them joined meanwhile: it receives this batch too.
        if (!previous && this.wantPreviousTasks()) previous = await this.previousTasks(batch);
        // Synchronous from here: a subscriber registered now sees exactly the events after its position.
        recordBatch(batch);
        for (const [i, event] of batch.entries()) {
          this.cursor = { txid: event.txid, id: event.id };
          for (const subscription of this.subscribers) subscription.offer(event, previous?.[i]);
        }
        if (batch.length === BATCH) this.again = true;
      } while (this.again);
    } catch (error) {
      // Retried on the next change or within FALLBACK_MS; an outage is noted once, not every second.
      if (isDatabaseUnavailable(error)) noteOutage(this.log, error);
      else this.log.warn((error as Error).message);
    } finally {
      this.reading = false;
    }
  }
}
