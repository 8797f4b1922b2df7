// Opens the store: Prisma Client over PGlite (embedded, default) or PostgreSQL (DATABASE_URL),
// applies pending migrations, and closes everything cleanly (PGlite must not be left corrupted).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import type { Client as PostgresClient } from "pg";
import type { StoreConfig } from "../config";
import { PrismaClient } from "../generated/prisma/client";
import type { StoreAdapterFactory } from "./adapters";
import type { PostgresAdapterFactory } from "./postgres-adapter";
import { applyMigrations } from "./migrator";
import { DEFAULT_LOG_LEVEL } from "../config";
import { createLogger, type Logger } from "../logger";

export type Prisma = PrismaClient;

export interface Database {
  kind: StoreConfig["kind"];
  prisma: PrismaClient;
  adapterFactory: StoreAdapterFactory;
  /** Migrations applied when this database was opened. */
  appliedMigrations: string[];
  /**
   * LISTENs on a channel. `onMessage` gets each NOTIFY payload, and `null` after a reconnect
   * (notifications may have been missed meanwhile). Resolves with a function that stops listening.
   */
  listen(channel: string, onMessage: (payload: string | null) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Use this PGlite instance instead of opening one (tests clone a migrated template). */
  pglite?: PGlite;
  /** Called with the SQL text of every query Prisma sends (tests count queries with it). */
  onQuery?: (sql: string) => void;
  /** Where lost connections and failed LISTENs are reported (default: a new logger on stdout). */
  logger?: Logger;
}

/** Where PGlite keeps its files inside the data directory. */
export function pgliteDir(dataDir: string) {
  return join(dataDir, "pglite");
}

export async function openDatabase(store: StoreConfig, options: OpenOptions = {}): Promise<Database> {
  let pglite: PGlite | undefined;
  let factory: StoreAdapterFactory;
  const log = options.logger ?? createLogger(DEFAULT_LOG_LEVEL);
  // Only the store in use has its driver loaded.
  if (store.kind === "pglite") {
    const { openPGlite, PGliteAdapterFactory } = await import("./pglite-adapter");
    if (options.pglite) {
      pglite = options.pglite;
    } else if (store.dataDir === ":memory:") {
      pglite = openPGlite();
    } else {
      await mkdir(store.dataDir, { recursive: true });
      pglite = openPGlite(pgliteDir(store.dataDir));
    }
    await pglite.waitReady;
    factory = new PGliteAdapterFactory(pglite);
  } else {
    const { PostgresAdapterFactory } = await import("./postgres-adapter");
    factory = new PostgresAdapterFactory(store.url, { logger: log });
  }

  const closeDriver = async () => {
    if (pglite && !pglite.closed) await pglite.close();
    await factory.end?.();
  };

  let appliedMigrations: string[] = [];
  try {
    if (options.migrate ?? true) appliedMigrations = await applyMigrations(factory);
    if (appliedMigrations.length > 0) log.info({ migrations: appliedMigrations }, "migrations applied");
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
  const listeners = new Set<() => Promise<void>>();
  return {
    kind: store.kind,
    prisma,
    adapterFactory: factory,
    appliedMigrations,
    async listen(channel, onMessage) {
      const stop = pglite ? await pglite.listen(channel, onMessage) : await listenPostgres((factory as PostgresAdapterFactory).url, channel, onMessage, log);
      const unlisten = async () => {
        listeners.delete(unlisten);
        if (!pglite?.closed) await stop();
      };
      listeners.add(unlisten);
      return unlisten;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const unlisten of [...listeners]) await unlisten().catch(() => {});
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}

/** LISTEN on a connection of its own, reconnecting (with `null` to say "you may have missed some"). */
async function listenPostgres(url: string, channel: string, onMessage: (payload: string | null) => void, log: Logger): Promise<() => Promise<void>> {
  const { default: pg } = await import("pg");
  let client: PostgresClient | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on("notification", (msg) => msg.channel === channel && onMessage(msg.payload ?? ""));
    next.on("error", () => {
      if (stopped || client !== next) return;
      client = undefined;
      void next.end().catch(() => {});
      retry = setTimeout(() => void connect().then(() => onMessage(null), scheduleRetry), 500);
    });
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    client = next;
  };
  const scheduleRetry = (error: unknown) => {
    if (stopped) return;
    log.warn(`LISTEN ${channel} failed, retrying: ${(error as Error).message}`);
    retry = setTimeout(() => void connect().then(() => onMessage(null), scheduleRetry), 1000);
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}
