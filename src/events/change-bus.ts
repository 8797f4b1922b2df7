// One LISTEN per process on the store's change channel (store/journal-writer.ts sends on it), fanned out to
// in-process subscribers: workers (new work, abort requests), waitForTask, and later the live
// subscriptions. A subscriber that throws never breaks the bus or the others.
import type { TypedEventTarget } from "@graphql-yoga/typed-event-target";
import type { Redis } from "ioredis";
import type { Database } from "../db/client";
import { CHANGE_CHANNEL, type ChangeNotice } from "../store/journal-writer";
import type { Logger } from "../logger";

export interface Change {
  /** The tasks that changed, or "all" when unknown (too many, or notifications were missed). */
  taskIds: ReadonlySet<string> | "all";
  /** Workers may find new work. */
  wake: boolean;
  /** A task's state or steps changed, or an abort was requested: whoever runs it must look. */
  control: boolean;
  /** The lease tokens of the runs that made the changes themselves (they need not look), if runs did. */
  by?: readonly string[];
}

export type ChangeHandler = (change: Change) => void;

/** Whether the change may concern the task (or any of the tasks). */
export function touches(change: Change, tasks: string | ReadonlySet<string>): boolean {
  if (change.taskIds === "all") return true;
  if (typeof tasks === "string") return change.taskIds.has(tasks);
  for (const id of change.taskIds) if (tasks.has(id)) return true;
  return false;
}

/**
 * Waiting for a change, the one way: take it before looking at the store (so a change between the
 * look and the wait is not missed), then wait on `changed`, and dispose() in a finally. `changed`
 * resolves at the first change that `matters`, after `recheckMs` at the latest (notifications can
 * be lost, a re-check costs one read), or when `signal` aborts.
 */
export function nextChange(
  bus: ChangeBus,
  matters: (change: Change) => boolean,
  options: { recheckMs: number; signal?: AbortSignal },
): { changed: Promise<void>; dispose(): void } {
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const changed = new Promise<void>((resolve) => {
    unsubscribe = bus.subscribe((change) => matters(change) && resolve());
    timer = setTimeout(resolve, options.recheckMs);
    onAbort = () => resolve();
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  return {
    changed,
    dispose() {
      unsubscribe();
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    },
  };
}

export class ChangeBus {
  private readonly handlers = new Set<ChangeHandler>();
  private unlisten?: () => Promise<void>;
  private redis?: { target: TypedEventTarget<CustomEvent>; clients: Redis[] };

  /** With a Redis URL, notices travel through Redis (graphql-yoga's redis event target) instead of LISTEN. */
  constructor(
    private readonly db: Database,
    private readonly redisUrl: string | null,
    private readonly log: Logger,
  ) {}

  /** Where the store hands committed notices when they travel through Redis; undefined with LISTEN/NOTIFY. */
  get publisher(): ((notice: ChangeNotice) => void) | undefined {
    if (!this.redisUrl) return undefined;
    return (notice) => this.redis?.target.dispatchEvent(new CustomEvent(CHANGE_CHANNEL, { detail: notice }));
  }

  async start(): Promise<void> {
    if (this.unlisten) return;
    if (this.redisUrl) {
      // Loaded only with a Redis URL: ioredis alone adds about 0.1 s to every start otherwise.
      const [{ Redis }, { createRedisEventTarget }] = await Promise.all([import("ioredis"), import("@graphql-yoga/redis-event-target")]);
      if (this.unlisten) return;
      const clients = [new Redis(this.redisUrl), new Redis(this.redisUrl)];
      const target = createRedisEventTarget<CustomEvent>({ publishClient: clients[0]!, subscribeClient: clients[1]! });
      const listener = (event: CustomEvent) => this.dispatch(parse(JSON.stringify(event.detail)));
      target.addEventListener(CHANGE_CHANNEL, listener as EventListener);
      this.redis = { target, clients };
      this.unlisten = async () => {
        target.removeEventListener(CHANGE_CHANNEL, listener as EventListener);
        await Promise.all(clients.map((c) => c.quit().catch(() => {})));
      };
      return;
    }
    this.unlisten = await this.db.listen(CHANGE_CHANNEL, (payload) => this.dispatch(parse(payload)));
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
        this.log.error({ err: error }, "a change subscriber failed");
      }
    }
  }
}

function parse(payload: string | null): Change {
  if (payload === null) return { taskIds: "all", wake: true, control: true }; // reconnected: assume everything
  try {
    const notice = JSON.parse(payload) as ChangeNotice;
    return { taskIds: notice.t === "*" ? "all" : new Set(notice.t), wake: notice.w === 1, control: notice.c === 1, by: notice.o };
  } catch {
    return { taskIds: "all", wake: true, control: true };
  }
}
