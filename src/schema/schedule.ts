// Schedule: a recurring schedule as a node of the graph, its queries (schedules, schedule) and
// mutations (createSchedule, updateSchedule, pauseSchedule, resumeSchedule, deleteSchedule; like
// startTask, TASK_MANAGER and above: a schedule is a deferred startTask), and Task.schedule.
import { badInput } from "../domain/errors";
import { dueTimes, MAX_EVERY_SECONDS, MAX_TOLERANCE_MS } from "../domain/schedule-times";
import type { Prisma, Schedule } from "../generated/prisma/client";
import { createSchedule, updateSchedule } from "../runtime/schedules";
import { ruleOf } from "../store";
import { builder, type Context, decodeNodeId } from "./builder";
import { moduleByName } from "./loaders";
import { ModuleType } from "./module";
import { checkedMaxSize, totalCountOptions } from "./pagination";
import { TaskConnection, TaskNode } from "./task";

const MAX_UPCOMING = 100;

/** A schedule id as the API gives it (`Schedule:<uuid>`) → the uuid; BAD_USER_INPUT otherwise. */
function scheduleUuid(id: string | number): string {
  const decoded = decodeNodeId(String(id));
  if (decoded.typename !== "Schedule") throw badInput(`id must be a Schedule's id, got a ${decoded.typename}'s`, { id });
  return decoded.id;
}

const RULE_TEXT =
  "Due times come from `cron` (5 fields, or 6 with seconds first; read in `timeZone`) or from `everySeconds` (the first one interval after creation or the last change of the rule).";
const CATCH_UP_TEXT = `A due time fires on time when it is the only one pending and a worker finds it within its tolerance — min(${MAX_TOLERANCE_MS / 1000} s, half the gap to the next due time). Anything else is a missed window (the workers were down, the schedule was paused): catchUp true starts ONE task for its latest due time, false starts none; then the schedule goes on from its next due time (never a burst).`;

