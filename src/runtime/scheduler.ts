// The scheduler: every worker process fires the recurring schedules that are due (store/schedules.ts
// makes each due time fire once across all of them). It looks when the earliest schedule is due
// (a timer to the store's earliest nextRunAt, by the database's clock) and at least every
// `maxWaitMs`, so a schedule created or changed through another process is seen within that.
import { coerceError } from "../domain/errors";
import type { Logger } from "../logger";
import type { BuildScheduledTasks, Schedule, Store } from "../store";
import { SYSTEM_ACTOR, withActor } from "../store";
import type { TaskRegistry } from "./registry";

/** How soon to look again when a due schedule is held by another worker's fire (it commits in moments). */
const HELD_RETRY_MS = 100;

/**
 * The tasks of a schedule's due times, as startTask would make them (the type's definition, or its
 * catalogue entry), but started by the system: no createdBy, the system's TTL, queued at once (the
 * store records the due time as Task.scheduleDueAt).
 */
export function scheduledTasks(registry: TaskRegistry): BuildScheduledTasks {
  return (schedule: Schedule, due, lookup) =>
    Promise.all(due.map(() => registry.newTask(schedule.moduleName, schedule.type, schedule.input, { createdBy: null, isUserTask: false }, lookup)));
}

export class Scheduler {
  private timer?: NodeJS.Timeout;
  private looking: Promise<void> = Promise.resolve();
  private stopped = true;
  private failing = false;
  private readonly build: BuildScheduledTasks;

  constructor(
    private readonly store: Store,
    registry: TaskRegistry,
    private readonly log: Logger,
    /** The longest time between two looks (the worker's housekeeping interval). */
    private readonly maxWaitMs: number,
  ) {
    this.build = scheduledTasks(registry);
  }

  start(): void {
    this.stopped = false;
    this.lookIn(0);
  }

  /** Stops looking; a fire under way commits or rolls back first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  private lookIn(ms: number) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.looking = this.look()), Math.max(0, ms));
    this.timer.unref();
  }

  /** Fires what is due (as the system), then sets the timer for the next due time. */
  private async look(): Promise<void> {
    let wait = this.maxWaitMs;
    try {
      const result = await withActor(SYSTEM_ACTOR, () => this.store.fireDueSchedules(this.build));
      for (const task of result.started) this.log.debug({ taskId: task.id, scheduleId: task.scheduleId, scheduleDueAt: task.scheduleDueAt }, "schedule fired");
      for (const { scheduleId, error } of result.refused) this.log.warn({ scheduleId }, `schedule fire refused, no task started: ${error}`);
      if (result.full) wait = 0;
      else if (result.nextRunAt) {
        const until = result.nextRunAt.getTime() - result.now.getTime();
        wait = Math.min(this.maxWaitMs, until > 0 ? until : HELD_RETRY_MS);
      }
      this.failing = false;
    } catch (error) {
      // The store failed (restarting, a dropped connection): nothing was fired; look again soon.
      if (!this.failing && !this.stopped) this.log.warn(`firing schedules failed, trying again: ${coerceError(error).message}`);
      this.failing = true;
    } finally {
      this.lookIn(wait);
    }
  }
}
