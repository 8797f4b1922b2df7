// Builds one migrated database per test run; every test file then gets a fresh copy of it
// (PGlite: a data-dir dump loaded in ~0.5 s instead of initdb + migrate in ~4 s; PostgreSQL:
// CREATE DATABASE … TEMPLATE). TEST_DATABASE_URL selects PostgreSQL, otherwise PGlite.
import { mkdir, writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { PGLITE_OPTIONS, PGliteAdapterFactory } from "../../src/db/pglite-adapter";
import { PostgresAdapterFactory } from "../../src/db/postgres-adapter";
import { applyMigrations, PROJECT_ROOT } from "../../src/db/migrator";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresTemplate: string;
    /** The main process's id: names this run's databases (test files run in worker processes). */
    runId: string;
  }
}

const RUN_ID = `${process.pid}`;

/** The URL of another database on the same server (without a name: TEST_DATABASE_URL's own, used for CREATE/DROP DATABASE). */
export function adminUrl(url: string, database?: string) {
  if (database === undefined) return url;
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  project.provide("runId", RUN_ID);
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const template = `tg_tpl_${RUN_ID}`;
    const admin = new pg.Client({ connectionString: adminUrl(url) });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
    const factory = new PostgresAdapterFactory(adminUrl(url, template), { max: 2 });
    await applyMigrations(factory);
    await factory.end();
    project.provide("postgresTemplate", template);
    project.provide("pgliteTemplate", "");
    return async () => {
      // Drop the template and whatever test databases a crashed file left behind.
      const { rows } = await admin.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
        [`tg_t_${RUN_ID}_%`, template],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await admin.end();
    };
  }
  const dir = join(PROJECT_ROOT, ".vitest-tmp");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `template-${RUN_ID}.tar`);
  const pglite = new PGlite(PGLITE_OPTIONS);
  await applyMigrations(new PGliteAdapterFactory(pglite));
  const dump = await pglite.dumpDataDir("none");
  await writeFile(path, Buffer.from(await dump.arrayBuffer()));
  await pglite.close();
  project.provide("pgliteTemplate", path);
  project.provide("postgresTemplate", "");
  return () => rm(path, { force: true });
}
