// A step's menu: exactly what its `availableActions` allows now (OCP's Rerun, Set to successful,
// Terminate), each with the words of its confirmation — what will happen.
import type { StepAction, StepView } from "./views-queries";

export interface StepActionItem {
  action: StepAction;
  label: string;
  title: string;
  consequence: string;
  danger: boolean;
}

const ORDER: StepAction[] = ["RERUN", "MARK_SUCCEEDED", "TERMINATE"];

export function stepActionItems(step: Pick<StepView, "key" | "availableActions">): StepActionItem[] {
  const allowed = new Set(step.availableActions);
  return ORDER.filter((action) => allowed.has(action)).map((action) => {
    switch (action) {
      case "RERUN":
        return {
          action,
          label: "Rerun",
          title: `Rerun step ${step.key}?`,
          consequence:
            `Step ${step.key} will be rolled back (a rollback attempt), then run again (a retry attempt); ` +
            "when it succeeds, the flow continues with the steps after it. The task is RUNNING again.",
          danger: false,
        };
      case "MARK_SUCCEEDED":
        return {
          action,
          label: "Set to successful",
          title: `Set step ${step.key} to successful?`,
          consequence:
            `Step ${step.key} will not run again: it becomes SKIPPED (what it did so far is not rolled back), ` +
            "and the flow continues with the steps after it. The task is RUNNING again.",
          danger: true,
        };
      case "TERMINATE":
        return {
          action,
          label: "Terminate",
          title: `Terminate step ${step.key}?`,
          consequence:
            `The running step ${step.key} will be stopped and marked FAILED ("terminated"), and so will the task. ` +
            "Nothing is rolled back; you can rerun the step or set it to successful afterwards.",
          danger: true,
        };
    }
  });
}
