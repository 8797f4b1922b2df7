// Bulk actions on the list: Retry / Abort / Delete every selected task, or every task matching the
// view's filter (its ids paged from `tasks(first: 100, after)` first, then acted on). A
// confirmation shows the count and what will happen; the mutations then run a few at a time, and
// a result panel lists each refusal with the server's error code and message.
import { useState } from "react";
import { type Client, useClient } from "urql";
import { Link } from "wouter";
import { countText, ErrorNote } from "../components/bits";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { AbortTaskMutation, BulkTasksQuery, DeleteTaskMutation, RetryTaskMutation, type TaskAction } from "./queries";
import type { TaskFilterInput } from "./view";

export type BulkKind = "retry" | "abort" | "delete";

/** What is selected: tasks by id (with the actions each accepted when last seen), or the whole filter. */
export type Selection =
  | { mode: "ids"; tasks: Map<string, readonly TaskAction[]> }
  | { mode: "filter"; filter: TaskFilterInput; count: number; exact: boolean };

export const noSelection = (): Selection => ({ mode: "ids", tasks: new Map() });

export const selectionSize = (selection: Selection) => (selection.mode === "ids" ? selection.tasks.size : selection.count);

interface Target {
  id: string;
  actions: readonly TaskAction[];
}

interface Options {
  rollback: boolean;
  force: boolean;
}

const LABEL: Record<BulkKind, string> = { retry: "Retry", abort: "Abort", delete: "Delete" };
const DOING: Record<BulkKind, string> = { retry: "Retrying", abort: "Aborting", delete: "Deleting" };

/** Whether a task that accepts `actions` now would accept this bulk action. */
export function accepts(kind: BulkKind, actions: readonly TaskAction[], options: Options = { rollback: false, force: false }): boolean {
  switch (kind) {
    case "retry":
      return actions.includes("RETRY");
    case "abort":
      return actions.includes("ABORT");
    case "delete":
      return actions.includes("DELETE") || (options.force && actions.includes("FORCE_DELETE"));
  }
}

function consequence(kind: BulkKind, options: Options): string {
  switch (kind) {
    case "retry":
      return "Each failed task runs again: its failed steps are rolled back and run again, and its flow continues from there. It is RUNNING again.";
    case "abort":
      return options.rollback
        ? "Each pending task is canceled, then its completed steps are rolled back in reverse order; a FAILED task has every step from the failed one back to the first rolled back. They end CANCELED."
        : "Each pending task is canceled with its subtree: work in progress stops at its next check and what is done stays done. A FAILED task is rolled back from the failed step to the first. They end CANCELED.";
    case "delete":
      return options.force
        ? "Ended tasks are removed for good, with their subtrees, steps and logs. Pending tasks are not removed: their follow-up work is canceled, the piece running now is not stopped at once, nothing is reverted, and they become FAILED."
        : "Ended tasks are removed for good, with their subtrees, steps and logs. This cannot be undone. Pending tasks are refused (they have not finished).";
  }
}

export interface Refusal {
  id: string;
  code: string;
  message: string;
}

export interface BulkResult {
  kind: BulkKind;
  total: number;
  done: number;
  accepted: number;
  refusals: Refusal[];
  finished: boolean;
  /** An error before any task was acted on (listing the tasks failed). */
  error?: string;
}

/** The ids of every task matching `filter` (paged 100 at a time). */
async function collect(client: Client, filter: TaskFilterInput): Promise<Target[]> {
  const targets: Target[] = [];
  let after: string | null = null;
  for (;;) {
    const result = await client.query(BulkTasksQuery, { filter, after }, { requestPolicy: "network-only" }).toPromise();
    if (result.error || !result.data) throw new Error(result.error?.message.replace(/^\[(GraphQL|Network)\] /, "") ?? "no answer");
    for (const edge of result.data.tasks.edges) targets.push({ id: edge.node.id, actions: edge.node.availableActions });
    if (!result.data.tasks.pageInfo.hasNextPage || !result.data.tasks.pageInfo.endCursor) return targets;
    after = result.data.tasks.pageInfo.endCursor;
  }
}

