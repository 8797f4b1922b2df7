// The list's live updates, from the server's filter, never by polling.
//
// Rows: ONE taskEvents subscription with `filter.task` = the view's exact filter. The server
// sends the events of the tasks in the view with the row as it is now, and a last event with
// `leavesFilter` when a task stops belonging (it ended, was deleted, its time came…). Events are
// gathered and applied once per animation frame, so a burst costs one render: rows on screen are
// updated in place, rows that left are dropped, tasks new to the view are inserted on the first
// page (newest first) or counted for the "N new" banner.
//
// Badges: one taskCounts query under the view's filter without its tab, refetched when an event
// says a count may have moved — at most once a second while events flow, never when idle.
//
// Resuming: graphql-ws subscribes again by itself after a lost connection, sending the same
// payload object. Each subscription's `variables.after` is kept at the last cursor handled, so
// that re-subscription resumes exactly after it (the server replays what was missed, no refetch).
import { useCallback, useEffect, useRef, useState } from "react";
import { useClient } from "urql";
import {
  COUNT_EVENT_TYPES,
  CountEventsSubscription,
  LIST_EVENT_TYPES,
  ListEventsSubscription,
  type ListRow,
  type TaskCounts,
  TaskCountsQuery,
} from "./queries";
import { type ListView, mayHaveEntered, type TaskFilterInput, type TimeBounds } from "./view";

export interface LiveState {
  /** The newest version seen live of each task on screen (by id). */
  rows: Map<string, ListRow>;
  /** New tasks shown with the page's rows. */
  inserted: ListRow[];
  /** Rows of the loaded page that left the view since it was loaded. */
  gone: Set<string>;
  /** Tasks new to the view and not shown (the banner counts them). */
  unseen: Set<string>;
}

const empty = (): LiveState => ({ rows: new Map(), inserted: [], gone: new Set(), unseen: new Set() });

interface ListEvent {
  cursor: string;
  type: string;
  taskId: string;
  version: number;
  payload: unknown;
  leavesFilter: boolean;
  task: ListRow | null;
}

/** What the flush needs to know of the page, read when it runs. */
export interface PageContext {
  view: ListView;
  bounds: TimeBounds;
  /** The ids of the loaded page's rows. */
  pageIds: ReadonlySet<string>;
  /** New tasks go on this page (first page, newest first). */
  insertHere: boolean;
  /** The oldest creation time on a full first page with more after it: older tasks belong on later pages. Null: no bound. */
  oldestShown: string | null;
}

const newer = (a: ListRow | undefined, b: ListRow) => !a || b.version > a.version;

interface ListFeedVariables {
  filter: { task: TaskFilterInput; types: (typeof LIST_EVENT_TYPES)[number][] };
  after: string | null;
}
interface CountFeedVariables {
  filter: { task: TaskFilterInput; types: (typeof COUNT_EVENT_TYPES)[number][] };
  after: string | null;
}
interface Feed<V> {
  key: string;
  variables: V;
}

/** The variables object of the feed named `key`: the same object for as long as the key stays. */
function feedVariables<V>(feed: { current: Feed<V> | null }, key: string, make: () => V): V {
  if (feed.current?.key !== key) feed.current = { key, variables: make() };
  return feed.current.variables;
}

/**
 * Live state for the rows of one loaded page (`pageKey` changes with each load: then inserts,
 * drops and the banner start afresh). Subscribes again whenever `filter` changes (by value).
 * `onCountsMayChange` is called after events that may change the counts; `onLost` when the feed
 * ended because its cursor expired (CURSOR_EXPIRED, after a long disconnection): the page loads
 * again, and the feed starts afresh a second later.
 */
