// Live views from subscriptions (never polling): a progress bar per task, step and child, redrawn in
// place on a terminal (cli-progress); one line per state change elsewhere.
import cliProgress from "cli-progress";
import type { Api } from "./client";
import { CliError } from "./exit";
import { ENDED_STATES, TASK_EVENTS, TASK_TREE, TASK_UPDATED, type LiveTask, type TaskEvent, type TaskRow, type TaskState } from "./operations";
import { countText, type Output } from "./output";

/** One line of a live view: a task, a step of a flow, or a task of a tree. */
export interface Row {
  key: string;
  id: string;
  label: string;
  state: string;
  fraction: number;
  detail: string;
  error: string | null;
}

export interface View {
  show(rows: Row[]): void;
  stop(): void;
}

const LABEL_WIDTH = 32;

const DONE_STEP_STATES = new Set(["SUCCEEDED", "SKIPPED", "ROLLED_BACK"]);

export function taskRow(task: TaskRow, label = task.name): Row {
  return {
    key: task.id,
    id: task.id,
    label,
    state: task.state,
    fraction: task.progress.fraction ?? (task.state === "SUCCEEDED" ? 1 : 0),
    detail: countText(task.progress),
    error: task.error,
  };
}

/** The task, then its steps (a flow), then its descendants (a tree), indented by depth. */
export function rowsOf(task: LiveTask): Row[] {
  return [
    taskRow(task),
    ...task.steps.map((step) => ({
      key: `${task.id}/${step.key}`,
      id: task.id,
      label: `  step ${step.key}`,
      state: step.state,
      // Steps report no progress of their own: empty until done.
      fraction: DONE_STEP_STATES.has(step.state) ? 1 : 0,
      detail: "",
      error: step.error,
    })),
    ...task.descendants.map((child) =>
      taskRow(child, `${"  ".repeat(child.depth - task.depth)}${child.node ? `${child.node} ` : ""}${child.type}${child.isInternal ? " (internal)" : ""}`),
    ),
  ];
}

/** Bars redrawn in place (a terminal). */
class BarView implements View {
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly multibar: cliProgress.MultiBar;

