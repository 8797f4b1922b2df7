// The successes of a worker's runs, waiting to be recorded in batches. The worker's poll loop
// takes them and records them in the statement that also claims work for the slots they free
// (Store.completeAndClaim). No timer: a batch goes out as soon as the loop is free, and whatever
// finishes meanwhile waits for the next one; so a lone task is recorded at once and under load the
// batches grow by themselves (up to MAX_COMPLETIONS_PER_STATEMENT).
import type { Completion } from "../store";

export interface PendingCompletion {
  completion: Completion;
  resolve(recorded: boolean): void;
}

export class CompletionQueue {
  private queue: PendingCompletion[] = [];

  /** `onQueued` is called for each completion added (the worker schedules a poll). */
  constructor(private readonly onQueued: () => void) {}

  get size(): number {
    return this.queue.length;
  }

  /**
   * Resolves true once the success is recorded; false when the store left the task alone (not
   * RUNNING under this lease, an abort requested, a child pending) or the batch failed: then the
   * run records its outcome the careful way. Never rejects.
   */
  complete(completion: Completion): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ completion, resolve });
      this.onQueued();
    });
  }

  take(max: number): PendingCompletion[] {
    return this.queue.splice(0, max);
  }

  /** Tells each run of the batch whether its completion was recorded. */
  static settle(batch: PendingCompletion[], recorded: readonly Completion[]): void {
    const done = new Set(recorded);
    for (const pending of batch) pending.resolve(done.has(pending.completion));
  }
}
