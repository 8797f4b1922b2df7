// /metrics: Prometheus text format of the process (prom-client's default metrics), the manager's
// task metrics (runtime/metrics.ts) and the GraphQL server's (@graphql-yoga/plugin-prometheus:
// requests and phase timings). Who may scrape:
// clients on this machine while no API token exists (protected mode), anyone with an API token of
// any role, or the dedicated TASKGRAPH_METRICS_TOKEN (a scraper needs no API token). Open
// subscriptions are counted by their streams (schema/task-event.ts), deliveries where graphql-ws
// sends them (socket-delivery.ts): nothing is added per subscription.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Plugin } from "graphql-yoga";
import { collectDefaultMetrics, Registry } from "prom-client";
import { connectionCredentials } from "../auth/transport";
import type { Config } from "../config";
import { isDatabaseUnavailable } from "../db/availability";
import { RETRY_AFTER_SECONDS, TaskgraphError } from "../domain/errors";
import { type Logger, noteOutage } from "../logger";
import type { TaskMetrics } from "../runtime/metrics";
import type { TaskManager } from "../runtime/manager";
import { Authenticator, bearerToken } from "../auth/principal";

let processRegistry: Registry | undefined;
/** The process's own metrics (CPU, memory, event loop lag, GC): registered once per process, whatever the number of servers in it. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The GraphQL server's metrics of one app: its own registry (an app is built per manager, possibly more than once in a test). */
export async function graphqlMetrics(): Promise<{ registry: Registry; plugins: Plugin[] }> {
  // Imported here, while the manager starts (buildApp): it costs ~150 ms of start-up otherwise.
  const { usePrometheus } = await import("@graphql-yoga/plugin-prometheus");
  const registry = new Registry();
  const plugins: Plugin[] = [
    usePrometheus({
      registry,
      endpoint: false, // served by metricsHandler, behind its access rule
      // Bounded labels only: the operation's type, never its name (clients choose names) or the URL.
      labels: { operationName: false, url: false, path: false, fieldName: false, typeName: false, returnType: false },
      // Queries and mutations only: hooks on the subscribe phase cost every open subscription
      // closures of its own (~3 KB each); subscriptions have taskgraph_subscriptions instead.
      metrics: {
        graphql_envelop_request: ["execute"],
        graphql_envelop_request_duration: ["execute"],
        graphql_envelop_error_result: ["parse", "validate", "context", "execute"],
        graphql_envelop_phase_subscribe: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_deprecated_field: false,
        graphql_envelop_schema_change: false,
      },
    }) as Plugin,
  ];
  return { registry, plugins };
}

export interface MetricsParts {
  config: Config;
  authenticator: Authenticator;
  metrics: TaskMetrics;
  /** The app's GraphQL metrics (graphqlMetrics). */
  graphql: Registry;
  log: Logger;
}

/** GET /metrics: 200 with the metrics, 401 without a right to them, 404 when TASKGRAPH_METRICS=false. */
export function metricsHandler({ config, authenticator, metrics, graphql, log }: MetricsParts): (req: IncomingMessage, res: ServerResponse) => void {
  const json = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
  let registry: Registry | undefined; // the three registries as one, merged at the first scrape
  return (req, res) => {
    if (!config.metrics) return json(res, 404, "NOT_FOUND", "Metrics are turned off on this server (TASKGRAPH_METRICS=false)");
    void (async () => {
      try {
        if (!hasMetricsToken(config, req)) await authenticator.authenticate(connectionCredentials(req, undefined));
      } catch (error) {
        if (error instanceof TaskgraphError) {
          return json(res, 401, error.code, `${error.message} (or TASKGRAPH_METRICS_TOKEN, for /metrics only)`, { "www-authenticate": 'Bearer realm="taskgraph"' });
        }
        if (isDatabaseUnavailable(error)) {
          noteOutage(log, error);
          return json(res, 503, "UNAVAILABLE", "The store is unavailable: API tokens cannot be checked (TASKGRAPH_METRICS_TOKEN can)", {
            "retry-after": String(RETRY_AFTER_SECONDS),
          });
        }
        log.error({ err: error }, "metrics: authentication failed");
        return json(res, 500, "INTERNAL_SERVER_ERROR", "Unexpected error.");
      }
      registry ??= Registry.merge([processMetrics(), metrics.registry, graphql]);
      try {
        const text = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType }).end(text);
      } catch (error) {
        log.error({ err: error }, "metrics: collecting failed");
        json(res, 500, "INTERNAL_SERVER_ERROR", "Unexpected error.");
      }
    })();
  };
}

/**
 * A worker-only process (TASKGRAPH_ROLE=work) has no API, but its runs are counted there: with
 * TASKGRAPH_METRICS_PORT it serves /metrics alone on that port (several workers on one host each
 * take their own). Resolves with the server once it listens; null when there is none to serve.
 */
export async function startWorkerMetricsServer(manager: TaskManager, log: Logger): Promise<{ server: Server; url: string } | null> {
  const { config } = manager;
  const port = config.metricsPort;
  if (!config.metrics || port === null) return null;
  const handler = metricsHandler({ config, authenticator: new Authenticator(manager.store), metrics: manager.metrics, graphql: new Registry(), log });
  const server = createServer((req, res) => {
    if ((req.url ?? "").split("?")[0] === "/metrics") return handler(req, res);
    res.writeHead(404, { "content-type": "text/plain" }).end("A worker process serves /metrics only\n");
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, config.host, resolve));
  const listening = (server.address() as { port: number }).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return { server, url: `http://${host}:${listening}/metrics` };
}

/** The request carries TASKGRAPH_METRICS_TOKEN as its bearer token (compared in constant time). */
function hasMetricsToken(config: Config, req: IncomingMessage): boolean {
  if (!config.metricsToken) return false;
  const given = Buffer.from(bearerToken(req.headers.authorization ?? "") ?? "");
  const expected = Buffer.from(config.metricsToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
