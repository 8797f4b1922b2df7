// Reads of tasks: one task, filtered pages, trees in BFS order, counts per module and state.
// `query` is the include/select that the GraphQL layer computed for the requested fields, so
// related rows (steps, children, …) load in the same round of queries instead of one per task.
import { notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import type { PrismaClient, Task } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import type { TaskCategory, TaskState } from "../domain/states";
import { categoryOf, PENDING_STATES, TASK_CATEGORIES, TASK_STATES } from "../domain/states";
import { taskStateList } from "./sql";
import type { PageArgs, PageInfo, PagePlan, TaskOrder } from "./pagination";
import { DEFAULT_ORDER, planPage } from "./pagination";
import type { TaskFilter } from "./task-filter";
import { checkTaskFilter, searchContains, taskFilterSql } from "./task-filter";

export type TaskQuery = { include?: Prisma.TaskInclude; select?: Prisma.TaskSelect };

/** Whether plugin-prisma's query asks for more than a whole Task row: relations (include), or a shape of its own (select). */
export const asksForRelations = (query: TaskQuery): boolean => Boolean(query.select || (query.include && Object.keys(query.include).length > 0));

export interface TaskPage {
  edges: { cursor: string; node: Task }[];
  pageInfo: PageInfo;
  /** Counted only when asked for (see countMatching: exact up to EXACT_COUNT_LIMIT). */
  totalCount: () => Promise<TaskCount>;
}

/** How many tasks match: exact up to EXACT_COUNT_LIMIT; above it, the planner's estimate. */
export interface TaskCount {
  count: number;
  exact: boolean;
}

/**
 * Counts are exact up to this many tasks: counting stops at the next row, so a count never reads
 * more than this many (plus what the filter skips to find them). Above it a count is PostgreSQL's
 * estimate for the filter (the plan's row estimate, from the table's statistics), at least one more
 * than the limit, and flagged as approximate.
 */
export const EXACT_COUNT_LIMIT = 1_000;

export async function findTask(prisma: PrismaClient, id: string, query: TaskQuery = {}): Promise<Task | null> {
  return prisma.task.findUnique({ ...query, where: { id: parseUuid(id) } } as Prisma.TaskFindUniqueArgs);
}

export async function getTask(prisma: PrismaClient, id: string, query: TaskQuery = {}): Promise<Task> {
  const task = await findTask(prisma, id, query);
  if (!task) throw notFound("Task", id);
  return task;
}

interface FilterSql {
  where: Prisma.Sql;
  /** A keyword search the trigram indexes can answer (a run of 3 letters or digits): counts read it by index (Counter). */
  trigramSearch: boolean;
}

/** The filter as SQL, with the modules its keyword matches by name (a query of the few Module rows). */
async function filterSql(prisma: PrismaClient, filter: TaskFilter): Promise<FilterSql> {
  const f = checkTaskFilter(filter);
  const modules = f.search ? await prisma.module.findMany({ where: { name: searchContains(f.search.text) }, select: { name: true } }) : [];
  return { where: taskFilterSql(f, modules.map((m) => m.name)), trigramSearch: f.search !== null && /[\p{L}\p{N}]{3}/u.test(f.search.text) };
}

/** Runs a counting statement (see counter). */
type Counter = <T>(statement: Prisma.Sql) => Promise<T[]>;

/**
 * How the counts of a filter run. For a keyword search, planned without sequential scans: the
 * planner prices ILIKE as cheaply as any operator and reads the whole table, testing four columns
 * of every row, where the trigram indexes find the rows 5-10 times faster (100,000 tasks, even for
 * a keyword in most rows).
 */
function counter(prisma: PrismaClient, { trigramSearch }: FilterSql): Counter {
  if (!trigramSearch) return (statement) => prisma.$queryRaw(statement);
  return async <T>(statement: Prisma.Sql) => {
    const [, rows] = await prisma.$transaction([prisma.$executeRaw`SET LOCAL enable_seqscan = off`, prisma.$queryRaw<T[]>(statement)]);
    return rows;
  };
}

/**
 * A page of tasks in one SQL statement (the filter and the cursor as index conditions, ORDER BY …
 * LIMIT) that reads the rows' columns too; when the selection asks for relations, that statement
 * reads the ids and a second one the rows with their relations (pageWithRelations).
 */
export async function listTasks(
  prisma: PrismaClient,
  options: {
    filter?: TaskFilter;
    orderBy?: TaskOrder | null;
    page?: PageArgs;
    maxPageSize: number;
    query?: TaskQuery;
    /** The caller will ask for totalCount: count alongside the page instead of after it. */
    count?: boolean;
  },
): Promise<TaskPage> {
  const filtered = await filterSql(prisma, options.filter ?? {});
  const { where } = filtered;
  const plan = planPage(options.orderBy ?? DEFAULT_ORDER, options.page ?? {}, options.maxPageSize);
  let counted: Promise<TaskCount> | undefined;
  const totalCount = () => (counted ??= countMatching(prisma, counter(prisma, filtered), [where]).then(([count]) => count!));
  if (options.count) totalCount().catch(() => {}); // its error, if any, goes to whoever awaits it
  const query = options.query ?? {};
  const rows = asksForRelations(query) ? await pageWithRelations(prisma, where, plan, query) : await prisma.$queryRaw<Task[]>`
    SELECT t.* FROM "Task" t WHERE ${where} AND ${plan.after} ORDER BY ${plan.orderBy} LIMIT ${plan.take}`;
  const { rows: nodes, cursors, pageInfo } = plan.finish(rows);
  return { edges: nodes.map((node, i) => ({ node, cursor: cursors[i]! })), pageInfo, totalCount };
}

/** The page's ids in order, then their rows with the relations `query` asks for (by primary key, one more statement). */
async function pageWithRelations(prisma: PrismaClient, where: Prisma.Sql, plan: PagePlan, query: TaskQuery): Promise<Task[]> {
  const ids = await prisma.$queryRaw<{ id: string }[]>`
    SELECT t.id::text AS id FROM "Task" t WHERE ${where} AND ${plan.after} ORDER BY ${plan.orderBy} LIMIT ${plan.take}`;
  // A selection of columns still needs those the cursors are made of.
  const select = query.select && { ...query.select, ...Object.fromEntries(plan.columns.map((column) => [column, true])) };
  return tasksInOrder(prisma, ids.map((r) => r.id), select ? { ...query, select } : query);
}

/**
 * The tasks of `ids` with what `query` asks for, in the order of `ids`, by primary key in one
 * statement; a task deleted since its id was read is left out.
 */
export async function tasksInOrder(prisma: PrismaClient, ids: string[], query: TaskQuery): Promise<Task[]> {
  if (ids.length === 0) return [];
  const found = await prisma.task.findMany({ ...query, where: { id: { in: ids } } } as Prisma.TaskFindManyArgs);
  const byId = new Map(found.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id)).filter((t): t is Task => t !== undefined);
}

