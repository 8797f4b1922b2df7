// The task list at `/`: tabs with live badges, filters, sortable columns and cursor pages, all held
// in the URL; rows live by one subscription on the view's exact filter; bulk actions on the
// selection or on every task matching.
import "./list.css";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "urql";
import { Link, useLocation, useSearch } from "wouter";
import { countText, ErrorNote, ProgressBar, StateBadge, Time } from "../components/bits";
import { rememberListUrl, useKeys } from "../keys";
import { useSession } from "../session";
import { BulkBar, noSelection, type Selection } from "./bulk";
import { Filters } from "./Filters";
import { ScheduledRuns } from "./ScheduledRuns";
import { useCountEvents, useCounts, useLiveList, useThrottled } from "./live";
import { type ListRow, ModulesQuery, type TaskCounts, TaskListQuery } from "./queries";
import {
  baseFilter,
  isFirstPage,
  type ListView,
  listVariables,
  PAGE_SIZES,
  parseView,
  type SortField,
  TABS,
  type TabKey,
  tabOf,
  timeBounds,
  viewFilter,
  viewToSearch,
} from "./view";

/** Column headers; the sortable ones name their TaskOrderField. */
const COLUMNS: readonly { label: string; sort?: SortField; className?: string }[] = [
  { label: "Name", className: "col-name" },
  { label: "Module", sort: "MODULE" },
  { label: "Type" },
  { label: "Target" },
  { label: "State", sort: "STATE" },
  { label: "Progress", className: "col-progress" },
  { label: "Created", sort: "CREATED_AT" },
  { label: "Started", sort: "STARTED_AT" },
  { label: "Ended", sort: "ENDED_AT" },
];

/** A tab's badge from the counts: its category's count, or the total for All. */
function tabCount(counts: TaskCounts | undefined, tab: TabKey): number | undefined {
  if (!counts) return undefined;
  const category = TABS.find((t) => t.key === tab)?.category ?? null;
  return category === null ? counts.total : (counts.byCategory.find((c) => c.category === category)?.count ?? 0);
}

