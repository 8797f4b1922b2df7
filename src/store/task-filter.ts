// The API's TaskFilter, twice: as SQL (taskFilterSql, for lists and counts) and in
// TypeScript over a task snapshot (matchesTaskFilter, for the live feed). Both start from the same
// validation (checkTaskFilter): a bad filter is BAD_USER_INPUT in either, and they give the same
// answer for every task (test/task-filter-match.test.ts).
import { checkLabels } from "../domain/input";
import { badInput, checkText } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import type { TaskCategory, TaskState } from "../domain/states";
import { CATEGORY_STATES } from "../domain/states";
import type { Task } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import { taskStateList } from "./sql";

export interface TaskFilter {
  module?: string | null;
  /** Any of these modules (with `module` too, both must hold). */
  modules?: readonly string[] | null;
  types?: readonly string[] | null;
  states?: readonly TaskState[] | null;
  category?: TaskCategory | null;
  kind?: "NODE" | "CLUSTER" | null;
  /** Internal tasks are hidden unless this is true (ScyllaDB). */
  includeInternal?: boolean | null;
  target?: string | null;
  targetPrefix?: string | null;
  /** Every given label must match exactly. */
  labels?: Record<string, unknown> | null;
  /**
   * Keyword over name, type, module, target and error (case-insensitive contains); also an id
   * prefix of 8 or more hex digits (dashes as in a UUID), or a whole id.
   */
  search?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  startedAfter?: Date | null;
  startedBefore?: Date | null;
  endedAfter?: Date | null;
  endedBefore?: Date | null;
  parentId?: string | null;
  rootsOnly?: boolean | null;
  /** true: only tasks created with a runAt (Kafka's Scheduled tasks list); false: only the others. */
  createdWithRunAt?: boolean | null;
  /** Deprecated name of createdWithRunAt (same meaning). */
  scheduled?: boolean | null;
}

/**
 * A task as matchesTaskFilter sees it: the columns a filter reads. Times are ISO 8601 strings
 * (`Date#toISOString()`), so a snapshot survives a JSON round trip (the event journal stores them).
 */
export interface TaskSnapshot {
  id: string;
  module: string;
  type: string;
  name: string;
  state: TaskState;
  kind: "NODE" | "CLUSTER";
  target: string | null;
  labels: Record<string, string>;
  isInternal: boolean;
  parentId: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  /** Whether it was created with a runAt (Task.scheduledFor is set). */
  createdWithRunAt: boolean;
}

export function taskSnapshot(task: Task): TaskSnapshot {
  return {
    id: task.id,
    module: task.moduleName,
    type: task.type,
    name: task.name,
    state: task.state,
    kind: task.kind,
    target: task.target,
    labels: task.labels as Record<string, string>,
    isInternal: task.isInternal,
    parentId: task.parentId,
    createdAt: task.createdAt.toISOString(),
    startedAt: task.startedAt?.toISOString() ?? null,
    endedAt: task.endedAt?.toISOString() ?? null,
    error: task.error,
    createdWithRunAt: task.scheduledFor !== null,
  };
}

/** A time range: from `after` (inclusive) to `before` (exclusive); either end may be open. */
interface TimeRange {
  after: Date | null;
  before: Date | null;
}

/** A filter once checked: every value validated and normalised, ready for either matcher. */
export interface CheckedFilter {
  includeInternal: boolean;
  module: string | null;
  modules: string[] | null;
  types: string[] | null;
  states: TaskState[] | null;
  category: TaskCategory | null;
  kind: "NODE" | "CLUSTER" | null;
  target: string | null;
  targetPrefix: string | null;
  labels: Record<string, string>;
  search: { text: string; idRange: { from: string; to: string } | null } | null;
  created: TimeRange;
  started: TimeRange;
  ended: TimeRange;
  parentId: string | null;
  rootsOnly: boolean;
  createdWithRunAt: boolean | null;
}

function checkLength(name: string, value: string, max: number) {
  checkText(`filter.${name}`, value, max);
  if (value.length === 0) throw badInput(`filter.${name} must not be empty`);
}

function checkNames(name: string, values: readonly string[] | null | undefined): string[] | null {
  if (values == null) return null;
  if (values.length > LIMITS.filterListLength) throw badInput(`filter.${name} has more than ${LIMITS.filterListLength} entries`);
  values.forEach((v) => checkLength(name, v, LIMITS.nameLength));
  return [...values];
}

function checkRange(name: string, after: Date | null | undefined, before: Date | null | undefined): TimeRange {
  if (after && before && after > before) throw badInput(`filter.${name}After is later than filter.${name}Before`);
  return { after: after ?? null, before: before ?? null };
}

