// A database of its own on PostgreSQL (TEST_DATABASE_URL's server, or the local one), migrated,
// for tests that need PostgreSQL whatever store the run is for (several processes, a cut network,
// a database that goes away). The tests fail, rather than skip, when no PostgreSQL is reachable.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresAdapterFactory } from "../../src/db/postgres-adapter";
import { applyMigrations } from "../../src/db/migrator";

export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PostgresDatabase {
  name: string;
  url: string;
  /** The same database through another host and port (a proxy in front of the server). */
  urlVia(host: string, port: number): string;
  /** Terminates every session of the database but the admin's (what a PostgreSQL restart does to clients). */
  terminateSessions(): Promise<number>;
  /** A database restart as clients see it: every session terminated, no new one accepted for `ms`. Returns how many were terminated. */
  outage(ms: number): Promise<number>;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(prefix: string): Promise<PostgresDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const factory = new PostgresAdapterFactory(url.toString(), { max: 2 });
  try {
    await applyMigrations(factory);
  } finally {
    await factory.end();
  }
  const terminateSessions = async () => {
    const { rows } = await admin.query<{ n: string }>(
      "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    return Number(rows[0]!.n);
  };
  return {
    name,
    url: url.toString(),
    urlVia(host, port) {
      const via = new URL(url);
      via.hostname = host;
      via.port = String(port);
      return via.toString();
    },
    terminateSessions,
    async outage(ms) {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      try {
        const terminated = await terminateSessions();
        await pause(ms);
        return terminated;
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      }
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
