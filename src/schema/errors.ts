// What a client sees when something fails: our refusals with their code, GraphQL's own errors as
// they are, and nothing else — no stack traces, SQL or internals (those go to the server log).
import { PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { TaskgraphError } from "../domain/errors";

export function maskError(error: unknown, message: string): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof TaskgraphError) {
    return new GraphQLError(original.message, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code, ...original.details },
    });
  }
  if (original instanceof PothosValidationError) {
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  if (original instanceof GraphQLError) return original;
  if (error instanceof GraphQLError && !original) return error;
  console.error("[taskgraph] internal error:", original ?? error);
  return new GraphQLError(message, {
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  });
}
