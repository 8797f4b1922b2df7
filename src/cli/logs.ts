// `taskgraph logs <id>`: a task's log (its steps' attempts included), oldest first; --follow reads
// on when the task logs again, until it ends. --level, --step, --attempt and --search are the
// API's LogFilter (the server filters); --stack prints an error line's stack below it, indented.
import { Command } from "commander";
import { parseChoice, parsePositiveInt } from "./args";
import { action, type Context } from "./command";
import { badArguments, EXIT, taskNotFound } from "./exit";
import { ENDED_STATES, LOG_LEVELS, TASK_EVENTS, TASK_LOGS, type LogEntry, type PageInfo, type TaskEvent, type TaskState } from "./operations";

const PAGE = 500;

interface LogsOptions {
  attempt?: number;
  step?: string;
  level?: string;
  search?: string;
  stack?: boolean;
  follow?: boolean;
}

interface LogsPage {
  task: { id: string; state: TaskState; logs: { edges: { node: LogEntry }[]; pageInfo: PageInfo } } | null;
}

async function logs(ctx: Context, id: string, o: LogsOptions): Promise<number | void> {
  if (o.attempt !== undefined && o.step === undefined) throw badArguments("--attempt needs --step: attempts are numbered per step");
  const filter = { minLevel: o.level ?? null, stepKey: o.step ?? null, attempt: o.attempt ?? null, search: o.search ?? null };
  const print = (entry: LogEntry) => {
    if (ctx.out.json) return ctx.out.printJson(entry, true);
    ctx.out.print(ctx.out.logLine(entry));
    if (entry.stack) ctx.out.print(entry.stack.replace(/^/gm, "    "));
  };

  let after: string | null = null;
  /** Prints every entry after the last one printed; returns the task's state. */
  const readOn = async (): Promise<TaskState> => {
    for (;;) {
      const { task } = await ctx.api.request<LogsPage>(TASK_LOGS, { id, first: PAGE, after, filter, stack: o.stack === true });
      if (!task) throw taskNotFound(id);
      for (const { node } of task.logs.edges) print(node);
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
    .option("--step <key>", "only the lines of this step (every attempt's)")
    .option("--attempt <n>", "only the lines of attempt n of the step (with --step)", parsePositiveInt)
    .option("--level <level>", `this level and above: ${LOG_LEVELS.join(", ").toLowerCase()}`, parseChoice(LOG_LEVELS))
    .option("--search <text>", "only lines whose message contains this text (any case)")
    .option("--stack", "print an error's stack (code paths relative to the project root) below its line")
    .option("-f, --follow", "keep printing new lines until the task ends")
    .addHelpText(
      "after",
      "\nExamples:\n  $ taskgraph logs 0b9f4e1c-… --level warn\n  $ taskgraph logs 0b9f4e1c-… --step move --attempt 2 --stack\n  $ taskgraph logs 0b9f4e1c-… --search timeout --follow",
    )
    .action(action(logs));
}
