import { graphql, type ResultOf, TaskRowFields } from "../graphql";

export const TaskDetailFields = graphql(
  `
    fragment TaskDetailFields on Task {
      ...TaskRowFields
      kind
      scope
      node
      createdBy
      labels
      input
      result
      error
      isAbortable
      sequenceNumber
      availableActions
      priority
      exclusiveKey
      blockedBy { id name }
      timeoutMs
      retryPolicy { attempts backoff backoffMs }
      automaticRetries
      nextAttemptAt
      parent { id name }
      childrenStatus {
        node
        state
        type
        isInternal
        task { id name progress { id units total completed fraction } }
      }
      steps { id index key name state error startedAt endedAt }
    }
  `,
  [TaskRowFields],
);

export type TaskDetail = ResultOf<typeof TaskDetailFields>;
export type TaskAction = TaskDetail["availableActions"][number];

export const TaskQuery = graphql(
  `
    query TaskPage($id: ID!) {
      task(id: $id) { ...TaskDetailFields }
    }
  `,
  [TaskDetailFields],
);

/** The task now, then after every change (ends when it is deleted). */
export const TaskLiveSubscription = graphql(
  `
    subscription TaskLive($id: ID!) {
      taskUpdated(id: $id) { ...TaskDetailFields }
    }
  `,
  [TaskDetailFields],
);

export const AbortTaskMutation = graphql(
  `
    mutation ConsoleAbortTask($id: ID!, $rollback: Boolean) {
      abortTask(id: $id, rollback: $rollback) { ...TaskDetailFields }
    }
  `,
  [TaskDetailFields],
);

export const RetryTaskMutation = graphql(
  `
    mutation ConsoleRetryTask($id: ID!) {
      retryTask(id: $id) { ...TaskDetailFields }
    }
  `,
  [TaskDetailFields],
);

export const DeleteTaskMutation = graphql(
  `
    mutation ConsoleDeleteTask($id: ID!, $force: Boolean) {
      deleteTask(id: $id, force: $force) {
        deleted
        deletedIds
        task { ...TaskDetailFields }
      }
    }
  `,
  [TaskDetailFields],
);

export const CreateTestTaskMutation = graphql(`
  mutation ConsoleCreateTestTask($input: CreateTestTaskInput!) {
    createTestTask(input: $input) { id }
  }
`);
