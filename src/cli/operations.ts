// Every GraphQL document the CLI sends, and the shapes it reads back. When the API changes, this
// file changes; commands use the names below.

export type TaskState = "SCHEDULED" | "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELED";
export const TASK_STATES: readonly TaskState[] = ["SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"];
export const ENDED_STATES: ReadonlySet<TaskState> = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);
export const CATEGORIES = ["SCHEDULED", "PENDING", "FAILED", "FINISHED"] as const;
export const ROLES = ["VIEWER", "TASK_MANAGER", "ADMIN"] as const;
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

export interface Progress {
  units: string | null;
  total: number | null;
  completed: number;
  fraction: number | null;
}

export interface TaskRow {
  id: string;
  module: { name: string };
  type: string;
  name: string;
  kind: string;
  scope: string;
  target: string | null;
  labels: Record<string, string>;
  state: TaskState;
  category: string;
  isAbortable: boolean;
  isInternal: boolean;
  sequenceNumber: number;
  createdAt: string;
  scheduledFor: string | null;
  startedAt: string | null;
  endedAt: string | null;
  createdBy: string | null;
  node: string | null;
  depth: number;
  root: { id: string };
  version: number;
  error: string | null;
  progress: Progress;
  availableActions: string[];
  priority: number;
  exclusiveKey: string | null;
  blockedBy: { id: string; name: string } | null;
  timeoutMs: number | null;
  errorCode: string | null;
  retryPolicy: { attempts: number; backoff: string; backoffMs: number } | null;
  automaticRetries: number;
  nextAttemptAt: string | null;
}

export interface StepRow {
  key: string;
  name: string;
  index: number;
  state: string;
  error: string | null;
  startedAt: string | null;
  endedAt: string | null;
  nextAttemptAt: string | null;
  availableActions: string[];
  attempts: { number: number; kind: string; state: string; error: string | null }[];
}

export interface TaskDetail extends TaskRow {
  input: unknown;
  result: unknown;
  parent: { id: string } | null;
  steps: StepRow[];
  childrenStatus: { task: { id: string }; type: string; node: string | null; state: TaskState; isInternal: boolean }[];
}

/** A task as a live view follows it: its steps and, for a tree, every descendant. */
export interface LiveTask extends TaskRow {
  steps: StepRow[];
  descendants: TaskRow[];
}

export interface TaskEvent {
  cursor: string;
  type: string;
  taskId: string;
  rootId: string;
  module: string;
  version: number;
  at: string;
  payload: Record<string, any>;
}

