// What a client sees when something fails: our refusals and GraphQL's own errors with their code,
// and for anything else "Unexpected error." — no stack traces, SQL or internals (those go to the
// server log). Refusals are the client's business and are not logged as server errors.
import { PothosError, PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { TaskgraphError } from "../domain/errors";

/** Errors maskError judged to be the client's (Yoga logs every error it sees masked). */
const clientErrors = new WeakSet<object>();

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

export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  // Our refusals carry their code already (TaskgraphError.extensions).
  if (original instanceof TaskgraphError) return clientError(error, original.code);
  if (original instanceof PothosValidationError) return clientError(error, "BAD_USER_INPUT");
  // GraphQL's own errors (validation, variable coercion, bad scalars) — but not Pothos's internal ones.
  if (error instanceof GraphQLError && (!original || (original instanceof GraphQLError && !(original instanceof PothosError)))) {
    return clientError(error, "BAD_USER_INPUT");
  }
  return new GraphQLError(message, {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  });
}

/** Yoga's logger, minus client errors at error level. */
export const yogaLogger = {
  debug: (...args: unknown[]) => (process.env.DEBUG ? console.debug(...args) : undefined),
  info: (...args: unknown[]) => console.info(...args),
  warn: (...args: unknown[]) => console.warn(...args),
  error: (...args: unknown[]) => {
    if (args.some((a) => typeof a === "object" && a !== null && clientErrors.has(a))) return;
    console.error("[taskgraph]", ...args);
  },
};
