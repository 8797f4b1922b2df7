// When a recurring schedule is due, and what a worker does with the due times it finds (pure).
//
// Terminology:
//   rule        a cron expression read in an IANA time zone (croner), or a fixed interval in seconds
//   due time    an instant the rule gives; a schedule fires at most one task per due time
//   nextRunAt   the first due time not handled yet (the stored row's column)
//   on time     the only due time pending, found within its tolerance: min(60 s, half the gap to
//               the next due time). It fires.
//   missed      anything else: several due times pending, or one found late (the workers were
//               down, the schedule was paused)
//   catch-up    catchUp true: a missed window fires ONE task, for its latest due time;
//               catchUp false: it fires none. Then the schedule goes on from its next due time.
import { Cron } from "croner";
import { badInput, checkText } from "./errors";

export interface ScheduleRule {
  cron: string | null;
  timeZone: string;
  everySeconds: number | null;
}

/** The longest interval (a year) and the longest cron expression accepted. */
export const MAX_EVERY_SECONDS = 366 * 86_400;
const MAX_CRON_LENGTH = 200;
/** A missed due time is one found more than this late (or half its gap to the next one, if less). */
export const MAX_TOLERANCE_MS = 60_000;

/** A time zone the runtime knows (IANA names, and UTC). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function cronOf(rule: ScheduleRule): Cron {
  return new Cron(rule.cron!, { timezone: rule.timeZone });
}

/**
 * Checks a rule as given by a client: exactly one of cron and everySeconds, a cron expression
 * croner reads, a known time zone (cron only), an interval from 1 s to a year, and a rule that has
 * a next time. Refusals are BAD_USER_INPUT naming the field.
 */
export function checkRule(input: { cron?: string | null; timeZone?: string | null; everySeconds?: number | null }): ScheduleRule {
  const cron = input.cron ?? null;
  const everySeconds = input.everySeconds ?? null;
  if ((cron === null) === (everySeconds === null)) {
    throw badInput("Give exactly one of cron and everySeconds", { field: cron === null ? "cron" : "everySeconds" });
  }
  const timeZone = input.timeZone ?? "UTC";
  checkText("timeZone", timeZone, 100, { field: "timeZone" });
  if (!isTimeZone(timeZone)) throw badInput(`timeZone "${timeZone}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`, { field: "timeZone" });
  if (everySeconds !== null) {
    if (input.timeZone != null && input.timeZone !== "UTC") throw badInput("timeZone applies to cron only: an interval is the same in every zone", { field: "timeZone" });
    if (!Number.isInteger(everySeconds) || everySeconds < 1 || everySeconds > MAX_EVERY_SECONDS) {
      throw badInput(`everySeconds must be a whole number from 1 to ${MAX_EVERY_SECONDS}`, { field: "everySeconds" });
    }
    return { cron: null, timeZone: "UTC", everySeconds };
  }
  checkText("cron", cron!, MAX_CRON_LENGTH, { field: "cron" });
  const rule = { cron: cron!.trim(), timeZone, everySeconds: null };
  let next: Date | null;
  try {
    next = cronOf(rule).nextRun();
  } catch (error) {
    const why = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error);
    throw badInput(`cron "${cron}" is not a valid cron expression: ${why}`, { field: "cron" });
  }
  if (!next) throw badInput(`cron "${cron}" never runs`, { field: "cron" });
  return rule;
}

/** The first due time strictly after `after`. `anchor`: a due time of an interval rule (its phase). */
export function nextDueAfter(rule: ScheduleRule, anchor: Date, after: Date): Date | null {
  if (rule.everySeconds !== null) {
    const every = rule.everySeconds * 1000;
    const steps = Math.floor((after.getTime() - anchor.getTime()) / every) + 1;
    return new Date(anchor.getTime() + steps * every);
  }
  return cronOf(rule).nextRun(after);
}

/** The latest due time at or before `at`, not before `from` (a due time itself); null when there is none. */
function latestDueAtOrBefore(rule: ScheduleRule, from: Date, at: Date): Date | null {
  if (at < from) return null;
  if (rule.everySeconds !== null) {
    const every = rule.everySeconds * 1000;
    return new Date(from.getTime() + Math.floor((at.getTime() - from.getTime()) / every) * every);
  }
  // croner counts a run in the reference's own second only when it is earlier: +1 ms includes `at` itself.
  const [latest] = cronOf(rule).previousRuns(1, new Date(at.getTime() + 1));
  return latest && latest >= from ? latest : null;
}

/** The next `count` due times from `from` (inclusive when it is a due time; `anchor` as nextDueAfter). */
export function dueTimes(rule: ScheduleRule, anchor: Date, from: Date, count: number): Date[] {
  const times: Date[] = [];
  let next = latestDueAtOrBefore(rule, anchor, from)?.getTime() === from.getTime() ? from : nextDueAfter(rule, anchor, from);
  while (next && times.length < count) {
    times.push(next);
    next = nextDueAfter(rule, anchor, next);
  }
  return times;
}

/** How late a due time may be found and still be on time: min(60 s, half the gap to the next one). */
export function toleranceMs(rule: ScheduleRule, due: Date): number {
  const following = nextDueAfter(rule, due, due);
  return following ? Math.min(MAX_TOLERANCE_MS, (following.getTime() - due.getTime()) / 2) : MAX_TOLERANCE_MS;
}

export interface FirePlan {
  /** The due time to start a task for now, if any. */
  fire: Date | null;
  /** The new nextRunAt: the first due time after `now` (null: the rule has no more). */
  nextRunAt: Date | null;
}

/**
 * What a worker does with a schedule found due (`nextRunAt` ≤ `now`). One due time pending, found
 * within its tolerance: on time, it fires. Anything else (several pending, or one found late) is a
 * missed window: catchUp fires one task for its latest due time, otherwise none. Either way
 * nextRunAt moves past `now`: a schedule never fires a burst, however long it was not looked at.
 */
export function planFire(rule: ScheduleRule, catchUp: boolean, nextRunAt: Date, now: Date): FirePlan {
  const next = nextDueAfter(rule, nextRunAt, now);
  const latest = latestDueAtOrBefore(rule, nextRunAt, now);
  if (!latest) return { fire: null, nextRunAt: next };
  const onTime = latest.getTime() === nextRunAt.getTime() && now.getTime() - latest.getTime() <= toleranceMs(rule, latest);
  return { fire: onTime || catchUp ? latest : null, nextRunAt: next };
}
