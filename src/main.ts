// `npm start`: serve the API (GraphiQL at /graphql) on the configured store.
import { ConfigError, loadConfig } from "./config";
import { MigrationError } from "./db/migrator";
import { buildApp } from "./server";

async function main() {
  const started = performance.now();
  const config = loadConfig();
  const app = await buildApp({ config });
  const { url } = await app.start();
  const where = config.store.kind === "pglite" ? `PGlite in ${config.store.dataDir}` : "PostgreSQL";
  const migrated = app.db.appliedMigrations.length ? `, applied ${app.db.appliedMigrations.length} migration(s)` : "";
  console.log(`taskgraph ready in ${((performance.now() - started) / 1000).toFixed(2)} s on ${where}${migrated}`);
  console.log(`GraphiQL: ${url}`);

  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping…`);
    app.stop().then(
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