/**
 * How many tasks each condition selects, exactly when at most EXACT_COUNT_LIMIT: one statement that
 * counts each up to one past the limit; then, for each over it, the planner's estimate (withEstimates).
 */
async function countMatching(prisma: PrismaClient, count: Counter, conditions: Prisma.Sql[]): Promise<TaskCount[]> {
  const capped = conditions.map(
    (where, i) => Prisma.sql`(SELECT count(*)::int FROM (SELECT 1 FROM "Task" t WHERE ${where} LIMIT ${EXACT_COUNT_LIMIT + 1}) c) AS ${Prisma.raw(`c${i}`)}`,
  );
  const [row] = await count<Record<string, number>>(Prisma.sql`SELECT ${Prisma.join(capped)}`);
  return withEstimates(prisma, conditions, conditions.map((_, i) => row![`c${i}`]!));
}

/** The counts of `conditions` as TaskCounts: exact at most EXACT_COUNT_LIMIT, else the planner's estimate (never below the limit + 1). */
function withEstimates(prisma: PrismaClient, conditions: Prisma.Sql[], counts: number[], firstEstimate?: number): Promise<TaskCount[]> {
  return Promise.all(
    conditions.map(async (where, i) => {
      const count = counts[i]!;
      if (count <= EXACT_COUNT_LIMIT) return { count, exact: true };
      const estimate = i === 0 && firstEstimate !== undefined ? firstEstimate : await estimatedRows(prisma, where);
      return { count: Math.max(estimate, EXACT_COUNT_LIMIT + 1), exact: false };
    }),
  );
}

/** The planner's estimate of the tasks `where` selects (EXPLAIN: planned, not run). */
async function estimatedRows(prisma: PrismaClient, where: Prisma.Sql): Promise<number> {
  const [plan] = await prisma.$queryRaw<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }[]>`EXPLAIN (FORMAT JSON) SELECT 1 FROM "Task" t WHERE ${where}`;
  return Math.round(plan!["QUERY PLAN"][0].Plan["Plan Rows"]);
}

/**
 * Up to how many matching tasks taskCounts reads them once and counts every state from that read,
 * instead of counting each state with the filter again. Far more for a keyword search: its trigram
 * scan is most of the cost and counting each state repeats it, to the end of the matches for every
 * state with few of them (1,000,000 tasks, 11,524 matching: one read 127-149 ms, the thirteen
 * capped counts ~390 ms).
 */
const ONE_READ_LIMIT = 20_000;
const ONE_READ_LIMIT_SEARCH = 100_000;

/**
 * The filter's count and each state's (in TASK_STATES order), from one read of the matching tasks'
 * states, with the planner's estimate for the filter; null when that estimate is over
 * its limit (ONE_READ_LIMIT, ONE_READ_LIMIT_SEARCH), or more turn up.
 */
