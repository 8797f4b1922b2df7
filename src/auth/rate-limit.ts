// Per-token rate limit of mutations, as an Envelop plugin on `execute`: every mutation
// root field costs one point from its token's budget of TASKGRAPH_MUTATIONS_PER_MINUTE (a fixed
// one-minute window). Over budget, nothing runs: the whole operation gets RATE_LIMITED (HTTP 429,
// Retry-After). Budgets are per process, or shared through Redis when REDIS_URL is set.
// Counting is rate-limiter-flexible's; @envelop/rate-limiter was not used because it limits each
// field separately (a token could spend the budget once per mutation) rather than per token.
import { createRequire } from "node:module";
import { getOperationAST, GraphQLError, Kind, type SelectionSetNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Principal } from "./principal";

export interface MutationRateLimit {
  plugin: Plugin<{ principal: Principal }>;
  close(): Promise<void>;
}

/** Root fields of a selection set (through fragments), each a point. */
function rootFieldCount(selectionSet: SelectionSetNode, fragments: Map<string, SelectionSetNode>, seen = new Set<string>()): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== "__typename") count++;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += rootFieldCount(selection.selectionSet, fragments, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      if (fragment) count += rootFieldCount(fragment, fragments, seen);
    }
  }
  return count;
}

export function mutationRateLimit(perMinute: number, redisUrl: string | null): MutationRateLimit {
  if (perMinute === 0) return { plugin: {}, close: async () => {} };
  // ioredis is loaded only with a Redis URL: it adds about 0.1 s to every start otherwise.
  const redis = redisUrl
    ? new (createRequire(import.meta.url)("ioredis") as typeof import("ioredis")).Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 })
    : null;
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ storeClient: redis, points: perMinute, duration: 60, keyPrefix: "taskgraph:mutations" })
    : new RateLimiterMemory({ points: perMinute, duration: 60 });

  const plugin: Plugin<{ principal: Principal }> = {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      const tokenId = args.contextValue.principal?.tokenId;
      // The protected-mode local ADMIN has no token and no budget: it is the machine's own operator.
      if (operation?.operation !== "mutation" || !tokenId) return;
      const fragments = new Map<string, SelectionSetNode>();
      for (const definition of args.document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
      }
      const points = rootFieldCount(operation.selectionSet, fragments);
      if (points === 0) return;
      try {
        await limiter.consume(tokenId, points);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection; // the store failed: not the client's doing
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`Too many mutations: this token may run ${perMinute} per minute; retry in ${retryAfter} s`, {
              extensions: {
                code: "RATE_LIMITED",
                retryAfterSeconds: retryAfter,
                http: { status: 429, headers: { "Retry-After": String(retryAfter) } },
              },
            }),
          ],
        });
      }
    },
  };
  return {
    plugin,
    close: async () => {
      if (redis) redis.disconnect();
    },
  };
}
