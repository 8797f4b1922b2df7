// A task's three views — Flow, Logs, History — fed by one request and one subscription: the flow
// and the newest page of the history are loaded together, then taskEvents(filter: { taskId },
// after: <the history's last cursor>) keeps all three current with nothing missed in between.
// Step states and progress are patched in place from STEP_CHANGED / PROGRESSED events; what an
// event does not carry (the actions a step allows now, its attempts) comes from a refetch of the
// flow alone, at most one at a time, after a batch of events (batches are one animation frame).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useClient, useMutation } from "urql";
import { useLocation, useSearch } from "wouter";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorNote, StateBadge } from "../components/bits";
import { FlowView } from "./flow/FlowView";
import { HistoryView } from "./HistoryView";
import { type EventBatchListener, type LogAppendedPayload, type ProgressedPayload, type StepChangedPayload, useTaskEvents } from "./live";
import { LogView } from "./LogView";
import type { TaskDetail } from "./queries";
import type { StepActionItem } from "./step-actions";
import {
  type FlowView as Flow,
  FlowQuery,
  MarkStepSucceededMutation,
  OlderEventsQuery,
  RerunStepMutation,
  type StepView,
  type TaskEventView,
  TaskViewsQuery,
  TerminateStepMutation,
} from "./views-queries";
import "./task.css";

const HISTORY_PAGE = 100;
/**
 * Live events the history keeps: the newest ones (plus the older pages the reader asked for). The
 * events it drops are its older pages again, loaded on request through Task.events, so a task that
 * runs for long does not fill the page's memory.
 */
const HISTORY_KEEP = 500;

/** The history's events, oldest first; whether older ones exist; how many to keep. */
interface History {
  events: TaskEventView[];
  more: boolean;
  loading: boolean;
  keep: number;
}

/** Views register here for each batch of live events. */
export interface EventHub {
  add(listener: EventBatchListener): () => void;
}

type ViewKey = "flow" | "logs" | "history";

