// `npm start`: serve the API (GraphiQL at /graphql) on the configured store.
import { ConfigError, loadConfig } from "./config";
import { MigrationError } from "./db/migrator";
import { defineTestModule } from "./modules/test";
import { writePidFile } from "./pid-file";
import { createTaskManager } from "./runtime/manager";
import { buildApp } from "./server";

// TASKGRAPH_ROLE: all (API + worker, the default), serve (API only), work (worker only).
async function main() {
  const started = performance.now();
  const config = loadConfig();
  const where = config.store.kind === "pglite" ? `PGlite in ${config.store.dataDir}` : "PostgreSQL";
  let stop: () => Promise<void>;
  let migrations: string[];
  let endpoint = "";
  if (config.processRole === "work") {
    const manager = createTaskManager({ config });
    defineTestModule(manager);
    await manager.start();
    stop = () => manager.stop();
    migrations = manager.db.appliedMigrations;
    endpoint = `worker ${manager.workerName} running, concurrency ${config.concurrency}`;
  } else {
    const app = await buildApp({ config, worker: config.processRole === "all" ? {} : false });
    const { url } = await app.start();
    stop = () => app.stop();
    migrations = app.db.appliedMigrations;
    endpoint = `GraphiQL: ${url}${config.processRole === "serve" ? " (API only: no worker in this process)" : ""}`;
  }
  const removePidFile = writePidFile(config.store);
  const stopServing = stop;
  stop = async () => {
    await stopServing();
    removePidFile();
  };
  const migrated = migrations.length ? `, applied ${migrations.length} migration(s)` : "";
  console.log(`taskgraph ready in ${((performance.now() - started) / 1000).toFixed(2)} s on ${where}${migrated}`);
  console.log(endpoint);

  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping…`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("taskgraph: error while stopping:", error);
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