export function useLiveList(
  filter: TaskFilterInput,
  context: PageContext,
  pageKey: unknown,
  onCountsMayChange: () => void,
  onLost: () => void,
  /** The loaded page's journalCursor: the feed starts there, so nothing changed since the page was read is missed. */
  since: string | null,
): LiveState {
  const client = useClient();
  const [state, setState] = useState<LiveState>(empty);
  const [generation, setGeneration] = useState(0);
  const lost = useRef(onLost);
  lost.current = onLost;
  const queue = useRef<ListEvent[]>([]);
  const frame = useRef<number | null>(null);
  const current = useRef(context);
  current.current = context;
  const countsChanged = useRef(onCountsMayChange);
  countsChanged.current = onCountsMayChange;
  const filterKey = JSON.stringify(filter);
  const feed = useRef<Feed<ListFeedVariables> | null>(null);
  const sinceRef = useRef(since);
  sinceRef.current = since;

  // A new page load: the server's rows are current, and what was inserted, dropped or counted is
  // in them now (or not in the view).
  useEffect(() => {
    setState(empty());
  }, [pageKey]);

  useEffect(() => {
    const flush = () => {
      frame.current = null;
      const events = queue.current;
      queue.current = [];
      const { view, bounds, pageIds, insertHere, oldestShown } = current.current;
      setState((previous) => {
        const next: LiveState = {
          rows: new Map(previous.rows),
          inserted: [...previous.inserted],
          gone: new Set(previous.gone),
          unseen: new Set(previous.unseen),
        };
        const insertedAt = (id: string) => next.inserted.findIndex((t) => t.id === id);
        for (const event of events) {
          const id = event.taskId;
          if (event.leavesFilter || !event.task) {
            // No longer in the view: drop its row (or forget it was new).
            next.unseen.delete(id);
            const at = insertedAt(id);
            if (at >= 0) next.inserted.splice(at, 1);
            if (pageIds.has(id)) next.gone.add(id);
            next.rows.delete(id);
            continue;
          }
          const task = event.task;
          if ((pageIds.has(id) && !next.gone.has(id)) || insertedAt(id) >= 0) {
            if (newer(next.rows.get(id), task)) next.rows.set(id, task);
            continue;
          }
          if (pageIds.has(id)) {
            // A row that left and came back (e.g. retried into this tab again).
            next.gone.delete(id);
            next.rows.set(id, task);
            continue;
          }
          // In the view now and not on screen. On the first page, newest first, a task created
          // after the page's oldest row belongs here, so it is new to the view: insert it.
          const belongsHere = insertHere && (oldestShown === null || task.createdAt >= oldestShown);
          if (belongsHere && next.inserted.length < view.size) {
            next.unseen.delete(id);
            next.inserted.push(task);
            next.rows.set(id, task);
          } else if (!next.unseen.has(id) && mayHaveEntered(view, bounds, event.type, event.payload)) {
            next.unseen.add(id);
          }
        }
        return next;
      });
      if (events.some((e) => e.type !== "PROGRESSED" || e.leavesFilter)) countsChanged.current();
    };
    // Kept at the last cursor handled: graphql-ws re-sends this object when it subscribes again.
    // One object per feed (filter and generation), so that React's second effect run in
    // development and urql's sharing of one operation per key see the same one.
    // Not before a page is loaded: its journalCursor is where the feed starts. (A page loaded for
    // an earlier filter gives an older cursor: more is replayed, nothing is missed.)
    if (sinceRef.current === null) return;
    const variables = feedVariables(feed, `${generation}:${filterKey}`, () => ({
      filter: { task: JSON.parse(filterKey) as TaskFilterInput, types: [...LIST_EVENT_TYPES] },
      after: sinceRef.current,
    }));
    let retry: ReturnType<typeof setTimeout> | undefined;
    const subscription = client.subscription(ListEventsSubscription, variables).subscribe((result) => {
      if (result.error) {
        // The cursor is older than the journal keeps: load the page again and follow it afresh.
        // Other errors (a filter the server refuses) are shown by the page's query; no retry loop.
        const expired = result.error.graphQLErrors.some((e) => e.extensions?.code === "CURSOR_EXPIRED");
        if (expired) {
          retry ??= setTimeout(() => {
            lost.current();
            setGeneration((n) => n + 1);
          }, 1_000);
        }
        return;
      }
      const event = result.data?.taskEvents;
      if (!event) return;
      variables.after = event.cursor;
      queue.current.push(event as ListEvent);
      frame.current ??= requestAnimationFrame(flush);
    });
    return () => {
      subscription.unsubscribe();
      clearTimeout(retry);
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
      queue.current = [];
    };
  }, [client, filterKey, generation, since === null]);

  return state;
}

/**
 * Calls `onEvent` for each event that may move a count under `filter` (created, moved between
 * states, deleted, or leaving the filter) — unless `filter` is null (the rows' feed already sees
 * every such event: the All tab).
 */
export function useCountEvents(filter: TaskFilterInput | null, onEvent: () => void): void {
  const client = useClient();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const filterKey = filter === null ? null : JSON.stringify(filter);
  const feed = useRef<Feed<CountFeedVariables> | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (filterKey === null) return;
    const variables = feedVariables(feed, `${generation}:${filterKey}`, () => ({
      filter: { task: JSON.parse(filterKey) as TaskFilterInput, types: [...COUNT_EVENT_TYPES] },
      after: null,
    }));
    const subscription = client.subscription(CountEventsSubscription, variables).subscribe((result) => {
      if (result.error?.graphQLErrors.some((e) => e.extensions?.code === "CURSOR_EXPIRED")) {
        // Its cursor expired (a long disconnection): the counts are asked again, and it follows them afresh.
        handler.current();
        setGeneration((n) => n + 1);
        return;
      }
      const event = result.data?.taskEvents;
      if (!event) return;
      variables.after = event.cursor;
      handler.current();
    });
    return () => subscription.unsubscribe();
  }, [client, filterKey, generation]);
}

/**
 * A function that runs `refetch` at most once per `intervalMs`: at once when the last run is
 * that long ago, else once at the end of the interval (however many calls came in between).
 */
export function useThrottled(refetch: () => void, intervalMs = 1_000): () => void {
  const run = useRef(refetch);
  run.current = refetch;
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
  const schedule = useRef(() => {
    if (timer.current !== null) return;
    const wait = Math.max(0, last.current + intervalMs - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      last.current = Date.now();
      run.current();
    }, wait);
  });
  return schedule.current;
}

/**
 * The badges: `taskCounts` under `filter`, asked once per filter and again on `refetch` (each call
 * one request: the page throttles them). The last counts stay shown while new ones load.
 */
export function useCounts(filter: TaskFilterInput): { counts: TaskCounts | undefined; error: Error | undefined; refetch(): void } {
  const client = useClient();
  const [state, setState] = useState<{ counts?: TaskCounts; error?: Error }>({});
  const latest = useRef(0);
  const filterKey = JSON.stringify(filter);
  const refetch = useCallback(() => {
    const asked = ++latest.current;
    void client
      .query(TaskCountsQuery, { filter: JSON.parse(filterKey) as TaskFilterInput }, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        if (asked !== latest.current) return; // a newer answer is on its way
        setState((previous) => (result.data ? { counts: result.data.taskCounts } : { counts: previous.counts, error: result.error }));
      });
  }, [client, filterKey]);
  useEffect(refetch, [refetch]);
  return { counts: state.counts, error: state.error, refetch };
}