/** Hex digits with dashes where a UUID has them (after the 8th, 12th, 16th and 20th digit). */
const dashed = (hex: string) => [...hex].map((digit, i) => ([8, 12, 16, 20].includes(i) ? `-${digit}` : digit)).join("");

/**
 * The ids a search text names when it is an id prefix: 8 to 32 hex digits, written without dashes
 * or with them where a UUID has them ("0199ab12", "0199ab12-3c"). The ids from the prefix padded
 * with 0s to it padded with fs: a range on the primary key (uuid comparisons, no cast to text).
 * Shorter text is only a keyword.
 */
function idPrefixRange(text: string): { from: string; to: string } | null {
  const lower = text.toLowerCase();
  const hex = lower.replace(/-/g, "");
  if (!/^[0-9a-f]{8,32}$/.test(hex) || (lower !== hex && lower !== dashed(hex))) return null;
  return { from: dashed(hex.padEnd(32, "0")), to: dashed(hex.padEnd(32, "f")) };
}

/** Validates and normalises a filter: BAD_USER_INPUT for the first thing wrong in it. */
export function checkTaskFilter(filter: TaskFilter = {}): CheckedFilter {
  const search = filter.search?.trim();
  if (search) checkText("filter.search", search, LIMITS.searchLength);
  if (filter.module != null) checkLength("module", filter.module, LIMITS.nameLength);
  if (filter.target != null) checkLength("target", filter.target, LIMITS.targetLength);
  if (filter.targetPrefix != null) checkLength("targetPrefix", filter.targetPrefix, LIMITS.targetLength);
  const labels = checkLabels("filter.labels", filter.labels ?? {});
  for (const [key, value] of Object.entries(labels)) {
    if (value.length === 0) throw badInput(`filter.labels.${key.slice(0, 40)} must not be empty`);
  }
  if (filter.parentId != null && filter.rootsOnly) {
    throw badInput("filter.rootsOnly and filter.parentId cannot be combined: roots have no parent");
  }
  if (filter.scheduled != null && filter.createdWithRunAt != null && filter.scheduled !== filter.createdWithRunAt) {
    throw badInput("filter.scheduled (deprecated) and filter.createdWithRunAt are the same filter and disagree");
  }
  return {
    includeInternal: filter.includeInternal ?? false,
    module: filter.module ?? null,
    modules: checkNames("modules", filter.modules),
    types: checkNames("types", filter.types),
    states: filter.states ? [...filter.states] : null,
    category: filter.category ?? null,
    kind: filter.kind ?? null,
    target: filter.target ?? null,
    targetPrefix: filter.targetPrefix ?? null,
    labels,
    search: search ? { text: search, idRange: idPrefixRange(search) } : null,
    created: checkRange("created", filter.createdAfter, filter.createdBefore),
    started: checkRange("started", filter.startedAfter, filter.startedBefore),
    ended: checkRange("ended", filter.endedAfter, filter.endedBefore),
    parentId: filter.parentId != null ? parseUuid(filter.parentId, "filter.parentId") : null,
    rootsOnly: filter.rootsOnly ?? false,
    createdWithRunAt: filter.createdWithRunAt ?? filter.scheduled ?? null,
  };
}

/** LIKE pattern characters are literal in a keyword search. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The `contains` of a keyword search, for Prisma (the modules whose name a search matches). */
export const searchContains = (text: string) => ({ contains: escapeLike(text), mode: "insensitive" as const });

const timeRangeSql = (column: Prisma.Sql, { after, before }: TimeRange): Prisma.Sql[] => [
  ...(after ? [Prisma.sql`${column} >= ${after.toISOString()}::timestamptz`] : []),
  ...(before ? [Prisma.sql`${column} < ${before.toISOString()}::timestamptz`] : []),
];

const statesSql = (states: readonly TaskState[]) => Prisma.sql`t.state IN (${taskStateList(states)})`;

/**
 * The filter as an SQL condition on `"Task" t` (for lists and counts), each part written for an
 * index: labels by containment (`@>`, the GIN index on labels); the keyword by ILIKE on the
 * trigram-indexed columns, the module as the names of the modules it matches (`searchModules`, looked
 * up beforehand in the Module table: literal names, so the planner can estimate the branch) and an
 * id prefix as a range on the primary key, so that every branch of the OR is an index scan.
 */
