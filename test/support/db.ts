// A fresh, migrated database for one test file, on the store the run was started for.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { inject } from "vitest";
import { loadConfig } from "../../src/config";
import type { Database, OpenOptions } from "../../src/db/client";
import { openDatabase } from "../../src/db/client";
import { PGLITE_OPTIONS } from "../../src/db/pglite-adapter";
import { Store } from "../../src/store";
import { adminUrl } from "./global-setup";

export const storeKind = process.env.TEST_DATABASE_URL ? "postgresql" : "pglite";

export async function openTestDatabase(options: Omit<OpenOptions, "pglite" | "migrate"> = {}): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const name = `tg_t_${inject("runId")}_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl(url) });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject("postgresTemplate")}`);
    const db = await openDatabase({ kind: "postgresql", url: adminUrl(url, name) }, { ...options, migrate: false });
    const close = db.close.bind(db);
    db.close = async () => {
      await close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    };
    return db;
  }
  const dump = await readFile(inject("pgliteTemplate"));
  const pglite = await PGlite.create({ loadDataDir: new Blob([dump]), ...PGLITE_OPTIONS });
  return openDatabase({ kind: "pglite", dataDir: ":memory:" }, { ...options, pglite, migrate: false });
}

/** The defaults, logging warnings and errors only (LOG_LEVEL=debug in the environment shows more). */
export const testConfig = () => loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL || "warn" });

export async function openTestStore(options: Omit<OpenOptions, "pglite" | "migrate"> = {}) {
  const db = await openTestDatabase(options);
  return { db, store: new Store(db, testConfig()) };
}
