// The workers: name, host, pid, concurrency, whether alive (heartbeat), the task types each
// serves and the tasks each runs now. Kept current by task state changes (taskEvents
// STATE_CHANGED), refetched at most once per 2 s; there is no polling timer, so a change of
// heartbeat alone (a worker going silent) shows at the next state change or refresh.
import { useEffect, useRef } from "react";
import { useQuery, useSubscription } from "urql";
import { Link } from "wouter";
import { ErrorNote, Time } from "../components/bits";
import { useSession } from "../session";
import { StateChangesSubscription, WorkersQuery } from "./queries";

const THROTTLE_MS = 2_000;

/** Calls `fn` at most once per `ms`: at once when the last call is older, else once at the end of the window. */
function useThrottled(fn: () => void, ms: number): () => void {
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const current = useRef(fn);
  current.current = fn;
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  return useRef(() => {
    if (timer.current) return;
    const wait = last.current + ms - Date.now();
    const run = () => {
      timer.current = null;
      last.current = Date.now();
      current.current();
    };
    if (wait <= 0) run();
    else timer.current = setTimeout(run, wait);
  }).current;
}

export function WorkersPage() {
  const { reconnects } = useSession();
  const [result, refetch] = useQuery({ query: WorkersQuery, requestPolicy: "cache-and-network" });
  const refresh = useThrottled(() => refetch({ requestPolicy: "network-only" }), THROTTLE_MS);
  useSubscription({ query: StateChangesSubscription }, (_previous, event) => {
    refresh();
    return event;
  });
  useEffect(() => {
    if (reconnects > 0) refresh();
  }, [reconnects, refresh]);

  const workers = result.data?.workers ?? [];
  const running = new Map<string, { id: string; name: string; type: string; module: string }[]>();
  for (const edge of result.data?.tasks.edges ?? []) {
    const task = edge.node;
    if (!task.worker) continue;
    const list = running.get(task.worker.name) ?? [];
    list.push({ id: task.id, name: task.name, type: task.type, module: task.module.name });
    running.set(task.worker.name, list);
  }

  return (
    <main className="workers-page">
      <div className="page-head">
        <h1>Workers</h1>
        <button type="button" onClick={() => refetch({ requestPolicy: "network-only" })} disabled={result.fetching}>
          Refresh
        </button>
      </div>
      <p className="muted small">
        Updated live when a task changes state (at most every 2 s). A worker that merely stops sending heartbeats shows as not alive only at the next
        update or refresh.
      </p>
      <ErrorNote error={result.error} />
      {result.data && workers.length === 0 && <p className="muted">No worker is registered.</p>}
      {workers.length > 0 && (
        <table className="workers">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Host</th>
              <th scope="col">PID</th>
              <th scope="col">Concurrency</th>
              <th scope="col">Alive</th>
              <th scope="col">Serves</th>
              <th scope="col">Running now</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => {
              const tasks = running.get(w.name) ?? [];
              return (
                <tr key={w.id} data-worker={w.name}>
                  <th scope="row">{w.name}</th>
                  <td>{w.host}</td>
                  <td className="num">{w.pid}</td>
                  <td className="num">
                    {tasks.length} / {w.concurrency}
                  </td>
                  <td>
                    <span className={w.alive ? "alive" : "dead"}>{w.alive ? "alive" : "silent"}</span>{" "}
                    <span className="muted small">
                      heartbeat <Time value={w.heartbeatAt} />
                    </span>
                  </td>
                  <td className="small">{w.taskTypes.map((t) => `${t.module.name}/${t.name}`).join(", ")}</td>
                  <td className="running">
                    {tasks.length === 0 ? (
                      <span className="muted">idle</span>
                    ) : (
                      <ul>
                        {tasks.map((t) => (
                          <li key={t.id}>
                            <Link href={`/tasks/${t.id}`}>{t.name}</Link> <span className="muted small">{`${t.module}/${t.type}`}</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
