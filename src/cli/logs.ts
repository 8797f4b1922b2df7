// `taskgraph logs <id>`: a task's log (its steps' attempts included), oldest first; --follow reads
// on when the task logs again, until it ends.
import { Command } from "commander";
import { parseChoice, parsePositiveInt } from "./args";
import { action, type Context } from "./command";
import { EXIT, taskNotFound } from "./exit";
import { ENDED_STATES, LOG_LEVELS, TASK_EVENTS, TASK_LOGS, type LogEntry, type PageInfo, type TaskEvent, type TaskState } from "./operations";

const PAGE = 500;

interface LogsOptions {
  attempt?: number;
  level?: string;
  follow?: boolean;
}

interface LogsPage {
  task: { id: string; state: TaskState; logs: { edges: { node: LogEntry }[]; pageInfo: PageInfo } } | null;
}

async function logs(ctx: Context, id: string, o: LogsOptions): Promise<number | void> {
  const minLevel = LOG_LEVELS.indexOf((o.level ?? "DEBUG") as (typeof LOG_LEVELS)[number]);
  // The API filters logs by neither level nor attempt: both are applied to what it returns.
  const shown = (entry: LogEntry) =>
    LOG_LEVELS.indexOf(entry.level as (typeof LOG_LEVELS)[number]) >= minLevel && (o.attempt === undefined || entry.attempt?.number === o.attempt);
  const print = (entry: LogEntry) => (ctx.out.json ? ctx.out.printJson(entry, true) : ctx.out.print(ctx.out.logLine(entry)));

  let after: string | null = null;
  /** Prints every entry after the last one printed; returns the task's state. */
  const readOn = async (): Promise<TaskState> => {
    for (;;) {
      const { task } = await ctx.api.request<LogsPage>(TASK_LOGS, { id, first: PAGE, after });
      if (!task) throw taskNotFound(id);
      for (const { node } of task.logs.edges) if (shown(node)) print(node);
      after = task.logs.pageInfo.endCursor ?? after;
      if (!task.logs.pageInfo.hasNextPage) return task.state;
    }
  };

  if (!o.follow) return void (await readOn());

  // Subscribed before the first read, so that nothing logged in between is missed.
  return new Promise<number>((resolve, reject) => {
    let reading = Promise.resolve<TaskState | null>(null);
    let ended = false;
    const stop = ctx.api.subscribe<{ taskEvents: TaskEvent }>(
      TASK_EVENTS,
      { filter: { taskId: id, types: ["LOG_APPENDED", "STATE_CHANGED", "DELETED"] } },
      {
        next: ({ taskEvents: event }) => {
          if (event.type === "DELETED") return finish(EXIT.OK);
          if (event.type === "STATE_CHANGED" && ENDED_STATES.has(event.payload.to)) ended = true;
          next();
        },
        error: (error) => {
          stop();
          reject(error);
        },
      },
    );
    const finish = (code: number) => {
      stop();
      resolve(code);
    };
    const next = () => {
      reading = reading.then(async () => {
        const state = await readOn();
        if (ended || ENDED_STATES.has(state)) finish(EXIT.OK);
        return state;
      });
      reading.catch((error) => {
        stop();
        reject(error);
      });
    };
    next();
  });
}

export function logsCommand(): Command {
  return new Command("logs")
    .description("a task's log, oldest first, its steps' attempts included")
    .argument("<id>", "task id")
    .option("--attempt <n>", "only the logs of attempt n of its steps", parsePositiveInt)
    .option("--level <level>", `this level and above: ${LOG_LEVELS.join(", ").toLowerCase()}`, parseChoice(LOG_LEVELS))
    .option("-f, --follow", "keep printing new lines until the task ends")
    .addHelpText("after", "\nExamples:\n  $ taskgraph logs 0b9f4e1c-… --level warn\n  $ taskgraph logs 0b9f4e1c-… --follow")
    .action(action(logs));
}