async function act(client: Client, kind: BulkKind, id: string, options: Options): Promise<Refusal | null> {
  const result =
    kind === "retry"
      ? await client.mutation(RetryTaskMutation, { id }).toPromise()
      : kind === "abort"
        ? await client.mutation(AbortTaskMutation, { id, rollback: options.rollback }).toPromise()
        : await client.mutation(DeleteTaskMutation, { id, force: options.force }).toPromise();
  if (!result.error) return null;
  const error = result.error.graphQLErrors[0];
  if (error) return { id, code: String(error.extensions?.code ?? "ERROR"), message: error.message };
  return { id, code: "NETWORK", message: result.error.message.replace(/^\[(GraphQL|Network)\] /, "") };
}

/** Runs `task` over `items`, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}

const CONCURRENCY = 4;

/** The bar above the table while something is selected: the count, "select all matching", the actions. */
export function BulkBar({
  selection,
  matching,
  matchingExact,
  onSelectAll,
  onClear,
  onDone,
}: {
  selection: Selection;
  /** How many tasks match the view now (its tab's count). */
  matching: number | undefined;
  /** Whether `matching` is exact (false: the server's estimate, over 1,000). */
  matchingExact: boolean;
  onSelectAll(): void;
  onClear(): void;
  onDone(): void;
}) {
  const client = useClient();
  const [asking, setAsking] = useState<{ kind: BulkKind; targets: Target[] } | null>(null);
  const [options, setOptions] = useState<Options>({ rollback: false, force: false });
  const [collecting, setCollecting] = useState<BulkKind | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  const size = selectionSize(selection);
  const running = result !== null && !result.finished;

  const ask = async (kind: BulkKind) => {
    setOptions({ rollback: false, force: false });
    if (selection.mode === "ids") {
      setAsking({ kind, targets: [...selection.tasks].map(([id, actions]) => ({ id, actions })) });
      return;
    }
    setCollecting(kind);
    try {
      setAsking({ kind, targets: await collect(client, selection.filter) });
    } catch (error) {
      setResult({ kind, total: 0, done: 0, accepted: 0, refusals: [], finished: true, error: `Could not list the matching tasks: ${(error as Error).message}` });
    } finally {
      setCollecting(null);
    }
  };

  const run = async (kind: BulkKind, targets: Target[], options: Options) => {
    setAsking(null);
    onDone();
    let state: BulkResult = { kind, total: targets.length, done: 0, accepted: 0, refusals: [], finished: false };
    setResult(state);
    await pool(targets, CONCURRENCY, async (target) => {
      let refusal: Refusal | null;
      try {
        refusal = await act(client, kind, target.id, options);
      } catch (error) {
        refusal = { id: target.id, code: "ERROR", message: (error as Error).message };
      }
      state = {
        ...state,
        done: state.done + 1,
        accepted: state.accepted + (refusal ? 0 : 1),
        refusals: refusal ? [...state.refusals, refusal] : state.refusals,
      };
      setResult(state);
    });
    setResult({ ...state, finished: true });
  };

  // Offered: what at least one selected task accepts now (for "every matching": all three; the
  // confirmation then says how many accept it).
  const offered = (kind: BulkKind) =>
    selection.mode === "filter" || [...selection.tasks.values()].some((actions) => accepts(kind, actions, { rollback: false, force: true }));

  return (
    <>
      {size > 0 && (
        <div className="bulk-bar" role="group" aria-label="Bulk actions">
          <span className="bulk-count">
            {selection.mode === "filter"
              ? `All ${countText(size, selection.exact)} matching ${size === 1 ? "task" : "tasks"} selected`
              : `${size} selected`}
          </span>
          {selection.mode === "ids" && matching !== undefined && matching > size && (
            <button type="button" className="link" onClick={onSelectAll}>
              Select all matching ({countText(matching, matchingExact)})
            </button>
          )}
          <button type="button" className="link" onClick={onClear}>
            Clear selection
          </button>
          <span className="bulk-actions">
            {(["retry", "abort", "delete"] as const).filter(offered).map((kind) => (
              <button
                key={kind}
                type="button"
                className={kind === "retry" ? undefined : "danger"}
                disabled={running || collecting !== null}
                onClick={() => void ask(kind)}
              >
                {collecting === kind ? `${LABEL[kind]}…` : LABEL[kind]}
              </button>
            ))}
          </span>
        </div>
      )}
      {asking && (
        <BulkConfirm
          kind={asking.kind}
          targets={asking.targets}
          byFilter={selection.mode === "filter"}
          options={options}
          onOptions={setOptions}
          onConfirm={() => void run(asking.kind, asking.targets, options)}
          onCancel={() => setAsking(null)}
        />
      )}
      {result && <BulkResultPanel result={result} onDismiss={running ? undefined : () => setResult(null)} />}
    </>
  );
}

