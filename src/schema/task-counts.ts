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
  description: "The tasks a filter selects, counted: `total` equals `tasks(filter).totalCount` for the same filter.",
  fields: (t) => ({
    total: t.exposeInt("total", { description: "Every task the filter selects." }),
    byCategory: t.field({
      type: [CategoryCountType],
      description: "Every category (zeros included), in TaskCategory order: SCHEDULED, PENDING, FAILED, FINISHED.",
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
