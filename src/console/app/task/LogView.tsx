// OCP's log view: one tab per step attempt (execute, retry, rollback), plus every line ("All") and
// the task's own lines ("Task"); a level filter; the newest lines first loaded, older ones paged
// back on request; a live tail (LOG_APPENDED events of the shown lines, appended as they come,
// scrolled along unless the reader scrolled up); an error's stack folded under its line.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useClient } from "urql";
import { ErrorNote } from "../components/bits";
import type { EventHub } from "./TaskViews";
import type { LogAppendedPayload } from "./live";
import { type LogLevel, type LogLine, LogsQuery, LogStackQuery, type StepView } from "./views-queries";

const PAGE = 200;
const LEVELS: LogLevel[] = ["DEBUG", "INFO", "WARN", "ERROR"];
const rank = (level: string) => LEVELS.indexOf(level as LogLevel);

/** A line as shown: a live line's stack is not known until asked for (undefined). */
type Line = Omit<LogLine, "stack"> & { stack: string | null | undefined };

type Tab = { key: string; label: string; includeSteps: boolean; stepKey?: string; attempt?: number };

function tabsOf(steps: readonly StepView[]): Tab[] {
  const tabs: Tab[] = [
    { key: "all", label: "All", includeSteps: true },
    { key: "task", label: "Task", includeSteps: false },
  ];
  for (const step of steps) {
    for (const attempt of step.attempts) {
      tabs.push({
        key: attempt.id,
        label: `${step.key} #${attempt.number} ${attempt.kind.toLowerCase()}`,
        includeSteps: true,
        stepKey: step.key,
        attempt: attempt.number,
      });
    }
  }
  return tabs;
}

function matches(tab: Tab, minLevel: LogLevel, payload: LogAppendedPayload): boolean {
  if (rank(payload.level) < rank(minLevel)) return false;
  if (!tab.includeSteps) return payload.stepKey === null;
  if (tab.stepKey === undefined) return true;
  return payload.stepKey === tab.stepKey && payload.attempt === tab.attempt;
}

const lineOf = (p: LogAppendedPayload): Line => ({
  id: `LogEntry:${p.logId}`,
  time: p.time,
  level: p.level,
  message: p.message,
  stack: p.level === "ERROR" ? undefined : null,
  step: p.stepKey && p.stepId ? { id: p.stepId, key: p.stepKey } : null,
  attempt:
    p.attemptId && p.attempt !== null && p.attemptKind ? { id: p.attemptId, number: p.attempt, kind: p.attemptKind as NonNullable<LogLine["attempt"]>["kind"] } : null,
});

