// The list's live updates: one taskEvents subscription (narrowed to the selected module by the
// server), its events gathered and applied once per animation frame, so a burst of events costs
// one render. Rows on the page are updated in place; tasks that newly belong in the view are
// inserted on the first page (newest first) or counted for the "N new" banner elsewhere.
import { useEffect, useRef, useState } from "react";
import { useClient } from "urql";
import type { TaskRow } from "../graphql";
import { LIST_EVENT_TYPES, ListEventsSubscription } from "./queries";
import { tabOf, type ListView, matchesView } from "./view";

export interface LiveState {
  /** The newest version seen live of each task on screen (by id). */
  rows: Map<string, TaskRow>;
  /** New tasks shown above the page's rows, newest first. */
  inserted: TaskRow[];
  /** Tasks deleted since the page was loaded. */
  deleted: Set<string>;
  /** New matching tasks not shown (the user is not on the first page, or sorts otherwise). */
  newCount: number;
}

const empty = (): LiveState => ({ rows: new Map(), inserted: [], deleted: new Set(), newCount: 0 });

interface ListEvent {
  type: string;
  taskId: string;
  version: number;
  payload: unknown;
  task: TaskRow | null;
}

const newer = (a: TaskRow | undefined, b: TaskRow) => !a || b.version > a.version;

/**
 * Live state for the rows of one loaded page (`pageKey` changes with each load: then inserts and
 * the banner start afresh). `insertHere`: new tasks go on top of this page.
 */
export function useLiveList(view: ListView, createdAfter: string | null, pageIds: readonly string[], pageKey: unknown, insertHere: boolean): LiveState {
  const client = useClient();
  const [state, setState] = useState<LiveState>(empty);
  const queue = useRef<ListEvent[]>([]);
  const frame = useRef<number | null>(null);
  // What the flush needs to know of the view, read when it runs.
  const context = useRef({ view, createdAfter, pageIds: new Set(pageIds), insertHere });
  context.current = { view, createdAfter, pageIds: new Set(pageIds), insertHere };

  // A new page load: the server's rows are current, and what was inserted or counted is in them
  // now (or not in the view).
  useEffect(() => {
    setState(empty());
  }, [pageKey]);

  useEffect(() => {
    const flush = () => {
      frame.current = null;
      const events = queue.current;
      queue.current = [];
      const { view, createdAfter, pageIds, insertHere } = context.current;
      const category = tabOf(view).category;
      setState((previous) => {
        const next: LiveState = {
          rows: new Map(previous.rows),
          inserted: [...previous.inserted],
          deleted: new Set(previous.deleted),
          newCount: previous.newCount,
        };
        for (const event of events) {
          if (event.type === "DELETED" || !event.task) {
            if (pageIds.has(event.taskId) || next.inserted.some((t) => t.id === event.taskId)) next.deleted.add(event.taskId);
            continue;
          }
          const task = event.task;
          // Only the rows on screen are kept (a busy server's other tasks are not remembered).
          const shown = pageIds.has(task.id) || next.inserted.some((t) => t.id === task.id);
          if (shown) {
            if (newer(next.rows.get(task.id), task)) next.rows.set(task.id, task);
            continue;
          }
          // A task newly in this view: just created, or its state just moved it into this tab.
          const payload = (event.payload ?? {}) as { from?: string };
          const entered =
            event.type === "CREATED" ||
            (event.type === "STATE_CHANGED" && category !== null && task.category === category && categoryOfState(payload.from) !== category);
          if (!entered || !matchesView(view, createdAfter, task)) continue;
          // At most a page of inserts; past that the banner counts them.
          if (insertHere && next.inserted.length < view.size) {
            next.inserted.unshift(task);
            next.rows.set(task.id, task);
          } else next.newCount += 1;
        }
        return next;
      });
    };
    const subscription = client
      .subscription(ListEventsSubscription, {
        filter: { types: [...LIST_EVENT_TYPES], ...(view.module ? { module: view.module } : {}) },
      })
      .subscribe((result) => {
        const event = result.data?.taskEvents;
        if (!event) return;
        queue.current.push(event as ListEvent);
        frame.current ??= requestAnimationFrame(flush);
      });
    return () => {
      subscription.unsubscribe();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
      queue.current = [];
    };
  }, [client, view.module]);

  return state;
}

/** The category (tab) of a state, as the API defines it (TaskCategory). */
export function categoryOfState(state: string | undefined): string | null {
  switch (state) {
    case "SCHEDULED":
    case "QUEUED":
    case "RUNNING":
      return "PENDING";
    case "FAILED":
    case "CANCELED":
      return "FAILED";
    case "SUCCEEDED":
      return "FINISHED";
    default:
      return null;
  }
}
