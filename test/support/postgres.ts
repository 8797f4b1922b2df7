// A database of its own on PostgreSQL (TEST_DATABASE_URL's server, or the local one), migrated,
// for tests that need PostgreSQL whatever store the run is for (several processes, a cut network).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresAdapterFactory } from "../../src/db/adapters";
import { applyMigrations } from "../../src/db/migrator";

export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

export interface PostgresDatabase {
  url: string;
  /** The same database through another host and port (a proxy in front of the server). */
  urlVia(host: string, port: number): string;
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
  await applyMigrations(factory);
  await factory.end();
  return {
    url: url.toString(),
    urlVia(host, port) {
      const via = new URL(url);
      via.hostname = host;
      via.port = String(port);
      return via.toString();
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
