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
import type { PageArgs, PageInfo, TaskOrder } from "./pagination";
import { DEFAULT_ORDER, planPage } from "./pagination";
import type { TaskFilter } from "./task-filter";
import { taskWhere } from "./task-filter";

export type TaskQuery = { include?: Prisma.TaskInclude; select?: Prisma.TaskSelect };

export interface TaskPage {
  edges: { cursor: string; node: Task }[];
  pageInfo: PageInfo;
  /** Counted only when asked for. */
  totalCount: () => Promise<number>;
}

export async function findTask(prisma: PrismaClient, id: string, query: TaskQuery = {}): Promise<Task | null> {
  return prisma.task.findUnique({ ...query, where: { id: parseUuid(id) } } as Prisma.TaskFindUniqueArgs);
}

export async function getTask(prisma: PrismaClient, id: string, query: TaskQuery = {}): Promise<Task> {
  const task = await findTask(prisma, id, query);
  if (!task) throw notFound("Task", id);
  return task;
}

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
  const where = taskWhere(options.filter ?? {});
  const plan = planPage(where, options.orderBy ?? DEFAULT_ORDER, options.page ?? {}, options.maxPageSize);
  let counted: Promise<number> | undefined;
  const totalCount = () => (counted ??= prisma.task.count({ where }));
  if (options.count) totalCount().catch(() => {}); // its error, if any, goes to whoever awaits it
  const rows = await prisma.task.findMany({ ...options.query, where: plan.where, orderBy: plan.orderBy, take: plan.take } as Prisma.TaskFindManyArgs);
  const { rows: nodes, cursors, pageInfo } = plan.finish(rows);
  return { edges: nodes.map((node, i) => ({ node, cursor: cursors[i]! })), pageInfo, totalCount };
}

export interface TaskCounts {
  total: number;
  /** Every category, in TASK_CATEGORIES order, zeros included. */
  byCategory: { category: TaskCategory; count: number }[];
  /** Every state, in TASK_STATES order, zeros included. */
  byState: { state: TaskState; count: number }[];
}

/** How many tasks the filter selects, per state and per category (a tab list's badges): one GROUP BY state. */
export async function countTasks(prisma: PrismaClient, filter: TaskFilter = {}): Promise<TaskCounts> {
  const groups = await prisma.task.groupBy({ by: ["state"], where: taskWhere(filter), _count: { _all: true } });
  const byState = new Map<TaskState, number>(groups.map((g) => [g.state, g._count._all]));
  const byCategory = new Map<TaskCategory, number>();
  for (const [state, count] of byState) byCategory.set(categoryOf(state), (byCategory.get(categoryOf(state)) ?? 0) + count);
  return {
    total: [...byState.values()].reduce((sum, count) => sum + count, 0),
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
  // rows: above jit_above_cost, so PostgreSQL spent ~150 ms compiling a query that runs in <1 ms.
  const [, rows] = await prisma.$transaction([prisma.$executeRaw`SET LOCAL jit = off`, prisma.$queryRaw<{ origin: string }[]>`
    WITH RECURSIVE below(origin, id, state) AS (
      SELECT c."parentId", c.id, c.state FROM "Task" c WHERE c."parentId" = ANY(${[...ids]}::uuid[])
      UNION ALL
      -- A parameterised subquery (OFFSET 0 keeps it one): an index lookup of each row's children.
      -- As a plain join the planner guesses the work table large and hashes the whole table instead.
      SELECT below.origin, c.id, c.state FROM below CROSS JOIN LATERAL (
        SELECT c.id, c.state FROM "Task" c WHERE c."parentId" = below.id OFFSET 0
      ) c
    )
    SELECT DISTINCT origin::text AS origin FROM below WHERE state IN (${taskStateList(PENDING_STATES)})`]);
  return new Set(rows.map((r) => r.origin));
}
