// The task list at `/`: tabs, filters, sortable columns and cursor pages, all held in the URL;
// rows live by subscription.
import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "urql";
import { Link, useLocation, useSearch } from "wouter";
import { ErrorNote, ProgressBar, StateBadge, Time } from "../components/bits";
import type { TaskRow } from "../graphql";
import { rememberListUrl, useKeys } from "../keys";
import { useSession } from "../session";
import { useLiveList } from "./live";
import { ModulesQuery, TaskListQuery } from "./queries";
import {
  isFirstPage,
  type ListView,
  listVariables,
  PAGE_SIZES,
  parseView,
  RANGES,
  type RangeKey,
  rangeStart,
  type SortField,
  TABS,
  type TabKey,
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

export function TaskListPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const { reconnects } = useSession();
  const view = useMemo(() => parseView(search), [search]);
  // The range's start is fixed when the view is opened (not on every render, which would query anew).
  const createdAfter = useMemo(() => rangeStart(view.range), [search]); // eslint-disable-line react-hooks/exhaustive-deps
  const variables = useMemo(() => listVariables(view, createdAfter), [view, createdAfter]);
  const [result, refetch] = useQuery({ query: TaskListQuery, variables, requestPolicy: "cache-and-network" });
  const [modules] = useQuery({ query: ModulesQuery });

  useEffect(() => rememberListUrl(search ? `/?${search}` : "/"), [search]);
  // Back after a lost connection: events may have been missed, so load the page again.
  useEffect(() => {
    if (reconnects > 0) refetch({ requestPolicy: "network-only" });
  }, [reconnects, refetch]);

  const go = (patch: Partial<ListView>, keepPage = false) => {
    const next = { ...view, ...patch, ...(keepPage ? {} : { after: null, before: null }) };
    const query = viewToSearch(next);
    navigate(query ? `/?${query}` : "/");
  };

  const connection = result.data?.tasks;
  const pageRows = useMemo(() => connection?.edges.map((e) => e.node) ?? [], [connection]);
  const pageIds = useMemo(() => pageRows.map((r) => r.id), [pageRows]);
  const insertHere = isFirstPage(view) && view.sort === "CREATED_AT" && view.dir === "DESC";
  const live = useLiveList(view, createdAfter, pageIds, connection, insertHere);
  const rows = useMemo(() => {
    const all = [...live.inserted.filter((t) => !pageIds.includes(t.id)), ...pageRows];
    return all.filter((t) => !live.deleted.has(t.id)).map((t) => newest(t, live.rows.get(t.id)));
  }, [live, pageRows, pageIds]);

  // Keyboard: `/` search, j/k select a row, Enter open it.
  const [selected, setSelected] = useState(-1);
  const searchBox = useRef<HTMLInputElement>(null);
  useEffect(() => setSelected(-1), [connection]);
  useKeys({
    "/": (event) => {
      event.preventDefault();
      searchBox.current?.focus();
      searchBox.current?.select();
    },
    j: () => setSelected((i) => Math.min(i + 1, rows.length - 1)),
    k: () => setSelected((i) => Math.max(i - 1, 0)),
    Enter: (event) => {
      const row = rows[selected];
      if (row && !(event.target instanceof HTMLAnchorElement) && !(event.target instanceof HTMLButtonElement)) navigate(`/tasks/${row.id}`);
    },
    Escape: (event) => {
      if (event.target === searchBox.current) searchBox.current?.blur();
    },
  });
  // The selected row's link takes the focus: screen readers announce it, and Enter follows it.
  useEffect(() => {
    if (selected >= 0) document.querySelector<HTMLElement>(`[data-row="${selected}"] a`)?.focus();
  }, [selected]);

  // The server's count, with what arrived live since (inserted rows, deleted ones).
  const total = connection ? Math.max(0, connection.totalCount + rows.length - pageRows.length) : undefined;
  return (
    <main className="task-list">
      <h1 className="visually-hidden">Tasks</h1>
      <Tabs current={view.tab} counts={total === undefined ? {} : { [view.tab]: total }} onChange={(tab) => go({ tab })} />
      <Filters
        view={view}
        modules={modules.data?.modules.map((m) => m.name) ?? []}
        searchBox={searchBox}
        onChange={(patch) => go(patch)}
      />
      {live.newCount > 0 && (
        <div className="banner" role="status">
          {live.newCount} new {live.newCount === 1 ? "task matches" : "tasks match"} this view.{" "}
          <button type="button" className="link" onClick={() => (isFirstPage(view) ? refetch({ requestPolicy: "network-only" }) : go({}))}>
            Show them
          </button>
        </div>
      )}
      <ErrorNote error={result.error} />
      <div className="table-wrap">
        <table className="tasks" aria-busy={result.fetching} aria-label="Tasks">
          <thead>
            <tr>
              {COLUMNS.map((column) => (
                <SortHeader key={column.label} column={column} view={view} onSort={(sort, dir) => go({ sort, dir })} />
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((task, index) => (
              <Row key={task.id} task={task} index={index} selected={index === selected} />
            ))}
          </tbody>
        </table>
        {connection && rows.length === 0 && <p className="empty">No tasks in this view.</p>}
        {!connection && result.fetching && <p className="empty">Loading…</p>}
      </div>
      <nav className="pager" aria-label="Pages">
        <span className="muted">{total === undefined ? "" : `${total} ${total === 1 ? "task" : "tasks"}`}</span>
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

const newest = (a: TaskRow, b: TaskRow | undefined) => (b && b.version > a.version ? b : a);

/** The tabs; `counts` gives a badge per tab (today the current tab's total). */
function Tabs({ current, counts, onChange }: { current: TabKey; counts: Partial<Record<TabKey, number>>; onChange(tab: TabKey): void }) {
  return (
    <div className="tabs" role="tablist" aria-label="Task categories">
      {TABS.map((tab) => (
        <button
          key={tab.key}
          type="button"
          role="tab"
          aria-selected={tab.key === current}
          className={tab.key === current ? "tab current" : "tab"}
          onClick={() => onChange(tab.key)}
        >
          {tab.label}
          {counts[tab.key] !== undefined && <span className="badge">{counts[tab.key]}</span>}
        </button>
      ))}
    </div>
  );
}

function Filters({
  view,
  modules,
  searchBox,
  onChange,
}: {
  view: ListView;
  modules: string[];
  searchBox: React.RefObject<HTMLInputElement | null>;
  onChange(patch: Partial<ListView>): void;
}) {
  const [text, setText] = useState(view.search);
  useEffect(() => setText(view.search), [view.search]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() !== view.search) onChange({ search: text.trim() });
  };
  return (
    <form className="filters" role="search" onSubmit={submit}>
      <label className="search">
        <span className="visually-hidden">Search tasks</span>
        <input
          ref={searchBox}
          id="task-search"
          type="search"
          placeholder="Search name, type, module, target or id  ( / )"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onBlur={() => text.trim() !== view.search && onChange({ search: text.trim() })}
        />
      </label>
      <label>
        Module{" "}
        <select value={view.module ?? ""} onChange={(e) => onChange({ module: e.target.value || null })}>
          <option value="">All modules</option>
          {[...new Set([...modules, ...(view.module ? [view.module] : [])])].map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Created{" "}
        <select value={view.range} onChange={(e) => onChange({ range: e.target.value as RangeKey })}>
          {RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
        </select>
      </label>
    </form>
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

function Row({ task, index, selected }: { task: TaskRow; index: number; selected: boolean }) {
  return (
    <tr data-row={index} data-task={task.id} className={selected ? "selected" : undefined} aria-current={selected ? "true" : undefined}>
      <td className="col-name">
        <Link href={`/tasks/${task.id}`}>{task.name}</Link>
      </td>
      <td>{task.module.name}</td>
      <td>{task.type}</td>
      <td>{task.target ?? <span className="muted">—</span>}</td>
      <td>
        <StateBadge state={task.state} />
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
