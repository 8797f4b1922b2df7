// One reader of the event journal per process, shared by every live subscription in it: on each
// change notification it reads the new final events once and hands each subscriber those its
// filter keeps. (A read per subscriber per notification does not scale past a few dozen.)
import { TaskgraphError } from "../domain/errors";
import type { TaskEvent } from "../generated/prisma/client";
import type { Store } from "../store";
import type { JournalCursor } from "../store/journal";
import { journalHead, readJournal } from "../store/journal";
import type { ChangeBus } from "./change-bus";

const BATCH = 1_000;
/** Safety net: events held back behind a transaction that was still running get read by then. */
const FALLBACK_MS = 1_000;
/** Events waiting for one subscriber before it counts as too slow (it resumes with `after`). */
export const MAX_QUEUED_EVENTS = 10_000;

export interface FeedSubscription {
  /** The feed's position when subscribed: the subscriber receives every event after it. */
  readonly position: JournalCursor;
  next(): Promise<TaskEvent>;
  close(): void;
}

export class JournalFeed {
  private cursor!: JournalCursor;
  private readonly subscribers = new Set<(event: TaskEvent) => void>();
  private reading = false;
  private again = false;
  /** Changes came while nobody listened: the position is behind; caught up on the next subscribe. */
  private behind = false;
  private unsubscribe = () => {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly bus: ChangeBus,
  ) {}

  async start(): Promise<void> {
    this.cursor = await journalHead(this.store.prisma);
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

  async subscribe(keep: (event: TaskEvent) => boolean): Promise<FeedSubscription> {
    if (this.behind) await this.read(); // so "live" starts about now, not at the last subscriber

    const queue: TaskEvent[] = [];
    let waiting: { resolve: (e: TaskEvent) => void; reject: (e: unknown) => void } | undefined;
    let failure: unknown;
    const offer = (event: TaskEvent) => {
      if (!keep(event) || failure) return;
      if (waiting) {
        waiting.resolve(event);
        waiting = undefined;
      } else if (queue.length >= MAX_QUEUED_EVENTS) {
        failure = new TaskgraphError("RATE_LIMITED", "This subscriber fell too far behind: resubscribe with after to resume");
        queue.length = 0;
        this.subscribers.delete(offer);
      } else {
        queue.push(event);
      }
    };
    this.subscribers.add(offer);
    return {
      position: this.cursor,
      next: () => {
        if (queue.length > 0) return Promise.resolve(queue.shift()!);
        if (failure) return Promise.reject(failure);
        return new Promise((resolve, reject) => (waiting = { resolve, reject }));
      },
      close: () => {
        this.subscribers.delete(offer);
        waiting = undefined;
      },
    };
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

  private async read() {
    if (this.reading) {
      this.again = true;
      while (this.reading) await new Promise((r) => setTimeout(r, 5));
      return;
    }
    this.reading = true;
    this.behind = false;
    try {
      do {
        this.again = false;
        const batch = await readJournal(this.store.prisma, this.cursor, {}, BATCH);
        // Synchronous from here: a subscriber registered now sees exactly the events after its position.
        for (const event of batch) {
          this.cursor = { txid: event.txid, id: event.id };
          for (const offer of this.subscribers) offer(event);
        }
        if (batch.length === BATCH) this.again = true;
      } while (this.again);
    } catch (error) {
      console.warn(`[taskgraph] journal feed: ${(error as Error).message}`);
    } finally {
      this.reading = false;
    }
  }
}
