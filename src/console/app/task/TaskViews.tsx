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

/** Views register here for each batch of live events. */
export interface EventHub {
  add(listener: EventBatchListener): () => void;
}

type ViewKey = "flow" | "logs" | "history";

export function TaskViews({ taskId, canControl, onTask }: { taskId: string; canControl: boolean; onTask(task: TaskDetail): void }) {
  const client = useClient();
  const [flow, setFlow] = useState<Flow | null>(null);
  const [events, setEvents] = useState<TaskEventView[]>([]);
  const [older, setOlder] = useState<{ cursor: string | null; more: boolean; loading: boolean }>({ cursor: null, more: false, loading: false });
  const [after, setAfter] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
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

  // The first load: the flow and the newest history page.
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
        setEvents(task.events.edges.map((e) => e.node));
        setOlder({ cursor: task.events.pageInfo.startCursor ?? null, more: task.events.pageInfo.hasPreviousPage, loading: false });
        setAfter(task.events.pageInfo.endCursor ?? null);
        setDefaultView(task.flow.nodes.length > 0 ? "flow" : "logs");
      });
    return () => {
      current = false;
    };
  }, [client, taskId]);

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
      setEvents((previous) => {
        const ids = new Set(previous.map((e) => e.id));
        return [...previous, ...batch.filter((e) => !ids.has(e.id))];
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
  const live = useTaskEvents(taskId, after, onBatch);

  const loadOlder = async () => {
    if (!older.cursor) return;
    setOlder((o) => ({ ...o, loading: true }));
    const result = await client.query(OlderEventsQuery, { id: taskId, last: HISTORY_PAGE, before: older.cursor }, { requestPolicy: "network-only" }).toPromise();
    const page = result.data?.task?.events;
    if (!page) {
      setError(result.error?.message ?? null);
      setOlder((o) => ({ ...o, loading: false }));
      return;
    }
    setEvents((previous) => {
      const ids = new Set(previous.map((e) => e.id));
      return [...page.edges.map((e) => e.node).filter((e) => !ids.has(e.id)), ...previous];
    });
    setOlder({ cursor: page.pageInfo.startCursor ?? null, more: page.pageInfo.hasPreviousPage, loading: false });
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
      <ErrorNote error={actionError} />
      <div role="tabpanel" id={`view-${view}`} aria-labelledby={`view-tab-${view}`}>
        {view === "flow" && <FlowView flow={flow} canControl={canControl} onAction={onAction} />}
        {view === "logs" && <LogView taskId={taskId} steps={flow.nodes} hub={hub} />}
        {view === "history" && <HistoryView events={events} hasOlder={older.more} loadingOlder={older.loading} onLoadOlder={() => void loadOlder()} />}
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
      update(p.stepKey, (step) => ({ ...step, state: p.to as StepView["state"], error: p.to === "FAILED" ? p.error : step.error }));
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
