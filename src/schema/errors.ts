// What a client sees when something fails: our refusals and GraphQL's own errors with their code;
// UNAVAILABLE (HTTP 503, Retry-After) while the database cannot be reached; and for anything else
// "Unexpected error." — no stack traces, SQL or internals (those go to the server log). Refusals
// are the client's business: logged at debug level, one line each, never as server errors.
import { PothosError, PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { isDatabaseUnavailable } from "../db/availability";
import { RETRY_AFTER_SECONDS, TaskgraphError, unavailable } from "../domain/errors";
import { logClientMistake, logDebug, noteOutage } from "../log";

/** Errors maskError judged to be the client's, or an outage's (Yoga logs every error it sees masked). */
const clientErrors = new WeakSet<object>();
const outageErrors = new WeakSet<object>();

function clientError(error: unknown, code: string): GraphQLError {
  if (typeof error === "object" && error !== null) clientErrors.add(error);
  const located = error instanceof GraphQLError ? error : undefined;
  const original = located?.originalError;
  const extensions = { ...(original instanceof GraphQLError ? original.extensions : {}), ...located?.extensions };
  return new GraphQLError(located?.message ?? String(error), {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { ...extensions, code: (extensions.code as string | undefined) ?? code },
  });
}

/** UNAVAILABLE as a GraphQL error; over HTTP it makes the response a 503 with Retry-After. */
export function unavailableError(path?: readonly (string | number)[]): GraphQLError {
  const error = unavailable();
  return new GraphQLError(error.message, {
    path,
    extensions: { ...error.extensions, http: { status: 503, headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } } },
  });
}

export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  // Our refusals carry their code already (TaskgraphError.extensions).
  if (original instanceof TaskgraphError) return clientError(error, original.code);
  if (original instanceof PothosValidationError) return clientError(error, "BAD_USER_INPUT");
  if (isDatabaseUnavailable(original)) {
    if (typeof error === "object" && error !== null) outageErrors.add(error);
    noteOutage(original);
    return unavailableError(error instanceof GraphQLError ? error.path : undefined);
  }
  // GraphQL's own errors (validation, variable coercion, bad scalars) — but not Pothos's internal ones.
  if (error instanceof GraphQLError && (!original || (original instanceof GraphQLError && !(original instanceof PothosError)))) {
    return clientError(error, "BAD_USER_INPUT");
  }
  return new GraphQLError(message, {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  });
}

/** Yoga's logger, minus client errors and outages at error level. */
export const yogaLogger = {
  debug: logDebug,
  info: (...args: unknown[]) => console.info(...args),
  warn: (...args: unknown[]) => console.warn(...args),
  error: (...args: unknown[]) => {
    if (args.some((a) => typeof a === "object" && a !== null && outageErrors.has(a))) return;
    if (args.some((a) => typeof a === "object" && a !== null && clientErrors.has(a))) {
      logClientMistake("refused", args.find((a) => a instanceof Error));
      return;
    }
    console.error("[taskgraph]", ...args);
  },
};
