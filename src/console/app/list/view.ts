// The list's view — tab, filters, order and page — and its place in the URL's query string, so a
// link or a reload shows the same view. The view's TaskFilter is the one thing every part of the
// page reads: the badges (`taskCounts`), the rows (`tasks`, with the tab's category), the live
// feed (`taskEvents(filter: { task })`) and the bulk actions "on every task matching".
import type { VariablesOf } from "gql.tada";
import type { TaskCategory, TaskState } from "../graphql";
import type { TaskListQuery } from "./queries";

export type TabKey = "pending" | "scheduled" | "failed" | "finished" | "all";

export interface TabDef {
  key: TabKey;
  label: string;
  /** The TaskFilter category of the tab; null: every category. */
  category: TaskCategory | null;
}

/** The tabs, in order (openATTIC: pending first; Kafka's Scheduled tab next to it). */
export const TABS: readonly TabDef[] = [
  { key: "pending", label: "Pending", category: "PENDING" },
  { key: "scheduled", label: "Scheduled", category: "SCHEDULED" },
  { key: "failed", label: "Failed", category: "FAILED" },
  { key: "finished", label: "Finished", category: "FINISHED" },
  { key: "all", label: "All", category: null },
];

/** The states of each category (TaskCategory; disjoint). */
export const CATEGORY_STATES: Record<TaskCategory, readonly TaskState[]> = {
  SCHEDULED: ["SCHEDULED"],
  PENDING: ["QUEUED", "RUNNING"],
  FAILED: ["FAILED", "CANCELED"],
  FINISHED: ["SUCCEEDED"],
};

export const STATES: readonly TaskState[] = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"];
export const KINDS = ["NODE", "CLUSTER"] as const;
export type Kind = (typeof KINDS)[number];

/** Which time of a task the range applies to. */
export type TimeField = "created" | "started" | "ended";
export const TIME_FIELDS: readonly { key: TimeField; label: string }[] = [
  { key: "created", label: "Created" },
  { key: "started", label: "Started" },
  { key: "ended", label: "Ended" },
];

export type RangeKey = "hour" | "day" | "week" | "any" | "custom";

export const RANGES: readonly { key: RangeKey; label: string; ms: number | null }[] = [
  { key: "hour", label: "Last hour", ms: 3_600_000 },
  { key: "day", label: "Last day", ms: 86_400_000 },
  { key: "week", label: "Last week", ms: 7 * 86_400_000 },
  { key: "any", label: "Any time", ms: null },
  { key: "custom", label: "From – to…", ms: null },
];

export type SortField = "CREATED_AT" | "STARTED_AT" | "ENDED_AT" | "STATE" | "MODULE";
export type SortDirection = "ASC" | "DESC";
export const SORT_FIELDS: readonly SortField[] = ["CREATED_AT", "STARTED_AT", "ENDED_AT", "STATE", "MODULE"];
export const PAGE_SIZES = [25, 50, 100] as const;

export interface ListView {
  tab: TabKey;
  /** Any of these modules (none: every module). */
  modules: string[];
  search: string;
  /** The time the range applies to. */
  time: TimeField;
  range: RangeKey;
  /** The custom range (ISO times; `range` "custom"): from inclusive, to exclusive; null: open. */
  from: string | null;
  to: string | null;
  /** Any of these states (none: every state). */
  states: TaskState[];
  kind: Kind | null;
  /** Internal tasks too. */
  internal: boolean;
  sort: SortField;
  dir: SortDirection;
  /** Page forward from this cursor (null with `before` null: the first page). */
  after: string | null;
  /** Page backward from this cursor. */
  before: string | null;
  size: number;
}

export const DEFAULT_VIEW: ListView = {
  tab: "pending",
  modules: [],
  search: "",
  time: "created",
  range: "any",
  from: null,
  to: null,
  states: [],
  kind: null,
  internal: false,
  sort: "CREATED_AT",
  dir: "DESC",
  after: null,
  before: null,
  size: 25,
};

const oneOf = <T extends string>(values: readonly T[], value: string | null | undefined, fallback: T): T =>
  value != null && (values as readonly string[]).includes(value) ? (value as T) : fallback;

