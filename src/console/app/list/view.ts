// The list's view — tab, filters, order and page — and its place in the URL's query string, so a
// link or a reload shows the same view. Also which tasks belong in a view (for live inserts).
import type { VariablesOf } from "gql.tada";
import type { TaskCategory, TaskRow } from "../graphql";
import type { TaskListQuery } from "./queries";

export type TabKey = "pending" | "failed" | "finished" | "all";

export interface TabDef {
  key: TabKey;
  label: string;
  /** The TaskFilter category of the tab; null: every category. */
  category: TaskCategory | null;
}

/**
 * The tabs, in order (openATTIC: pending first). A tab is one category of TaskFilter; a new
 * category (Kafka's Scheduled tab) is one more entry here, and its badge one more key in the
 * counts the tab bar takes.
 */
export const TABS: readonly TabDef[] = [
  { key: "pending", label: "Pending", category: "PENDING" },
  { key: "failed", label: "Failed", category: "FAILED" },
  { key: "finished", label: "Finished", category: "FINISHED" },
  { key: "all", label: "All", category: null },
];

export type RangeKey = "hour" | "day" | "week" | "any";

export const RANGES: readonly { key: RangeKey; label: string; ms: number | null }[] = [
  { key: "hour", label: "Last hour", ms: 3_600_000 },
  { key: "day", label: "Last day", ms: 86_400_000 },
  { key: "week", label: "Last week", ms: 7 * 86_400_000 },
  { key: "any", label: "Any time", ms: null },
];

export type SortField = "CREATED_AT" | "STARTED_AT" | "ENDED_AT" | "STATE" | "MODULE";
export type SortDirection = "ASC" | "DESC";
export const SORT_FIELDS: readonly SortField[] = ["CREATED_AT", "STARTED_AT", "ENDED_AT", "STATE", "MODULE"];
export const PAGE_SIZES = [25, 50, 100] as const;

export interface ListView {
  tab: TabKey;
  module: string | null;
  search: string;
  range: RangeKey;
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
  module: null,
  search: "",
  range: "any",
  sort: "CREATED_AT",
  dir: "DESC",
  after: null,
  before: null,
  size: 25,
};

const oneOf = <T extends string>(values: readonly T[], value: string | null, fallback: T): T =>
  value !== null && (values as readonly string[]).includes(value) ? (value as T) : fallback;

/** The view a query string describes (unknown or missing values: the defaults). */
export function parseView(search: string): ListView {
  const q = new URLSearchParams(search);
  const size = Number(q.get("size"));
  return {
    tab: oneOf(TABS.map((t) => t.key), q.get("tab"), DEFAULT_VIEW.tab),
    module: q.get("module") || null,
    search: q.get("q") ?? "",
    range: oneOf(RANGES.map((r) => r.key), q.get("range"), DEFAULT_VIEW.range),
    sort: oneOf(SORT_FIELDS, q.get("sort")?.toUpperCase() ?? null, DEFAULT_VIEW.sort),
    dir: oneOf(["ASC", "DESC"] as const, q.get("dir")?.toUpperCase() ?? null, DEFAULT_VIEW.dir),
    after: q.get("after") || null,
    before: q.get("after") ? null : q.get("before") || null,
    size: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_VIEW.size,
  };
}

/** The query string of a view: only what differs from the defaults. */
export function viewToSearch(view: ListView): string {
  const q = new URLSearchParams();
  if (view.tab !== DEFAULT_VIEW.tab) q.set("tab", view.tab);
  if (view.module) q.set("module", view.module);
  if (view.search.trim()) q.set("q", view.search.trim());
  if (view.range !== DEFAULT_VIEW.range) q.set("range", view.range);
  if (view.sort !== DEFAULT_VIEW.sort) q.set("sort", view.sort.toLowerCase());
  if (view.dir !== DEFAULT_VIEW.dir) q.set("dir", view.dir.toLowerCase());
  if (view.size !== DEFAULT_VIEW.size) q.set("size", String(view.size));
  if (view.after) q.set("after", view.after);
  else if (view.before) q.set("before", view.before);
  return q.toString();
}

export const isFirstPage = (view: ListView) => view.after === null && view.before === null;

export const tabOf = (view: ListView): TabDef => TABS.find((t) => t.key === view.tab) ?? TABS[0]!;

/** Where the view's time range starts, as of `now`; null for any time. */
export function rangeStart(range: RangeKey, now = Date.now()): string | null {
  const ms = RANGES.find((r) => r.key === range)?.ms ?? null;
  return ms === null ? null : new Date(now - ms).toISOString();
}

export type ListVariables = VariablesOf<typeof TaskListQuery>;

/** The `tasks` arguments of a view; `createdAfter` is fixed when the view is opened (see rangeStart). */
export function listVariables(view: ListView, createdAfter: string | null): ListVariables {
  const category = tabOf(view).category;
  const search = view.search.trim();
  return {
    filter: {
      ...(category ? { category } : {}),
      ...(view.module ? { module: view.module } : {}),
      ...(search ? { search } : {}),
      ...(createdAfter ? { createdAfter } : {}),
    },
    orderBy: { field: view.sort, direction: view.dir },
    ...(view.before ? { last: view.size, before: view.before } : { first: view.size, after: view.after }),
  };
}

/**
 * Whether a task belongs in the view, judged here in the browser for live inserts. It follows
 * TaskFilter's rules (internal tasks hidden; search: a keyword in name, type, module or target, or
 * the task's id). Once the API filters the events themselves (TaskEventFilter.task), that filter
 * replaces this function.
 */
export function matchesView(view: ListView, createdAfter: string | null, task: TaskRow): boolean {
  if (task.isInternal) return false;
  const category = tabOf(view).category;
  if (category && task.category !== category) return false;
  if (view.module && task.module.name !== view.module) return false;
  if (createdAfter && Date.parse(task.createdAt) < Date.parse(createdAfter)) return false;
  const keyword = view.search.trim().toLowerCase();
  if (keyword) {
    const fields = [task.name, task.type, task.module.name, task.target ?? ""].map((f) => f.toLowerCase());
    if (!fields.some((f) => f.includes(keyword)) && task.id.toLowerCase() !== keyword) return false;
  }
  return true;
}
