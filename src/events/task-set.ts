// A list page's live events: the events of the tasks in a TaskFilter's set, and one last event of
// a task when it leaves the set. Each event records the task as the change left it (a snapshot),
// so whether an event is sent depends only on it and on the task's previous event: in the set
// after it → sent; out of it after it but in it before (the previous event's snapshot) → sent as
// the task leaving; otherwise skipped. Live delivery and replay from a cursor therefore agree.
import { type CheckedFilter, checkTaskFilter, matchesCheckedFilter, type TaskFilter, type TaskSnapshot } from "../store/task-filter";

export class TaskSet {
  private readonly filter: CheckedFilter;

  /** A bad filter is BAD_USER_INPUT here, before anything is sent. */
  constructor(filter: TaskFilter) {
    this.filter = checkTaskFilter(filter);
  }

  /** Whether a task snapshot (an event's `task`) is in the set; none (deleted, or no event) is not. */
  holds(snapshot: unknown): boolean {
    return snapshot != null && matchesCheckedFilter(snapshot as TaskSnapshot, this.filter);
  }

  /** Whether the event is sent: its task is in the set after it, or was before it. */
  concerns(event: { task: unknown }, previousTask: unknown): boolean {
    return this.holds(event.task) || this.holds(previousTask);
  }
}