export function LogView({ taskId, steps, hub }: { taskId: string; steps: readonly StepView[]; hub: EventHub }) {
  const client = useClient();
  const tabs = tabsOf(steps);
  const [tabKey, setTabKey] = useState("all");
  const tab = tabs.find((t) => t.key === tabKey) ?? tabs[0]!;
  const [minLevel, setMinLevel] = useState<LogLevel>("DEBUG");
  const [lines, setLines] = useState<Line[]>([]);
  const [older, setOlder] = useState<{ cursor: string | null; more: boolean }>({ cursor: null, more: false });
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [unseen, setUnseen] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const keepFromBottom = useRef<number | null>(null);
  // Live lines that came while the first page was loading: appended once it is in.
  const pending = useRef<Line[] | null>(null);

  const variables = (before: string | null) => ({
    id: taskId,
    last: PAGE,
    before,
    includeSteps: tab.includeSteps,
    filter: { minLevel: minLevel === "DEBUG" ? null : minLevel, stepKey: tab.stepKey ?? null, attempt: tab.attempt ?? null },
  });

  // The newest page for this tab and level.
  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    setUnseen(0);
    stick.current = true;
    pending.current = [];
    client
      .query(LogsQuery, variables(null), { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        if (!current) return;
        setLoading(false);
        const logs = result.data?.task?.logs;
        if (result.error || !logs) {
          setError(result.error?.message ?? "The task is gone.");
          pending.current = null;
          return;
        }
        const loaded: Line[] = logs.edges.map((e) => e.node);
        const ids = new Set(loaded.map((l) => l.id));
        const live = (pending.current ?? []).filter((l) => !ids.has(l.id));
        pending.current = null;
        setLines([...loaded, ...live]);
        setOlder({ cursor: logs.pageInfo.startCursor ?? null, more: logs.pageInfo.hasPreviousPage });
      });
    return () => {
      current = false;
    };
  }, [client, taskId, tab.key, minLevel]);

  // The live tail.
  const view = useRef({ tab, minLevel });
  view.current = { tab, minLevel };
  useEffect(
    () =>
      hub.add((events) => {
        const fresh = events
          .filter((e) => e.type === "LOG_APPENDED")
          .map((e) => e.payload as LogAppendedPayload)
          .filter((p) => matches(view.current.tab, view.current.minLevel, p))
          .map(lineOf);
        if (fresh.length === 0) return;
        if (pending.current) {
          pending.current.push(...fresh);
          return;
        }
        setLines((previous) => {
          const ids = new Set(previous.map((l) => l.id));
          const added = fresh.filter((l) => !ids.has(l.id));
          if (added.length > 0 && !stick.current) setUnseen((n) => n + added.length);
          return added.length > 0 ? [...previous, ...added] : previous;
        });
      }),
    [hub],
  );

  // Scrolled along at the bottom unless the reader scrolled up; kept in place when older lines
  // are put above.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (keepFromBottom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFromBottom.current;
      keepFromBottom.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [lines]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (stick.current) setUnseen(0);
  };

  const loadOlder = async () => {
    if (!older.cursor) return;
    const result = await client.query(LogsQuery, variables(older.cursor), { requestPolicy: "network-only" }).toPromise();
    const logs = result.data?.task?.logs;
    if (result.error || !logs) {
      setError(result.error?.message ?? "The task is gone.");
      return;
    }
    const el = box.current;
    if (el) keepFromBottom.current = el.scrollHeight - el.scrollTop;
    setLines((previous) => {
      const ids = new Set(previous.map((l) => l.id));
      return [...logs.edges.map((e) => e.node).filter((l) => !ids.has(l.id)), ...previous];
    });
    setOlder({ cursor: logs.pageInfo.startCursor ?? null, more: logs.pageInfo.hasPreviousPage });
  };

  const toBottom = () => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
    stick.current = true;
    setUnseen(0);
  };

  const loadStack = useCallback(
    async (id: string) => {
      const result = await client.query(LogStackQuery, { id }, { requestPolicy: "network-only" }).toPromise();
      const node = result.data?.node;
      const stack = node && "stack" in node ? (node.stack ?? null) : null;
      setLines((previous) => previous.map((l) => (l.id === id ? { ...l, stack } : l)));
    },
    [client],
  );

  return (
    <div className="log-view">
      <div className="tabs log-tabs" role="tablist" aria-label="Log of">
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            aria-selected={t.key === tab.key}
            className={`tab${t.key === tab.key ? " current" : ""}`}
            onClick={() => setTabKey(t.key)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div className="log-tools">
        <label className="inline">
          Level
          <select value={minLevel} onChange={(e) => setMinLevel(e.target.value as LogLevel)} aria-label="Lowest level shown">
            <option value="DEBUG">All levels</option>
            <option value="INFO">INFO and above</option>
            <option value="WARN">WARN and above</option>
            <option value="ERROR">ERROR only</option>
          </select>
        </label>
        <span className="muted small" aria-live="polite">
          {loading ? "Loading…" : `${lines.length} line${lines.length === 1 ? "" : "s"} shown`}
        </span>
      </div>
      <ErrorNote error={error} />
      <div className="log-lines" ref={box} onScroll={onScroll} role="log" aria-label={`Log: ${tab.label}`} tabIndex={0}>
        {older.more && (
          <button type="button" className="link log-older" onClick={() => void loadOlder()}>
            Load older lines
          </button>
        )}
        {!loading && lines.length === 0 && <p className="empty">No lines{minLevel !== "DEBUG" ? ` at ${minLevel} or above` : ""}.</p>}
        {lines.map((line) => (
          <LogLineView key={line.id} line={line} showWhere={tab.stepKey === undefined} onUnfold={loadStack} />
        ))}
      </div>
      {unseen > 0 && (
        <button type="button" className="log-unseen" onClick={toBottom}>
          {unseen} new line{unseen === 1 ? "" : "s"} ↓
        </button>
      )}
    </div>
  );
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, hour12: false });

function LogLineView({ line, showWhere, onUnfold }: { line: Line; showWhere: boolean; onUnfold(id: string): void }) {
  const level = line.level.toLowerCase();
  return (
    <div className={`log-line level-${level}`} data-level={line.level}>
      <time dateTime={line.time} title={line.time}>
        {clock.format(new Date(line.time))}
      </time>
      <span className="log-level">{line.level}</span>
      {showWhere && <span className="log-where muted">{line.step ? `${line.step.key}${line.attempt ? ` #${line.attempt.number}` : ""}` : "task"}</span>}
      <span className="log-message">
        <span className="log-text">{line.message}</span>
        {line.stack !== null && (
          <details
            className="log-stack"
            onToggle={(event) => {
              if ((event.currentTarget as HTMLDetailsElement).open && line.stack === undefined) onUnfold(line.id);
            }}
          >
            <summary>Stack</summary>
            <pre>{line.stack ?? "Loading…"}</pre>
          </details>
        )}
      </span>
    </div>
  );
}
