// Request ids and the mutation log. Every HTTP request gets an id: the caller's `x-request-id` when
// it sends a sane one (a proxy's), else a new one; it is sent back in `x-request-id` and carried by
// the log lines of the request. Every mutation (over HTTP or graphql-ws) is one info line per root
// field: who (the token's name and role), which mutation, the ids it names, and its outcome
// (ok, or the error code) — the audit trail an operator greps for beside the journal.
import { randomUUID } from "node:crypto";
import { getOperationAST, Kind, valueFromASTUntyped } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../logger";
import type { Context } from "../schema";

const SANE_REQUEST_ID = /^[\w.:-]{1,64}$/;
/** Arguments that name what a mutation acts on (their values are ids, safe to log). */
const ID_ARGUMENTS = ["id", "ids", "taskId", "stepId", "module"];

const requestIds = new WeakMap<Request, string>();

export function useRequestLog(log: Logger): Plugin<Context> {
  return {
    onRequest({ request }) {
      const given = request.headers.get("x-request-id");
      requestIds.set(request, given && SANE_REQUEST_ID.test(given) ? given : randomUUID());
    },
    onResponse({ request, response }) {
      const id = requestIds.get(request);
      if (id) response.headers.set("x-request-id", id);
    },
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== "mutation") return;
      const ctx = args.contextValue as Context & { request?: Request };
      const requestId = ctx.request ? requestIds.get(ctx.request) : undefined;
      const variables = args.variableValues ?? {};
      return {
        onExecuteDone({ result }) {
          const errors = "errors" in result ? (result.errors ?? []) : [];
          for (const selection of operation.selectionSet.selections) {
            if (selection.kind !== Kind.FIELD) continue;
            const key = selection.alias?.value ?? selection.name.value;
            const ids: Record<string, unknown> = {};
            for (const argument of selection.arguments ?? []) {
              if (ID_ARGUMENTS.includes(argument.name.value)) ids[argument.name.value] = valueFromASTUntyped(argument.value, variables);
            }
            const error = errors.find((e) => e.path?.[0] === key);
            const outcome = error ? String(error.extensions?.code ?? "ERROR") : "ok";
            // What it made or acted on, when it answers with an object that has an id (startTask: the new task).
            const answer = ("data" in result ? result.data?.[key] : undefined) as { id?: unknown } | null | undefined;
            const resultId = typeof answer?.id === "string" ? answer.id : undefined;
            log.info({ requestId, actor: ctx.principal.name, role: ctx.principal.role, mutation: selection.name.value, ...ids, resultId, outcome }, "mutation");
          }
        },
      };
    },
  };
}
