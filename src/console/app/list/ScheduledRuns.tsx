// The Scheduled tab's recurring schedules: each one's next runs (or that it is paused), above the
// one-off tasks waiting for their runAt. Schedules send no events, but the page knows when its
// answer goes stale (the earliest next run): it reloads then, at most once per STALE_MIN_MS — a
// reload at a known time, not a poll. Pause / Resume for roles that may control tasks.
import { useEffect, useMemo } from "react";
import { useMutation, useQuery } from "urql";
import { ErrorNote, Time } from "../components/bits";
import { graphql, type ResultOf } from "../graphql";
import { useSession } from "../session";

export const UpcomingSchedulesQuery = graphql(`
  query UpcomingSchedules {
    schedules(first: 100) {
      totalCount
      edges { node { id name type module { id name } cron timeZone everySeconds catchUp enabled nextRunAt upcomingRuns(count: 3) lastError } }
    }
  }
`);

const PauseScheduleMutation = graphql(`
  mutation PauseScheduleFromList($id: ID!) { pauseSchedule(id: $id) { id enabled nextRunAt upcomingRuns(count: 3) } }
`);
const ResumeScheduleMutation = graphql(`
  mutation ResumeScheduleFromList($id: ID!) { resumeSchedule(id: $id) { id enabled nextRunAt upcomingRuns(count: 3) } }
`);

type ScheduleRow = ResultOf<typeof UpcomingSchedulesQuery>["schedules"]["edges"][number]["node"];

/** The shortest time between two reloads for a stale next run (a schedule every second would reload every second). */
const STALE_MIN_MS = 5_000;
/** No timer for a run further away than this (a day; setTimeout cannot wait past 24.8 days). */
const MAX_TIMER_MS = 86_400_000;

const ruleText = (s: ScheduleRow) =>
  s.cron !== null ? `cron ${s.cron}${s.timeZone === "UTC" ? " (UTC)" : ` (${s.timeZone})`}` : `every ${durationText(s.everySeconds ?? 0)}`;

function durationText(seconds: number): string {
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["min", 60]] as const) if (seconds % size === 0 && seconds >= size) return `${seconds / size} ${unit}`;
  return `${seconds} s`;
}

/** `modules`: the list's module filter (empty: every module). */
export function ScheduledRuns({ modules }: { modules: readonly string[] }) {
  const { canControl } = useSession();
  const [result, refetch] = useQuery({ query: UpcomingSchedulesQuery, requestPolicy: "cache-and-network" });
  const [pausing, pause] = useMutation(PauseScheduleMutation);
  const [resuming, resume] = useMutation(ResumeScheduleMutation);
  const schedules = useMemo(
    () => (result.data?.schedules.edges.map((e) => e.node) ?? []).filter((s) => modules.length === 0 || modules.includes(s.module.name)),
    [result.data, modules],
  );

  // Reload once the earliest next run has passed (it has fired, and moved on).
  useEffect(() => {
    const next = Math.min(...schedules.filter((s) => s.enabled && s.nextRunAt).map((s) => Date.parse(s.nextRunAt!)));
    const wait = Math.max(next - Date.now() + 500, STALE_MIN_MS);
    if (!Number.isFinite(next) || wait > MAX_TIMER_MS) return; // a run days away: the next visit loads it
    const timer = setTimeout(() => refetch({ requestPolicy: "network-only" }), wait);
    return () => clearTimeout(timer);
  }, [schedules, refetch]);

  if (!result.data) return <ErrorNote error={result.error} />;
  const done = () => refetch({ requestPolicy: "network-only" });
  return (
    <>
      <section className="schedules" aria-labelledby="schedules-heading">
        <h2 id="schedules-heading">Recurring schedules</h2>
        <ErrorNote error={result.error ?? pausing.error ?? resuming.error} />
        {result.data.schedules.totalCount > result.data.schedules.edges.length && (
          <p className="muted">
            The first {result.data.schedules.edges.length} of {result.data.schedules.totalCount} schedules (`taskgraph schedules list` shows every one).
          </p>
        )}
        {schedules.length === 0 ? (
          <p className="muted">No recurring schedules{modules.length ? " in these modules" : ""}. Create one with createSchedule (API) or `taskgraph schedules create`.</p>
        ) : (
          <div className="table-wrap">
            <table className="tasks schedules-table" aria-label="Recurring schedules">
              <thead>
                <tr>
                  <th scope="col">Schedule</th>
                  <th scope="col">Module</th>
                  <th scope="col">Type</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Next runs</th>
                  {canControl && <th scope="col"><span className="visually-hidden">Actions</span></th>}
                </tr>
              </thead>
              <tbody>
                {schedules.map((s) => (
                  <tr key={s.id} data-schedule={s.id}>
                    <td className="col-name">
                      {s.name}
                      {s.lastError && (
                        <span className="tag error-tag" title={s.lastError}>
                          last run refused
                        </span>
                      )}
                    </td>
                    <td>{s.module.name}</td>
                    <td>{s.type}</td>
                    <td>
                      {ruleText(s)}
                      {s.catchUp && <span className="tag" title="After missed due times (workers down, paused) one task starts">catch-up</span>}
                    </td>
                    <td className="next-runs">
                      {s.enabled ? (
                        s.upcomingRuns.map((run, i) => (
                          <span key={run}>
                            {i > 0 && ", "}
                            <Time value={run} />
                          </span>
                        ))
                      ) : (
                        <span className="state state-paused">PAUSED</span>
                      )}
                    </td>
                    {canControl && (
                      <td>
                        <button
                          type="button"
                          disabled={pausing.fetching || resuming.fetching}
                          onClick={() => void (s.enabled ? pause({ id: s.id }) : resume({ id: s.id })).then(done)}
                        >
                          {s.enabled ? `Pause` : `Resume`}
                          <span className="visually-hidden"> {s.name}</span>
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <h2 className="one-off-heading">One-off tasks waiting for their time</h2>
    </>
  );
}
