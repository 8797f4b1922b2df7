// `npm start`: serve the API (GraphiQL at /graphql) and the console (at /) on the configured store.
import { setFlagsFromString } from "node:v8";
import { ConfigError, loadConfig } from "./config";
import { MigrationError } from "./db/migrator";
import { createLogger } from "./logger";
import { startTracing } from "./otel";
import { defineTestModule } from "./modules/test";
import { writePidFile } from "./pid-file";
import { createTaskManager } from "./runtime/manager";
import { buildApp } from "./server";
import { startWorkerMetricsServer } from "./server/metrics";

// TASKGRAPH_ROLE: all (API + worker, the default), serve (API only), work (worker only).
// The "ready" lines are plain text on stdout for people and scripts (tests wait for them);
// everything else is the structured log (LOG_LEVEL; JSON, or readable on a terminal).
async function main() {
  const started = performance.now();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const where = config.store.kind === "pglite" ? `PGlite in ${config.store.dataDir}` : "PostgreSQL";
  // On PostgreSQL the only WebAssembly is Prisma's query compiler, and Prisma caches its plans per
  // query shape, so V8's optimizing wasm tier buys nothing but ~50 MB of RSS for compiling it (idle
  // server ~200 MB → ~145 MB). PGlite's Postgres is wasm too, and runs every query: it keeps the tier.
  // Set before the first query compiles the module.
  if (config.store.kind === "postgresql") setFlagsFromString("--liftoff-only");
  const stopTracing = await startTracing(logger);
  let stop: () => Promise<void>;
  let migrations: string[];
  let endpoint = "";
  if (config.processRole === "work") {
    const manager = createTaskManager({ config, logger });
    defineTestModule(manager);
    await manager.start();
    const metrics = await startWorkerMetricsServer(manager, logger.child({ component: "server" }));
    stop = async () => {
      metrics?.server.close();
      await manager.stop();
    };
    migrations = manager.db.appliedMigrations;
    endpoint = `worker ${manager.workerName} running, concurrency ${config.concurrency}${metrics ? `\nMetrics: ${metrics.url}` : ""}`;
  } else {
    const app = await buildApp({ config, logger, worker: config.processRole === "all" ? {} : false });
    const { url } = await app.start();
    stop = () => app.stop();
    migrations = app.db.appliedMigrations;
    endpoint = `GraphiQL: ${url}${config.processRole === "serve" ? " (API only: no worker in this process)" : ""}\nConsole: ${new URL("/", url)}`;
  }
  const removePidFile = writePidFile(config.store);
  const stopServing = stop;
  stop = async () => {
    await stopServing();
    await stopTracing();
    removePidFile();
  };
  const migrated = migrations.length ? `, applied ${migrations.length} migration(s)` : "";
  console.log(`taskgraph ready in ${((performance.now() - started) / 1000).toFixed(2)} s on ${where}${migrated}`);
  console.log(endpoint);

  const shutdown = (signal: string) => {
    logger.info(`${signal}: stopping…`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof MigrationError) {
    console.error(`taskgraph: ${error.message}`);
  } else {
    console.error("taskgraph: could not start:", error);
  }
  process.exit(1);
});
