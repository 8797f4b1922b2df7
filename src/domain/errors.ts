// Error codes of the API (part of its contract). Every refusal carries one; the GraphQL layer turns a
// TaskgraphError into a GraphQLError with `extensions.code`, and masks everything else.

export const ERROR_CODES = [
  "NOT_FOUND",
  "NOT_ABORTABLE",
  "TASK_NOT_FINISHED",
  "INVALID_STATE",
  "TIMEOUT",
  "BAD_USER_INPUT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "RATE_LIMITED",
  /** The row changed between read and write; the caller may try again. */
  "CONFLICT",
  /** A subscription's `after` is older than the journal keeps: refetch, then subscribe afresh. */
  "CURSOR_EXPIRED",
  /** The database cannot be reached right now (HTTP 503 with Retry-After): retry later. */
  "UNAVAILABLE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class TaskgraphError extends Error {
  override name = "TaskgraphError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** GraphQL copies an original error's `extensions` onto the error it reports. */
  get extensions(): Record<string, unknown> {
    return { code: this.code, ...this.details };
  }
}

/** Seconds a client is asked to wait before retrying when the service is UNAVAILABLE. */
export const RETRY_AFTER_SECONDS = 5;

export const unavailable = () =>
  new TaskgraphError("UNAVAILABLE", `The service is unavailable: its database cannot be reached. Retry in ${RETRY_AFTER_SECONDS} s.`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });

export const notFound = (what: string, id: string) => new TaskgraphError("NOT_FOUND", `${what} ${id} does not exist`, { id });
export const badInput = (message: string, details: Record<string, unknown> = {}) =>
  new TaskgraphError("BAD_USER_INPUT", message, details);

/** Text a client sends: bounded, and without NUL (which PostgreSQL cannot store in text). */
export function checkText(name: string, value: string, max: number, details?: Record<string, unknown>): void {
  if (value.length > max) throw badInput(`${name} is longer than ${max} characters`, details && { ...details, max });
  if (value.includes("\u0000")) throw badInput(`${name} contains a NUL character`, details);
}

/** Turns anything thrown into an Error (graphile-worker's coerceError). */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  try {
    return new Error(`Non-Error thrown: ${JSON.stringify(thrown)}`);
  } catch {
    return new Error(`Non-Error thrown: ${String(thrown)}`);
  }
}