  constructor(private readonly out: Output) {
    this.multibar = new cliProgress.MultiBar(
      {
        stream: process.stdout,
        format: "{label} {bar} {percent} {state} {detail}",
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        emptyOnZero: true,
        autopadding: false,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  show(rows: Row[]): void {
    // A row that is gone (an internal task folded into its parent, a deleted one) loses its bar.
    const keys = new Set(rows.map((r) => r.key));
    for (const [key, bar] of this.bars) {
      if (keys.has(key)) continue;
      this.multibar.remove(bar);
      this.bars.delete(key);
    }
    for (const row of rows) {
      const payload = {
        label: fit(row.label, LABEL_WIDTH),
        percent: `${Math.floor(row.fraction * 100)}%`.padStart(4),
        state: this.out.state(row.state.padEnd(9)),
        detail: row.error ? `${row.detail} ${row.error}`.trim() : row.detail,
      };
      const value = Math.round(row.fraction * 1000);
      const bar = this.bars.get(row.key);
      if (bar) bar.update(value, payload);
      else this.bars.set(row.key, this.multibar.create(1000, value, payload));
    }
  }

  stop(): void {
    this.multibar.stop();
  }
}

/** One line per state change (a pipe or a file). */
class LineView implements View {
  private readonly seen = new Map<string, string>();

  constructor(private readonly out: Output) {}

  show(rows: Row[]): void {
    const changed = rows.filter((row) => this.seen.get(row.key) !== row.state);
    // The first row is the followed task: when it has ended, its line comes after its parts'.
    if (rows.length && changed[0] === rows[0] && ENDED_STATES.has(rows[0]!.state as TaskState)) changed.push(changed.shift()!);
    for (const row of changed) {
      this.seen.set(row.key, row.state);
      const error = row.error && row.state === "FAILED" ? ` ${row.error}` : "";
      this.out.print(`${new Date().toISOString().replace(/\.\d+Z$/, "Z")} ${row.id} ${row.label.trim()} ${row.state}${error}`);
    }
  }

  stop(): void {}
}

class SilentView implements View {
  show(): void {}
  stop(): void {}
}

export function makeView(out: Output, quiet = false): View {
  if (quiet || out.json) return new SilentView();
  return out.interactive ? new BarView(out) : new LineView(out);
}

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

export type Outcome =
  | { kind: "ended"; task: LiveTask }
  | { kind: "deleted" }
  | { kind: "timeout"; task: LiveTask | undefined }
  | { kind: "lost"; error: CliError; task: LiveTask | undefined };

/**
 * Follows a task until it ends (or is deleted, the connection is lost, or `timeoutMs` passes).
 * taskUpdated carries the task, its steps and descendants; a tree's descendants also change
 * without the root changing, so the tree's events refresh them.
 */
export function followTask(
  api: Api,
  id: string,
  options: { rootId: string; timeoutMs?: number; onChange(task: LiveTask): void },
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let current: LiveTask | undefined;
    let refetching = false;
    let refetchAgain = false;
    const stops: (() => void)[] = [];

    let done = false;
    let settling = false;
    const finish = (outcome: Outcome) => {
      done = true;
      for (const stop of stops.splice(0)) stop();
      resolve(outcome);
    };
    const changed = () => !done && current && options.onChange(current);

    const mergeDescendants = (rows: TaskRow[]) => {
      if (!current) return;
      const byId = new Map(current.descendants.map((d) => [d.id, d]));
      current.descendants = rows.map((row) => {
        const known = byId.get(row.id);
        return known && known.version > row.version ? known : row;
      });
    };

    const refetchTree = async () => {
      if (refetching) return void (refetchAgain = true);
      refetching = true;
      try {
        do {
          refetchAgain = false;
          const { taskTree } = await api.request<{ taskTree: TaskRow[] }>(TASK_TREE, { id });
          mergeDescendants(taskTree.slice(1));
          changed();
        } while (refetchAgain);
      } catch {
        // The next event or snapshot brings the tree again.
      } finally {
        refetching = false;
      }
    };

    /** The task has ended: read its tree once more, so that the last view shows every part's end. */
    const settle = async (task: LiveTask) => {
      try {
        const { taskTree } = await api.request<{ taskTree: TaskRow[] }>(TASK_TREE, { id });
        mergeDescendants(taskTree.slice(1));
        changed();
      } catch {
        // The view keeps what the subscription showed.
      }
      finish({ kind: "ended", task: current ?? task });
    };

    if (options.timeoutMs !== undefined) {
      const timer = setTimeout(() => finish({ kind: "timeout", task: current }), options.timeoutMs);
      stops.push(() => clearTimeout(timer));
    }

    stops.push(
      api.subscribe<{ taskUpdated: LiveTask | null }>(TASK_UPDATED, { id }, {
        next: ({ taskUpdated: task }) => {
          if (done) return;
          if (!task) return finish({ kind: "deleted" });
          const fresh = task.descendants;
          task.descendants = current?.descendants ?? [];
          current = task;
          mergeDescendants(fresh);
          changed();
          if (ENDED_STATES.has(task.state) && !settling) {
            settling = true;
            void settle(task);
          }
        },
        error: (error) => finish({ kind: "lost", error, task: current }),
        complete: () => finish({ kind: "deleted" }),
      }),
    );

    stops.push(
      // Events of the whole tree (the API filters by root only): a task created anywhere in it may be ours.
      api.subscribe<{ taskEvents: TaskEvent }>(TASK_EVENTS, { filter: { rootId: options.rootId, types: ["CREATED", "STATE_CHANGED", "PROGRESSED"] } }, {
        next: ({ taskEvents: event }) => {
          if (event.taskId === id || !current) return;
          const child = current.descendants.find((d) => d.id === event.taskId);
          if (!child && event.type !== "CREATED" && options.rootId !== id) return; // outside the followed subtree
          if (event.type === "PROGRESSED" && child && event.version > child.version) {
            const { completed, total } = event.payload as { completed: number; total: number | null };
            child.progress = { ...child.progress, completed, total, fraction: total ? Math.min(1, completed / total) : null };
            child.version = event.version;
            changed();
          } else if (event.type !== "PROGRESSED" || !child) void refetchTree();
        },
        error: () => {}, // the taskUpdated subscription reports a lost connection
      }),
    );
  });
}
