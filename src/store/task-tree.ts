// taskTree: a task and its descendants in one statement, only the columns asked for.
import type { Database } from "../db/client";
import { notFound } from "../domain/errors";
import { parseUuid } from "../domain/ids";
import type { PrismaClient, Task } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";
import { asksForRelations, type TaskQuery, tasksInOrder } from "./task-reads";

export type TaskColumn = keyof Task;

/**
 * Every column of Task, and whether it is a timestamp (turned back into a Date when read from
 * JSON). A Record, so that a column added to Task fails to compile until it is listed.
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
  /** The task columns the caller reads (default: all). Rows carry only these (and id and parentId). */
  columns?: readonly TaskColumn[];
  /** Relations to load too (plugin-prisma's queryFromInfo); then `columns` is not used. */
  query?: TaskQuery;
}

/**
 * The task and all its descendants (down to `maxDepth` levels below it) in breadth-first order,
 * siblings in creation order: ScyllaDB's recursive status. Internal tasks that finished
 * successfully are folded into their parent (left out, with what is below them) unless
 * `includeFolded`; failed ones stay visible. One statement reads the rows (see treeSql). When
 * relations are asked for, it returns the ids and their order and one more query loads the rows
 * with those relations.
 * Rows hold only the columns asked for: a partial Task, typed as the whole for the resolvers.
 */
export async function taskTree(prisma: PrismaClient, store: Database["kind"], id: string, options: TaskTreeOptions = {}): Promise<Task[]> {
  const topId = parseUuid(id);
  const tree = { topId, maxDepth: options.maxDepth ?? 2_147_483_647, includeFolded: options.includeFolded ?? false };
  const query = options.query ?? {};
  const withRelations = asksForRelations(query);
  // Only known columns: their names are written into the statement. id and parentId are always
  // read: the tree's order is made from them here.
  const wanted = withRelations ? [] : (options.columns ?? TASK_COLUMNS);
  const columns = [...new Set<TaskColumn>(["id", "parentId", ...wanted])].filter((column) => Object.hasOwn(IS_TIMESTAMP, column));
  // What each store hands over fastest, measured on a 10,000-node tree: PostgreSQL the rows (Prisma
  // reads them in ~25 ms; aggregating them into JSON cost the server ~35 ms more), PGlite one JSON
  // value (~25 ms; handing over 10,000 rows took it ~150 ms).
  const rows = treeSql(tree, columns);
  const tasks = store === "postgresql" ? await prisma.$queryRaw<Task[]>(rows) : await treeAsJson(prisma, rows, columns);
  if (tasks.length === 0) throw notFound("Task", id);
  const ordered = breadthFirst(tasks, topId);
  return withRelations ? tasksInOrder(prisma, ordered.map((task) => task.id), query) : ordered;
}

/**
 * The rows of `rows` read as one JSON value: one array per column (in the order of `columns`),
 * each the column's values in the same row order. Aggregating one typed column at a time costs the
 * server half what building an array or an object per row does.
 */
async function treeAsJson(prisma: PrismaClient, rows: Prisma.Sql, columns: TaskColumn[]): Promise<Task[]> {
  const values = Prisma.join(columns.map((column) => Prisma.raw(`json_agg(t."${column}")`)));
  const [{ json } = { json: null }] = await prisma.$queryRaw<{ json: string }[]>`SELECT json_build_array(${values})::text AS json FROM (${rows}) t`;
  const byColumn = JSON.parse(json ?? "[null]") as (unknown[] | null)[];
  // JSON carries timestamps as text.
  const timestamps = columns.map((column) => IS_TIMESTAMP[column]);
  return (byColumn[0] ?? []).map((_, row) => {
    const task: Record<string, unknown> = {};
    columns.forEach((column, i) => {
      const value = byColumn[i]![row];
      task[column] = timestamps[i] && value !== null ? new Date(value as string) : value;
    });
    return task as unknown as Task;
  });
}

/**
 * `columns` of the task and of each visible task down to `maxDepth` levels below it, unsorted,
 * without a second lookup of any row and without a sort on the server:
 * - below a root, one scan of the descendants' rootId index (depth counts from the root). What
 *   lies below a folded task is read too, and breadthFirst drops it: its parent is not there;
 * - below any other task, a recursive walk, each row's children by index lookup: a subtree is
 *   usually small, and reading its whole tree by rootId could be a thousand times more.
 * Only one of the two returns rows: no task's rootId is a task that has a parent.
 */
function treeSql({ topId, maxDepth, includeFolded }: { topId: string; maxDepth: number; includeFolded: boolean }, columns: TaskColumn[]): Prisma.Sql {
  const names = Prisma.raw(columns.map((column) => `"${column}"`).join(", "));
  const read = Prisma.raw(columns.map((column) => `c."${column}"`).join(", "));
  const visible = Prisma.sql`(${includeFolded}::boolean OR NOT (c."isInternal" AND c.state = 'SUCCEEDED'))`;
  return Prisma.sql`
    WITH RECURSIVE tree(${names}, level) AS (
      SELECT ${read}, 0 FROM "Task" c WHERE c.id = ${topId}::uuid
      UNION ALL
      -- OFFSET 0 keeps the subquery parameterised; as a plain join the planner hashes the whole
      -- table at every level.
      SELECT c.*, tree.level + 1
      FROM tree CROSS JOIN LATERAL (SELECT ${read} FROM "Task" c WHERE c."parentId" = tree.id AND ${visible} OFFSET 0) c
      -- The task itself is walked from only when it has a parent (a root's rows come below).
      WHERE tree.level < ${maxDepth}::int AND (tree.level > 0 OR tree."parentId" IS NOT NULL)
    )
    SELECT ${names} FROM tree
    UNION ALL
    SELECT ${read} FROM "Task" c
    WHERE c."rootId" = ${topId}::uuid AND c."parentId" IS NOT NULL AND c.depth <= ${maxDepth}::int AND ${visible}`;
}

/**
 * The tree's tasks (each with id and parentId, in any order) breadth-first from the top task,
 * siblings by id (creation order). A task whose parent is not among them is not reached.
 */
function breadthFirst(tasks: Task[], topId: string): Task[] {
  const children = new Map<string, Task[]>();
  let top: Task | undefined;
  for (const task of tasks) {
    if (task.id === topId) top = task;
    else {
      const siblings = children.get(task.parentId!);
      if (siblings) siblings.push(task);
      else children.set(task.parentId!, [task]);
    }
  }
  const ordered = [top!];
  for (let i = 0; i < ordered.length; i++) {
    const below = children.get(ordered[i]!.id);
    // uuid v7 ids sort in creation order, as text too (lower-case hex). Pushed one by one: a
    // spread of a parent's children would overflow the stack past ~100,000 of them.
    if (below) for (const child of below.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) ordered.push(child);
  }
  return ordered;
}
