// How results are shown: aligned tables and key/value blocks for people, JSON for scripts. Colour
// only on a terminal, and never with --no-color or NO_COLOR.
import { styleText } from "node:util";
import Table from "cli-table3";
import type { LogEntry, Progress, StepRow, TaskDetail, TaskRow } from "./operations";

export interface OutputOptions {
  json: boolean;
  color: boolean;
}

export class Output {
  readonly json: boolean;
  readonly color: boolean;
  /** stdout is a terminal: live views draw bars in place; otherwise they print one line per change. */
  readonly interactive: boolean;

  constructor(options: { json?: boolean; color?: boolean }) {
    this.json = options.json ?? false;
    this.interactive = Boolean(process.stdout.isTTY) && process.env.TERM !== "dumb";
    this.color = this.interactive && options.color !== false && !process.env.NO_COLOR;
  }

  print(text = ""): void {
    process.stdout.write(`${text}\n`);
  }

  /** One JSON document (pretty on a terminal), or one NDJSON line with `line`. */
  printJson(value: unknown, line = false): void {
    process.stdout.write(`${line || !this.interactive ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`);
  }

  style(format: Parameters<typeof styleText>[0], text: string): string {
    return this.color ? styleText(format, text) : text;
  }

  state(state: string): string {
    const format = STATE_STYLE[state];
    return format ? this.style(format, state) : state;
  }

  table(head: string[], rows: string[][]): string {
    const table = new Table({
      head: head.map((h) => this.style("bold", h)),
      chars: BORDERLESS,
      style: { head: [], border: [], "padding-left": 0, "padding-right": 2 },
    });
    table.push(...rows);
    return table.toString().replace(/ +$/gm, "");
  }

  /** `key: value` lines, keys aligned. */
  fields(entries: [string, string | null | undefined][]): string {
    const shown = entries.filter(([, value]) => value !== undefined);
    const width = Math.max(...shown.map(([key]) => key.length));
    return shown.map(([key, value]) => `${this.style("bold", `${key}:`.padEnd(width + 1))} ${value ?? ""}`).join("\n");
  }

  taskTable(tasks: TaskRow[], options: { indent?: boolean } = {}): string {
    return this.table(
      ["id", "module", "type", "kind", "scope", "state", "progress", "target", "start", "end"],
      tasks.map((t) => [
        `${options.indent ? "  ".repeat(t.depth) : ""}${t.id}`,
        t.module.name,
        t.type,
        t.kind,
        t.scope,
        this.state(t.state),
        progressText(t),
        t.target ?? t.node ?? "",
        time(t.startedAt ?? t.scheduledFor),
        time(t.endedAt),
      ]),
    );
  }

  taskStatus(task: TaskDetail): string {
    const lines = [
      this.fields([
        ["id", task.id],
        ["name", task.name],
        ["module", task.module.name],
        ["type", task.type],
        ["kind", task.kind],
        ["scope", task.scope],
        ["state", this.state(task.state)],
        ["progress", progressText(task)],
        ["sequence_number", String(task.sequenceNumber)],
        ["target", task.target],
        ["priority", String(task.priority)],
        ["exclusive_key", task.exclusiveKey ?? undefined],
        ["blocked_by", task.blockedBy ? `${task.blockedBy.id} (${task.blockedBy.name})` : undefined],
        ["node", task.node],
        ["labels", Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(", ")],
        ["is_abortable", String(task.isAbortable)],
        ["is_internal", String(task.isInternal)],
        ["created_by", task.createdBy],
        ["created", time(task.createdAt)],
        ["scheduled_for", task.scheduledFor ? time(task.scheduledFor) : undefined],
        ["start", time(task.startedAt)],
        ["end", time(task.endedAt)],
        ["parent_id", task.parent?.id ?? ""],
        ["error", task.error ? this.style("red", task.error) : ""],
        ["error_code", task.errorCode ?? undefined],
        ["time_limit", task.timeoutMs === null ? undefined : `${task.timeoutMs} ms`],
        ["retry", task.retryPolicy ? `${task.retryPolicy.attempts} attempts, ${task.retryPolicy.backoff.toLowerCase()} backoff from ${task.retryPolicy.backoffMs} ms` : undefined],
        ["automatic_retries", task.automaticRetries > 0 ? String(task.automaticRetries) : undefined],
        ["next_attempt", task.nextAttemptAt ? time(task.nextAttemptAt) : undefined],
        ["actions", task.availableActions.join(", ")],
        ["input", task.input === null ? undefined : JSON.stringify(task.input)],
        ["result", task.result === null ? undefined : JSON.stringify(task.result)],
      ]),
    ];
    if (task.steps.length) lines.push("", this.stepTable(task.steps));
    if (task.childrenStatus.length) {
      lines.push(
        "",
        this.table(
          ["child", "type", "node", "state", "internal"],
          task.childrenStatus.map((c) => [c.task.id, c.type, c.node ?? "", this.state(c.state), c.isInternal ? "yes" : ""]),
        ),
      );
    }
    return lines.join("\n");
  }

  stepTable(steps: StepRow[]): string {
    return this.table(
      ["step", "name", "state", "attempts", "actions", "error"],
      steps.map((s) => [
        s.key,
        s.name,
        s.nextAttemptAt ? `${this.state(s.state)}, retry at ${time(s.nextAttemptAt)}` : this.state(s.state),
        s.attempts.map((a) => `${a.number}:${a.kind.toLowerCase()}:${a.state.toLowerCase()}`).join(" "),
        s.availableActions.join(","),
        s.error ?? "",
      ]),
    );
  }

  logLine(entry: LogEntry): string {
    const where = entry.step ? ` [${entry.step.key}${entry.attempt ? `#${entry.attempt.number}` : ""}]` : "";
    const level = entry.level.padEnd(5);
    const styled = entry.level === "ERROR" ? this.style("red", level) : entry.level === "WARN" ? this.style("yellow", level) : level;
    return `${time(entry.time)} ${styled}${where} ${entry.message}`;
  }
}

const STATE_STYLE: Record<string, Parameters<typeof styleText>[0]> = {
  SUCCEEDED: "green",
  SKIPPED: "green",
  FAILED: "red",
  CANCELED: "yellow",
  ROLLED_BACK: "yellow",
  ROLLING_BACK: "yellow",
  RUNNING: "cyan",
};

const BORDERLESS = {
  top: "", "top-mid": "", "top-left": "", "top-right": "",
  bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "",
  right: "", "right-mid": "", middle: "",
};

/** ISO time to the second, UTC; empty when unset. */
export function time(iso: string | null | undefined): string {
  return iso ? iso.replace(/\.\d+Z$/, "Z") : "";
}

/** "21/50 rounds", "3 rounds" while the total is unknown. */
export function countText(progress: Progress): string {
  const { completed, total, units } = progress;
  return `${total == null ? completed : `${completed}/${total}`}${units ? ` ${units}` : ""}`;
}

/** "42% 21/50 rounds". */
export function progressText(task: Pick<TaskRow, "progress">): string {
  const { fraction } = task.progress;
  return `${fraction == null ? "" : `${Math.floor(fraction * 100)}% `}${countText(task.progress)}`;
}
