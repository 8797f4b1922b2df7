// Page-size rules shared by every connection: one error for every list that is asked for too much.
import type { Context } from "./builder";
import { checkPageArgs } from "../store/pagination";

/** For plugin-prisma's `maxSize`: refuses (rather than silently clamps) a page over the limit. */
export function checkedMaxSize(args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }, ctx: Context) {
  checkPageArgs(args, ctx.config.maxPageSize);
  return ctx.config.maxPageSize;
}

/** What a connection carries as its totalCount: a number, or a count run only when asked for (exact or not). */
type ConnectionTotal = number | (() => Promise<number | { count: number; exact: boolean }>);

async function connectionTotal(connection: object): Promise<{ count: number; exact: boolean }> {
  const total = (connection as { totalCount: ConnectionTotal }).totalCount;
  const value = typeof total === "function" ? await total() : total;
  return typeof value === "number" ? { count: value, exact: true } : value;
}

/**
 * A connection's totalCount: plugin-prisma's related connections carry a number, the task list's
 * reader a function that runs the count only when asked for. Marked as plugin-prisma's own
 * totalCount field, so a selection of only totalCount loads no rows.
 */
export const totalCountOptions = (description: string) => ({
  description,
  extensions: { pothosPrismaTotalCount: true },
  resolve: async (connection: object) => (await connectionTotal(connection)).count,
});

/** Whether a connection's totalCount is exact (a number counted by plugin-prisma always is). */
export const totalCountIsExactOptions = (description: string) => ({
  description,
  resolve: async (connection: object) => (await connectionTotal(connection)).exact,
});
