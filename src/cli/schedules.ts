// `taskgraph schedules list|status|create|pause|resume|delete`: recurring schedules over the API
// (reading: VIEWER; changing: TASK_MANAGER). An id is `Schedule:<uuid>`, or the uuid alone.
import { Command } from "commander";
import { parseJsonInput, parseWholeSeconds } from "./args";
import { action, type Context } from "./command";
import { badArguments, CliError, EXIT } from "./exit";
import { CREATE_SCHEDULE, DELETE_SCHEDULE, PAUSE_SCHEDULE, RESUME_SCHEDULE, SCHEDULE, SCHEDULES, type ScheduleRow } from "./operations";
import { time } from "./output";

/** A schedule id as the API takes it. */
const scheduleId = (id: string) => (id.startsWith("Schedule:") ? id : `Schedule:${id}`);

/** "cron 0 2 * * * (Europe/Berlin)" or "every 30 s". */
const ruleText = (s: ScheduleRow) => (s.cron !== null ? `cron ${s.cron} (${s.timeZone})` : `every ${s.everySeconds} s`);

async function list(ctx: Context, o: { module?: string; paused?: boolean; enabled?: boolean }) {
  if (o.paused && o.enabled) throw badArguments("--paused and --enabled exclude each other");
  const filter = { module: o.module, enabled: o.paused ? false : o.enabled ? true : undefined };
  const schedules: ScheduleRow[] = [];
  for (let after: string | undefined; ; ) {
    const page = await ctx.api.request<{ schedules: { edges: { node: ScheduleRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(SCHEDULES, { filter, after });
    schedules.push(...page.schedules.edges.map((e) => e.node));
    if (!page.schedules.pageInfo.hasNextPage) break;
    after = page.schedules.pageInfo.endCursor;
  }
  if (ctx.out.json) return ctx.out.printJson(schedules);
  if (!schedules.length) return ctx.out.print("No schedules.");
  ctx.out.print(
    ctx.out.table(
      ["id", "name", "module", "type", "rule", "catch_up", "state", "next_run", "last_run", "last_error"],
      schedules.map((s) => [
        s.id,
        s.name,
        s.module.name,
        s.type,
        ruleText(s),
        s.catchUp ? "yes" : "no",
        s.enabled ? "enabled" : "paused",
        time(s.nextRunAt),
        time(s.lastRunAt),
        s.lastError ?? "",
      ]),
    ),
  );
}

function printSchedule(ctx: Context, s: ScheduleRow) {
  if (ctx.out.json) return ctx.out.printJson(s);
  ctx.out.print(
    ctx.out.fields([
      ["id", s.id],
      ["name", s.name],
      ["task", `${s.module.name}/${s.type}`],
      ["input", JSON.stringify(s.input)],
      ["rule", ruleText(s)],
      ["catch_up", s.catchUp ? "yes: a missed window starts one task" : "no: missed due times start nothing"],
      ["state", s.enabled ? "enabled" : "paused"],
      ["next_runs", s.upcomingRuns.map((run) => time(run)).join(", ")],
      ["last_run", time(s.lastRunAt)],
      ["last_task", s.lastTask ? `${s.lastTask.id} ${s.lastTask.state}` : ""],
      ["last_error", s.lastError ?? ""],
      ["created_by", s.createdBy ?? ""],
    ]),
  );
}

async function status(ctx: Context, id: string) {
  const { schedule } = await ctx.api.request<{ schedule: ScheduleRow | null }>(SCHEDULE, { id: scheduleId(id) });
  if (!schedule) throw new CliError(`NOT_FOUND: Schedule ${id} does not exist`, EXIT.REFUSED, "NOT_FOUND");
  printSchedule(ctx, schedule);
}

interface CreateOptions {
  cron?: string;
  tz?: string;
  every?: number;
  input?: unknown;
  name?: string;
  description?: string;
  catchUp?: boolean;
  paused?: boolean;
}

async function create(ctx: Context, module: string, type: string, o: CreateOptions) {
  if ((o.cron === undefined) === (o.every === undefined)) throw badArguments("give exactly one of --cron and --every");
  if (o.tz !== undefined && o.cron === undefined) throw badArguments("--tz goes with --cron");
  const { createSchedule: schedule } = await ctx.api.request<{ createSchedule: ScheduleRow }>(CREATE_SCHEDULE, {
    input: {
      module,
      type,
      input: o.input,
      name: o.name,
      description: o.description,
      cron: o.cron,
      timeZone: o.tz,
      everySeconds: o.every,
      catchUp: o.catchUp ?? false,
      enabled: !o.paused,
    },
  });
  // The id alone on stdout, so that `id=$(taskgraph schedules create …)` works.
  return ctx.out.json ? ctx.out.printJson(schedule) : ctx.out.print(schedule.id);
}

/** pause, resume: prints "<id> enabled|paused". */
function toggle(document: string, field: "pauseSchedule" | "resumeSchedule") {
  return async (ctx: Context, id: string) => {
    const result = await ctx.api.request<Record<string, ScheduleRow>>(document, { id: scheduleId(id) });
    const s = result[field]!;
    if (ctx.out.json) return ctx.out.printJson(s);
    ctx.out.print(`${s.id} ${s.enabled ? `enabled, next run ${time(s.nextRunAt)}` : "paused"}`);
  };
}

async function remove(ctx: Context, id: string) {
  const { deleteSchedule } = await ctx.api.request<{ deleteSchedule: { deletedId: string } }>(DELETE_SCHEDULE, { id: scheduleId(id) });
  if (ctx.out.json) return ctx.out.printJson(deleteSchedule);
  ctx.out.print(`${deleteSchedule.deletedId} deleted (the tasks it started stay)`);
}

export function schedulesCommand(): Command {
  const schedules = new Command("schedules").description("recurring schedules: start a task type on a cron expression or an interval");
  schedules
    .command("list")
    .description("every schedule, with its rule, state and next run")
    .option("--module <name>", "of this module")
    .option("--paused", "paused ones only")
    .option("--enabled", "enabled ones only")
    .addHelpText("after", "\nExample:\n  $ taskgraph schedules list --module kafka")
    .action(action(list));
  schedules
    .command("status")
    .description("one schedule: its rule, next runs, last run and task")
    .argument("<id>", "the schedule's id (Schedule:<uuid>, or the uuid)")
    .addHelpText("after", "\nExample:\n  $ taskgraph schedules status Schedule:0199ab12-…")
    .action(action(status));
  schedules
    .command("create")
    .description("create a schedule (TASK_MANAGER); prints its id")
    .argument("<module>", "module of the task type")
    .argument("<type>", "task type to start")
    .option("--cron <expr>", 'cron expression: 5 fields, or 6 with seconds first ("0 2 * * *")')
    .option("--tz <zone>", "IANA time zone of the cron expression (default UTC)")
    .option("--every <duration>", "instead of --cron: an interval (30, 30s, 15m, 2h, 1d)", parseWholeSeconds)
    .option("--input <json>", "each task's input as JSON, or @file.json", parseJsonInput)
    .option("--name <name>", "a name for people (default module/type)")
    .option("--description <text>", "what it is for")
    .option("--catch-up", "after missed due times (workers down, paused) start one task; default: start none")
    .option("--paused", "create it paused")
    .addHelpText(
      "after",
      `\nExamples:\n  $ taskgraph schedules create kafka compact --cron "0 2 * * *" --tz Europe/Berlin --catch-up\n  $ taskgraph schedules create test count --every 30s --input '{"rounds":1}'`,
    )
    .action(action(create));
  for (const [name, description, document, field] of [
    ["pause", "pause a schedule: it starts nothing until resumed", PAUSE_SCHEDULE, "pauseSchedule"],
    ["resume", "resume a paused schedule (with --catch-up, one task for the time it was paused)", RESUME_SCHEDULE, "resumeSchedule"],
  ] as const) {
    schedules
      .command(name)
      .description(description)
      .argument("<id>", "the schedule's id (Schedule:<uuid>, or the uuid)")
      .addHelpText("after", `\nExample:\n  $ taskgraph schedules ${name} Schedule:0199ab12-…`)
      .action(action(toggle(document, field)));
  }
  schedules
    .command("delete")
    .description("delete a schedule; the tasks it started stay")
    .argument("<id>", "the schedule's id (Schedule:<uuid>, or the uuid)")
    .addHelpText("after", "\nExample:\n  $ taskgraph schedules delete Schedule:0199ab12-…")
    .action(action(remove));
  return schedules;
}
