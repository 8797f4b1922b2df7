// Per-request batch loaders (DataLoader) for edges that are not Prisma relations: a list of 50 tasks
// asking for `root`, `worker` or `module { taskCounts }` costs one query per edge, not one per row.
// They batch but never cache: a subscription keeps one context for all its events, and each event
// must read the task as it is then, not as the first event found it.
import DataLoader from "dataloader";
import type { Module, Task, TaskType, Worker } from "../generated/prisma/client";
import type { TaskState } from "../domain/states";
import type { Context } from "./builder";

const loaders = new WeakMap<Context, Map<string, DataLoader<string, unknown>>>();

/** The request's loader named `name`, made on first use. */
function perRequest<V>(ctx: Context, name: string, batch: (keys: readonly string[]) => Promise<V[]>): DataLoader<string, V> {
  let mine = loaders.get(ctx);
  if (!mine) loaders.set(ctx, (mine = new Map()));
  let loader = mine.get(name) as DataLoader<string, V> | undefined;
  if (!loader) {
    loader = new DataLoader(batch, { cache: false });
    mine.set(name, loader as DataLoader<string, unknown>);
  }
  return loader;
}

/** Values in the order of `keys`, null where none was found. */
function byKey<T>(keys: readonly string[], rows: T[], keyOf: (row: T) => string): (T | null)[] {
  const found = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => found.get(key) ?? null);
}

/** Whole task rows by id (null: deleted). */
export const taskById = (ctx: Context) =>
  perRequest<Task | null>(ctx, "taskById", async (ids) => byKey(ids, await ctx.store.tasksByIds(ids), (t) => t.id));

/** The concurrency limit of each scope ("type:<module>/<type>", "module:<module>"; null: none). */
export const concurrencyLimit = (ctx: Context) =>
  perRequest<number | null>(ctx, "concurrencyLimit", async (scopes) => {
    const limits = await ctx.store.concurrencyLimits(scopes);
    return scopes.map((scope) => limits.get(scope) ?? null);
  });

/** The id of the task holding each exclusive key (null: free). */
export const keyHolder = (ctx: Context) =>
  perRequest<string | null>(ctx, "keyHolder", async (keys) => {
    const holders = await ctx.store.keyHolders(keys);
    return keys.map((key) => holders.get(key) ?? null);
  });

/** Module rows by name (a task's module always exists: tasks reference it). */
export const moduleByName = (ctx: Context) =>
  perRequest<Module | null>(ctx, "moduleByName", async (names) => byKey(names, await ctx.store.modulesByNames(names), (m) => m.name));

/** Worker rows by name (null: the worker has stopped and removed its row). */
export const workerByName = (ctx: Context) =>
  perRequest<Worker | null>(ctx, "workerByName", async (names) => byKey(names, await ctx.store.workersByNames(names), (w) => w.name));

/** Visible tasks per state, by module name. */
export const moduleTaskCounts = (ctx: Context) =>
  perRequest<Partial<Record<TaskState, number>>>(ctx, "moduleTaskCounts", async (names) => {
    const counts = await ctx.store.taskCountsByModule(names);
    return names.map((name) => counts.get(name) ?? {});
  });

/** Does a task have a pending descendant? (one recursive query per batch) */
export const hasPendingBelow = (ctx: Context) =>
  perRequest<boolean>(ctx, "hasPendingBelow", async (ids) => {
    const pending = await ctx.store.withPendingDescendants(ids);
    return ids.map((id) => pending.has(id));
  });

/** Catalogue entries by key "module/type" (null: none stored). */
export const taskTypeByKey = (ctx: Context) =>
  perRequest<TaskType | null>(ctx, "taskTypeByKey", async (keys) => {
    const found = await ctx.store.taskTypesByKey(keys);
    return keys.map((key) => found.get(key) ?? null);
  });

/** Whether a live worker serves each task type (by key). */
export const taskTypeServed = (ctx: Context) =>
  perRequest<boolean>(ctx, "taskTypeServed", async (keys) => {
    const served = await ctx.store.servedTaskTypes(keys);
    return keys.map((key) => served.has(key));
  });
