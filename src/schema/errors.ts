// What a client sees when something fails: our refusals and GraphQL's own errors with their code;
// UNAVAILABLE (HTTP 503, Retry-After) while the database cannot be reached; and for anything else
// "Unexpected error." — no stack traces, SQL or internals (those go to the server log). Refusals
// are the client's business: logged at debug level, one line each, never as server errors.
import { inspect } from "node:util";
import { PothosError, PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { isDatabaseUnavailable } from "../db/availability";
import { RETRY_AFTER_SECONDS, TaskgraphError, unavailable } from "../domain/errors";
import { type Logger, logClientMistake, noteOutage } from "../logger";

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

/** Yoga's maskedErrors.maskError and its logging, reporting to `log`. */
export function errorHandling(log: Logger) {
  return {
    maskError: (error: unknown, message: string) => maskError(error, message, log),
    logging: yogaLogger(log),
  };
}

function maskError(error: unknown, message: string, log: Logger): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  // Our refusals carry their code already (TaskgraphError.extensions).
  if (original instanceof TaskgraphError) return clientError(error, original.code);
  if (original instanceof PothosValidationError) return clientError(error, "BAD_USER_INPUT");
  if (isDatabaseUnavailable(original)) {
    if (typeof error === "object" && error !== null) outageErrors.add(error);
    noteOutage(log, original);
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

/** Yoga's logger on ours, minus client errors and outages at error level. */
function yogaLogger(log: Logger) {
  return {
    debug: (...args: unknown[]) => yogaLine(log, "debug", args),
    info: (...args: unknown[]) => yogaLine(log, "info", args),
    warn: (...args: unknown[]) => yogaLine(log, "warn", args),
    error: (...args: unknown[]) => {
      if (args.some((a) => typeof a === "object" && a !== null && outageErrors.has(a))) return;
      if (args.some((a) => typeof a === "object" && a !== null && clientErrors.has(a))) {
        logClientMistake(log, "refused", args.find((a) => a instanceof Error));
        return;
      }
      yogaLine(log, "error", args);
    },
  };
}

/** One line of Yoga's (console-style arguments) as one pino line; an Error goes in `err`. */
function yogaLine(log: Logger, level: "debug" | "info" | "warn" | "error", args: unknown[]): void {
  if (!log.isLevelEnabled(level)) return;
  const err = args.find((a) => a instanceof Error);
  const text = args
    .filter((a) => a !== err)
    .map((a) => (typeof a === "string" ? a : inspect(a)))
    .join(" ");
  if (err) log[level]({ err }, text || (err as Error).message);
  else log[level](text);
}
