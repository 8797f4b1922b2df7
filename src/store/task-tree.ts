// taskTree: a task and its descendants in one recursive statement, only the columns asked for.
import { notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import type { PrismaClient, Task } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import type { TaskQuery } from "./task-reads";

export type TaskColumn = keyof Task;

/**
 * Every column of Task, and whether it is a timestamp: JSON carries timestamps as text, turned back
 * into Dates here. A Record, so that a column added to Task fails to compile until it is listed.
 */
const IS_TIMESTAMP: Record<TaskColumn, boolean> = {
  id: false,
  moduleName: false,
  type: false,
  name: false,
  kind: false,
  scope: false,
  target: false,
  labels: false,
  state: false,
  isAbortable: false,
  isInternal: false,
  isUserTask: false,
  sequenceNumber: false,
  parentId: false,
  rootId: false,
  depth: false,
  input: false,
  result: false,
  error: false,
  progressUnits: false,
  progressTotal: false,
  progressCompleted: false,
  createdAt: true,
  scheduledFor: true,
  scheduleId: false,
  scheduleDueAt: true,
  startedAt: true,
  endedAt: true,
  createdBy: false,
  node: false,
  abortRequestedAt: true,
  rollbackOnAbort: false,
  leaseOwner: false,
  leaseExpiresAt: true,
  spawnKey: false,
  needsSetup: false,
  traceparent: false,
  version: false,
  priority: false,
  exclusiveKey: false,
  errorCode: false,
  timeoutMs: false,
  retryPolicy: false,
  automaticRetries: false,
  holdsSlots: false,
};
export const TASK_COLUMNS = Object.keys(IS_TIMESTAMP) as TaskColumn[];

export interface TaskTreeOptions {
  maxDepth?: number | null;
  includeFolded?: boolean | null;
  /** The task columns the caller reads (default: all). Rows carry only these (and id). */
  columns?: readonly TaskColumn[];
  /** Relations to load too (plugin-prisma's queryFromInfo); then `columns` is not used. */
  query?: TaskQuery;
}

/**
 * The task and all its descendants (down to `maxDepth` levels below it) in breadth-first order,
 * siblings in creation order: ScyllaDB's recursive status. Internal tasks that finished
 * successfully are folded into their parent (left out, with what is below them) unless
 * `includeFolded`; failed ones stay visible. One recursive query walks the tree (an index lookup
 * per node) and returns the rows as one JSON value, so the driver and Prisma handle one value, not
 * a row per node. When relations are asked for, it returns the ids and their order and one more
 * query loads the rows with those relations.
 * Rows hold only the columns asked for: a partial Task, typed as the whole for the resolvers.
 */
export async function taskTree(prisma: PrismaClient, id: string, options: TaskTreeOptions = {}): Promise<Task[]> {
  const rootId = parseUuid(id);
  const maxDepth = options.maxDepth ?? 2_147_483_647;
  const includeFolded = options.includeFolded ?? false;
  const tree = Prisma.sql`
    WITH RECURSIVE tree(id, level, path) AS (
      SELECT t.id, 0, ARRAY[t.id] FROM "Task" t WHERE t.id = ${rootId}::uuid
      UNION ALL
      -- Each row's children by index lookup (OFFSET 0 keeps the subquery parameterised; as a plain
      -- join the planner hashes the whole table at every level).
      SELECT c.id, tree.level + 1, tree.path || c.id
      FROM tree CROSS JOIN LATERAL (
        SELECT c.id FROM "Task" c
        WHERE c."parentId" = tree.id AND (${includeFolded}::boolean OR NOT (c."isInternal" AND c.state = 'SUCCEEDED'))
        OFFSET 0
      ) c
      WHERE tree.level < ${maxDepth}::int
    )`;
  const query = options.query ?? {};
  if (query.select || (query.include && Object.keys(query.include).length > 0)) return withRelations(prisma, id, tree, query);

  // Only known columns: their names are written into the statement.
  const columns = [...new Set<TaskColumn>(["id", ...(options.columns ?? TASK_COLUMNS)])].filter((column) => Object.hasOwn(IS_TIMESTAMP, column));
  // The narrow (id, level, path) rows are numbered in tree order first and the wanted columns
  // joined to them, so the server does not sort wide rows (that spilled past work_mem to disk).
  // Each row is a JSON array of the columns, in the order of `columns`: building arrays costs the
  // server far less than building objects with keys.
  const values = Prisma.join(columns.map((column) => Prisma.raw(`t."${column}"`)));
  const [{ rows } = { rows: null }] = await prisma.$queryRaw<{ rows: string | null }[]>`${tree},
    ordered AS (SELECT id, row_number() OVER (ORDER BY level, path) AS n FROM tree)
    SELECT json_agg(json_build_array(${values}) ORDER BY o.n)::text AS rows
    FROM ordered o JOIN "Task" t ON t.id = o.id`;
  if (rows === null) throw notFound("Task", id);
  const timestamps = columns.map((column) => IS_TIMESTAMP[column]);
  return (JSON.parse(rows) as unknown[][]).map((row) => {
    const task: Record<string, unknown> = {};
    columns.forEach((column, i) => {
      const value = row[i];
      task[column] = timestamps[i] && value !== null ? new Date(value as string) : value;
    });
    return task as unknown as Task;
  });
}

async function withRelations(prisma: PrismaClient, id: string, tree: Prisma.Sql, query: TaskQuery): Promise<Task[]> {
  const order = await prisma.$queryRaw<{ id: string }[]>`${tree} SELECT id::text AS id FROM tree ORDER BY level, path`;
  if (order.length === 0) throw notFound("Task", id);
  const rows = await prisma.task.findMany({ ...query, where: { id: { in: order.map((r) => r.id) } } } as Prisma.TaskFindManyArgs);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return order.map((r) => byId.get(r.id)).filter((t): t is Task => t !== undefined);
}