function BulkConfirm({
  kind,
  targets,
  byFilter,
  options,
  onOptions,
  onConfirm,
  onCancel,
}: {
  kind: BulkKind;
  targets: Target[];
  byFilter: boolean;
  options: Options;
  onOptions(options: Options): void;
  onConfirm(): void;
  onCancel(): void;
}) {
  const n = targets.length;
  const willing = targets.filter((t) => accepts(kind, t.actions, options)).length;
  const tasks = (k: number) => `${k} ${k === 1 ? "task" : "tasks"}`;
  return (
    <ConfirmDialog
      title={`${LABEL[kind]} ${tasks(n)}?`}
      confirmLabel={`${LABEL[kind]} ${tasks(n)}`}
      danger={kind !== "retry"}
      onConfirm={onConfirm}
      onCancel={onCancel}
    >
      <p>
        {byFilter ? `Every task matching this view: ${tasks(n)} now.` : `The ${tasks(n)} you selected.`} {consequence(kind, options)}
      </p>
      {kind === "abort" && (
        <label className="inline">
          <input type="checkbox" checked={options.rollback} onChange={(e) => onOptions({ ...options, rollback: e.target.checked })} />
          Roll back completed steps
        </label>
      )}
      {kind === "delete" && (
        <label className="inline">
          <input type="checkbox" checked={options.force} onChange={(e) => onOptions({ ...options, force: e.target.checked })} />
          Force: also fail pending tasks
        </label>
      )}
      <p className="bulk-willing">
        {willing === n
          ? `All ${tasks(n)} accept it now.`
          : `${willing} of ${tasks(n)} accept it now; the server will refuse the other ${n - willing}, and each refusal is listed.`}
      </p>
    </ConfirmDialog>
  );
}

function BulkResultPanel({ result, onDismiss }: { result: BulkResult; onDismiss?: () => void }) {
  const verb = LABEL[result.kind];
  return (
    <section className="bulk-result" aria-label="Bulk action result">
      <div className="bulk-result-head">
        <strong>
          {result.error
            ? `${verb}: nothing done`
            : result.finished
              ? `${verb}: ${result.accepted} of ${result.total} accepted${result.refusals.length ? `, ${result.refusals.length} refused` : ""}.`
              : `${DOING[result.kind]}… ${result.done} / ${result.total}`}
        </strong>
        {onDismiss && (
          <button type="button" className="link" onClick={onDismiss}>
            Dismiss
          </button>
        )}
      </div>
      {!result.finished && <progress max={result.total} value={result.done} aria-label="Bulk action progress" />}
      <ErrorNote error={result.error} />
      {result.refusals.length > 0 && (
        <table className="refusals" aria-label="Refusals">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Code</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {result.refusals.map((r) => (
              <tr key={r.id} data-refused={r.id}>
                <td>
                  <Link href={`/tasks/${r.id}`}>
                    <code>{r.id}</code>
                  </Link>
                </td>
                <td>
                  <code>{r.code}</code>
                </td>
                <td className="refusal-message">{r.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
