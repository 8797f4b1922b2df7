// The buttons a task's page shows: exactly what `availableActions` allows now, each with the words
// of its confirmation (what will happen, in the source systems' terms).
import type { TaskAction, TaskDetail } from "./queries";

export type ButtonKey = "abort" | "abort-rollback" | "retry" | "delete" | "force-delete";

export interface ActionButton {
  key: ButtonKey;
  label: string;
  title: string;
  /** What will happen, for the confirmation. */
  consequence: string;
  danger: boolean;
}

const pending = (state: string) => state === "SCHEDULED" || state === "QUEUED" || state === "RUNNING";

export function actionButtons(task: Pick<TaskDetail, "state" | "availableActions" | "steps" | "childrenStatus">): ActionButton[] {
  const allowed = new Set<TaskAction>(task.availableActions);
  const hasSteps = task.steps.length > 0;
  const children = task.childrenStatus.length;
  const subtree = children > 0 ? ` and its ${children} child ${children === 1 ? "task" : "tasks"}` : "";
  const buttons: ActionButton[] = [];
  if (allowed.has("ABORT") && pending(task.state)) {
    buttons.push({
      key: "abort",
      label: "Abort",
      title: "Abort the task?",
      consequence:
        `The task${subtree} will be canceled: work in progress stops at its next check, and what is done stays done ` +
        `(nothing is rolled back). It ends CANCELED.`,
      danger: true,
    });
    if (hasSteps) {
      buttons.push({
        key: "abort-rollback",
        label: "Abort with rollback",
        title: "Abort the task and roll it back?",
        consequence: `The task${subtree} will be canceled, then its completed steps are rolled back in reverse order. It ends CANCELED.`,
        danger: true,
      });
    }
  }
  if (allowed.has("ABORT") && task.state === "FAILED") {
    buttons.push({
      key: "abort-rollback",
      label: "Abort with rollback",
      title: "Abort the failed task?",
      consequence: "Every step from the failed one back to the first will be rolled back, then the task ends CANCELED. It cannot be retried after that.",
      danger: true,
    });
  }
  if (allowed.has("RETRY")) {
    buttons.push({
      key: "retry",
      label: "Retry",
      title: "Retry the task?",
      consequence: hasSteps
        ? "The failed steps will be rolled back and run again, and the flow continues from there. The task is RUNNING again."
        : "The task will run again. It is RUNNING again.",
      danger: false,
    });
  }
  if (allowed.has("DELETE")) {
    buttons.push({
      key: "delete",
      label: "Delete",
      title: "Delete the task?",
      consequence: `The task${subtree} will be removed for good, with steps and logs. This cannot be undone.`,
      danger: true,
    });
  }
  if (allowed.has("FORCE_DELETE")) {
    buttons.push({
      key: "force-delete",
      label: "Force delete",
      title: "Force-delete a pending task?",
      consequence:
        "The task is still pending. Its follow-up work will be canceled, but the piece running now is not stopped at once " +
        "and nothing is reverted. The task then becomes FAILED and stays listed; delete it again to remove it.",
      danger: true,
    });
  }
  return buttons;
}
