// `taskgraph tasks …`: nodetool-like task commands (modules, list, status, tree, abort, wait, ttl,
// drain) and the rest of the API's task controls (start, delete, retry, watch).
import { setTimeout as sleep } from "node:timers/promises";
import { Command, Option } from "commander";
import {
  collectChoice,
  collectLabel,
  parseChoice,
  parseDuration,
  parseInteger,
  parseJsonInput,
  parsePositiveInt,
  parseTime,
  parseWholeSeconds,
} from "./args";
import { action, report, type Context } from "./command";
import { EXIT, badArguments, taskNotFound } from "./exit";
import { countText } from "./output";
import { historyCommand } from "./history";
import { followTask, makeView, rowsOf, taskRow, type Outcome, type Row } from "./live";
import {
  ABORT_TASK,
  CATEGORIES,
  DELETE_TASK,
  DRAIN_MODULE,
  MODULES,
  TASK_TYPES,
  type TaskTypeRow,
  RETRY_TASK,
  SETTINGS,
  SET_TASK_TTL,
  START_TASK,
  TASK,
  TASKS,
  TASK_EVENTS,
  TASK_STATES,
  TASK_TREE,
  type PageInfo,
  type TaskDetail,
  type TaskEvent,
  type TaskRow,
} from "./operations";

const PAGE = 100;

interface ListOptions {
  state?: string[];
  category?: string;
  type?: string[];
  kind?: string;
  target?: string;
  targetPrefix?: string;
  search?: string;
  since?: Date;
  startedSince?: Date;
  endedSince?: Date;
  label?: Record<string, string>;
  internal?: boolean;
  roots?: boolean;
  limit: number;
  interval?: number;
  iterations?: number;
}

interface TaskPage {
  tasks: { totalCount: number; edges: { node: TaskRow }[]; pageInfo: PageInfo };
}

/** Up to `limit` tasks matching the filter (with --ended-since: newest-ended first). */
async function listTasks(ctx: Context, module: string | undefined, o: ListOptions) {
  const filter = {
    module,
    states: o.state,
    category: o.category,
    types: o.type,
    kind: o.kind,
    target: o.target,
    targetPrefix: o.targetPrefix,
    search: o.search,
    createdAfter: o.since?.toISOString(),
    startedAfter: o.startedSince?.toISOString(),
    endedAfter: o.endedSince?.toISOString(),
    labels: o.label,
    includeInternal: o.internal ?? false,
    rootsOnly: o.roots,
  };
  const orderBy = o.endedSince === undefined ? undefined : { field: "ENDED_AT", direction: "DESC" };
  const tasks: TaskRow[] = [];
  let after: string | null = null;
  let totalCount = 0;
  for (;;) {
    const first = Math.min(PAGE, o.limit - tasks.length);
    const page: TaskPage = await ctx.api.request<TaskPage>(TASKS, { filter, orderBy, first, after });
    totalCount = page.tasks.totalCount;
    tasks.push(...page.tasks.edges.map((e) => e.node));
    after = page.tasks.pageInfo.endCursor;
    if (!page.tasks.pageInfo.hasNextPage || tasks.length >= o.limit) break;
  }
  return { totalCount, tasks };
}

async function list(ctx: Context, module: string | undefined, o: ListOptions) {
  const repeat = o.interval !== undefined || o.iterations !== undefined;
  const iterations = o.iterations ?? (repeat ? Infinity : 1);
  for (let i = 0; i < iterations; i++) {
    if (i > 0) await sleep((o.interval ?? 10) * 1000);
    const { totalCount, tasks } = await listTasks(ctx, module, o);
    if (ctx.out.json) {
      ctx.out.printJson({ totalCount, tasks }, repeat);
      continue;
    }
    if (repeat) ctx.out.print(`${i > 0 ? "\n" : ""}${new Date().toISOString()}`);
    if (tasks.length) ctx.out.print(ctx.out.taskTable(tasks));
    const more = totalCount > tasks.length ? ` of ${totalCount} (--limit for more)` : "";
    ctx.out.print(`${tasks.length} task(s)${more}`);
  }
}

