// A list page's live events: the events of the tasks in a TaskFilter's set, and one last event of
// a task when it leaves the set. Each event records the task as the change left it (a snapshot),
// so whether an event is delivered depends only on it and on the task's previous event: in the set
// after it → delivered; out of it after it but in it after the previous one → delivered as the
// task leaving; otherwise skipped. Replay from a cursor therefore gives exactly what live delivery gave.
import type { TaskEvent } from "../generated/prisma/client";
import { type CheckedFilter, checkTaskFilter, matchesCheckedFilter, type TaskFilter, type TaskSnapshot } from "../store/task-filter";

/** What an event means to the set: in it, leaving it, not concerning it, or to be looked up. */
export type Verdict = "in" | "leaves" | "out" | "unknown";

/** Past this many tasks the memory is forgotten; an unknown task costs one lookup, never a wrong answer. */
const MAX_REMEMBERED = 50_000;

export class TaskSet {
  /** Whether each task seen was in the set after its last event seen. */
  private readonly inSet = new Map<string, boolean>();

  private readonly filter: CheckedFilter;

  /** A bad filter is BAD_USER_INPUT here, before anything is sent. */
  constructor(filter: TaskFilter) {
    this.filter = checkTaskFilter(filter);
  }

  /** Whether the task as it was after this change (or after the previous one) is in the set. */
  holds(snapshot: unknown): boolean {
    return snapshot != null && matchesCheckedFilter(snapshot as TaskSnapshot, this.filter);
  }

  /**
   * Classifies the next event of the journal (call in journal order) and remembers where its task
   * stands. "unknown": the task is out of the set now, and whether it was in it before is for
   * the caller to look up (previousTaskSnapshot, then `holds`).
   */
  classify(event: Pick<TaskEvent, "taskId" | "type" | "task">): Verdict {
    const inNow = this.holds(event.task);
    const before = this.inSet.get(event.taskId);
    if (event.type === "DELETED") this.inSet.delete(event.taskId);
    else {
      if (this.inSet.size >= MAX_REMEMBERED && before === undefined) this.inSet.clear();
      this.inSet.set(event.taskId, inNow);
    }
    if (inNow) return "in";
    if (before === undefined) return event.type === "CREATED" ? "out" : "unknown"; // nothing came before a CREATED
    return before ? "leaves" : "out";
  }
}