export function TaskListPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const { canControl } = useSession();
  const view = useMemo(() => parseView(search), [search]);
  // A preset range ("last day") starts when the view is opened, not at each render.
  const bounds = useMemo(() => timeBounds(view), [search]); // eslint-disable-line react-hooks/exhaustive-deps
  const base = useMemo(() => baseFilter(view, bounds), [view, bounds]);
  const filter = useMemo(() => viewFilter(view, bounds), [view, bounds]);
  const filterKey = JSON.stringify(filter);
  const variables = useMemo(() => listVariables(view, filter), [view, filter]);
  const [result, refetch] = useQuery({ query: TaskListQuery, variables, requestPolicy: "cache-and-network" });
  const { counts, error: countsError, refetch: refetchCounts } = useCounts(base);
  const [modules] = useQuery({ query: ModulesQuery });
  const countsSoon = useThrottled(refetchCounts, 1_000);

  useEffect(() => rememberListUrl(search ? `/?${search}` : "/"), [search]);

  const go = (patch: Partial<ListView>, keepPage = false) => {
    const next = { ...view, ...patch, ...(keepPage ? {} : { after: null, before: null }) };
    const query = viewToSearch(next);
    navigate(query ? `/?${query}` : "/");
  };

  const connection = result.data?.tasks;
  const pageRows = useMemo(() => connection?.edges.map((e) => e.node) ?? [], [connection]);
  const pageIds = useMemo(() => new Set(pageRows.map((r) => r.id)), [pageRows]);
  const insertHere = isFirstPage(view) && view.sort === "CREATED_AT" && view.dir === "DESC";
  const oldestShown =
    insertHere && connection?.pageInfo.hasNextPage && pageRows.length > 0 ? pageRows[pageRows.length - 1]!.createdAt : null;
  const reload = useCallback(() => {
    refetch({ requestPolicy: "network-only" });
    refetchCounts();
  }, [refetch, refetchCounts]);
  // The feed's position expired (CURSOR_EXPIRED): the page is loaded again, and says so.
  const [resynced, setResynced] = useState(false);
  const resync = useCallback(() => {
    setResynced(true);
    reload();
  }, [reload]);
  const live = useLiveList(filter, { view, bounds, pageIds, insertHere, oldestShown }, connection, countsSoon, resync, connection?.journalCursor ?? null);
  // The All tab's feed sees every event that moves a count; other tabs follow the counts' filter too.
  useCountEvents(tabOf(view).category === null ? null : base, countsSoon);

  const rows = useMemo(() => {
    const all = [...live.inserted.filter((t) => !pageIds.has(t.id)), ...pageRows]
      .filter((t) => !live.gone.has(t.id))
      .map((t) => newest(t, live.rows.get(t.id)));
    if (insertHere) all.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    return all;
  }, [live, pageRows, pageIds, insertHere]);

  // The selection: cleared when the filter changes (it may not match any more).
  const [selection, setSelection] = useState<Selection>(noSelection);
  useEffect(() => setSelection(noSelection()), [filterKey]);
  // The actions each selected task accepts, as of its newest row.
  const current = useMemo<Selection>(() => {
    if (selection.mode === "filter") return selection;
    const byId = new Map(rows.map((r) => [r.id, r]));
    return { mode: "ids", tasks: new Map([...selection.tasks].map(([id, actions]) => [id, byId.get(id)?.availableActions ?? actions])) };
  }, [selection, rows]);
  const isSelected = (id: string) => selection.mode === "filter" || selection.tasks.has(id);
  const toggle = (rowsToToggle: readonly ListRow[], on: boolean) =>
    setSelection((s) => {
      const tasks = new Map(s.mode === "ids" ? s.tasks : []);
      for (const row of rowsToToggle) {
        if (on) tasks.set(row.id, row.availableActions);
        else tasks.delete(row.id);
      }
      return { mode: "ids", tasks };
    });
  const allOnPage = rows.length > 0 && rows.every((r) => isSelected(r.id));

  // Keyboard: `/` search, j/k select a row, x tick it, Enter open it.
  const [cursorRow, setCursorRow] = useState(-1);
  const searchBox = useRef<HTMLInputElement>(null);
  useEffect(() => setCursorRow(-1), [connection]);
  useKeys({
    "/": (event) => {
      event.preventDefault();
      searchBox.current?.focus();
      searchBox.current?.select();
    },
    j: () => setCursorRow((i) => Math.min(i + 1, rows.length - 1)),
    k: () => setCursorRow((i) => Math.max(i - 1, 0)),
    x: () => {
      const row = rows[cursorRow];
      if (row && canControl && selection.mode === "ids") toggle([row], !selection.tasks.has(row.id));
    },
    Enter: (event) => {
      const row = rows[cursorRow];
      if (row && !(event.target instanceof HTMLAnchorElement) && !(event.target instanceof HTMLButtonElement)) navigate(`/tasks/${row.id}`);
    },
    Escape: (event) => {
      if (event.target === searchBox.current) searchBox.current?.blur();
    },
  });
  // The cursor row's link takes the focus: screen readers announce it, and Enter follows it.
  useEffect(() => {
    if (cursorRow >= 0) document.querySelector<HTMLElement>(`[data-row="${cursorRow}"] a`)?.focus();
  }, [cursorRow]);

  const matching = tabCount(counts, view.tab);
  const total = matching ?? connection?.totalCount;
  const totalExact = matching !== undefined ? counts!.isExact : (connection?.totalCountIsExact ?? true);
  const newCount = live.unseen.size;
  return (
    <main className="task-list">
      <h1 className="visually-hidden">Tasks</h1>
      <Tabs current={view.tab} counts={counts} onChange={(tab) => go({ tab })} />
      <Filters
        view={view}
        modules={modules.data?.modules.map((m) => m.name) ?? []}
        searchBox={searchBox}
        onChange={(patch) => go(patch)}
      />
      {newCount > 0 && (
        <div className="banner" role="status">
          {newCount} new {newCount === 1 ? "task matches" : "tasks match"} this view.{" "}
          <button type="button" className="link" onClick={() => (isFirstPage(view) ? reload() : go({}))}>
            Show them
          </button>
        </div>
      )}
      {canControl && (
        <BulkBar
          selection={current}
          matching={matching}
          matchingExact={totalExact}
          onSelectAll={() => setSelection({ mode: "filter", filter, count: matching ?? 0, exact: totalExact })}
          onClear={() => setSelection(noSelection())}
          onDone={() => setSelection(noSelection())}
        />
      )}
      <ErrorNote error={result.error ?? countsError} />
      {resynced && (
        <p className="banner resynced" role="status">
          Resynchronised: the live feed had been away longer than the server keeps events, so the list was loaded again.
        </p>
      )}
      {tabOf(view).category === "SCHEDULED" && <ScheduledRuns modules={view.modules} />}
      <div className="table-wrap">
        <table className="tasks" aria-busy={result.fetching} aria-label="Tasks">
          <thead>
            <tr>
              {canControl && (
                <th scope="col" className="col-check">
                  <input
                    type="checkbox"
                    aria-label="Select every task on this page"
                    checked={allOnPage}
                    disabled={rows.length === 0 || selection.mode === "filter"}
                    onChange={(e) => toggle(rows, e.target.checked)}
                  />
                </th>
              )}
              {COLUMNS.map((column) => (
                <SortHeader key={column.label} column={column} view={view} onSort={(sort, dir) => go({ sort, dir })} />
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((task, index) => (
              <Row
                key={task.id}
                task={task}
                index={index}
                cursor={index === cursorRow}
                selectable={canControl}
                selected={isSelected(task.id)}
                lockedSelection={selection.mode === "filter"}
                onSelect={(on) => toggle([task], on)}
              />
            ))}
          </tbody>
        </table>
        {connection && rows.length === 0 && <p className="empty">No tasks in this view.</p>}
        {!connection && result.fetching && <p className="empty">Loading…</p>}
      </div>
      <nav className="pager" aria-label="Pages">
        <span className="muted">{total === undefined ? "" : `${countText(total, totalExact)} ${total === 1 ? "task" : "tasks"}`}</span>
        <button type="button" disabled={isFirstPage(view)} onClick={() => go({})}>
          First
        </button>
        <button
          type="button"
          disabled={!connection?.pageInfo.hasPreviousPage || isFirstPage(view)}
          onClick={() => go({ before: connection!.pageInfo.startCursor, after: null }, true)}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!connection?.pageInfo.hasNextPage}
          onClick={() => go({ after: connection!.pageInfo.endCursor, before: null }, true)}
        >
          Next
        </button>
        <label>
          Rows{" "}
          <select value={view.size} onChange={(e) => go({ size: Number(e.target.value) })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </nav>
    </main>
  );
}

const newest = (a: ListRow, b: ListRow | undefined) => (b && b.version > a.version ? b : a);

/** The tabs, each with its live badge (taskCounts under the view's other filters). */
function Tabs({ current, counts, onChange }: { current: TabKey; counts: TaskCounts | undefined; onChange(tab: TabKey): void }) {
  return (
    <div className="tabs" role="tablist" aria-label="Task categories">
      {TABS.map((tab) => {
        const count = tabCount(counts, tab.key);
        return (
          <button
            key={tab.key}
            type="button"
            role="tab"
            aria-selected={tab.key === current}
            className={tab.key === current ? "tab current" : "tab"}
            onClick={() => onChange(tab.key)}
          >
            {tab.label}
            {count !== undefined && (
              <span className="badge" title={counts!.isExact ? undefined : "estimated"}>
                {countText(count, counts!.isExact)}
              </span>
            )}
          </button>
        );
      })}
    </div>
  );
}

function SortHeader({
  column,
  view,
  onSort,
}: {
  column: (typeof COLUMNS)[number];
  view: ListView;
  onSort(sort: SortField, dir: "ASC" | "DESC"): void;
}) {
  if (!column.sort) return <th scope="col" className={column.className}>{column.label}</th>;
  const active = view.sort === column.sort;
  const next = active && view.dir === "DESC" ? "ASC" : "DESC";
  return (
    <th scope="col" className={column.className} aria-sort={active ? (view.dir === "ASC" ? "ascending" : "descending") : "none"}>
      <button type="button" className="sort" onClick={() => onSort(column.sort!, next)} title={`Sort by ${column.label.toLowerCase()}`}>
        {column.label}
        <span aria-hidden="true" className="sort-mark">
          {active ? (view.dir === "ASC" ? " ▲" : " ▼") : ""}
        </span>
      </button>
    </th>
  );
}

function Row({
  task,
  index,
  cursor,
  selectable,
  selected,
  lockedSelection,
  onSelect,
}: {
  task: ListRow;
  index: number;
  cursor: boolean;
  selectable: boolean;
  selected: boolean;
  lockedSelection: boolean;
  onSelect(on: boolean): void;
}) {
  const classes = [cursor ? "selected" : "", selected ? "checked" : ""].filter(Boolean).join(" ");
  return (
    <tr data-row={index} data-task={task.id} className={classes || undefined} aria-current={cursor ? "true" : undefined}>
      {selectable && (
        <td className="col-check">
          <input
            type="checkbox"
            aria-label={`Select ${task.name}`}
            checked={selected}
            disabled={lockedSelection}
            onChange={(e) => onSelect(e.target.checked)}
          />
        </td>
      )}
      <td className="col-name">
        <Link href={`/tasks/${task.id}`}>{task.name}</Link>
        {task.isInternal && <span className="tag">internal</span>}
      </td>
      <td>{task.module.name}</td>
      <td>{task.type}</td>
      <td>{task.target ?? <span className="muted">—</span>}</td>
      <td>
        <StateBadge state={task.state} />
        {task.state === "SCHEDULED" && task.scheduledFor && (
          <span className="muted small">
            {" "}
            at <Time value={task.scheduledFor} />
          </span>
        )}
      </td>
      <td className="col-progress">
        <ProgressBar progress={task.progress} state={task.state} label={`Progress of ${task.name}`} />
      </td>
      <td>
        <Time value={task.createdAt} />
      </td>
      <td>
        <Time value={task.startedAt} />
      </td>
      <td>
        <Time value={task.endedAt} />
      </td>
    </tr>
  );
}
