// The modules: each with its description, its visible tasks per state, its task types, and a
// link to the task list filtered by it.
import { useQuery } from "urql";
import { Link } from "wouter";
import { ErrorNote, StateBadge } from "../components/bits";
import { ModulesQuery } from "./queries";

export const moduleListUrl = (module: string) => `/?tab=all&module=${encodeURIComponent(module)}`;

export function ModulesPage() {
  const [result, refetch] = useQuery({ query: ModulesQuery, requestPolicy: "cache-and-network" });
  const modules = result.data?.modules ?? [];
  return (
    <main className="modules-page">
      <div className="page-head">
        <h1>Modules</h1>
        <button type="button" onClick={() => refetch({ requestPolicy: "network-only" })} disabled={result.fetching}>
          Refresh
        </button>
      </div>
      <ErrorNote error={result.error} />
      {result.data && modules.length === 0 && <p className="muted">No module is defined yet.</p>}
      <div className="cards">
        {modules.map((m) => (
          <section key={m.id} className="card" aria-labelledby={`module-${m.name}`}>
            <h2 id={`module-${m.name}`}>{m.name}</h2>
            {m.description && <p className="muted">{m.description}</p>}
            <p>
              <Link href={moduleListUrl(m.name)}>
                {m.totalTasks} task{m.totalTasks === 1 ? "" : "s"} in the list
              </Link>
            </p>
            <table className="counts" aria-label={`${m.name} tasks per state`}>
              <tbody>
                {m.taskCounts
                  .filter((c) => c.count > 0)
                  .map((c) => (
                    <tr key={c.state} data-state={c.state}>
                      <th scope="row">
                        <StateBadge state={c.state} />
                      </th>
                      <td className="num">{c.count}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
            {m.taskCounts.every((c) => c.count === 0) && <p className="muted small">No visible task.</p>}
            <h3>Task types</h3>
            <ul className="types">
              {m.taskTypes.map((t) => (
                <li key={t.id}>
                  <strong>{t.name}</strong> {t.served ? "" : <span className="warn small">(no worker)</span>}
                  {t.description && <div className="muted small">{t.description}</div>}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </main>
  );
}
