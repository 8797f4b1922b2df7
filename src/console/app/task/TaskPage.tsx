// A task's page at /tasks/<id>: its state, progress, times, who started it, what it acts on, its
// input, result or error, children, and the actions it allows now — live by taskUpdated; then its
// flow, log and history views (TaskViews), live by the task's events.
import { lazy, type ReactNode, Suspense, useEffect, useState } from "react";
import { useMutation, useQuery, useSubscription } from "urql";
import { Link, useLocation } from "wouter";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorNote, ProgressBar, StateBadge, Time } from "../components/bits";
import { listUrl, useKeys } from "../keys";
import { useSession } from "../session";
import { type ActionButton, actionButtons } from "./actions";
import { ChildrenTree } from "./ChildrenTree";
import { AbortTaskMutation, DeleteTaskMutation, RetryTaskMutation, type TaskDetail, TaskLiveSubscription, TaskQuery } from "./queries";

// The views (React Flow, the layout's worker) load with the first task page, not with the list.
const TaskViews = lazy(() => import("./TaskViews").then((m) => ({ default: m.TaskViews })));

export function TaskPage({ id }: { id: string }) {
  const [, navigate] = useLocation();
  const { canControl, reconnects } = useSession();
  const [query, refetch] = useQuery({ query: TaskQuery, variables: { id }, requestPolicy: "cache-and-network" });
  const [live] = useSubscription({ query: TaskLiveSubscription, variables: { id } });
  const [fromAction, setFromAction] = useState<TaskDetail | null>(null);
  const [deleted, setDeleted] = useState(false);
  useKeys({ Escape: () => navigate(listUrl()) });
  useEffect(() => {
    if (reconnects > 0) refetch({ requestPolicy: "network-only" });
  }, [reconnects, refetch]);
  useEffect(() => {
    setFromAction(null);
    setDeleted(false);
  }, [id]);

  // The newest of what the query, the subscription and the last action returned.
  const candidates = [query.data?.task, live.data?.taskUpdated, fromAction].filter((t): t is TaskDetail => !!t);
  const task = candidates.reduce<TaskDetail | null>((a, b) => (!a || b.version > a.version ? b : a), null);
  const gone = deleted || (live.data !== undefined && live.data.taskUpdated === null) || (query.data !== undefined && query.data.task === null && !task);

  if (gone) {
    return (
      <main className="task-page">
        <p className="page-note">
          There is no task <code>{id}</code> (it was deleted, or never existed). <Link href={listUrl()}>Back to the list</Link>
        </p>
      </main>
    );
  }
  if (!task) {
    return (
      <main className="task-page">
        <ErrorNote error={query.error} />
        {!query.error && <p className="page-note">Loading…</p>}
      </main>
    );
  }
  return (
    <main className="task-page">
      <nav className="crumbs" aria-label="Breadcrumbs">
        <Link href={listUrl()}>Tasks</Link> <span aria-hidden="true">›</span> {task.module.name}
        {task.parent && (
          <>
            {" "}
            <span aria-hidden="true">›</span> <Link href={`/tasks/${task.parent.id}`}>{task.parent.name}</Link>
          </>
        )}
      </nav>
      <header className="task-head">
        <h1>{task.name}</h1>
        <StateBadge state={task.state} />
      </header>
      <ProgressBar progress={task.progress} state={task.state} label="Task progress" />
      {canControl && <Actions task={task} onTask={setFromAction} onDeleted={() => setDeleted(true)} />}
      <ErrorNote error={live.error} />
      {task.error && (
        <section aria-labelledby="error-title" className="task-error">
          <h2 id="error-title">Error</h2>
          <pre>{task.error}</pre>
        </section>
      )}
      <dl className="facts">
        <Fact term="Id">
          <code>{task.id}</code>
        </Fact>
        <Fact term="Module / type">
          {task.module.name} / {task.type}
        </Fact>
        <Fact term="Target">{task.target ?? "—"}</Fact>
        <Fact term="Priority">{task.priority}</Fact>
        {task.exclusiveKey && <Fact term="Exclusive key">{task.exclusiveKey}</Fact>}
        {task.blockedBy && (
          <Fact term="Waiting for">
            <Link href={`/tasks/${task.blockedBy.id}`}>{task.blockedBy.name}</Link>, which holds its exclusive key
          </Fact>
        )}
        {task.timeoutMs !== null && <Fact term="Time limit">{task.timeoutMs} ms per run</Fact>}
        {task.retryPolicy && (
          <Fact term="Automatic retries">
            {task.retryPolicy.attempts} attempts in all, {task.retryPolicy.backoff.toLowerCase()} backoff from {task.retryPolicy.backoffMs} ms
            {task.automaticRetries > 0 && `; ${task.automaticRetries} so far`}
          </Fact>
        )}
        {task.nextAttemptAt && (
          <Fact term="Next attempt">
            <Time value={task.nextAttemptAt} /> (automatic retry {task.automaticRetries})
          </Fact>
        )}
        <Fact term="Kind">
          {task.kind} ({task.scope}){task.node ? ` on ${task.node}` : ""}
        </Fact>
        <Fact term="Created by">{task.createdBy ?? "the system"}</Fact>
        <Fact term="Sequence">#{task.sequenceNumber}</Fact>
        <Fact term="Created">
          <Time value={task.createdAt} />
        </Fact>
        {task.scheduledFor && (
          <Fact term="Scheduled for">
            <Time value={task.scheduledFor} />
          </Fact>
        )}
        <Fact term="Started">
          <Time value={task.startedAt} />
        </Fact>
        <Fact term="Ended">
          <Time value={task.endedAt} />
        </Fact>
        <Fact term="Labels">
          {Object.keys(task.labels).length === 0 ? (
            "—"
          ) : (
            <ul className="labels">
              {Object.entries(task.labels).map(([key, value]) => (
                <li key={key}>
                  {key}={String(value)}
                </li>
              ))}
            </ul>
          )}
        </Fact>
      </dl>
      <Json title="Input" value={task.input} />
      {task.state === "SUCCEEDED" && <Json title="Result" value={task.result} />}
      <ChildrenTree task={task} />
      <Suspense fallback={<p className="page-note">Loading the flow, logs and history…</p>}>
        <TaskViews taskId={task.id} canControl={canControl} onTask={setFromAction} />
      </Suspense>
    </main>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Json({ title, value }: { title: string; value: unknown }) {
  if (value === null || value === undefined) return null;
  return (
    <section className="json" aria-label={title}>
      <h2>{title}</h2>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </section>
  );
}

function Actions({ task, onTask, onDeleted }: { task: TaskDetail; onTask(task: TaskDetail): void; onDeleted(): void }) {
  const [asking, setAsking] = useState<ActionButton | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [abortState, abort] = useMutation(AbortTaskMutation);
  const [retryState, retry] = useMutation(RetryTaskMutation);
  const [deleteState, remove] = useMutation(DeleteTaskMutation);
  const busy = abortState.fetching || retryState.fetching || deleteState.fetching;
  const buttons = actionButtons(task);

  const run = async (button: ActionButton) => {
    setError(null);
    const id = task.id;
    const outcome =
      button.key === "abort" || button.key === "abort-rollback"
        ? await abort({ id, rollback: button.key === "abort-rollback" }).then((r) => ({ error: r.error, task: r.data?.abortTask }))
        : button.key === "retry"
          ? await retry({ id }).then((r) => ({ error: r.error, task: r.data?.retryTask }))
          : await remove({ id, force: button.key === "force-delete" }).then((r) => {
              if (r.data?.deleteTask.deleted && !r.data.deleteTask.task) onDeleted();
              return { error: r.error, task: r.data?.deleteTask.task ?? undefined };
            });
    setAsking(null);
    if (outcome.error) setError(outcome.error.message.replace(/^\[(GraphQL|Network)\] /, ""));
    if (outcome.task) onTask(outcome.task);
  };

  if (buttons.length === 0) return null;
  return (
    <div className="actions" role="group" aria-label="Actions">
      {buttons.map((button) => (
        <button key={button.key} type="button" className={button.danger ? "danger" : "primary"} onClick={() => setAsking(button)} disabled={busy}>
          {button.label}
        </button>
      ))}
      <ErrorNote error={error} />
      {asking && (
        <ConfirmDialog
          title={asking.title}
          confirmLabel={asking.label}
          danger={asking.danger}
          busy={busy}
          onCancel={() => setAsking(null)}
          onConfirm={() => void run(asking)}
        >
          <p>
            <strong>{task.name}</strong> <span className="muted">({task.state})</span>
          </p>
          <p>{asking.consequence}</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
