// The GraphQL server proper: graphql-yoga over the Pothos schema, with the plugins that guard it
// (the origin policy first, then authentication, GraphQL Armor's limits, CSRF, per-operation
// authorization, the mutation rate limit). Built once per app; HTTP (http.ts) and graphql-ws (websocket.ts) both use it.
// GraphiQL is served from the installed packages (graphiql.ts), never from a CDN.
import { EnvelopArmor } from "@escape.tech/graphql-armor";
import { useGraphQlJit } from "@envelop/graphql-jit";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { type DocumentNode, getOperationAST, Kind } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { Authenticator, Principal } from "../auth/principal";
import type { MutationRateLimit } from "../auth/rate-limit";
import type { SessionWatch } from "../auth/revocation";
import { principalOf, useAuthentication } from "../auth/transport";
import type { Config } from "../config";
import type { Logger } from "../logger";
import type { TaskManager } from "../runtime/manager";
import { schema, type Context } from "../schema";
import { errorHandling } from "../schema/errors";
import { useOperationAuthorization } from "../schema/operation-auth";
import type { Store } from "../store";
import { withActor } from "../store";
import { useCsrfPrevention } from "./csrf";
import { renderOfflineGraphiQL } from "./graphiql";
import { useOriginPolicy } from "./origin";
import { useSharedSubscriptionExecution } from "./shared-execution";
import { useOperationTracing } from "./operation-tracing";
import { useRequestLog } from "./request-log";

export type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

export interface YogaParts {
  config: Config;
  store: Store;
  manager: TaskManager;
  authenticator: Authenticator;
  sessions: SessionWatch;
  rateLimit: MutationRateLimit;
  log: Logger;
  /** The GraphQL server's metrics plugins (server/metrics.ts graphqlMetrics). */
  metricsPlugins: Plugin[];
}

export function createTaskgraphYoga({ config, store, manager, authenticator, sessions, rateLimit, log, metricsPlugins }: YogaParts): Yoga {
  const { maskError, logging } = errorHandling(log);
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    // graphql-ws connections bring their principal (authenticated in onConnect); HTTP requests
    // were authenticated by useAuthentication.
    context: ({ request, principal }) => ({
      principal: (principal as Principal | undefined) ?? principalOf(request),
      store,
      config,
      manager,
    }),
    maskedErrors: { maskError },
    graphiql: config.graphiql ? { title: "taskgraph", defaultQuery: EXAMPLE_QUERY, subscriptionsProtocol: "WS" } : false,
    renderGraphiQL: renderOfflineGraphiQL,
    plugins: [
      // Tree queries run compiled (graphql-jit, useTreeJit): a 10,000-node taskTree executes
      // several times faster. First, so that the plugins below wrap the compiled execution.
      useTreeJit(),
      // A request id for every request (x-request-id), and one log line per mutation (request-log.ts).
      useRequestLog(log),
      // Request counts and phase timings; live subscriptions and their delivery time (metrics.ts).
      ...metricsPlugins,
      // Browser pages of other origins are refused unless TASKGRAPH_CORS_ORIGINS lists them (origin.ts).
      useOriginPolicy(config),
      // Who is asking, before anything else runs (auth/transport.ts).
      useAuthentication(authenticator, sessions, log),
      // Limits against hostile queries (GraphQL Armor): depth, aliases, tokens, directives, cost.
      ...new EnvelopArmor({
        maxDepth: { n: config.maxQueryDepth, ignoreIntrospection: true },
        maxAliases: { n: 20 },
        maxTokens: { n: 5_000 },
        maxDirectives: { n: 50 },
        costLimit: { maxCost: 100_000 },
        blockFieldSuggestion: { enabled: !config.introspection },
      }).protect().plugins,
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      // CSRF: a POST a browser may send cross-site without a preflight (a form or text body) must
      // carry the x-graphql-yoga-csrf header (403 FORBIDDEN otherwise); GETs (queries and
      // subscriptions only) and JSON POSTs (GraphiQL, clients) need nothing (csrf.ts); other
      // sites' pages were refused by useOriginPolicy.
      useCsrfPrevention(),
      // Every root field is checked against the caller's role before any of them runs.
      useOperationAuthorization(),
      rateLimit.plugin,
      useActor(),
      // A span per query and mutation, continuing the caller's traceparent (operation-tracing.ts).
      useOperationTracing(),
      // A live event is executed once per distinct (operation, variables, role), not once per subscriber.
      useSharedSubscriptionExecution(),
    ],
    // Yoga's default CORS allows every origin with credentials; useOriginPolicy replaces it.
    cors: false,
    landingPage: false,
    healthCheckEndpoint: false as unknown as string, // /health is served by http.ts (it checks the store)
    logging,
  });
}

/** Root fields whose queries run compiled: they return wide lists of tasks. */
const COMPILED_ROOT_FIELDS = new Set(["taskTree", "__typename"]);

/** Whether the operation is a query of COMPILED_ROOT_FIELDS only. */
function isTreeQuery({ document, operationName }: { document: DocumentNode; operationName?: string | null }): boolean {
  const operation = getOperationAST(document, operationName);
  return (
    operation?.operation === "query" &&
    operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && COMPILED_ROOT_FIELDS.has(selection.name.value))
  );
}

/**
 * graphql-jit for queries of taskTree alone: one compiled function per document instead of
 * graphql-js interpreting every field of every node (most of a wide tree's time). Only those, and
 * only their answers without errors: graphql-jit differs from graphql-js elsewhere (its errors
 * have no nodes, so the answer loses their locations; a nullable list whose item fails loses the
 * item; DataLoader batches split). A compiled execution that reports an error is run again by
 * graphql-js, whose answer is sent: a query changes nothing, so running it twice is harmless.
 */
function useTreeJit(): Plugin<Context> {
  const jit = useGraphQlJit({}, { onError: () => {} }) as Plugin<Context>;
  return {
    onExecute(payload) {
      if (!isTreeQuery(payload.args)) return;
      const interpreted = payload.executeFn;
      let compiled = interpreted;
      void jit.onExecute!({ ...payload, setExecuteFn: (fn) => (compiled = fn) });
      payload.setExecuteFn(async (args) => {
        const result = await compiled(args);
        return "errors" in result && result.errors?.length ? interpreted(args) : result;
      });
    },
  };
}

/**
 * Every change an operation makes (over HTTP, SSE or graphql-ws) is recorded in the journal as its
 * caller's: kind USER, the principal's name (store/actor.ts).
 */
function useActor(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const { principal } = args.contextValue as Context;
      const actor = { kind: "USER" as const, name: principal.name };
      setExecuteFn((executeArgs) => withActor(actor, () => executeFn(executeArgs)));
    },
  };
}

const EXAMPLE_QUERY = `# taskgraph: background tasks for operations consoles.
# Run \`npm run seed\` for demo data, then press the run button.
query RecentTasks {
  modules { name totalTasks taskCounts { state count } }
  tasks(first: 10, filter: { rootsOnly: true }) {
    totalCount
    edges {
      node {
        id module type target state category
        progress { units completed total fraction }
        availableActions
        children(first: 5) { totalCount edges { node { id type state node } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;