/** The task-type catalogue (Kafka's table of background-task names): what can be started, and whether a worker runs it. */
async function types(ctx: Context, module: string | undefined) {
  const { taskTypes } = await ctx.api.request<{ taskTypes: TaskTypeRow[] }>(TASK_TYPES, { module: module ?? null });
  if (ctx.out.json) return ctx.out.printJson(taskTypes);
  ctx.out.print(
    ctx.out.table(
      ["module", "type", "kind", "flow", "abortable", "served", "description"],
      taskTypes.map((t) => [
        t.module.name,
        t.name,
        t.kind,
        t.isFlow ? "yes" : "",
        t.abortable === null ? "depends" : t.abortable ? "yes" : "no",
        t.served ? "yes" : "NO",
        t.description,
      ]),
    ),
  );
}

async function modules(ctx: Context) {
  const { modules } = await ctx.api.request<{
    modules: { name: string; description: string; lastSequenceNumber: number; totalTasks: number; taskCounts: { state: string; count: number }[] }[];
  }>(MODULES);
  if (ctx.out.json) return ctx.out.printJson(modules);
  const count = (m: (typeof modules)[number], states: string[]) =>
    String(m.taskCounts.filter((c) => states.includes(c.state)).reduce((sum, c) => sum + c.count, 0));
  ctx.out.print(
    ctx.out.table(
      ["module", "tasks", "scheduled", "pending", "failed", "finished", "last_seq", "description"],
      modules.map((m) => [
        m.name,
        String(m.totalTasks),
        count(m, ["SCHEDULED"]),
        count(m, ["QUEUED", "RUNNING"]),
        count(m, ["FAILED", "CANCELED"]),
        count(m, ["SUCCEEDED"]),
        String(m.lastSequenceNumber),
        m.description,
      ]),
    ),
  );
}

/** A task with its steps and children; NOT_FOUND (refused) when there is none. */
async function readTask(ctx: Context, id: string): Promise<TaskDetail> {
  const { task } = await ctx.api.request<{ task: TaskDetail | null }>(TASK, { id });
  if (!task) throw taskNotFound(id);
  return task;
}

async function status(ctx: Context, id: string) {
  const task = await readTask(ctx, id);
  if (ctx.out.json) return ctx.out.printJson(task);
  ctx.out.print(ctx.out.taskStatus(task));
}

async function tree(ctx: Context, id: string | undefined, o: { module?: string; limit: number }) {
  const treeOf = async (rootId: string) => (await ctx.api.request<{ taskTree: TaskRow[] }>(TASK_TREE, { id: rootId })).taskTree;
  if (id) {
    const tasks = await treeOf(id);
    if (ctx.out.json) return ctx.out.printJson(tasks);
    return ctx.out.print(ctx.out.taskTable(tasks, { indent: true }));
  }
  const { tasks: roots } = await listTasks(ctx, o.module, { roots: true, limit: o.limit });
  const trees: TaskRow[][] = [];
  for (const root of roots) trees.push(await treeOf(root.id));
  if (ctx.out.json) return ctx.out.printJson(trees);
  if (trees.length) ctx.out.print(ctx.out.taskTable(trees.flat(), { indent: true }));
  ctx.out.print(`${trees.length} tree(s)`);
}

/** A control mutation that returns the task: prints `<id> <STATE>`, or the task as JSON. */
async function control(ctx: Context, document: string, field: string, variables: Record<string, unknown>) {
  const data = await ctx.api.request<Record<string, TaskRow>>(document, variables);
  const task = data[field]!;
  if (ctx.out.json) return ctx.out.printJson(task);
  ctx.out.print(`${task.id} ${ctx.out.state(task.state)}`);
}

async function remove(ctx: Context, id: string, o: { force?: boolean }) {
  const { deleteTask: result } = await ctx.api.request<{ deleteTask: { deleted: boolean; deletedIds: string[]; task: TaskRow | null } }>(
    DELETE_TASK,
    { id, force: o.force ?? false },
  );
  if (ctx.out.json) return ctx.out.printJson(result);
  if (result.deleted) ctx.out.print(`Deleted ${result.deletedIds.length} task(s): ${result.deletedIds.join(" ")}`);
  else if (result.task) {
    ctx.out.print(`${result.task.id} ${ctx.out.state(result.task.state)}: its pending work is canceled; delete it again to remove it`);
  }
}

type SettingsResult = { taskTtlSeconds: number; userTaskTtlSeconds: number };

