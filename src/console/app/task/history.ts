// A history event in words: what happened, as a sentence a person reads in a timeline
// ("step move failed (attempt 1)", "aborted by ops-admin"). Who did it is shown beside it.
import type { LogAppendedPayload, ProgressedPayload, StateChangedPayload, StepChangedPayload } from "./live";
import type { TaskEventView } from "./views-queries";

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const timeText = (iso: string) => new Date(iso).toLocaleTimeString();
const count = (completed: number, total: number | null | undefined) =>
  total === null || total === undefined ? number.format(completed) : `${number.format(completed)} / ${number.format(total)}`;

function attemptText(p: { attempt: number | null; attemptKind: string | null }) {
  if (p.attempt === null) return "";
  const kind = p.attemptKind && p.attemptKind !== "EXECUTE" ? `, ${p.attemptKind.toLowerCase()}` : "";
  return ` (attempt ${p.attempt}${kind})`;
}

const withError = (error: string | null | undefined) => (error ? `: ${error}` : "");

/** The sentence for one event. */
export function describeEvent(event: Pick<TaskEventView, "type" | "payload" | "actor">): string {
  const by = event.actor.kind === "USER" ? ` by ${event.actor.name}` : "";
  switch (event.type) {
    case "CREATED": {
      const p = event.payload as { state?: string; name?: string };
      return `created${by}${p.state ? ` (${p.state})` : ""}`;
    }
    case "STATE_CHANGED": {
      const p = event.payload as StateChangedPayload;
      switch (p.to) {
        case "RUNNING":
          if (p.from === "QUEUED") return event.actor.kind === "WORKER" ? `started by worker ${event.actor.name}` : "started";
          if (p.from === "FAILED") return `resumed${by} after the failure (FAILED → RUNNING)`;
          return `running again (${p.from} → RUNNING)`;
        case "QUEUED":
          return p.from === "SCHEDULED" ? "due: queued (its scheduled time came)" : `queued${by}`;
        case "SCHEDULED":
          return p.from === "FAILED" && p.nextAttemptAt ? `automatic retry scheduled for ${timeText(p.nextAttemptAt)}` : `scheduled${by}`;
        case "SUCCEEDED":
          return "succeeded";
        case "FAILED":
          return `failed${withError(p.error)}`;
        case "CANCELED":
          return `${event.actor.kind === "USER" ? `aborted${by}` : "canceled"}${withError(p.error)}`;
        default:
          return `${(p.from ?? "").toLowerCase() || "—"} → ${p.to.toLowerCase()}${by}`;
      }
    }
    case "STEP_CHANGED": {
      const p = event.payload as StepChangedPayload;
      const step = `step ${p.stepKey}`;
      const attempt = attemptText(p);
      switch (p.to) {
        case "WAITING":
          return `${step} defined (waiting)`;
        case "RUNNING":
          if (p.attemptKind === "RETRY" && event.actor.kind === "SYSTEM") return `${step} retried automatically${attempt}`;
          return p.attemptKind === "RETRY" ? `${step} runs again${attempt}` : `${step} started${attempt}`;
        case "SUCCEEDED":
          return `${step} succeeded${attempt}`;
        case "FAILED":
          return `${step} failed${attempt}${withError(p.error)}${p.nextAttemptAt ? `; automatic retry at ${timeText(p.nextAttemptAt)}` : ""}`;
        case "SKIPPED":
          return `${step} set to successful${by} (skipped)`;
        case "ROLLING_BACK":
          if (event.actor.kind === "USER" && p.from === "FAILED") return `${step} rerun${by}: rolling back first${attempt}`;
          return `${step} rolling back${attempt}`;
        case "ROLLED_BACK":
          return `${step} rolled back${attempt}`;
        default:
          return `${step} ${p.to.toLowerCase()}${attempt}`;
      }
    }
    case "PROGRESSED": {
      const p = event.payload as ProgressedPayload;
      if (p.stepKey && p.step) return `step ${p.stepKey} progressed: ${count(p.step.completed, p.step.total)}`;
      return `progressed: ${count(p.completed, p.total)}`;
    }
    case "LOG_APPENDED": {
      const p = event.payload as LogAppendedPayload;
      const where = p.stepKey ? ` (step ${p.stepKey}${p.attempt !== null ? ` #${p.attempt}` : ""})` : "";
      return `${p.level} line${where}: ${p.message}`;
    }
    case "DELETED":
      return `deleted${by}`;
    default:
      return String(event.type).toLowerCase();
  }
}

/** Events shown unless the reader asks for every one: not progress ticks, not log lines. */
export const isMilestone = (event: Pick<TaskEventView, "type">) => event.type !== "PROGRESSED" && event.type !== "LOG_APPENDED";
