// The HTTP server: graphql-yoga (GraphiQL at /graphql) and graphql-ws on one node:http server,
// plus /health. buildApp() builds everything once and returns { start(port), stop() } (the
// graphql-yoga examples' shape); tests start it on port 0 or call yoga.fetch in-process.
// One file per part: yoga.ts (Yoga and its plugins), http.ts (the request handler),
// websocket.ts (the graphql-ws server).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Authenticator } from "../auth/principal";
import { mutationRateLimit } from "../auth/rate-limit";
import { SessionWatch } from "../auth/revocation";
import type { Config } from "../config";
import { loadConfig } from "../config";
import type { Database } from "../db/client";
import type { Logger } from "../logger";
import { defineTestModule } from "../modules/test";
import type { TaskManager, TaskManagerOptions } from "../runtime/manager";
import { createTaskManager } from "../runtime/manager";
import type { Store } from "../store";
import { httpHandler } from "./http";
import { graphqlMetrics, metricsHandler } from "./metrics";
import { attachGraphqlWs } from "./websocket";
import { createTaskgraphYoga, type Yoga } from "./yoga";

export { CLOSE_SUBSCRIBER_TOO_SLOW } from "./socket-delivery";

export interface App {
  config: Config;
  db: Database;
  store: Store;
  manager: TaskManager;
  yoga: Yoga;
  logger: Logger;
  /** Listens on `port` (0 = any free port) and the configured host; resolves with the URL of /graphql. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /**
   * Stops accepting requests and closes open connections; then stops the manager if buildApp made
   * it (a manager passed in keeps running, and a database passed in stays open). Idempotent.
   */
  stop(): Promise<void>;
}

export interface BuildOptions extends TaskManagerOptions {
  /**
   * A task manager to serve (an embedding program's): it stays its owner's, running after
   * app.stop(). Otherwise one is created from the options, and app.stop() stops it.
   */
  manager?: TaskManager;
}

/** The manager of a server that brings its own (`npm start`, tests): with the built-in modules. */
function serverManager(options: TaskManagerOptions): TaskManager {
  const manager = createTaskManager({ ...options, config: options.config ?? loadConfig() });
  defineTestModule(manager);
  return manager;
}

/** Serves a task manager: starts it (store, bus, worker) and builds the HTTP app around it. */
export async function buildApp(options: BuildOptions = {}): Promise<App> {
  const manager = options.manager ?? serverManager(options);
  const [graphql] = await Promise.all([graphqlMetrics(), manager.start()]);
  const { config, store, db } = manager;
  const logger = options.logger ?? manager.logger;
  const log = logger.child({ component: "server" });
  const authenticator = new Authenticator(store);
  const sessions = new SessionWatch(authenticator);
  const rateLimit = mutationRateLimit(config.mutationsPerMinute, config.redisUrl);
  const yoga = createTaskgraphYoga({ config, store, manager, authenticator, sessions, rateLimit, log, metricsPlugins: graphql.plugins });
  const metrics = metricsHandler({ config, authenticator, metrics: manager.metrics, graphql: graphql.registry, log });
  const server = createServer(httpHandler({ config, db, store, yoga, metrics }));
  const sockets = attachGraphqlWs(server, { config, yoga, authenticator, sessions, log, metrics: manager.metrics });
  let stopping: Promise<void> | undefined;

  return {
    config,
    db,
    store,
    manager,
    yoga,
    logger,
    start(port = config.port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, config.host, () => {
          const { port: actual } = server.address() as AddressInfo;
          const host = config.host.includes(":") ? `[${config.host}]` : config.host;
          resolve({ port: actual, url: `http://${host}:${actual}/graphql` });
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        sessions.stop();
        await sockets.dispose();
        if (server.listening) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          await closed;
        }
        // A manager handed to us is its owner's to stop (with the database it was given).
        if (!options.manager) await manager.stop();
        await rateLimit.close();
      })();
      return stopping;
    },
  };
}