async function ttl(ctx: Context, which: keyof SettingsResult, set: number | undefined) {
  const settings =
    set === undefined
      ? (await ctx.api.request<{ settings: SettingsResult }>(SETTINGS)).settings
      : (
          await ctx.api.request<{ setTaskTtl: SettingsResult }>(SET_TASK_TTL, {
            [which === "taskTtlSeconds" ? "ttlSeconds" : "userTtlSeconds"]: set,
          })
        ).setTaskTtl;
  if (ctx.out.json) return ctx.out.printJson(settings);
  ctx.out.print(String(settings[which]));
}

async function drain(ctx: Context, o: { module?: string }) {
  const names = o.module
    ? [o.module]
    : (await ctx.api.request<{ modules: { name: string }[] }>(MODULES)).modules.map((m) => m.name);
  const results = [];
  for (const module of names) {
    const { drainModule } = await ctx.api.request<{ drainModule: { deletedCount: number; deletedIds: string[] } }>(DRAIN_MODULE, { module });
    results.push({ module, ...drainModule });
  }
  if (ctx.out.json) return ctx.out.printJson(results);
  for (const r of results) ctx.out.print(`${r.module}: ${r.deletedCount} finished task(s) removed`);
}

interface WaitOptions {
  timeout?: number;
  quiet?: boolean;
}

const OUTCOME_EXIT: Record<string, number> = { SUCCEEDED: EXIT.OK, FAILED: EXIT.TASK_FAILED, CANCELED: EXIT.UNDETERMINED };

/**
 * Follows a task to its end, drawing it live; the exit code says how it ended. `stream`: print each
 * snapshot as an NDJSON line (watch --json) instead of one document at the end (wait --json).
 */
async function waitFor(ctx: Context, id: string, o: WaitOptions & { stream?: boolean }): Promise<number> {
  // A first read over HTTP: an unknown id, a bad token or a server that is down are told apart here.
  const first = await readTask(ctx, id);
  const view = makeView(ctx.out, o.quiet);
  // Ctrl-C: restore the terminal (the bars hide the cursor) and exit as interrupted.
  const interrupted = () => {
    view.stop();
    process.exit(EXIT.INTERRUPTED);
  };
  process.once("SIGINT", interrupted);
  const outcome: Outcome = await followTask(ctx.api, id, {
    rootId: first.root.id,
    timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
    onChange: (task) => {
      if (o.stream && ctx.out.json) ctx.out.printJson(task, true);
      view.show(rowsOf(task));
    },
  });
  process.off("SIGINT", interrupted);
  view.stop();
  const [code, summary, name] =
    outcome.kind === "ended"
      ? [OUTCOME_EXIT[outcome.task.state]!, null, outcome.task.state]
      : outcome.kind === "deleted"
        ? [EXIT.UNDETERMINED, `task ${id} was deleted`, "DELETED"]
        : outcome.kind === "timeout"
          ? [EXIT.TIMED_OUT, `timed out after ${o.timeout} s: task ${id} is still ${(outcome.task ?? first).state}`, "TIMED_OUT"]
          : outcome.error.exitCode === EXIT.UNREACHABLE
            ? [EXIT.UNDETERMINED, `lost the connection while waiting for task ${id}: ${outcome.error.message}`, "CONNECTION_LOST"]
            : [outcome.error.exitCode, outcome.error.message, outcome.error.code ?? "ERROR"];
  const task = outcome.kind === "deleted" ? null : (outcome.task ?? null);
  if (ctx.out.json && !o.stream && !o.quiet) ctx.out.printJson({ outcome: name, exitCode: code, task });
  if (summary && !(o.quiet && outcome.kind === "timeout")) process.stderr.write(`taskgraph: ${summary}\n`);
  return code;
}

interface StartOptions extends WaitOptions {
  input?: unknown;
  name?: string;
  target?: string;
  label?: Record<string, string>;
  at?: Date;
  wait?: boolean;
  priority?: number;
  exclusive?: string;
  refuse?: boolean;
  timeLimit?: number;
  attempts?: number;
  backoff?: number;
  fixedBackoff?: boolean;
}

