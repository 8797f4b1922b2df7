// Opens the store: Prisma Client over PGlite (embedded, default) or PostgreSQL (DATABASE_URL),
// applies pending migrations, and closes everything cleanly (PGlite must not be left corrupted).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { StoreConfig } from "../config";
import { PrismaClient } from "../generated/prisma/client";
import { PGliteAdapterFactory, PostgresAdapterFactory } from "./adapters";
import { applyMigrations } from "./migrator";

export type Prisma = PrismaClient;

export interface Database {
  kind: StoreConfig["kind"];
  prisma: PrismaClient;
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Migrations applied when this database was opened. */
  appliedMigrations: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Use this PGlite instance instead of opening one (tests clone a migrated template). */
  pglite?: PGlite;
  /** Called with the SQL text of every query Prisma sends (tests count queries with it). */
  onQuery?: (sql: string) => void;
}

/** Where PGlite keeps its files inside the data directory. */
export function pgliteDir(dataDir: string) {
  return join(dataDir, "pglite");
}

export async function openDatabase(store: StoreConfig, options: OpenOptions = {}): Promise<Database> {
  let pglite: PGlite | undefined;
  let factory: PGliteAdapterFactory | PostgresAdapterFactory;
  if (store.kind === "pglite") {
    if (options.pglite) {
      pglite = options.pglite;
    } else if (store.dataDir === ":memory:") {
      pglite = new PGlite();
    } else {
      await mkdir(store.dataDir, { recursive: true });
      pglite = new PGlite(pgliteDir(store.dataDir));
    }
    await pglite.waitReady;
    factory = new PGliteAdapterFactory(pglite);
  } else {
    factory = new PostgresAdapterFactory(store.url);
  }

  const closeDriver = async () => {
    if (pglite && !pglite.closed) await pglite.close();
    if (factory instanceof PostgresAdapterFactory) await factory.end();
  };

  let appliedMigrations: string[] = [];
  try {
    if (options.migrate ?? true) appliedMigrations = await applyMigrations(factory);
  } catch (error) {
    await closeDriver();
    throw error;
  }

  const prisma = new PrismaClient({
    adapter: factory,
    log: options.onQuery ? [{ emit: "event", level: "query" }] : [],
  });
  if (options.onQuery) {
    const onQuery = options.onQuery;
    (prisma as unknown as { $on(e: "query", cb: (event: { query: string }) => void): void }).$on("query", (event) => onQuery(event.query));
  }

  let closed = false;
  return {
    kind: store.kind,
    prisma,
    adapterFactory: factory,
    appliedMigrations,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
