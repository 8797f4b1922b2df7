// `taskgraph tasks history <id>`: a task's history (Task.events), oldest first, with who made each
// change: the API token (or `local`), the worker, or the system.
import { Command } from "commander";
import { action, type Context } from "./command";
import { taskNotFound } from "./exit";
import { time } from "./output";
import type { PageInfo } from "./operations";

const PAGE = 500;

const TASK_HISTORY = `query TaskHistory($id: ID!, $first: Int, $after: String) {
  task(id: $id) {
    id
    events(first: $first, after: $after) {
      edges { node { cursor type at version payload actor { kind name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export interface HistoryEvent {
  cursor: string;
  type: string;
  at: string;
  version: number;
  payload: Record<string, any>;
  actor: { kind: "USER" | "WORKER" | "SYSTEM"; name: string };
}

interface HistoryPage {
  task: { id: string; events: { edges: { node: HistoryEvent }[]; pageInfo: PageInfo } } | null;
}

/** What changed, in a few words. */
function detail(event: HistoryEvent): string {
  const p = event.payload;
  switch (event.type) {
    case "CREATED":
      return p.state ?? "";
    case "STATE_CHANGED":
      return `${p.from} → ${p.to}${p.error ? `: ${p.error}` : ""}`;
    case "STEP_CHANGED":
      return `${p.stepKey}: ${p.from} → ${p.to}${p.attempt ? ` (attempt ${p.attempt})` : ""}${p.error ? `: ${p.error}` : ""}`;
    case "PROGRESSED":
      return p.total == null ? `${p.completed}` : `${p.completed}/${p.total}`;
    case "LOG_APPENDED":
      return `${p.level ?? ""}${p.stepKey ? ` [${p.stepKey}]` : ""} ${p.message ?? ""}`.trim();
    default:
      return "";
  }
}

async function history(ctx: Context, id: string) {
  const events: HistoryEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const { task }: HistoryPage = await ctx.api.request<HistoryPage>(TASK_HISTORY, { id, first: PAGE, after });
    if (!task) throw taskNotFound(id);
    events.push(...task.events.edges.map((e) => e.node));
    if (!task.events.pageInfo.hasNextPage) break;
    after = task.events.pageInfo.endCursor;
  }
  if (ctx.out.json) return ctx.out.printJson(events);
  ctx.out.print(
    ctx.out.table(
      ["TIME", "BY", "EVENT", "DETAIL"],
      events.map((e) => [time(e.at), `${e.actor.kind.toLowerCase()}:${e.actor.name}`, e.type, detail(e)]),
    ),
  );
}

export function historyCommand(): Command {
  return new Command("history")
    .description("a task's history, oldest first, and who made each change (token, worker or system)")
    .argument("<id>", "task id")
    .addHelpText(
      "after",
      "\nExamples:\n  $ taskgraph tasks history 0b9f4e1c-…\n  $ taskgraph tasks history 0b9f4e1c-… --json | jq -c '.[] | [.type, .actor.name]'" +
        "\n\nEvents older than the server keeps (TASKGRAPH_EVENT_RETENTION_HOURS) are gone from the history.",
    )
    .action(action(history));
}
