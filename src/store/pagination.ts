// Keyset (cursor) pagination for task lists, both directions, over any TaskOrder, in SQL. Written by hand:
// Prisma's own `cursor` option (and the libraries built on it) drops rows when the sort column is
// nullable (startedAt, endedAt). The cursor is the sort value and the id of the edge's task, so a
// page stays correct while tasks are added or change state between requests.
import { badInput } from "../domain/errors";
import { isUuid } from "../domain/ids";
import { LIMITS } from "../domain/limits";
import { TASK_STATES } from "../domain/states";
import type { Task, TaskState } from "../generated/prisma/client";
import { Prisma } from "../generated/prisma/client";

export const ORDER_FIELDS = ["CREATED_AT", "STARTED_AT", "ENDED_AT", "STATE", "MODULE"] as const;
export type OrderField = (typeof ORDER_FIELDS)[number];
export type Direction = "ASC" | "DESC";

export interface TaskOrder {
  field: OrderField;
  direction: Direction;
}

export const DEFAULT_ORDER: TaskOrder = { field: "CREATED_AT", direction: "DESC" };

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

const COLUMN = {
  CREATED_AT: "createdAt",
  STARTED_AT: "startedAt",
  ENDED_AT: "endedAt",
  STATE: "state",
  MODULE: "moduleName",
} as const satisfies Record<OrderField, keyof Task>;

const NULLABLE = new Set<OrderField>(["STARTED_AT", "ENDED_AT"]);
const IS_DATE = new Set<OrderField>(["CREATED_AT", "STARTED_AT", "ENDED_AT"]);

type SortValue = string | null;

export function encodeCursor(order: TaskOrder, task: Task): string {
  const raw = task[COLUMN[order.field]] as Date | string | null;
  const value: SortValue = raw instanceof Date ? raw.toISOString() : raw;
  return Buffer.from(JSON.stringify([order.field, value, task.id])).toString("base64url");
}

function decodeCursor(order: TaskOrder, cursor: string, name: string): { value: SortValue; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[2] !== "string" || !isUuid(parsed[2]) || !(parsed[1] === null || typeof parsed[1] === "string")) {
    throw badInput(`${name} is not a cursor returned by this API`, { [name]: cursor });
  }
  if (parsed[0] !== order.field) {
    throw badInput(`${name} was made for orderBy ${parsed[0]}, not ${order.field}; start again without it`, { [name]: cursor });
  }
  const value = parsed[1] as SortValue;
  if (value !== null && IS_DATE.has(order.field) && Number.isNaN(Date.parse(value))) throw badInput(`${name} is corrupt`);
  if (value === null && !NULLABLE.has(order.field)) throw badInput(`${name} is corrupt`);
  return { value, id: parsed[2] as string };
}

export function checkPageArgs(page: PageArgs, maxPageSize: number): { size: number; forward: boolean } {
  const { first, last, after, before } = page;
  if (first != null && last != null) throw badInput("Pass first or last, not both");
  for (const [name, n] of [["first", first], ["last", last]] as const) {
    if (n == null) continue;
    if (!Number.isInteger(n) || n < 0) throw badInput(`${name} must be a whole number ≥ 0, got ${n}`);
    if (n > maxPageSize) throw badInput(`${name} must be at most ${maxPageSize} (the page size limit), got ${n}`, { max: maxPageSize });
  }
  if (after != null && before != null) throw badInput("Pass after or before, not both");
  const forward = last == null && before == null;
  return { size: (forward ? first : last) ?? LIMITS.defaultPageSize, forward };
}

/** The column a field sorts by, in SQL on `"Task" t`. */
const COLUMN_SQL: Record<OrderField, Prisma.Sql> = {
  CREATED_AT: Prisma.sql`t."createdAt"`,
  STARTED_AT: Prisma.sql`t."startedAt"`,
  ENDED_AT: Prisma.sql`t."endedAt"`,
  STATE: Prisma.sql`t.state`,
  MODULE: Prisma.sql`t."moduleName"`,
};