async function stateCountsInOneRead(prisma: PrismaClient, count: Counter, { where, trigramSearch }: FilterSql): Promise<{ counts: number[]; estimate: number } | null> {
  const limit = trigramSearch ? ONE_READ_LIMIT_SEARCH : ONE_READ_LIMIT;
  const estimate = await estimatedRows(prisma, where);
  if (estimate > limit) return null;
  const rows = await count<{ state: TaskState; count: number }>(Prisma.sql`
    SELECT m.state::text AS state, count(*)::int AS count
    FROM (SELECT t.state FROM "Task" t WHERE ${where} LIMIT ${limit + 1}) m GROUP BY m.state`);
  const byState = new Map(rows.map((r) => [r.state, r.count]));
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return total > limit ? null : { counts: [total, ...TASK_STATES.map((state) => byState.get(state) ?? 0)], estimate };
}

export interface TaskCounts {
  total: number;
  /** Whether every count here is exact (see EXACT_COUNT_LIMIT). */
  exact: boolean;
  /** Every category, in TASK_CATEGORIES order, zeros included. */
  byCategory: { category: TaskCategory; count: number }[];
  /** Every state, in TASK_STATES order, zeros included. */
  byState: { state: TaskState; count: number }[];
}

/**
 * How many tasks the filter selects, per state and per category (a tab list's badges). The total is
 * counted as for `listTasks` (so it equals that page's totalCount) and each state the same way:
 * from one read of the matching tasks when there are few enough, else each capped on its own, all
 * in one statement. A category adds up its states.
 */
export async function countTasks(prisma: PrismaClient, filter: TaskFilter = {}): Promise<TaskCounts> {
  const filtered = await filterSql(prisma, filter);
  const { where } = filtered;
  const count = counter(prisma, filtered);
  const conditions = [where, ...TASK_STATES.map((state) => Prisma.sql`${where} AND t.state IN (${taskStateList([state])})`)];
  const counted = await stateCountsInOneRead(prisma, count, filtered);
  // The filter's own estimate, if its count needs one, is the one the read was planned with.
  const [total, ...states] = counted ? await withEstimates(prisma, conditions, counted.counts, counted.estimate) : await countMatching(prisma, count, conditions);
  const byState = new Map<TaskState, number>(TASK_STATES.map((state, i) => [state, states[i]!.count]));
  const byCategory = new Map<TaskCategory, number>();
  for (const [state, count] of byState) byCategory.set(categoryOf(state), (byCategory.get(categoryOf(state)) ?? 0) + count);
  return {
    total: total!.count,
    exact: total!.exact && states.every((s) => s.exact),
    byCategory: TASK_CATEGORIES.map((category) => ({ category, count: byCategory.get(category) ?? 0 })),
    byState: TASK_STATES.map((state) => ({ state, count: byState.get(state) ?? 0 })),
  };
}

export interface ModuleStats {
  name: string;
  description: string;
  createdAt: Date;
  lastSequenceNumber: number;
  /** Visible (non-internal) tasks per state. */
  counts: Partial<Record<Task["state"], number>>;
}

export async function moduleStats(prisma: PrismaClient, name?: string): Promise<ModuleStats[]> {
  const modules = await prisma.module.findMany({ where: name ? { name } : {}, orderBy: { name: "asc" } });
  const counts = await moduleTaskCounts(prisma, modules.map((m) => m.name));
  return modules.map((m) => ({ ...m, counts: counts.get(m.name)! }));
}

/** Visible (non-internal) tasks per state, for each of these modules, in one query. */
export async function moduleTaskCounts(prisma: PrismaClient, names: readonly string[]): Promise<Map<string, Partial<Record<Task["state"], number>>>> {
  const groups = await prisma.task.groupBy({
    by: ["moduleName", "state"],
    where: { isInternal: false, moduleName: { in: [...names] } },
    _count: { _all: true },
  });
  const counts = new Map(names.map((name) => [name, {} as Partial<Record<Task["state"], number>>]));
  for (const g of groups) counts.get(g.moduleName)![g.state] = g._count._all;
  return counts;
}

/**
 * Of the given tasks, those with a pending (SCHEDULED, QUEUED, RUNNING) task anywhere below them:
 * such a tree cannot be deleted yet. One recursive query for all of them.
 */
export async function withPendingDescendants(prisma: PrismaClient, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  // The planner cannot know how deep the walk goes and costs it as ten levels of the first one's
  // rows: above jit_above_cost, which is why the store's connections run with JIT off (db/adapters.ts).
  const rows = await prisma.$queryRaw<{ origin: string }[]>`
    WITH RECURSIVE below(origin, id, state) AS (
      SELECT c."parentId", c.id, c.state FROM "Task" c WHERE c."parentId" = ANY(${[...ids]}::uuid[])
      UNION ALL
      -- A parameterised subquery (OFFSET 0 keeps it one): an index lookup of each row's children.
      -- As a plain join the planner guesses the work table large and hashes the whole table instead.
      SELECT below.origin, c.id, c.state FROM below CROSS JOIN LATERAL (
        SELECT c.id, c.state FROM "Task" c WHERE c."parentId" = below.id OFFSET 0
      ) c
    )
    SELECT DISTINCT origin::text AS origin FROM below WHERE state IN (${taskStateList(PENDING_STATES)})`;
  return new Set(rows.map((r) => r.origin));
}
