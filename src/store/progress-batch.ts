// Progress reports of many tasks written together (group commit): the reports that arrive while
// one batch is being written go out in the next statement, one for all of them. No timer: a lone
// report is written at once, and under load the batches grow by themselves. A hundred running
// tasks reporting ten times a second cost a few statements, commits and NOTIFYs a second instead
// of a thousand (each a round trip of a busy process, and a turn at the server's NOTIFY lock).
import { notFound } from "../domain/errors";
import type { ProgressWrite, StoredProgress } from "./task-writes";

interface Pending {
  write: ProgressWrite;
  resolve(stored: StoredProgress): void;
  reject(error: unknown): void;
}

/** Reports per statement, at most. */
const MAX_PER_BATCH = 500;
/** The pause before trying again reports whose tasks another transaction held locked. */
const BUSY_RETRY_MS = 10;

export class ProgressBatch {
  private queue: Pending[] = [];
  private writing = false;

  /**
   * `store` writes one batch (each task at most once) and says what it stored, by task id, and
   * which tasks it skipped because another transaction held them (tried again).
   */
  constructor(private readonly store: (writes: ProgressWrite[]) => Promise<{ stored: Map<string, StoredProgress>; busy: Set<string> }>) {}

  /** Resolves once this report is stored; NOT_FOUND when the task is gone, or the batch's error. */
  set(write: ProgressWrite): Promise<StoredProgress> {
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
        const retry: Pending[] = [];
        try {
          const { stored, busy } = await this.store(batch.map((p) => p.write));
          for (const pending of batch) {
            const progress = stored.get(pending.write.taskId);
            if (progress) pending.resolve(progress);
            else if (busy.has(pending.write.taskId)) retry.push(pending);
            else pending.reject(notFound("Task", pending.write.taskId));
          }
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
        if (retry.length > 0) {
          this.queue = [...retry, ...this.queue]; // first again: a task's reports stay in order
          await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * The next batch: queued reports in order, one per task (a task's later report waits for the
   * next), all of the first one's actor (each event records who reported it).
   */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const tasks = new Set<string>();
    const rest: Pending[] = [];
    const actor = this.queue[0]?.write.actor;
    for (const pending of this.queue) {
      const { taskId, actor: by } = pending.write;
      if (batch.length < MAX_PER_BATCH && !tasks.has(taskId) && by.kind === actor?.kind && by.name === actor.name) {
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