export interface LogEntry {
  id: string;
  level: string;
  message: string;
  time: string;
  step: { key: string } | null;
  attempt: { number: number; kind: string } | null;
  /** Only when asked for (logs --stack). */
  stack?: string | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

const TASK_ROW = `fragment TaskRow on Task {
  id module { name } type name kind scope target labels state category isAbortable isInternal sequenceNumber
  createdAt scheduledFor startedAt endedAt createdBy node depth root { id } version error availableActions
  progress { units total completed fraction } priority exclusiveKey blockedBy { id name } timeoutMs errorCode
  retryPolicy { attempts backoff backoffMs } automaticRetries nextAttemptAt
}`;

const STEP_ROW = `fragment StepRow on Step {
  key name index state error startedAt endedAt nextAttemptAt availableActions attempts { number kind state error }
}`;

export const MODULES = `query Modules {
  modules { name description lastSequenceNumber totalTasks taskCounts { state count } }
}`;

export interface TaskTypeRow {
  module: { name: string };
  name: string;
  description: string;
  kind: string;
  abortable: boolean | null;
  isFlow: boolean;
  served: boolean;
  inputSchema: unknown;
}

export const TASK_TYPES = `query TaskTypes($module: String) {
  taskTypes(module: $module) { module { name } name description kind abortable isFlow served inputSchema }
}`;

export const TASKS = `query Tasks($filter: TaskFilter, $orderBy: TaskOrder, $first: Int, $after: String) {
  tasks(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    edges { node { ...TaskRow } }
    pageInfo { hasNextPage endCursor }
  }
}
${TASK_ROW}`;

export const TASK = `query Task($id: ID!) {
  task(id: $id) {
    ...TaskRow
    input result parent { id }
    steps { ...StepRow }
    childrenStatus { task { id } type node state isInternal }
  }
}
${TASK_ROW}
${STEP_ROW}`;

export const TASK_TREE = `query TaskTree($id: ID!) {
  taskTree(id: $id) { ...TaskRow }
}
${TASK_ROW}`;

export const ABORT_TASK = `mutation AbortTask($id: ID!, $rollback: Boolean) {
  abortTask(id: $id, rollback: $rollback) { ...TaskRow }
}
${TASK_ROW}`;

export const DELETE_TASK = `mutation DeleteTask($id: ID!, $force: Boolean) {
  deleteTask(id: $id, force: $force) { deleted deletedIds task { ...TaskRow } }
}
${TASK_ROW}`;

export const RETRY_TASK = `mutation RetryTask($id: ID!) {
  retryTask(id: $id) { ...TaskRow }
}
${TASK_ROW}`;

export const START_TASK = `mutation StartTask($input: StartTaskInput!) {
  startTask(input: $input) { ...TaskRow }
}
${TASK_ROW}`;

export const SETTINGS = `query Settings { settings { taskTtlSeconds userTaskTtlSeconds } }`;

export const SET_TASK_TTL = `mutation SetTaskTtl($ttlSeconds: Int, $userTtlSeconds: Int) {
  setTaskTtl(ttlSeconds: $ttlSeconds, userTtlSeconds: $userTtlSeconds) { taskTtlSeconds userTaskTtlSeconds }
}`;

export const DRAIN_MODULE = `mutation DrainModule($module: String!) {
  drainModule(module: $module) { deletedCount deletedIds }
}`;

/** rerunStep / markStepSucceeded / terminateStep share their arguments and result. */
export const STEP_MUTATIONS = {
  rerun: "rerunStep",
  "mark-succeeded": "markStepSucceeded",
  terminate: "terminateStep",
} as const;

export const stepMutation = (field: (typeof STEP_MUTATIONS)[keyof typeof STEP_MUTATIONS]) => `mutation StepAction($taskId: ID!, $stepKey: String!) {
  result: ${field}(taskId: $taskId, stepKey: $stepKey) { ...TaskRow steps { ...StepRow } }
}
${TASK_ROW}
${STEP_ROW}`;

export const TASK_LOGS = `query TaskLogs($id: ID!, $first: Int, $after: String, $filter: LogFilter, $stack: Boolean!) {
  task(id: $id) {
    id state
    logs(first: $first, after: $after, filter: $filter) {
      edges { node { id level message time step { key } attempt { number kind } stack @include(if: $stack) } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const API_TOKENS = `query ApiTokens { apiTokens { name role createdAt createdBy lastUsedAt revokedAt } }`;

export const CREATE_API_TOKEN = `mutation CreateApiToken($name: String!, $role: Role!) {
  createApiToken(name: $name, role: $role) { secret token { name role createdAt } }
}`;

export const REVOKE_API_TOKEN = `mutation RevokeApiToken($name: String!) {
  revokeApiToken(name: $name) { name role revokedAt }
}`;

/** The task now, then after every change; null once it is deleted. */
export const TASK_UPDATED = `subscription TaskUpdated($id: ID!) {
  taskUpdated(id: $id) {
    ...TaskRow
    steps { ...StepRow }
    descendants { ...TaskRow }
  }
}
${TASK_ROW}
${STEP_ROW}`;

export const TASK_EVENTS = `subscription TaskEvents($filter: TaskEventFilter, $after: String) {
  taskEvents(filter: $filter, after: $after) { cursor type taskId rootId module version at payload }
}`;

// ── recurring schedules (schedules.ts) ──────────────────────────────────────────────────────────

export interface ScheduleRow {
  id: string;
  name: string;
  module: { name: string };
  type: string;
  input: unknown;
  cron: string | null;
  timeZone: string;
  everySeconds: number | null;
  catchUp: boolean;
  enabled: boolean;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastError: string | null;
  createdBy: string | null;
  upcomingRuns: string[];
  lastTask: { id: string; state: TaskState } | null;
}

const SCHEDULE_FIELDS = `id name module { name } type input cron timeZone everySeconds catchUp enabled nextRunAt lastRunAt lastError createdBy
  upcomingRuns(count: 3) lastTask { id state }`;

export const SCHEDULES = `query Schedules($filter: ScheduleFilter, $after: String) {
  schedules(first: 500, after: $after, filter: $filter) { edges { node { ${SCHEDULE_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;

export const SCHEDULE = `query Schedule($id: ID!) { schedule(id: $id) { ${SCHEDULE_FIELDS} } }`;

export const CREATE_SCHEDULE = `mutation CreateSchedule($input: CreateScheduleInput!) { createSchedule(input: $input) { ${SCHEDULE_FIELDS} } }`;

export const PAUSE_SCHEDULE = `mutation PauseSchedule($id: ID!) { pauseSchedule(id: $id) { ${SCHEDULE_FIELDS} } }`;

export const RESUME_SCHEDULE = `mutation ResumeSchedule($id: ID!) { resumeSchedule(id: $id) { ${SCHEDULE_FIELDS} } }`;

export const DELETE_SCHEDULE = `mutation DeleteSchedule($id: ID!) { deleteSchedule(id: $id) { deletedId } }`;
