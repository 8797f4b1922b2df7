// A span for each GraphQL query and mutation (OpenTelemetry API), a child of the trace the request
// names in its `traceparent` header, if any. What the operation does runs inside it, so a task it
// starts records this trace (runtime/tracing.ts) and the task's runs continue it. Hand-written
// rather than @envelop/opentelemetry: that plugin pins the 1.x tracing SDK and adds a span per
// resolver. Subscriptions get none (they last as long as a page is open).
import { context, propagation, ROOT_CONTEXT, type TextMapGetter } from "@opentelemetry/api";
import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../schema";
import { inSpan, markActiveSpanFailed } from "../runtime/tracing";

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

export function useOperationTracing(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      const type = operation?.operation ?? "query";
      const name = operation?.name?.value;
      const request = (args.contextValue as { request?: Request }).request;
      const parent = request?.headers ? propagation.extract(ROOT_CONTEXT, request.headers, headerGetter) : context.active();
      const attributes = { "graphql.operation.type": type, ...(name ? { "graphql.operation.name": name } : {}) };
      setExecuteFn((executeArgs) =>
        inSpan(
          name ? `${type} ${name}` : type,
          attributes,
          async () => {
            const result = await executeFn(executeArgs);
            const errors = (result as { errors?: readonly { message: string }[] }).errors;
            if (errors?.length) markActiveSpanFailed(errors[0]!.message);
            return result;
          },
          parent,
        ),
      );
    },
  };
}
