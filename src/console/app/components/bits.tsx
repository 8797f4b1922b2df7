// Small pieces every page uses: a task's state, its progress bar, a time.
import type { TaskState } from "../graphql";

export function StateBadge({ state }: { state: string }) {
  return <span className={`state state-${state.toLowerCase()}`}>{state}</span>;
}

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumSignificantDigits: 2 });

/** A count as shown: exact, or "~79K" when the server estimated it (more than 1,000 matching). */
export function countText(count: number, exact: boolean): string {
  return exact ? String(count) : `~${compact.format(count)}`;
}

export interface ProgressValue {
  units: string | null;
  total: number | null;
  completed: number;
  fraction: number | null;
}

/** "3 / 10 rounds (30%)", or "3 rounds" while the total is unknown. */
export function progressText(p: ProgressValue): string {
  const units = p.units ? ` ${p.units}` : "";
  if (p.total === null) return `${number.format(p.completed)}${units}`;
  const percent = p.fraction === null ? "" : ` (${Math.floor(p.fraction * 100)}%)`;
  return `${number.format(p.completed)} / ${number.format(p.total)}${units}${percent}`;
}

/** A native progress bar (indeterminate while the total is unknown) with its value in words. */
export function ProgressBar({ progress, state, label }: { progress: ProgressValue; state: TaskState | string; label: string }) {
  const text = progressText(progress);
  const known = progress.total !== null && progress.total > 0;
  return (
    <span className="progress" data-state={state.toLowerCase()}>
      <progress
        aria-label={label}
        aria-valuetext={text}
        max={known ? progress.total! : undefined}
        value={known ? Math.min(progress.completed, progress.total!) : undefined}
      />
      <span className="progress-text">{text}</span>
    </span>
  );
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A time: of day when it is today, else with its date; the exact ISO time on hover. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const date = new Date(value);
  const today = date.toDateString() === new Date().toDateString();
  return (
    <time dateTime={value} title={value}>
      {today ? timeOfDay.format(date) : dateTime.format(date)}
    </time>
  );
}

/** An error message box, announced to screen readers. */
export function ErrorNote({ error }: { error: { message: string } | string | null | undefined }) {
  if (!error) return null;
  const message = typeof error === "string" ? error : error.message.replace(/^\[(GraphQL|Network)\] /, "");
  return (
    <p className="error-note" role="alert">
      {message}
    </p>
  );
}
