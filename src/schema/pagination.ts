// Page-size rules shared by every connection: one error for every list that is asked for too much.
import type { Context } from "./builder";
import { checkPageArgs } from "../store/pagination";

/** For plugin-prisma's `maxSize`: refuses (rather than silently clamps) a page over the limit. */
export function checkedMaxSize(args: { first?: number | null; last?: number | null; after?: string | null; before?: string | null }, ctx: Context) {
  checkPageArgs(args, ctx.config.maxPageSize);
  return ctx.config.maxPageSize;
}