export const ScheduleNode = builder.prismaNode("Schedule", {
  id: { field: "id" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: `A recurring schedule: starts a task of \`module\`/\`type\` with \`input\` at each due time, exactly once per due time across every worker process (a task's scheduleDueAt is its due time; its events name the actor SYSTEM). ${RULE_TEXT} ${CATCH_UP_TEXT} Its id is \`Schedule:<uuid>\`.`,
  fields: (t) => ({
    name: t.exposeString("name", { description: "For people; default `module/type`." }),
    description: t.exposeString("description", { description: "What it is for (may be empty)." }),
    module: t.field({
      type: ModuleType,
      description: "The module of the type it starts.",
      resolve: async (s, _args, ctx) => (await moduleByName(ctx).load(s.moduleName))!,
    }),
    type: t.exposeString("type", { description: "The task type it starts (its name within the module)." }),
    input: t.expose("input", { type: "JSON", nullable: true, description: "The input of each task it starts, checked by the type at each start." }),
    cron: t.exposeString("cron", { nullable: true, description: 'The cron expression, e.g. "0 2 * * *" (02:00 daily); null for an interval.' }),
    timeZone: t.exposeString("timeZone", { description: 'The IANA time zone the cron expression is read in, e.g. "Europe/Berlin" (UTC for an interval).' }),
    everySeconds: t.exposeInt("everySeconds", { nullable: true, description: "The interval in seconds; null for a cron expression." }),
    catchUp: t.exposeBoolean("catchUp", { description: `What happens to missed due times. ${CATCH_UP_TEXT}` }),
    enabled: t.exposeBoolean("enabled", { description: "false while paused (pauseSchedule): it starts nothing until resumed." }),
    nextRunAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "The next due time not handled yet; null while paused, or when the cron expression has no further time. A time in the past means a worker is about to handle it (or none is running).",
      resolve: (s) => (s.enabled ? s.nextRunAt : null),
    }),
    upcomingRuns: t.field({
      type: ["DateTime"],
      description: "The next due times from now on, soonest first (the Scheduled tab's upcoming runs); empty while paused.",
      args: { count: t.arg.int({ defaultValue: 5, description: `How many, 1 to ${MAX_UPCOMING}.` }) },
      resolve: (s, { count }) => {
        const n = count ?? 5;
        if (!Number.isInteger(n) || n < 1 || n > MAX_UPCOMING) throw badInput(`count must be from 1 to ${MAX_UPCOMING}`, { field: "count" });
        if (!s.enabled || !s.nextRunAt) return [];
        const now = new Date();
        return dueTimes(ruleOf(s), s.nextRunAt, s.nextRunAt > now ? s.nextRunAt : now, n);
      },
    }),
    lastRunAt: t.expose("lastRunAt", { type: "DateTime", nullable: true, description: "The due time of its latest fire; null before the first." }),
    lastError: t.exposeString("lastError", {
      nullable: true,
      description: "Why its latest fire started no task (its type is gone, or refused the input): the due time passes and the next one is tried. Null after a fire that started one.",
    }),
    lastTask: t.prismaField({
      type: "Task",
      nullable: true,
      description: "The newest task it started that still exists (finished ones go when their TTL runs out).",
      resolve: (query, s, _args, ctx) => ctx.store.lastScheduledTask(s.id, query),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    updatedAt: t.expose("updatedAt", { type: "DateTime", description: "When it was last changed (a fire changes it too)." }),
    createdBy: t.exposeString("createdBy", { nullable: true, description: "Who created it: the API token's name (`local` in protected mode)." }),
    tasks: t.relatedConnection(
      "tasks",
      {
        cursor: "id",
        description: "The tasks it started that still exist, newest first.",
        query: { orderBy: { id: "desc" } },
        maxSize: checkedMaxSize,
        totalCount: true,
      },
      TaskConnection,
    ),
  }),
});

builder.prismaObjectField(TaskNode, "schedule", (t) =>
  t.relation("schedule", { nullable: true, description: "The recurring schedule that started it; null for a task started otherwise (or once its schedule is deleted)." }),
);
builder.prismaObjectField(TaskNode, "scheduleDueAt", (t) =>
  t.expose("scheduleDueAt", {
    type: "DateTime",
    nullable: true,
    description: "For a task a recurring schedule started: the due time it was started for (one task per schedule and due time); null otherwise.",
  }),
);

const ScheduleFilterInput = builder.inputType("ScheduleFilter", {
  description: "Which schedules to list (every field given narrows them).",
  fields: (t) => ({
    module: t.string({ description: 'Of this module, e.g. "kafka".' }),
    enabled: t.boolean({ description: "true: running ones only; false: paused ones only." }),
  }),
});

const CreateScheduleInput = builder.inputType("CreateScheduleInput", {
  description: `A recurring schedule: what to start (module, type, input) and when — exactly one of cron and everySeconds. ${RULE_TEXT}`,
  fields: (t) => ({
    module: t.string({ required: true, description: "The module of the type." }),
    type: t.string({ required: true, description: "The task type to start (taskTypes lists them); NOT_FOUND when none is defined." }),
    input: t.field({ type: "JSON", description: "The input of each task, checked against the type's input schema now (BAD_USER_INPUT) and again at each start." }),
    name: t.string({ description: "For people; default `module/type`." }),
    description: t.string({ description: "What it is for." }),
    cron: t.string({ description: 'A cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first; e.g. "0 2 * * *", "*/15 * * * *", "0 0 9 * * MON-FRI".' }),
    timeZone: t.string({ description: 'The IANA time zone the cron expression is read in, e.g. "Europe/Berlin" (default UTC; cron only).' }),
    everySeconds: t.int({ description: `Instead of cron: every this many seconds (1 to ${MAX_EVERY_SECONDS}), the first one interval from now.` }),
    catchUp: t.boolean({ defaultValue: false, description: CATCH_UP_TEXT }),
    enabled: t.boolean({ defaultValue: true, description: "false: created paused." }),
  }),
});

const UpdateScheduleInput = builder.inputType("UpdateScheduleInput", {
  description:
    "What to change (omitted or null: left as it is). cron switches to cron (in timeZone if given, else the time zone it had), everySeconds to an interval; timeZone alone re-reads the cron expression there. A new rule starts from now.",
  fields: (t) => ({
    name: t.string({ description: "A new name." }),
    description: t.string({ description: "A new description." }),
    input: t.field({ type: "JSON", description: "A new input, checked against the type's input schema." }),
    cron: t.string({ description: "A new cron expression (the interval is dropped)." }),
    timeZone: t.string({ description: "A new IANA time zone for the cron expression." }),
    everySeconds: t.int({ description: "A new interval in seconds (the cron expression is dropped)." }),
    catchUp: t.boolean({ description: "Whether missed due times start one task (true) or none (false)." }),
    enabled: t.boolean({ description: "false pauses it, true resumes it (as pauseSchedule / resumeSchedule)." }),
  }),
});

const DeleteScheduleResult = builder.objectRef<{ deletedId: string }>("DeleteScheduleResult").implement({
  description: "What deleteSchedule removed. The tasks it started stay (their `schedule` becomes null).",
  fields: (t) => ({
    deletedId: t.id({ description: "The id of the removed schedule.", resolve: (r) => `Schedule:${r.deletedId}` }),
  }),
});

function scheduleWhere(filter: { module?: string | null; enabled?: boolean | null } | null | undefined): Prisma.ScheduleWhereInput {
  return {
    ...(filter?.module != null ? { moduleName: filter.module } : {}),
    ...(filter?.enabled != null ? { enabled: filter.enabled } : {}),
  };
}

builder.queryFields((t) => ({
  schedules: t.prismaConnection(
    {
      type: "Schedule",
      cursor: "id",
      description: "Recurring schedules, oldest first (the order they were created).",
      args: { filter: t.arg({ type: ScheduleFilterInput, description: "Which ones; omitted: all." }) },
      maxSize: checkedMaxSize,
      totalCount: (_parent, args, ctx) => ctx.store.countSchedules(scheduleWhere(args.filter)),
      resolve: (query, _root, args, ctx) => ctx.store.listSchedules({ ...query, orderBy: { id: "asc" } }, scheduleWhere(args.filter)),
    },
    {
      name: "ScheduleConnection",
      description: "A page of schedules.",
      fields: (t) => ({ totalCount: t.int(totalCountOptions("Schedules matching the filter, on all pages.")) }),
    },
    { name: "ScheduleEdge", description: "A schedule in a page, with its cursor." },
  ),
  schedule: t.prismaField({
    type: "Schedule",
    nullable: true,
    description: "One schedule by id; null when there is none (a malformed id is BAD_USER_INPUT).",
    args: { id: t.arg.id({ required: true, description: "The schedule's id (`Schedule:<uuid>`)." }) },
    resolve: (query, _root, { id }, ctx) => ctx.store.findSchedule(scheduleUuid(id), query),
  }),
}));

/** Reads the schedule with the selection the client asked for. */
const reread = (ctx: Context, query: object, schedule: Schedule) => ctx.store.findSchedule(schedule.id, query).then((s) => s ?? schedule);

builder.mutationFields((t) => ({
  createSchedule: t.prismaField({
    type: "Schedule",
    description: `Creates a recurring schedule (TASK_MANAGER and above). The rule, the type and the input are checked now: a refusal (BAD_USER_INPUT, NOT_FOUND) creates nothing. ${RULE_TEXT}`,
    args: { input: t.arg({ type: CreateScheduleInput, required: true, description: "The schedule." }) },
    resolve: async (query, _root, { input }, ctx) =>
      reread(ctx, query, await createSchedule(ctx.manager.registry, ctx.store, { ...input, createdBy: ctx.principal.name })),
  }),
  updateSchedule: t.prismaField({
    type: "Schedule",
    description: "Changes a schedule (TASK_MANAGER and above); checked like createSchedule, a refusal changes nothing.",
    args: {
      id: t.arg.id({ required: true, description: "The schedule's id." }),
      input: t.arg({ type: UpdateScheduleInput, required: true, description: "What to change." }),
    },
    resolve: async (query, _root, { id, input }, ctx) => reread(ctx, query, await updateSchedule(ctx.manager.registry, ctx.store, scheduleUuid(id), input)),
  }),
  pauseSchedule: t.prismaField({
    type: "Schedule",
    description: "Pauses a schedule: it starts nothing until resumeSchedule (pausing a paused one changes nothing).",
    args: { id: t.arg.id({ required: true, description: "The schedule's id." }) },
    resolve: async (query, _root, { id }, ctx) => reread(ctx, query, await ctx.store.updateSchedule(scheduleUuid(id), { enabled: false })),
  }),
  resumeSchedule: t.prismaField({
    type: "Schedule",
    description: `Resumes a paused schedule. The due times that passed while it was paused are missed ones: ${CATCH_UP_TEXT}`,
    args: { id: t.arg.id({ required: true, description: "The schedule's id." }) },
    resolve: async (query, _root, { id }, ctx) => reread(ctx, query, await ctx.store.updateSchedule(scheduleUuid(id), { enabled: true })),
  }),
  deleteSchedule: t.field({
    type: DeleteScheduleResult,
    description: "Removes a schedule (TASK_MANAGER and above). The tasks it started stay, pending ones included.",
    args: { id: t.arg.id({ required: true, description: "The schedule's id." }) },
    resolve: async (_root, { id }, ctx) => ({ deletedId: await ctx.store.deleteSchedule(scheduleUuid(id)) }),
  }),
}));
