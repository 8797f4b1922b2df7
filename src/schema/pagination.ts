// Page-size rules shared by every connection: one error for every list that is asked for too much.
import type { Context } from "./builder";
import { checkPageArgs } from "../store/pagination";

/** For plugin-prisma's `maxSize`: refuses (rather than silently clamps) a page over the limit. */
export function checkedMaxSize(args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }, ctx: Context) {
  checkPageArgs(args, ctx.config.maxPageSize);
  return ctx.config.maxPageSize;
}

/**
 * A connection's totalCount: plugin-prisma's related connections carry a number, the task list's
 * reader a function that runs the count only when asked for. Marked as plugin-prisma's own
 * totalCount field, so a selection of only totalCount loads no rows.
 */
export const totalCountOptions = (description: string) => ({
  description,
  extensions: { pothosPrismaTotalCount: true },
  resolve: (connection: object) => {
    const total = (connection as { totalCount: number | (() => Promise<number> | number) }).totalCount;
    return typeof total === "function" ? total() : total;
  },
});