/** A cursor's sort value as an SQL value of the column's type (enums sort in declaration order). */
function valueSql(order: TaskOrder, value: string): Prisma.Sql {
  if (IS_DATE.has(order.field)) return Prisma.sql`${value}::timestamptz`;
  if (order.field === "STATE") {
    if (!TASK_STATES.includes(value as TaskState)) throw badInput("cursor is corrupt");
    return Prisma.sql`${value}::"TaskState"`;
  }
  return Prisma.sql`${value}`;
}

/** Rows strictly after (value, id) when sorted by `dir` on the column then id, nulls at `nulls`. */
function afterKey(order: TaskOrder, dir: Direction, nulls: "first" | "last", value: SortValue, id: string): Prisma.Sql {
  const cmp = Prisma.raw(dir === "ASC" ? ">" : "<");
  const column = COLUMN_SQL[order.field];
  if (value === null) {
    // Among the nulls: only later ids; and when nulls come first, every non-null row as well.
    const laterNull = Prisma.sql`(${column} IS NULL AND t.id ${cmp} ${id}::uuid)`;
    return nulls === "first" ? Prisma.sql`(${laterNull} OR ${column} IS NOT NULL)` : laterNull;
  }
  // A row comparison: the index on the column bounds the scan (a null column compares as null: no row).
  const later = Prisma.sql`(${column}, t.id) ${cmp} (${valueSql(order, value)}, ${id}::uuid)`;
  return NULLABLE.has(order.field) && nulls === "last" ? Prisma.sql`(${later} OR ${column} IS NULL)` : later;
}

function orderBySql(order: TaskOrder, dir: Direction, nulls: "first" | "last"): Prisma.Sql {
  const sort = Prisma.raw(dir);
  const nullsSql = Prisma.raw(NULLABLE.has(order.field) ? ` NULLS ${nulls.toUpperCase()}` : "");
  return Prisma.sql`${COLUMN_SQL[order.field]} ${sort}${nullsSql}, t.id ${sort}`;
}

export interface PagePlan {
  /** Rows after the cursor (with the filter: `WHERE filter AND after`); `true` without a cursor. */
  after: Prisma.Sql;
  orderBy: Prisma.Sql;
  take: number;
  /** The columns `finish` reads from each row (for a query that selects columns). */
  columns: (keyof Task)[];
  /** Apply to the rows fetched with this plan to get the page in display order. */
  finish(rows: Task[]): { rows: Task[]; pageInfo: PageInfo; cursors: string[] };
}

/**
 * Plans one page of `"Task" t`. Forward: sort as asked, nulls last, rows after `after`.
 * Backward: sort reversed (nulls first), rows after `before` in that order, then reverse.
 * One extra row is fetched to learn whether another page exists.
 */
export function planPage(order: TaskOrder, page: PageArgs, maxPageSize: number): PagePlan {
  const { size, forward } = checkPageArgs(page, maxPageSize);
  const reversed: Direction = order.direction === "ASC" ? "DESC" : "ASC";
  const dir = forward ? order.direction : reversed;
  const nulls = forward ? "last" : "first";
  const cursorName = forward ? "after" : "before";
  const cursor = forward ? page.after : page.before;
  const key = cursor ? decodeCursor(order, cursor, cursorName) : null;
  return {
    after: key ? afterKey(order, dir, nulls, key.value, key.id) : Prisma.sql`true`,
    orderBy: orderBySql(order, dir, nulls),
    take: size + 1,
    columns: ["id", COLUMN[order.field]],
    finish(fetched) {
      const more = fetched.length > size;
      const rows = fetched.slice(0, size);
      if (!forward) rows.reverse();
      const cursors = rows.map((row) => encodeCursor(order, row));
      return {
        rows,
        cursors,
        pageInfo: {
          hasNextPage: forward ? more : cursor != null,
          hasPreviousPage: forward ? cursor != null : more,
          startCursor: cursors[0] ?? null,
          endCursor: cursors.at(-1) ?? null,
        },
      };
    },
  };
}
