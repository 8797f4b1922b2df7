// Coalesces progress reports: at most one write per interval per task (~10/s), and the last
// value reported is always written (flush).
import type { Logger } from "../logger";

export class ProgressReporter {
  private completed = 0;
  private total: number | null | undefined;
  private dirty = false;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (completed: number, total: number | null | undefined) => Promise<void>,
    initial: { completed: number; total: number | null },
    /** Where a failed write is reported (the task's run: its lines carry the taskId). */
    private readonly log: Logger,
    private readonly intervalMs = 100,
  ) {
    this.completed = initial.completed;
    this.total = initial.total;
  }

  set(completed: number, total?: number | null): void {
    if (!Number.isFinite(completed) || completed < 0) throw new RangeError("progress must be a finite number ≥ 0");
    this.completed = completed;
    if (total !== undefined) this.total = total;
    this.dirty = true;
    this.schedule();
  }

  add(n = 1): void {
    this.set(this.completed + n);
  }

  /** Writes the latest value now if it was not written yet; resolves when it is stored. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) this.writeNow();
    await this.writing;
  }

  private schedule() {
    if (this.timer) return;
    const wait = this.lastWrite + this.intervalMs - Date.now();
    if (wait <= 0) this.writeNow();
    else this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.writeNow();
    }, wait);
  }

  private writeNow() {
    this.dirty = false;
    this.lastWrite = Date.now();
    const { completed, total } = this;
    this.writing = this.writing.then(() => this.write(completed, total)).catch((error: unknown) => {
      this.log.warn(`progress not stored: ${(error as Error).message}`);
    });
  }
}
