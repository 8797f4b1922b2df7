// The documents of a task's three views (flow, logs, history) and of the step controls. One query
// loads the flow and the newest page of the history together; the live subscription then starts
// after the history's last cursor, so no event between the two is missed.
import { graphql, type ResultOf } from "../graphql";
import { TaskDetailFields } from "./queries";

export const StepFields = graphql(`
  fragment StepFields on Step {
    id
    index
    key
    name
    state
    error
    nextAttemptAt
    availableActions
    progress { id completed total fraction }
    attempts { id number kind state startedAt endedAt error }
  }
`);

export type StepView = ResultOf<typeof StepFields>;
export type StepAction = StepView["availableActions"][number];
export type AttemptView = StepView["attempts"][number];

export const FlowFields = graphql(
  `
    fragment FlowFields on Flow {
      id
      nodes { ...StepFields }
      edges { from { id } to { id } }
    }
  `,
  [StepFields],
);

export type FlowView = ResultOf<typeof FlowFields>;

export const EventFields = graphql(`
  fragment EventFields on TaskEvent {
    id
    cursor
    type
    at
    version
    payload
    actor { kind name }
  }
`);

export type TaskEventView = ResultOf<typeof EventFields>;

/**
 * The flow and the newest page of the history, in one request. `journal` comes first (fields are
 * resolved in order, and the connection takes its journalCursor before anything else is read):
 * the live feed starts there when the history is empty (its events were pruned, or not final yet).
 */
export const TaskViewsQuery = graphql(
  `
    query TaskViews($id: ID!, $last: Int!) {
      journal: tasks(first: 1) { journalCursor }
      task(id: $id) {
        id
        flow { ...FlowFields }
        events(last: $last) {
          edges { node { ...EventFields } }
          pageInfo { hasPreviousPage startCursor endCursor }
        }
      }
    }
  `,
  [FlowFields, EventFields],
);

/** The flow again (a batched refetch after steps changed state). */
export const FlowQuery = graphql(
  `
    query TaskFlow($id: ID!) {
      task(id: $id) { id flow { ...FlowFields } }
    }
  `,
  [FlowFields],
);

/** Older history: the page before `before`. */
export const OlderEventsQuery = graphql(
  `
    query TaskOlderEvents($id: ID!, $last: Int!, $before: String!) {
      task(id: $id) {
        id
        events(last: $last, before: $before) {
          edges { node { ...EventFields } }
          pageInfo { hasPreviousPage startCursor }
        }
      }
    }
  `,
  [EventFields],
);

/** Every event of the task after `after` (replayed first, then live). */
export const TaskEventsSubscription = graphql(
  `
    subscription TaskViewsLive($id: ID!, $after: String) {
      taskEvents(filter: { taskId: $id }, after: $after) { ...EventFields }
    }
  `,
  [EventFields],
);

export const LogLineFields = graphql(`
  fragment LogLineFields on LogEntry {
    id
    time
    level
    message
    stack
    step { id key }
    attempt { id number kind }
  }
`);

export type LogLine = ResultOf<typeof LogLineFields>;
export type LogLevel = LogLine["level"];

/** A page of log lines, the newest `last` before `before` (oldest first). */
export const LogsQuery = graphql(
  `
    query TaskLogs($id: ID!, $last: Int!, $before: String, $includeSteps: Boolean!, $filter: LogFilter) {
      task(id: $id) {
        id
        logs(last: $last, before: $before, includeSteps: $includeSteps, filter: $filter) {
          totalCount
          edges { node { ...LogLineFields } }
          pageInfo { hasPreviousPage startCursor }
        }
      }
    }
  `,
  [LogLineFields],
);

/** The stack of one line (live lines arrive without it). */
export const LogStackQuery = graphql(`
  query TaskLogStack($id: ID!) {
    node(id: $id) { id ... on LogEntry { stack } }
  }
`);

export const RerunStepMutation = graphql(
  `
    mutation ConsoleRerunStep($stepId: ID!) {
      rerunStep(stepId: $stepId) { ...TaskDetailFields flow { ...FlowFields } }
    }
  `,
  [TaskDetailFields, FlowFields],
);

export const MarkStepSucceededMutation = graphql(
  `
    mutation ConsoleMarkStepSucceeded($stepId: ID!) {
      markStepSucceeded(stepId: $stepId) { ...TaskDetailFields flow { ...FlowFields } }
    }
  `,
  [TaskDetailFields, FlowFields],
);

export const TerminateStepMutation = graphql(
  `
    mutation ConsoleTerminateStep($stepId: ID!) {
      terminateStep(stepId: $stepId) { ...TaskDetailFields flow { ...FlowFields } }
    }
  `,
  [TaskDetailFields, FlowFields],
);
