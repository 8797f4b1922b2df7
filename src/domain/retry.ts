// Automatic retries (a task type's, a step's or a started task's `retry`): how many attempts, the
// pause before each new one, and which errors call for one. Pure: no I/O.
//
// A plain task's failed attempt ends FAILED, then (same transaction) SCHEDULED for the next one;
// a flow's failed step stays FAILED with Step.nextAttemptAt while its run waits, then runs again
// as a RETRY attempt. Manual Retry / Rerun start the count afresh.
import { badInput } from "./errors";

export type Backoff = "fixed" | "exponential";

/** Which errors an automatic retry follows: every one (the default), or those marked retryable. */
export type RetryOn = "all" | "retryable";

export interface RetryPolicy {
  /** Attempts in all, the first included: 3 means up to two retries (1 to 100). */
  attempts: number;
  /** fixed: backoffMs before every retry; exponential (the default): backoffMs, then twice that, … */
  backoff?: Backoff;
  /** The pause before the first retry, in ms (0 to one day; default 1,000). */
  backoffMs?: number;
  /** No pause is longer than this, in ms (default 5 minutes, or backoffMs when larger). */
  maxBackoffMs?: number;
  /** "all" (default), or only errors marked retryable (RetryableError, or `retryable: true`). */
  retryOn?: RetryOn;
}

/** A policy with every field set, as stored (Task.retryPolicy) and shown (TaskType.retry). */
export type FullRetryPolicy = Required<RetryPolicy>;

export const RETRY_LIMITS = { attempts: 100, backoffMs: 86_400_000 } as const;
const DEFAULT_BACKOFF_MS = 1_000;
const DEFAULT_MAX_BACKOFF_MS = 300_000;

/** An error the task's code marks as worth another attempt (for policies with retryOn "retryable"). */
export class RetryableError extends Error {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RetryableError";
  }
}

/** Checks a policy (BAD_USER_INPUT naming the field) and fills in its defaults. */
export function normalizeRetryPolicy(policy: RetryPolicy, field = "retry"): FullRetryPolicy {
  const whole = (name: string, value: number, min: number, max: number) => {
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      throw badInput(`${field}.${name} must be a whole number from ${min} to ${max.toLocaleString("en-US")}`, { field: `${field}.${name}` });
    }
    return value;
  };
  const attempts = whole("attempts", policy.attempts, 1, RETRY_LIMITS.attempts);
  const backoffMs = whole("backoffMs", policy.backoffMs ?? DEFAULT_BACKOFF_MS, 0, RETRY_LIMITS.backoffMs);
  const maxBackoffMs = whole("maxBackoffMs", policy.maxBackoffMs ?? Math.max(DEFAULT_MAX_BACKOFF_MS, backoffMs), 0, RETRY_LIMITS.backoffMs);
  if (maxBackoffMs < backoffMs) throw badInput(`${field}.maxBackoffMs must not be less than backoffMs`, { field: `${field}.maxBackoffMs` });
  const backoff = policy.backoff ?? "exponential";
  if (backoff !== "fixed" && backoff !== "exponential") throw badInput(`${field}.backoff must be "fixed" or "exponential"`, { field: `${field}.backoff` });
  const retryOn = policy.retryOn ?? "all";
  if (retryOn !== "all" && retryOn !== "retryable") throw badInput(`${field}.retryOn must be "all" or "retryable"`, { field: `${field}.retryOn` });
  return { attempts, backoff, backoffMs, maxBackoffMs, retryOn };
}

/** The pause before retry number `retry` (1 for the first), in ms. */
export function backoffDelay(policy: FullRetryPolicy, retry: number): number {
  const delay = policy.backoff === "fixed" ? policy.backoffMs : policy.backoffMs * 2 ** Math.min(retry - 1, 40);
  return Math.min(delay, policy.maxBackoffMs);
}

/** Whether an error calls for a retry under the policy: `retryable: false` never does. */
export function isRetryable(policy: FullRetryPolicy, error: unknown): boolean {
  const marked = (error as { retryable?: unknown } | null)?.retryable;
  if (marked === false) return false;
  return policy.retryOn === "all" || marked === true;
}

/**
 * How long after a failure with `error` the next attempt starts, after `retriesSoFar` automatic
 * retries (ms); null when the policy allows no more (or none for this error).
 */
export function retryDelay(policy: FullRetryPolicy | null, retriesSoFar: number, error: unknown): number | null {
  if (!policy || retriesSoFar + 1 >= policy.attempts || !isRetryable(policy, error)) return null;
  return backoffDelay(policy, retriesSoFar + 1);
}

/** A retry's pause for people: "250 ms", "1.5 s", "2 min". */
export function pauseText(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}
