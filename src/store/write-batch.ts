// Writes of many tasks stored together (group commit): the writes that arrive while one batch is
// being stored go out in the next statement, one for all of them. No timer: a lone write is stored
// at once, and under load the batches grow by themselves. A hundred running tasks reporting ten
// times a second, or moving their steps, cost a few statements, commits and NOTIFYs a second
// instead of a thousand (each a round trip of a busy process, and a turn at the server's NOTIFY lock).
import type { Actor } from "./actor";

/** One task's write in a batch, by whom. */
export interface BatchedWrite {
  taskId: string;
  actor: Actor;
}

/** What one batch's statement did: the tasks it wrote (with their results), and those another transaction held (tried again). */
export interface BatchOutcome<R> {
  stored: Map<string, R>;
  busy: Set<string>;
}

interface Pending<W, R> {
  write: W;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** The pause before trying again writes whose tasks another transaction held locked. */
const BUSY_RETRY_MS = 10;

export class WriteBatch<W extends BatchedWrite, R> {
  private queue: Pending<W, R>[] = [];
  private writing = false;

  /**
   * `store` writes one batch (each task at most once); `otherwise` answers a write the batch
   * neither stored nor found busy (its task is gone, or the write needs the one-at-a-time path).
   */
  constructor(
    private readonly store: (writes: W[]) => Promise<BatchOutcome<R>>,
    private readonly otherwise: (write: W) => Promise<R>,
    /** Writes per statement, at most. */
    private readonly maxPerBatch: number,
  ) {}

  /** Resolves once this write is stored, with what `store` (or `otherwise`) returned; or with the batch's error. */
  write(write: W): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        const retry: Pending<W, R>[] = [];
        try {
          const { stored, busy } = await this.store(batch.map((p) => p.write));
          for (const pending of batch) {
            const result = stored.get(pending.write.taskId);
            if (result !== undefined) pending.resolve(result);
            else if (busy.has(pending.write.taskId)) retry.push(pending);
            else this.otherwise(pending.write).then(pending.resolve, pending.reject);
          }
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
        if (retry.length > 0) {
          this.queue = [...retry, ...this.queue]; // first again: a task's writes stay in order
          await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
        } else {
          // The writers just answered go on first: a flow's next step change, written within this
          // turn of the event loop, joins the next statement instead of waiting for the one after.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * The next batch: queued writes in order, one per task (a task's later write waits for the
   * next), all of the first one's actor (each event records who wrote it).
   */
  private take(): Pending<W, R>[] {
    const batch: Pending<W, R>[] = [];
    const tasks = new Set<string>();
    const rest: Pending<W, R>[] = [];
    const actor = this.queue[0]?.write.actor;
    for (const pending of this.queue) {
      const { taskId, actor: by } = pending.write;
      if (batch.length < this.maxPerBatch && !tasks.has(taskId) && by.kind === actor?.kind && by.name === actor.name) {
        tasks.add(taskId);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }
}