export function taskFilterSql(f: CheckedFilter, searchModules: readonly string[] = []): Prisma.Sql {
  const and: Prisma.Sql[] = [];
  if (!f.includeInternal) and.push(Prisma.sql`NOT t."isInternal"`);
  if (f.module != null) and.push(Prisma.sql`t."moduleName" = ${f.module}`);
  if (f.modules != null) and.push(Prisma.sql`t."moduleName" = ANY(${f.modules}::text[])`);
  if (f.types != null) and.push(Prisma.sql`t.type = ANY(${f.types}::text[])`);
  if (f.states != null) and.push(f.states.length ? statesSql(f.states) : Prisma.sql`false`);
  if (f.category != null) and.push(statesSql(CATEGORY_STATES[f.category]));
  if (f.kind != null) and.push(Prisma.sql`t.kind = ${f.kind}::"TaskKind"`);
  if (f.target != null) and.push(Prisma.sql`t.target = ${f.target}`);
  if (f.targetPrefix != null) and.push(Prisma.sql`t.target LIKE ${`${escapeLike(f.targetPrefix)}%`}`);
  if (Object.keys(f.labels).length > 0) and.push(Prisma.sql`t.labels @> ${JSON.stringify(f.labels)}::jsonb`);
  if (f.search) {
    const pattern = `%${escapeLike(f.search.text)}%`;
    const or = [
      Prisma.sql`t.name ILIKE ${pattern}`,
      Prisma.sql`t.type ILIKE ${pattern}`,
      Prisma.sql`t.target ILIKE ${pattern}`,
      Prisma.sql`t.error ILIKE ${pattern}`,
    ];
    if (searchModules.length > 0) or.push(Prisma.sql`t."moduleName" IN (${Prisma.join(searchModules)})`);
    const range = f.search.idRange;
    if (range) or.push(Prisma.sql`t.id BETWEEN ${range.from}::uuid AND ${range.to}::uuid`);
    and.push(Prisma.sql`(${Prisma.join(or, " OR ")})`);
  }
  and.push(...timeRangeSql(Prisma.sql`t."createdAt"`, f.created), ...timeRangeSql(Prisma.sql`t."startedAt"`, f.started), ...timeRangeSql(Prisma.sql`t."endedAt"`, f.ended));
  if (f.parentId != null) and.push(Prisma.sql`t."parentId" = ${f.parentId}::uuid`);
  if (f.rootsOnly) and.push(Prisma.sql`t."parentId" IS NULL`);
  if (f.createdWithRunAt != null) and.push(f.createdWithRunAt ? Prisma.sql`t."scheduledFor" IS NOT NULL` : Prisma.sql`t."scheduledFor" IS NULL`);
  return and.length ? Prisma.join(and, " AND ") : Prisma.sql`true`;
}

const inRange = (iso: string | null, { after, before }: TimeRange) => {
  if (!after && !before) return true;
  if (iso === null) return false;
  const time = Date.parse(iso);
  return (!after || time >= after.getTime()) && (!before || time < before.getTime());
};

const containsInsensitive = (value: string | null, text: string) => value !== null && value.toLowerCase().includes(text.toLowerCase());

/** Whether the task is in what `taskFilterSql` selects: the same filter, checked the same way, in TypeScript. */
export function matchesTaskFilter(task: TaskSnapshot, filter: TaskFilter = {}): boolean {
  return matchesCheckedFilter(task, checkTaskFilter(filter));
}

/** matchesTaskFilter for a filter checked once beforehand (a live subscription's, for every event). */
export function matchesCheckedFilter(task: TaskSnapshot, f: CheckedFilter): boolean {
  if (!f.includeInternal && task.isInternal) return false;
  if (f.module != null && task.module !== f.module) return false;
  if (f.modules != null && !f.modules.includes(task.module)) return false;
  if (f.types != null && !f.types.includes(task.type)) return false;
  if (f.states != null && !f.states.includes(task.state)) return false;
  if (f.category != null && !CATEGORY_STATES[f.category].includes(task.state)) return false;
  if (f.kind != null && task.kind !== f.kind) return false;
  if (f.target != null && task.target !== f.target) return false;
  if (f.targetPrefix != null && !task.target?.startsWith(f.targetPrefix)) return false;
  for (const [key, value] of Object.entries(f.labels)) if (task.labels[key] !== value) return false;
  if (f.search) {
    const { text, idRange } = f.search;
    const byText = [task.name, task.type, task.module, task.target, task.error].some((value) => containsInsensitive(value, text));
    const id = task.id.toLowerCase();
    if (!byText && !(idRange && id >= idRange.from && id <= idRange.to)) return false;
  }
  if (!inRange(task.createdAt, f.created) || !inRange(task.startedAt, f.started) || !inRange(task.endedAt, f.ended)) return false;
  if (f.parentId != null && task.parentId?.toLowerCase() !== f.parentId) return false;
  if (f.rootsOnly && task.parentId !== null) return false;
  if (f.createdWithRunAt != null && task.createdWithRunAt !== f.createdWithRunAt) return false;
  return true;
}
