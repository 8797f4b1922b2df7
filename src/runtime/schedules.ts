// Creating and changing recurring schedules: every check before anything is stored (a refusal
// changes nothing). The rule (cron and time zone, or an interval) is checked by domain/schedule-times;
// the type and input as startTask checks them, so a schedule never stores what its fires would refuse.
import { checkRule, type ScheduleRule } from "../domain/schedule-times";
import { parseUuid } from "../domain/ids";
import { notFound } from "../domain/errors";
import type { Schedule, SchedulePatch, Store } from "../store";
import { ruleOf } from "../store";
import { type TaskRegistry, toJson } from "./registry";

export interface ScheduleRequest {
  name?: string | null;
  description?: string | null;
  module: string;
  type: string;
  input?: unknown;
  cron?: string | null;
  timeZone?: string | null;
  everySeconds?: number | null;
  catchUp?: boolean | null;
  enabled?: boolean | null;
  /** Who created it (a token's name). */
  createdBy: string | null;
}

/** What updateSchedule may change; null or omitted: left as it is. */
export type ScheduleChange = Partial<Omit<ScheduleRequest, "module" | "type" | "createdBy">>;

/** Checks the type exists and takes the input, as startTask would (NOT_FOUND, BAD_USER_INPUT). */
async function checkTask(registry: TaskRegistry, module: string, type: string, input: unknown): Promise<void> {
  await registry.ready();
  await registry.newTask(module, type, input ?? null);
}

export async function createSchedule(registry: TaskRegistry, store: Store, request: ScheduleRequest): Promise<Schedule> {
  const rule = checkRule(request);
  await checkTask(registry, request.module, request.type, request.input);
  return store.createSchedule({
    name: request.name ?? `${request.module}/${request.type}`,
    description: request.description ?? "",
    module: request.module,
    type: request.type,
    input: toJson(request.input),
    rule,
    catchUp: request.catchUp ?? false,
    enabled: request.enabled ?? true,
    createdBy: request.createdBy,
  });
}

/**
 * The rule after a change: cron given switches to cron (in the time zone given, else the one it had),
 * everySeconds given switches to an interval, timeZone alone re-reads the cron expression there.
 */
function changedRule(current: ScheduleRule, change: ScheduleChange): ScheduleRule | undefined {
  const { cron, everySeconds, timeZone } = change;
  if (cron == null && everySeconds == null && timeZone == null) return undefined;
  if (cron == null && everySeconds == null) return checkRule({ ...current, timeZone });
  return checkRule({ cron, everySeconds, timeZone: timeZone ?? (cron != null && current.cron !== null ? current.timeZone : null) });
}

export async function updateSchedule(registry: TaskRegistry, store: Store, id: string, change: ScheduleChange): Promise<Schedule> {
  const current = await store.findSchedule(parseUuid(id, "id"));
  if (!current) throw notFound("Schedule", id);
  const rule = changedRule(ruleOf(current), change);
  if (change.input !== undefined && change.input !== null) await checkTask(registry, current.moduleName, current.type, change.input);
  const patch: SchedulePatch = {
    ...(change.name != null ? { name: change.name } : {}),
    ...(change.description != null ? { description: change.description } : {}),
    ...(change.input != null ? { input: toJson(change.input) } : {}),
    ...(rule ? { rule } : {}),
    ...(change.catchUp != null ? { catchUp: change.catchUp } : {}),
    ...(change.enabled != null ? { enabled: change.enabled } : {}),
  };
  return store.updateSchedule(current.id, patch);
}
