// Recurring schedules: their rows, and the fire — the one write that starts a schedule's tasks.
//
// Exactly once per due time, across every worker process: a worker locks the due schedules
// (FOR UPDATE SKIP LOCKED: another worker skips them rather than waits), creates their tasks through
// the normal creation path (events and NOTIFY with them) and moves nextRunAt past now, in ONE
// transaction. A crash before the commit leaves the schedule due for the next worker; after it,
// the due time is handled. The unique index (scheduleId, scheduleDueAt) refuses a second task for a
// due time even if that reasoning had a hole.
import { badInput, checkText, notFound, TaskgraphError } from "../domain/errors";
import { newId, parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import { nextDueAfter, planFire, type ScheduleRule } from "../domain/schedule-times";
import type { Prisma, PrismaClient, Schedule, Task, TaskType } from "../generated/prisma/client";
import type { Tx } from "./journal-writer";
import { findTaskType } from "./task-types";
import { createTasks, type NewTask } from "./task-writes";

export type { Schedule };

/** A schedule as createSchedule stores it (its rule checked by checkRule, its type and input by the caller). */
export interface NewSchedule {
  name: string;
  description: string;
  module: string;
  type: string;
  input: Prisma.InputJsonValue | null;
  rule: ScheduleRule;
  catchUp: boolean;
  enabled: boolean;
  createdBy: string | null;
}

/** What updateSchedule changes (undefined: left as it is). */
export interface SchedulePatch {
  name?: string;
  description?: string;
  input?: Prisma.InputJsonValue | null;
  rule?: ScheduleRule;
  catchUp?: boolean;
  enabled?: boolean;
}

/** The rule of a stored schedule. */
export const ruleOf = (s: Pick<Schedule, "cron" | "timeZone" | "everySeconds">): ScheduleRule => ({
  cron: s.cron,
  timeZone: s.timeZone,
  everySeconds: s.everySeconds,
});

/** The first due time of a rule from `now` on: an interval's one interval later, a cron's next time. */
function firstDue(rule: ScheduleRule, now: Date): Date | null {
  return rule.everySeconds !== null ? new Date(now.getTime() + rule.everySeconds * 1000) : nextDueAfter(rule, now, now);
}

function checkTexts(fields: { name?: string; description?: string }) {
  if (fields.name !== undefined) {
    if (fields.name.trim() === "") throw badInput("name must not be empty", { field: "name" });
    checkText("name", fields.name, LIMITS.nameLength, { field: "name" });
  }
  if (fields.description !== undefined) checkText("description", fields.description, 2_000, { field: "description" });
}

const jsonOrNull = (value: Prisma.InputJsonValue | null) => (value === null ? ("DbNull" as const) : value);

export async function createSchedule(prisma: PrismaClient, s: NewSchedule, now = new Date()): Promise<Schedule> {
  checkTexts(s);
  return prisma.schedule.create({
    data: {
      id: newId(),
      name: s.name,
      description: s.description,
      moduleName: s.module,
      type: s.type,
      input: jsonOrNull(s.input),
      cron: s.rule.cron,
      timeZone: s.rule.timeZone,
      everySeconds: s.rule.everySeconds,
      catchUp: s.catchUp,
      enabled: s.enabled,
      nextRunAt: firstDue(s.rule, now),
      createdBy: s.createdBy,
    },
  });
}

/**
 * Changes a schedule, its row locked (a fire in progress finishes first). A new rule starts afresh
 * from now; pausing and resuming keep nextRunAt, so on resume the missed due times of the pause
 * follow the catch-up rule like any others (catchUp: one task; otherwise none).
 */
export async function updateSchedule(tx: Tx, id: string, patch: SchedulePatch, now = new Date()): Promise<Schedule> {
  checkTexts(patch);
  const scheduleId = parseUuid(id, "id");
  const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM "Schedule" WHERE id = ${scheduleId}::uuid FOR UPDATE`;
  if (!locked) throw notFound("Schedule", id);
  const data: Prisma.ScheduleUpdateInput = {};
  if (patch.name !== undefined) data.name = patch.name;
  if (patch.description !== undefined) data.description = patch.description;
  if (patch.input !== undefined) data.input = jsonOrNull(patch.input);
  if (patch.catchUp !== undefined) data.catchUp = patch.catchUp;
  if (patch.enabled !== undefined) data.enabled = patch.enabled;
  if (patch.rule) {
    data.cron = patch.rule.cron;
    data.timeZone = patch.rule.timeZone;
    data.everySeconds = patch.rule.everySeconds;
    data.nextRunAt = firstDue(patch.rule, now);
  }
  return tx.schedule.update({ where: { id: scheduleId }, data });
}

/** Removes a schedule; its tasks stay (their scheduleId becomes null). Returns its id. */
export async function deleteSchedule(prisma: PrismaClient, id: string): Promise<string> {
  const scheduleId = parseUuid(id, "id");
  const [deleted] = await prisma.$queryRaw<{ id: string }[]>`DELETE FROM "Schedule" WHERE id = ${scheduleId}::uuid RETURNING id::text`;
  if (!deleted) throw notFound("Schedule", id);
  return deleted.id;
}

/**
 * Builds the tasks of a schedule's due times (the registry: the type's definition, else its
 * catalogue entry read through `lookup`, in the fire's transaction). A TaskgraphError refuses the
 * fire: no task, the schedule records why (lastError) and moves on.
 */
export type BuildScheduledTasks = (schedule: Schedule, due: Date[], lookup: (key: string) => Promise<TaskType | null>) => Promise<NewTask[]>;

export interface FireResult {
  /** Tasks started. */
  started: Task[];
  /** Schedules whose fire was refused, with why. */
  refused: { scheduleId: string; error: string }[];
  /** Whether the batch was full (more may be due now). */
  full: boolean;
  /** The database's clock at the end, and the earliest nextRunAt of an enabled schedule (null: none). */
  now: Date;
  nextRunAt: Date | null;
}

/** Fires up to `limit` due schedules in the caller's transaction (see the top of this file). */
export async function fireDueSchedules(tx: Tx, build: BuildScheduledTasks, limit: number): Promise<FireResult> {
  const due = await tx.$queryRaw<(Schedule & { now: Date })[]>`
    WITH clock AS (SELECT clock_timestamp() AS now)
    SELECT s.*, clock.now FROM "Schedule" s, clock
    WHERE s.enabled AND s."nextRunAt" <= clock.now
    ORDER BY s."nextRunAt" LIMIT ${limit} FOR UPDATE OF s SKIP LOCKED`;
  const started: Task[] = [];
  const refused: FireResult["refused"] = [];
  for (const { now, ...schedule } of due) {
    const plan = planFire(ruleOf(schedule), schedule.catchUp, schedule.nextRunAt!, now);
    let lastError = schedule.lastError;
    if (plan.fire) {
      try {
        const specs = await build(schedule, [plan.fire], (key) => findTaskType(tx as PrismaClient, key));
        const dueAt = plan.fire;
        started.push(...(await createTasks(tx, specs.map((spec) => ({ ...spec, scheduleId: schedule.id, scheduleDueAt: dueAt })))));
        lastError = null;
      } catch (error) {
        if (!(error instanceof TaskgraphError)) throw error; // the store failed: the next look tries again
        lastError = error.message;
        refused.push({ scheduleId: schedule.id, error: error.message });
      }
    }
    await tx.schedule.update({
      where: { id: schedule.id },
      data: { nextRunAt: plan.nextRunAt, lastError, ...(plan.fire ? { lastRunAt: plan.fire } : {}) },
    });
  }
  return { started, refused, full: due.length === limit, ...(await earliestDue(tx)) };
}

/** The earliest nextRunAt of an enabled schedule (null: none), and the database's clock. */
export async function earliestDue(db: Pick<Tx, "$queryRaw">): Promise<{ nextRunAt: Date | null; now: Date }> {
  const [row] = await db.$queryRaw<{ nextRunAt: Date | null; now: Date }[]>`
    SELECT min("nextRunAt") AS "nextRunAt", clock_timestamp() AS now FROM "Schedule" WHERE enabled`;
  return row!;
}