async function start(ctx: Context, module: string, type: string, o: StartOptions): Promise<number | void> {
  if (!o.wait && (o.timeout !== undefined || o.quiet)) throw badArguments("--timeout and --quiet go with --wait");
  if (o.refuse && !o.exclusive) throw badArguments("--refuse goes with --exclusive");
  if ((o.backoff !== undefined || o.fixedBackoff) && o.attempts === undefined) throw badArguments("--backoff and --fixed-backoff go with --attempts");
  const { startTask: task } = await ctx.api.request<{ startTask: TaskRow }>(START_TASK, {
    input: {
      module,
      type,
      input: o.input,
      name: o.name,
      target: o.target,
      labels: o.label,
      runAt: o.at?.toISOString(),
      priority: o.priority,
      exclusiveKey: o.exclusive,
      exclusiveMode: o.refuse ? "REFUSE" : undefined,
      timeoutMs: o.timeLimit === undefined ? undefined : Math.round(o.timeLimit * 1000),
      retry:
        o.attempts === undefined
          ? undefined
          : {
              attempts: o.attempts,
              backoff: o.fixedBackoff ? "FIXED" : "EXPONENTIAL",
              backoffMs: o.backoff === undefined ? undefined : Math.round(o.backoff * 1000),
            },
    },
  });
  if (!o.wait) return ctx.out.json ? ctx.out.printJson(task) : ctx.out.print(task.id);
  if (!ctx.out.json && !o.quiet) ctx.out.print(task.id);
  return waitFor(ctx, task.id, o);
}

/** Every task of a module (or all modules) as it changes, until interrupted. */
async function watchAll(ctx: Context, module: string | undefined): Promise<number> {
  const view = makeView(ctx.out);
  const rows = new Map<string, Row>();
  const hidden = new Set<string>(); // internal tasks
  const units = new Map<string, string | null>();
  const add = (task: TaskRow) => {
    rows.set(task.id, taskRow(task));
    units.set(task.id, task.progress.units);
  };
  const show = () => view.show([...rows.values()]);
  return new Promise<number>((resolve) => {
    const fail = (error: unknown) => {
      stop();
      view.stop();
      resolve(report(error));
    };
    const stop = ctx.api.subscribe<{ taskEvents: TaskEvent }>(
      TASK_EVENTS,
      { filter: { module, types: ["CREATED", "STATE_CHANGED", "PROGRESSED", "DELETED"] } },
      {
        next: async ({ taskEvents: event }) => {
          if (ctx.out.json) return ctx.out.printJson(event, true);
          if (hidden.has(event.taskId)) return;
          const row = rows.get(event.taskId);
          if (event.type === "PROGRESSED" && row) {
            const { completed, total } = event.payload as { completed: number; total: number | null };
            row.fraction = total ? Math.min(1, completed / total) : 0;
            row.detail = countText({ completed, total, units: units.get(event.taskId) ?? null, fraction: null });
          } else if (event.type === "DELETED") {
            if (row) row.state = "DELETED";
          } else {
            try {
              const task = await readTask(ctx, event.taskId);
              if (task.isInternal) return void hidden.add(task.id);
              add(task);
            } catch {
              return; // deleted meanwhile
            }
          }
          show();
        },
        error: fail,
      },
    );
    // Subscribed first, then the tasks not ended (scheduled ones too): nothing that changes in between is missed.
    listTasks(ctx, module, { state: ["SCHEDULED", "QUEUED", "RUNNING"], limit: 500 }).then((listed) => {
      for (const task of listed.tasks) if (!rows.has(task.id)) add(task);
      show();
    }, fail);
    process.once("SIGINT", () => {
      stop();
      view.stop();
      resolve(EXIT.OK);
    });
  });
}

