// Automatic-retry policies in the API: what a task type (TaskType.retry) or a started task
// (Task.retryPolicy) retries with, and the input startTask and createTestTask take.
import type { FullRetryPolicy, RetryPolicy } from "../domain/retry";
import { builder } from "./builder";

const BackoffEnum = builder.enumType("Backoff", {
  description: "How the pause between automatic retries grows.",
  values: {
    FIXED: { description: "The same pause (backoffMs) before every retry." },
    EXPONENTIAL: { description: "backoffMs before the first retry, then twice the previous pause, up to maxBackoffMs." },
  } as const,
});

const RetryOnEnum = builder.enumType("RetryOn", {
  description: "Which failures an automatic retry follows.",
  values: {
    ALL: { description: "Every failure (a timeout included), except errors the task's code marks `retryable: false`." },
    RETRYABLE: { description: "Only errors the task's code marks retryable (RetryableError, or `retryable: true`)." },
  } as const,
});

export const RetryPolicyRef = builder.objectRef<FullRetryPolicy>("RetryPolicy").implement({
  description:
    "Automatic retries: a failed run (plain task) or step (flow) is tried again after a pause, up to `attempts` attempts in all. Each retry is a new attempt with its own logs, recorded as the system's; manual Retry and Rerun start the count again.",
  fields: (t) => ({
    attempts: t.exposeInt("attempts", { description: "Attempts in all, the first included (3: up to two retries)." }),
    backoff: t.field({ type: BackoffEnum, description: "How the pause grows.", resolve: (p) => (p.backoff === "fixed" ? "FIXED" : "EXPONENTIAL") }),
    backoffMs: t.exposeInt("backoffMs", { description: "The pause before the first retry, in ms." }),
    maxBackoffMs: t.exposeInt("maxBackoffMs", { description: "No pause is longer than this, in ms." }),
    retryOn: t.field({ type: RetryOnEnum, description: "Which failures are retried.", resolve: (p) => (p.retryOn === "retryable" ? "RETRYABLE" : "ALL") }),
  }),
});

export const RetryPolicyInput = builder.inputType("RetryPolicyInput", {
  description: "An automatic-retry policy for one task, instead of its type's.",
  fields: (t) => ({
    attempts: t.int({ required: true, description: "Attempts in all, the first included: 1 (no retry) to 100." }),
    backoff: t.field({ type: BackoffEnum, description: "How the pause grows; default EXPONENTIAL." }),
    backoffMs: t.int({ description: "The pause before the first retry, in ms: 0 to 86,400,000 (one day); default 1,000." }),
    maxBackoffMs: t.int({ description: "The longest pause, in ms: backoffMs to 86,400,000; default 300,000 (5 minutes)." }),
    retryOn: t.field({ type: RetryOnEnum, description: "Which failures are retried; default ALL." }),
  }),
});

/** A RetryPolicyInput as the store takes it (checked there). */
export function retryPolicyOf(input: {
  attempts: number;
  backoff?: "FIXED" | "EXPONENTIAL" | null;
  backoffMs?: number | null;
  maxBackoffMs?: number | null;
  retryOn?: "ALL" | "RETRYABLE" | null;
}): RetryPolicy {
  return {
    attempts: input.attempts,
    ...(input.backoff ? { backoff: input.backoff === "FIXED" ? "fixed" : "exponential" } : {}),
    ...(input.backoffMs != null ? { backoffMs: input.backoffMs } : {}),
    ...(input.maxBackoffMs != null ? { maxBackoffMs: input.maxBackoffMs } : {}),
    ...(input.retryOn ? { retryOn: input.retryOn === "RETRYABLE" ? "retryable" : "all" } : {}),
  };
}