export function TaskViews({ taskId, canControl, onTask }: { taskId: string; canControl: boolean; onTask(task: TaskDetail): void }) {
  const client = useClient();
  const [flow, setFlow] = useState<Flow | null>(null);
  const [history, setHistory] = useState<History>({ events: [], more: false, loading: false, keep: HISTORY_KEEP });
  const [after, setAfter] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  // Bumped when the live feed's position expired: the views load afresh and the feed restarts there.
  const [generation, setGeneration] = useState(0);
  const [resynced, setResynced] = useState(false);
  // The view is in the URL (?view=logs), so a link or a reload opens the same one.
  const search = useSearch();
  const [location, navigate] = useLocation();
  const asked = new URLSearchParams(search).get("view");
  const [defaultView, setDefaultView] = useState<ViewKey | null>(null);
  const view: ViewKey | null = asked === "flow" || asked === "logs" || asked === "history" ? asked : defaultView;
  const setView = (key: ViewKey) => {
    const params = new URLSearchParams(search);
    params.set("view", key);
    navigate(`${location}?${params.toString()}`, { replace: true });
  };

  // The first load: the flow and the newest history page (again when the feed's position expired).
  useEffect(() => {
    let current = true;
    client
      .query(TaskViewsQuery, { id: taskId, last: HISTORY_PAGE }, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        if (!current) return;
        const task = result.data?.task;
        if (result.error || !task) {
          setError(result.error?.message ?? null);
          return;
        }
        setFlow(task.flow);
        setHistory({ events: task.events.edges.map((e) => e.node), more: task.events.pageInfo.hasPreviousPage, loading: false, keep: HISTORY_KEEP });
        // After the history's last event; with none (pruned, or none final yet), from the journal's position.
        setAfter(task.events.pageInfo.endCursor ?? result.data?.journal.journalCursor ?? null);
        setDefaultView((known) => known ?? (task.flow.nodes.length > 0 ? "flow" : "logs"));
        if (generation > 0) setResynced(true);
      });
    return () => {
      current = false;
    };
  }, [client, taskId, generation]);
  const onExpired = useCallback(() => setGeneration((n) => n + 1), []);

  // The flow refetched, one request at a time (one more after it when events came meanwhile).
  const refetching = useRef<"idle" | "busy" | "again">("idle");
  const refetchFlow = useCallback(() => {
    if (refetching.current !== "idle") {
      refetching.current = "again";
      return;
    }
    refetching.current = "busy";
    void client
      .query(FlowQuery, { id: taskId }, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        const fresh = result.data?.task?.flow;
        if (fresh) setFlow(fresh);
        const again = refetching.current === "again";
        refetching.current = "idle";
        if (again) refetchFlow();
      });
  }, [client, taskId]);

  // Live: every batch goes to the flow, the history and whichever views listen.
  const listeners = useRef(new Set<EventBatchListener>());
  const hub = useMemo<EventHub>(
    () => ({
      add(listener) {
        listeners.current.add(listener);
        return () => listeners.current.delete(listener);
      },
    }),
    [],
  );
  const flowRef = useRef(flow);
  flowRef.current = flow;
  const onBatch = useCallback(
    (batch: TaskEventView[]) => {
      setHistory((previous) => {
        const ids = new Set(previous.events.map((e) => e.id));
        const events = [...previous.events, ...batch.filter((e) => !ids.has(e.id))];
        return events.length > previous.keep ? { ...previous, events: events.slice(-previous.keep), more: true } : { ...previous, events };
      });
      const current = flowRef.current;
      if (current) {
        const { flow: patched, refetch } = applyEvents(current, batch);
        if (patched !== current) setFlow(patched);
        if (refetch) refetchFlow();
      }
      for (const listener of listeners.current) listener(batch);
    },
    [refetchFlow],
  );
  const live = useTaskEvents(taskId, after, onBatch, onExpired, generation);

  // The page before the oldest event shown; kept from then on (with the live window).
  const loadOlder = async () => {
    const before = history.events[0]?.cursor;
    if (!before) return;
    setHistory((h) => ({ ...h, loading: true }));
    const result = await client.query(OlderEventsQuery, { id: taskId, last: HISTORY_PAGE, before }, { requestPolicy: "network-only" }).toPromise();
    const page = result.data?.task?.events;
    if (!page) {
      setError(result.error?.message ?? null);
      setHistory((h) => ({ ...h, loading: false }));
      return;
    }
    setHistory((previous) => {
      const ids = new Set(previous.events.map((e) => e.id));
      const events = [...page.edges.map((e) => e.node).filter((e) => !ids.has(e.id)), ...previous.events];
      return { events, more: page.pageInfo.hasPreviousPage, loading: false, keep: Math.max(previous.keep, events.length) };
    });
  };

  // A step's action, confirmed first.
  const [asking, setAsking] = useState<{ step: StepView; item: StepActionItem } | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [rerunState, rerun] = useMutation(RerunStepMutation);
  const [markState, mark] = useMutation(MarkStepSucceededMutation);
  const [terminateState, terminate] = useMutation(TerminateStepMutation);
  const busy = rerunState.fetching || markState.fetching || terminateState.fetching;
  const onAction = useCallback((step: StepView, item: StepActionItem) => {
    setActionError(null);
    setAsking({ step, item });
  }, []);
  const runAction = async ({ step, item }: { step: StepView; item: StepActionItem }) => {
    const variables = { stepId: step.id };
    const outcome =
      item.action === "RERUN"
        ? await rerun(variables).then((r) => ({ error: r.error, task: r.data?.rerunStep }))
        : item.action === "MARK_SUCCEEDED"
          ? await mark(variables).then((r) => ({ error: r.error, task: r.data?.markStepSucceeded }))
          : await terminate(variables).then((r) => ({ error: r.error, task: r.data?.terminateStep }));
    setAsking(null);
    if (outcome.error) setActionError(outcome.error.message.replace(/^\[(GraphQL|Network)\] /, ""));
    if (outcome.task) {
      onTask(outcome.task);
      setFlow(outcome.task.flow);
    }
  };

  if (error) return <ErrorNote error={error} />;
  if (!flow || !view || !defaultView) return <p className="page-note">Loading the flow, logs and history…</p>;
  // A task without steps has no flow to show.
  const tabs: { key: ViewKey; label: string }[] = [
    ...(flow.nodes.length > 0 ? [{ key: "flow" as const, label: "Flow" }] : []),
    { key: "logs", label: "Logs" },
    { key: "history", label: "History" },
  ];
  return (
    <section className="task-views" aria-label="Task views">
      <div className="tabs" role="tablist" aria-label="Views">
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`view-tab-${t.key}`}
            aria-selected={view === t.key}
            aria-controls={`view-${t.key}`}
            className={`tab${view === t.key ? " current" : ""}`}
            onClick={() => setView(t.key)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <ErrorNote error={live.error} />
      {resynced && (
        <p className="banner resynced" role="status">
          Resynchronised: the live feed had been away longer than the server keeps events, so the flow and the history were loaded again.
        </p>
      )}
      <ErrorNote error={actionError} />
      <div role="tabpanel" id={`view-${view}`} aria-labelledby={`view-tab-${view}`}>
        {view === "flow" && <FlowView flow={flow} canControl={canControl} onAction={onAction} />}
        {view === "logs" && <LogView taskId={taskId} steps={flow.nodes} hub={hub} />}
        {view === "history" && <HistoryView events={history.events} hasOlder={history.more} loadingOlder={history.loading} onLoadOlder={() => void loadOlder()} />}
      </div>
      {asking && (
        <ConfirmDialog
          title={asking.item.title}
          confirmLabel={asking.item.label}
          danger={asking.item.danger}
          busy={busy}
          onCancel={() => setAsking(null)}
          onConfirm={() => void runAction(asking)}
        >
          <p>
            <strong>{asking.step.name}</strong> <StateBadge state={asking.step.state} />
          </p>
          <p>{asking.item.consequence}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** The flow with the events' step states and progress applied; whether to refetch it too. */
export function applyEvents(flow: Flow, events: readonly TaskEventView[]): { flow: Flow; refetch: boolean } {
  let nodes = flow.nodes;
  let refetch = false;
  const attemptIds = new Set(flow.nodes.flatMap((n) => n.attempts.map((a) => a.id)));
  const update = (stepKey: string, change: (step: StepView) => StepView) => {
    const index = nodes.findIndex((n) => n.key === stepKey);
    if (index < 0) return false;
    if (nodes === flow.nodes) nodes = [...nodes];
    nodes[index] = change(nodes[index]!);
    return true;
  };
  for (const event of events) {
    if (event.type === "STEP_CHANGED") {
      const p = event.payload as StepChangedPayload;
      update(p.stepKey, (step) => ({
        ...step,
        state: p.to as StepView["state"],
        error: p.to === "FAILED" ? p.error : step.error,
        nextAttemptAt: p.nextAttemptAt ?? null,
      }));
      refetch = true; // its actions and attempts
    } else if (event.type === "PROGRESSED") {
      const p = event.payload as ProgressedPayload;
      if (p.stepKey && p.step) {
        const { completed, total } = p.step;
        update(p.stepKey, (step) => ({
          ...step,
          progress: { ...step.progress, completed, total, fraction: total ? Math.min(1, completed / total) : null },
        }));
      }
    } else if (event.type === "LOG_APPENDED") {
      const p = event.payload as LogAppendedPayload;
      if (p.attemptId && !attemptIds.has(p.attemptId)) refetch = true; // a new attempt: a new log tab
    }
  }
  return { flow: nodes === flow.nodes ? flow : { ...flow, nodes }, refetch };
}