const EXAMPLES = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}`;

export function tasksCommand(): Command {
  const tasks = new Command("tasks").description("list, follow and control tasks (like nodetool tasks)");

  tasks
    .command("modules")
    .description("list the modules and their task counts")
    .addHelpText("after", EXAMPLES(["taskgraph tasks modules"]))
    .action(action(modules));
  tasks
    .command("types [module]")
    .description("list the task types that can be started (all modules, or one), and whether a live worker runs each")
    .addHelpText("after", EXAMPLES(["taskgraph tasks types", "taskgraph tasks types kafka --json"]))
    .action(action(types));

  tasks
    .command("list")
    .description("list tasks, newest first (internal tasks hidden unless --internal)")
    .argument("[module]", "only this module's tasks")
    .option("--state <states>", `only these states, comma-separated: ${TASK_STATES.join(",").toLowerCase()}`, collectChoice(TASK_STATES))
    .option(
      "--category <category>",
      "a console tab: scheduled (waiting for its runAt), pending (queued or running), failed (failed or canceled), finished (succeeded)",
      parseChoice(CATEGORIES),
    )
    .option("--type <types>", "only these task types, comma-separated", (v, prev: string[] = []) => [...prev, ...v.split(",")])
    .option("--kind <kind>", "node or cluster", parseChoice(["NODE", "CLUSTER"]))
    .option("--target <target>", "exact target")
    .option("--target-prefix <prefix>", "targets starting with this")
    .option("--search <keyword>", "keyword over name, type, module, target and error, or a task id (or its first 8+ hex digits)")
    .option("--since <time>", "created since: a duration ago (1h, 7d) or an ISO time", parseTime("past"))
    .option("--started-since <time>", "started since: a duration ago or an ISO time", parseTime("past"))
    .option("--ended-since <time>", "ended since, newest-ended first: a duration ago or an ISO time", parseTime("past"))
    .option("--label <key=value>", "every label given must match (repeatable)", collectLabel)
    .option("--internal", "include internal tasks")
    .option("--roots", "only root tasks")
    .option("--limit <n>", "show at most this many", parsePositiveInt, 100)
    .option("--interval <seconds>", "list again every N seconds", parseDuration)
    .option("--iterations <n>", "list this many times (with --interval; default: until Ctrl-C)", parsePositiveInt)
    .addHelpText(
      "after",
      EXAMPLES([
        "taskgraph tasks list test --state running,queued",
        "taskgraph tasks list --category failed --since 1d",
        "taskgraph tasks list --category scheduled",
        "taskgraph tasks list --category failed --ended-since 1h --json",
        "taskgraph tasks list --search 0199ab12",
        "taskgraph tasks list kafka --interval 5 --iterations 3",
      ]),
    )
    .action(action(list));

  tasks
    .command("status")
    .description("show one task: fields, steps, children")
    .argument("<id>", "task id")
    .addHelpText("after", EXAMPLES(["taskgraph tasks status 0b9f4e1c-…", "taskgraph tasks status 0b9f4e1c-… --json | jq .state"]))
    .action(action(status));

  tasks
    .command("tree")
    .description("a task and all its descendants, breadth-first; without an id, every non-internal tree")
    .argument("[id]", "root task id")
    .option("--module <module>", "without an id: only this module's trees")
    .option("--limit <n>", "without an id: at most this many trees", parsePositiveInt, 20)
    .addHelpText("after", EXAMPLES(["taskgraph tasks tree 0b9f4e1c-…", "taskgraph tasks tree --module test"]))
    .action(action(tree));

  tasks
    .command("abort")
    .description("abort a pending task and its descendants (a FAILED one: roll its steps back)")
    .argument("<id>", "task id")
    .option("--rollback", "roll completed steps back in reverse order")
    .addHelpText("after", EXAMPLES(["taskgraph tasks abort 0b9f4e1c-… --rollback"]) + "\n\nA task that cannot be aborted exits 2 with NOT_ABORTABLE.")
    .action(action((ctx, id: string, o: { rollback?: boolean }) => control(ctx, ABORT_TASK, "abortTask", { id, rollback: o.rollback ?? false })));

  tasks
    .command("wait")
    .description("wait for a task to end, showing its progress; the exit code says how it ended")
    .argument("<id>", "task id")
    .option("--timeout <seconds>", "give up after this long (exit 124)", parseDuration)
    .option("-q, --quiet", "print nothing; only the exit code")
    .addHelpText(
      "after",
      EXAMPLES(["taskgraph tasks wait 0b9f4e1c-… --timeout 10m --quiet; echo $?"]).replace(/$/, "\n\nThe exit code is the same with or without --quiet."),
    )
    .action(action(waitFor));

  tasks
    .command("delete")
    .description("remove an ended task and its subtree; --force fails a pending one first")
    .argument("<id>", "task id")
    .option("--force", "a pending task: cancel its follow-up work (it becomes FAILED); delete again to remove it")
    .addHelpText("after", EXAMPLES(["taskgraph tasks delete 0b9f4e1c-…"]))
    .action(action(remove));

  tasks
    .command("retry")
    .description("retry a FAILED task: roll back its failed steps, run them again, continue")
    .argument("<id>", "task id")
    .addHelpText("after", EXAMPLES(["taskgraph tasks retry 0b9f4e1c-… && taskgraph tasks wait 0b9f4e1c-…"]))
    .action(action((ctx, id: string) => control(ctx, RETRY_TASK, "retryTask", { id })));

  // ScyllaDB's two TTLs: one command each, the same shape.
  const ttlCommands = [
    { name: "ttl", started: "system-started", field: "taskTtlSeconds", examples: ["taskgraph tasks ttl", "taskgraph tasks ttl --set 1d"] },
    { name: "user-ttl", started: "user-started", field: "userTaskTtlSeconds", examples: ["taskgraph tasks user-ttl --set 7d"] },
  ] as const;
  for (const { name, started, field, examples } of ttlCommands) {
    tasks
      .command(name)
      .description(`seconds a finished ${started} task is kept`)
      .option("--set <seconds>", "change it (0 = remove at once)", parseWholeSeconds)
      .addHelpText("after", EXAMPLES([...examples]))
      .action(action((ctx, o: { set?: number }) => ttl(ctx, field, o.set)));
  }

  tasks
    .command("drain")
    .description("remove finished tasks now: of one module, or of every module")
    .option("--module <module>", "only this module")
    .addHelpText("after", EXAMPLES(["taskgraph tasks drain --module test"]))
    .action(action(drain));

  tasks
    .command("start")
    .description("start a task of a defined type; prints its id (or follows it with --wait)")
    .argument("<module>", "module name")
    .argument("<type>", "task type")
    .option("--input <json>", "input as JSON, or @file.json", parseJsonInput)
    .option("--name <name>", "display name")
    .option("--target <target>", "what the task acts on")
    .option("--label <key=value>", "a label (repeatable)", collectLabel)
    .addOption(new Option("--at <time>", "run at this time: ISO, or a duration from now (10m)").argParser(parseTime("future")))
    .option("--priority <n>", "-1000 to 1000: higher is claimed first (default: the type's, else 0)", parseInteger)
    .option("--exclusive <key>", "never run at once with another task of this key (waits its turn)")
    .option("--refuse", "with --exclusive: fail at once (exit 1, CONFLICT) while a pending task has the key")
    .option("--time-limit <duration>", "each run's time limit (30s, 10m): past it the task fails with TIMEOUT", parseDuration)
    .option("--attempts <n>", "retry a failed run (or step) automatically: attempts in all, the first included", parseInteger)
    .option("--backoff <duration>", "with --attempts: the pause before the first retry (default 1s), doubled for each next one", parseDuration)
    .option("--fixed-backoff", "with --attempts: the same pause before every retry")
    .option("--wait", "follow it to its end; exit as `tasks wait` does")
    .option("--timeout <seconds>", "with --wait: give up after this long (exit 124)", parseDuration)
    .option("-q, --quiet", "with --wait: print nothing; only the exit code")
    .addHelpText(
      "after",
      EXAMPLES([
        `taskgraph tasks start test count --input '{"rounds":5,"roundMs":500}' --wait`,
        "id=$(taskgraph tasks start test flow --input @flow.json --label env=prod)",
        "taskgraph tasks start kafka restart-broker --target broker-3 --exclusive broker-3 --priority 100",
        "taskgraph tasks start kafka reassign-partitions --attempts 5 --backoff 10s",
      ]),
    )
    .action(action(start));

  tasks
    .command("watch")
    .description("follow a task live (bars per step and child), or every task of a module")
    .argument("[id]", "task id: ends when the task ends, exiting as `tasks wait` does")
    .option("--module <module>", "without an id: every task of this module, until Ctrl-C")
    .addHelpText(
      "after",
      EXAMPLES(["taskgraph tasks watch 0b9f4e1c-…", "taskgraph tasks watch --module test", "taskgraph tasks watch --json | jq -c .type"]),
    )
    .action(
      action(async (ctx, id: string | undefined, o: { module?: string }) => {
        if (id && o.module) throw badArguments("give a task id or --module, not both");
        return id ? waitFor(ctx, id, { stream: true }) : watchAll(ctx, o.module);
      }),
    );

  tasks.addCommand(historyCommand());

  return tasks;
}

