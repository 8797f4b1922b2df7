// One LISTEN per process on the store's change channel (see store/events.ts), fanned out to
// in-process subscribers: workers (new work, abort requests), waitForTask, and later the live
// subscriptions. A subscriber that throws never breaks the bus or the others.
import type { Database } from "../db/client";
import { CHANGE_CHANNEL, type ChangeNotice } from "../store/events";

export interface Change {
  /** The tasks that changed, or "all" when unknown (too many, or notifications were missed). */
  taskIds: ReadonlySet<string> | "all";
  /** Workers may find new work. */
  wake: boolean;
  /** A task's state or steps changed, or an abort was requested: whoever runs it must look. */
  control: boolean;
}

export type ChangeHandler = (change: Change) => void;

export const touches = (change: Change, taskId: string) => change.taskIds === "all" || change.taskIds.has(taskId);

export class ChangeBus {
  private readonly handlers = new Set<ChangeHandler>();
  private unlisten?: () => Promise<void>;

  constructor(private readonly db: Database) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.db.listen(CHANGE_CHANNEL, (payload) => this.dispatch(parse(payload)));
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    this.handlers.clear();
    await unlisten?.();
  }

  subscribe(handler: ChangeHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  private dispatch(change: Change) {
    for (const handler of [...this.handlers]) {
      try {
        handler(change);
      } catch (error) {
        console.error("[taskgraph] change subscriber failed:", error);
      }
    }
  }
}

function parse(payload: string | null): Change {
  if (payload === null) return { taskIds: "all", wake: true, control: true }; // reconnected: assume everything
  try {
    const notice = JSON.parse(payload) as ChangeNotice;
    return { taskIds: notice.t === "*" ? "all" : new Set(notice.t), wake: notice.w === 1, control: notice.c === 1 };
  } catch {
    return { taskIds: "all", wake: true, control: true };
  }
}
