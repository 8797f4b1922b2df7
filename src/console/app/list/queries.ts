import { graphql, TaskRowFields } from "../graphql";

export const TaskListQuery = graphql(
  `
    query TaskList($filter: TaskFilter, $orderBy: TaskOrder, $first: Int, $after: String, $last: Int, $before: String) {
      tasks(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        edges { cursor node { ...TaskRowFields } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  `,
  [TaskRowFields],
);

export const ModulesQuery = graphql(`
  query ConsoleModules {
    modules { id name }
  }
`);

/**
 * The list's live feed: every change that can alter a row (not log lines or steps), with the row
 * as it is now. Narrowed to the selected module by the server.
 */
export const ListEventsSubscription = graphql(
  `
    subscription ListEvents($filter: TaskEventFilter) {
      taskEvents(filter: $filter) {
        cursor
        type
        taskId
        version
        payload
        task { ...TaskRowFields }
      }
    }
  `,
  [TaskRowFields],
);

export const LIST_EVENT_TYPES = ["CREATED", "STATE_CHANGED", "PROGRESSED", "DELETED"] as const;
