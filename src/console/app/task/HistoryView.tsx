// The task's history as a timeline: when, who (the actor's kind and name), what (a sentence).
// Progress ticks and log lines are left out unless asked for; older pages load on request.
import { useState } from "react";
import { Time } from "../components/bits";
import { describeEvent, isMilestone } from "./history";
import type { TaskEventView } from "./views-queries";

export function HistoryView({ events, hasOlder, loadingOlder, onLoadOlder }: { events: readonly TaskEventView[]; hasOlder: boolean; loadingOlder: boolean; onLoadOlder(): void }) {
  const [everything, setEverything] = useState(false);
  const shown = everything ? events : events.filter(isMilestone);
  const hidden = events.length - shown.length;
  return (
    <div className="history">
      <div className="log-tools">
        <label className="inline">
          <input type="checkbox" checked={everything} onChange={(e) => setEverything(e.target.checked)} /> Show progress and log lines
          {!everything && hidden > 0 && <span className="muted"> ({hidden} hidden)</span>}
        </label>
        {hasOlder && (
          <button type="button" onClick={onLoadOlder} disabled={loadingOlder}>
            {loadingOlder ? "Loading…" : "Load older events"}
          </button>
        )}
      </div>
      <ol className="timeline" aria-label="History">
        {shown.map((event) => (
          <li key={event.id} className={`event event-${event.type.toLowerCase()}`} data-type={event.type}>
            <span className="event-time">
              <Time value={event.at} />
            </span>
            <span className={`actor actor-${event.actor.kind.toLowerCase()}`} title={`${event.actor.kind.toLowerCase()} ${event.actor.name}`}>
              <span className="actor-kind">{event.actor.kind}</span> {event.actor.name}
            </span>
            <span className="event-what">{describeEvent(event)}</span>
          </li>
        ))}
      </ol>
      {shown.length === 0 && <p className="empty">No events{hidden > 0 ? " but progress and log lines" : ""}.</p>}
    </div>
  );
}
