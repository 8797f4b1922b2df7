// GraphQL enums, from the domain's lists so the two cannot drift.
import { STEP_ACTIONS, TASK_ACTIONS } from "../domain/actions";
import { STEP_STATES, TASK_CATEGORIES, TASK_STATES } from "../domain/states";
import { ORDER_FIELDS } from "../store/pagination";
import { builder } from "./builder";

export const TaskStateEnum = builder.enumType("TaskState", {
  values: TASK_STATES,
  description: "SCHEDULED → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELED.",
});
export const TaskCategoryEnum = builder.enumType("TaskCategory", {
  values: TASK_CATEGORIES,
  description: "PENDING = SCHEDULED|QUEUED|RUNNING, FAILED = FAILED|CANCELED, FINISHED = SUCCEEDED.",
});
export const TaskKindEnum = builder.enumType("TaskKind", {
  values: ["NODE", "CLUSTER"] as const,
  description: "NODE: runs on one node. CLUSTER: spans the cluster; always a root, never internal.",
});
export const StepStateEnum = builder.enumType("StepState", { values: STEP_STATES });
export const AttemptKindEnum = builder.enumType("AttemptKind", { values: ["EXECUTE", "RETRY", "ROLLBACK"] as const });
export const AttemptStateEnum = builder.enumType("AttemptState", { values: ["RUNNING", "SUCCEEDED", "FAILED"] as const });
export const LogLevelEnum = builder.enumType("LogLevel", { values: ["DEBUG", "INFO", "WARN", "ERROR"] as const });
export const TaskActionEnum = builder.enumType("TaskAction", {
  values: {
    ABORT: { description: "abortTask is accepted (rollback on a FAILED task)." },
    DELETE: { description: "deleteTask is accepted (the task has ended)." },
    FORCE_DELETE: { description: "deleteTask(force: true) is accepted (pending and abortable)." },
    RETRY: { description: "retryTask is accepted." },
  } satisfies Record<(typeof TASK_ACTIONS)[number], unknown>,
});
export const StepActionEnum = builder.enumType("StepAction", {
  values: {
    RERUN: { description: "rerunStep is accepted." },
    MARK_SUCCEEDED: { description: "markStepSucceeded is accepted." },
    TERMINATE: { description: "terminateStep is accepted." },
  } satisfies Record<(typeof STEP_ACTIONS)[number], unknown>,
});
export const TaskOrderFieldEnum = builder.enumType("TaskOrderField", { values: ORDER_FIELDS });
export const OrderDirectionEnum = builder.enumType("OrderDirection", { values: ["ASC", "DESC"] as const });
