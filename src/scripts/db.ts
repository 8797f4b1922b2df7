// npm run db:migrate | db:status | db:diff | db:new <name> — Prisma Migrate's commands, offline.
import { loadConfig } from "../config";
import { openDatabase } from "../db/client";
import { applyMigrations, createMigration, diffMigrationsToSchema, migrationStatus } from "../db/migrator";

const [command, arg] = process.argv.slice(2);

async function main() {
  switch (command) {
    case "diff": {
      const sql = await diffMigrationsToSchema();
      console.log(sql ?? "-- schema.prisma and the migrations agree: no changes");
      return;
    }
    case "new": {
      if (!arg) throw new Error("usage: npm run db:new <name>");
      const folder = await createMigration(arg);
      console.log(folder ? `Created ${folder}/migration.sql — review it, then commit it.` : "No changes: nothing to create.");
      return;
    }
    case "migrate":
    case "status": {
      const db = await openDatabase(loadConfig().store, { migrate: false });
      try {
        if (command === "migrate") {
          const applied = await applyMigrations(db.adapterFactory);
          console.log(applied.length ? `Applied: ${applied.join(", ")}` : "Database is up to date.");
        } else {
          console.log(JSON.stringify(await migrationStatus(db.adapterFactory), null, 2));
        }
      } finally {
        await db.close();
      }
      return;
    }
    default:
      throw new Error("usage: tsx src/scripts/db.ts migrate|status|diff|new <name>");
  }
}

main().then(
  () => process.exit(0), // PGlite can leave the event loop alive
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
