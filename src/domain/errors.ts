// Error codes of the API (part of its contract). Every refusal carries one; the GraphQL layer turns a
// TaskgraphError into a GraphQLError with `extensions.code`, and masks everything else.

/** Every code the API sends in `extensions.code`, with what it means (the schema's ErrorCode enum). */
export const ERROR_CODE_MEANINGS = {
  NOT_FOUND: "The task, step, module or task type named does not exist (lookups by id return null instead).",
  NOT_ABORTABLE: "The task's type does not allow aborting it.",
  TASK_NOT_FINISHED: "The task is still pending: deleting it needs force.",
  INVALID_STATE: "The task or step is not in a state that allows this; availableActions says what is allowed now.",
  TIMEOUT: "waitForTask: the task had not ended when the time was up.",
  BAD_USER_INPUT: "An argument, variable or the query itself is invalid; the message says which and why. Nothing was changed.",
  UNAUTHENTICATED: "No valid token: send `Authorization: Bearer <secret>`.",
  FORBIDDEN: "The caller's role does not allow this (the message names the role needed), or a browser request lacked the CSRF header.",
  RATE_LIMITED: "Too many mutations from this caller: retry after the time the message gives.",
  CONFLICT: "The row changed between read and write, or the name is taken: the caller may try again.",
  CURSOR_EXPIRED: "A subscription's `after` is older than the journal keeps: refetch, then subscribe afresh.",
  UNAVAILABLE: "The database cannot be reached right now (HTTP 503 with Retry-After): retry later.",
  INTERNAL_SERVER_ERROR: "Something unexpected failed on the server; the details are in its log, not in the answer.",
  GRAPHQL_PARSE_FAILED: "The document is not valid GraphQL syntax (sent by the GraphQL server before anything runs).",
  GRAPHQL_VALIDATION_FAILED:
    "The document does not fit the schema or its limits (unknown field, wrong argument type, too deep, too many aliases, …); nothing ran.",
} as const;

export const ERROR_CODES = Object.keys(ERROR_CODE_MEANINGS) as (keyof typeof ERROR_CODE_MEANINGS)[];

export type ErrorCode = keyof typeof ERROR_CODE_MEANINGS;

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
