import { graphql, type ResultOf, TaskRowFields } from "../graphql";

/** A row of the list: what every page shows of a task, and the actions it accepts now (bulk). */
export const ListRowFields = graphql(
  `
    fragment ListRowFields on Task {
      ...TaskRowFields
      kind
      availableActions
    }
  `,
  [TaskRowFields],
);

export type ListRow = ResultOf<typeof ListRowFields>;
export type TaskAction = ListRow["availableActions"][number];

export const TaskListQuery = graphql(
  `
    query TaskList($filter: TaskFilter, $orderBy: TaskOrder, $first: Int, $after: String, $last: Int, $before: String) {
      tasks(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        totalCountIsExact
        journalCursor
        edges { cursor node { ...ListRowFields } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  `,
  [ListRowFields],
);

/** The badges: every tab's count under the view's filter without its tab (one query). */
export const TaskCountsQuery = graphql(`
  query TaskTabCounts($filter: TaskFilter) {
    taskCounts(filter: $filter) {
      total
      isExact
      byCategory { category count }
      byState { state count }
    }
  }
`);

export type TaskCounts = ResultOf<typeof TaskCountsQuery>["taskCounts"];

export const ModulesQuery = graphql(`
  query ConsoleModules {
    modules { id name }
  }
`);

/**
 * The list's live feed: the events of the tasks in the view, judged by the server on the view's
 * exact filter (`filter.task`), with the row as it is now, and `leavesFilter` on the last event of
 * a task that no longer belongs. `after` resumes exactly after the last event handled.
 */
export const ListEventsSubscription = graphql(
  `
    subscription ListEvents($filter: TaskEventFilter, $after: String) {
      taskEvents(filter: $filter, after: $after) {
        cursor
        type
        taskId
        version
        payload
        leavesFilter
        task { ...ListRowFields }
      }
    }
  `,
  [ListRowFields],
);

/** Only that the counts changed: the events that move a task between tabs, with nothing else. */
export const CountEventsSubscription = graphql(`
  subscription CountEvents($filter: TaskEventFilter, $after: String) {
    taskEvents(filter: $filter, after: $after) { cursor }
  }
`);

export const LIST_EVENT_TYPES = ["CREATED", "STATE_CHANGED", "PROGRESSED", "DELETED"] as const;
export const COUNT_EVENT_TYPES = ["CREATED", "STATE_CHANGED", "DELETED"] as const;

/** A page of the ids a bulk action "on every task matching" acts on. */
export const BulkTasksQuery = graphql(`
  query BulkTasks($filter: TaskFilter, $after: String) {
    tasks(filter: $filter, first: 100, after: $after) {
      edges { node { id state availableActions } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const RetryTaskMutation = graphql(`
  mutation BulkRetryTask($id: ID!) {
    retryTask(id: $id) { id state version }
  }
`);

export const AbortTaskMutation = graphql(`
  mutation BulkAbortTask($id: ID!, $rollback: Boolean) {
    abortTask(id: $id, rollback: $rollback) { id state version }
  }
`);

export const DeleteTaskMutation = graphql(`
  mutation BulkDeleteTask($id: ID!, $force: Boolean) {
    deleteTask(id: $id, force: $force) { deleted deletedIds task { id state version } }
  }
`);