const isoOrNull = (value: string | null): string | null => {
  if (!value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
};

const unique = <T>(values: T[]): T[] => [...new Set(values)];

/** The view a query string describes (unknown or missing values: the defaults). */
export function parseView(search: string): ListView {
  const q = new URLSearchParams(search);
  const size = Number(q.get("size"));
  const from = isoOrNull(q.get("from"));
  const to = isoOrNull(q.get("to"));
  return {
    tab: oneOf(TABS.map((t) => t.key), q.get("tab"), DEFAULT_VIEW.tab),
    modules: unique(q.getAll("module").filter(Boolean)),
    search: q.get("q") ?? "",
    time: oneOf(TIME_FIELDS.map((f) => f.key), q.get("time"), DEFAULT_VIEW.time),
    range: oneOf(RANGES.map((r) => r.key), q.get("range"), from || to ? "custom" : DEFAULT_VIEW.range),
    from,
    to,
    states: unique(q.getAll("state").map((s) => s.toUpperCase())).filter((s): s is TaskState => (STATES as readonly string[]).includes(s)),
    kind: oneOf<Kind | "">([...KINDS, ""], q.get("kind")?.toUpperCase(), "") || null,
    internal: q.get("internal") === "1" || q.get("internal") === "true",
    sort: oneOf(SORT_FIELDS, q.get("sort")?.toUpperCase(), DEFAULT_VIEW.sort),
    dir: oneOf(["ASC", "DESC"] as const, q.get("dir")?.toUpperCase(), DEFAULT_VIEW.dir),
    after: q.get("after") || null,
    before: q.get("after") ? null : q.get("before") || null,
    size: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_VIEW.size,
  };
}

/** The query string of a view: only what differs from the defaults. */
export function viewToSearch(view: ListView): string {
  const q = new URLSearchParams();
  if (view.tab !== DEFAULT_VIEW.tab) q.set("tab", view.tab);
  for (const name of view.modules) q.append("module", name);
  if (view.search.trim()) q.set("q", view.search.trim());
  if (view.time !== DEFAULT_VIEW.time) q.set("time", view.time);
  if (view.range !== DEFAULT_VIEW.range) q.set("range", view.range);
  if (view.range === "custom") {
    if (view.from) q.set("from", view.from);
    if (view.to) q.set("to", view.to);
  }
  for (const state of view.states) q.append("state", state.toLowerCase());
  if (view.kind) q.set("kind", view.kind.toLowerCase());
  if (view.internal) q.set("internal", "1");
  if (view.sort !== DEFAULT_VIEW.sort) q.set("sort", view.sort.toLowerCase());
  if (view.dir !== DEFAULT_VIEW.dir) q.set("dir", view.dir.toLowerCase());
  if (view.size !== DEFAULT_VIEW.size) q.set("size", String(view.size));
  if (view.after) q.set("after", view.after);
  else if (view.before) q.set("before", view.before);
  return q.toString();
}

export const isFirstPage = (view: ListView) => view.after === null && view.before === null;

export const tabOf = (view: ListView): TabDef => TABS.find((t) => t.key === view.tab) ?? TABS[0]!;

export interface TimeBounds {
  after: string | null;
  before: string | null;
}

/**
 * The view's time range as of `now`: a preset ("last day") starts `ms` before now — fixed when the
 * view is opened, so the page does not query anew on every render; a custom range is as given.
 */
export function timeBounds(view: Pick<ListView, "range" | "from" | "to">, now = Date.now()): TimeBounds {
  if (view.range === "custom") return { after: view.from, before: view.to };
  const ms = RANGES.find((r) => r.key === view.range)?.ms ?? null;
  return { after: ms === null ? null : new Date(now - ms).toISOString(), before: null };
}

export type ListVariables = VariablesOf<typeof TaskListQuery>;
export type TaskFilterInput = NonNullable<ListVariables["filter"]>;

/** The view's filter without its tab: what the badges count (each tab adds its category). */
export function baseFilter(view: ListView, bounds: TimeBounds): TaskFilterInput {
  const search = view.search.trim();
  const filter: TaskFilterInput = {};
  if (view.modules.length) filter.modules = view.modules;
  if (search) filter.search = search;
  if (view.states.length) filter.states = view.states;
  if (view.kind) filter.kind = view.kind;
  if (view.internal) filter.includeInternal = true;
  const { after, before } = bounds;
  switch (view.time) {
    case "created":
      if (after) filter.createdAfter = after;
      if (before) filter.createdBefore = before;
      break;
    case "started":
      if (after) filter.startedAfter = after;
      if (before) filter.startedBefore = before;
      break;
    case "ended":
      if (after) filter.endedAfter = after;
      if (before) filter.endedBefore = before;
      break;
  }
  return filter;
}

/** The exact filter of the view: its base filter and its tab's category (rows, live feed, bulk). */
export function viewFilter(view: ListView, bounds: TimeBounds): TaskFilterInput {
  const category = tabOf(view).category;
  return { ...baseFilter(view, bounds), ...(category ? { category } : {}) };
}

/** The `tasks` arguments of a view. */
export function listVariables(view: ListView, filter: TaskFilterInput): ListVariables {
  return {
    filter,
    orderBy: { field: view.sort, direction: view.dir },
    ...(view.before ? { last: view.size, before: view.before } : { first: view.size, after: view.after }),
  };
}

/** The states a view admits: its tab's category and its state filter; null: any state. */
export function viewStates(view: ListView): readonly TaskState[] | null {
  const category = tabOf(view).category;
  const byTab = category ? CATEGORY_STATES[category] : null;
  if (!view.states.length) return byTab;
  return byTab ? byTab.filter((s) => view.states.includes(s)) : view.states;
}

const NOT_STARTED: readonly string[] = ["SCHEDULED", "QUEUED"];
const ENDED: readonly string[] = ["SUCCEEDED", "FAILED", "CANCELED"];

/**
 * Whether a task the feed sends (so the server says it is in the view now) may have just come
 * into the view, rather than having been in it, on another page, all along. The server decides
 * what matches; this only reads the event: a task is created, or its state changes from one the
 * view does not admit (its tab, its states, not started yet under a started range, not ended
 * under an ended range). Used for the "N new" banner, never to decide what is shown.
 */
export function mayHaveEntered(view: ListView, bounds: TimeBounds, type: string, payload: unknown): boolean {
  if (type === "CREATED") return true;
  if (type !== "STATE_CHANGED") return false;
  const from = (payload as { from?: string } | null)?.from;
  if (!from) return true;
  const states = viewStates(view);
  if (states && !(states as readonly string[]).includes(from)) return true;
  const bounded = bounds.after !== null || bounds.before !== null;
  if (bounded && view.time === "started" && NOT_STARTED.includes(from)) return true;
  if (bounded && view.time === "ended" && !ENDED.includes(from)) return true;
  return false;
}

/** An ISO time as a datetime-local input's value (local time, to the minute). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local input's value (local time) as an ISO time; null when empty or invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}
