// taskCounts: a tab list's badges (tasks per category and per state) under the same filter as
// `tasks`, in one query.
import type { TaskCounts } from "../store";
import { builder } from "./builder";
import { TaskCategoryEnum } from "./enums";
import { StateCount } from "./module";
import { TaskFilterInput } from "./task";

const CategoryCountType = builder.objectRef<TaskCounts["byCategory"][number]>("CategoryCount").implement({
  description: "How many of the filtered tasks are in one category (a tab's badge).",
  fields: (t) => ({
    category: t.expose("category", { type: TaskCategoryEnum, description: "The category." }),
    count: t.exposeInt("count", { description: "Tasks in it (0 included)." }),
  }),
});

const TaskCountsType = builder.objectRef<TaskCounts>("TaskCounts").implement({
  description:
    "The tasks a filter selects, counted: `total` equals `tasks(filter).totalCount` for the same filter. Each count (the total, each state) is exact up to 1,000; above that it is PostgreSQL's estimate (at least 1,001) and `isExact` is false.",
  fields: (t) => ({
    total: t.exposeInt("total", { description: "Every task the filter selects (exact up to 1,000, else estimated)." }),
    isExact: t.exposeBoolean("exact", {
      description:
        "Whether every count here is exact. false: the total or some state's count is over 1,000 and estimated (a category adds its states' counts, so it is approximate if one of them is); show those as approximate.",
    }),
    byCategory: t.field({
      type: [CategoryCountType],
      description: "Every category (zeros included), in TaskCategory order: SCHEDULED, PENDING, FAILED, FINISHED. The sum of its states' counts.",
      resolve: (counts) => counts.byCategory,
    }),
    byState: t.field({
      type: [StateCount],
      description: "Every state (zeros included), in TaskState order.",
      resolve: (counts) => counts.byState,
    }),
  }),
});

builder.queryFields((t) => ({
  taskCounts: t.field({
    type: TaskCountsType,
    description:
      "How many tasks the filter selects, per category and per state: the badges of a tab list in one round trip. The filter means exactly what it means for `tasks` (give both the same search and time range; add `category` only to `tasks`).",
    args: { filter: t.arg({ type: TaskFilterInput, description: "Which tasks (as for `tasks`); omitted: every visible task." }) },
    resolve: (_root, { filter }, ctx) => ctx.store.taskCounts(filter ?? {}),
  }),
}));
