// The offline migrator (src/db/migrator.ts) on the store this run was started for: PGlite by
// default, PostgreSQL when TEST_DATABASE_URL is set. Every scenario gets its own empty database
// (PGlite: a clone of one initdb'd data dir; PostgreSQL: a freshly created database) and a private
// copy of prisma/migrations it may edit.
import { createHash, randomBytes } from "node:crypto";
import { appendFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from "vitest";
import { openDatabase } from "../src/db/client";
import type { StoreConfig } from "../src/config";
import { PGLITE_OPTIONS, PGliteAdapterFactory } from "../src/db/pglite-adapter";
import { PostgresAdapterFactory } from "../src/db/postgres-adapter";
import {
  MIGRATIONS_DIR,
  MigrationError,
  SCHEMA_PATH,
  applyMigrations,
  diffMigrationsToSchema,
  pendingMigrations,
  readMigrations,
} from "../src/db/migrator";
import { storeKind } from "./support/db";
import { adminUrl } from "./support/global-setup";

interface MigrationRow {
  migration_name: string;
  checksum: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

interface EmptyDatabase {
  factory: SqlMigrationAwareDriverAdapterFactory;
  /** Runs SQL outside the migrator (a separate path from the adapters under test where possible). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Runs SQL on a session of its own, as another process would (PGlite has only one session). */
  queryFromAnotherSession<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

// ---------------------------------------------------------------------------------------------
// Empty databases on the store under test.

let pgliteEmptyDump: Blob | undefined;
let admin: pg.Client | undefined;
const opened: EmptyDatabase[] = [];
const tempDirs: string[] = [];

beforeAll(async () => {
  if (storeKind === "postgresql") {
    admin = new pg.Client({ connectionString: adminUrl(process.env.TEST_DATABASE_URL!) });
    await admin.connect();
  } else {
    // initdb once (~2.5 s); every scenario loads a copy of the empty data dir (~0.5 s).
    const base = new PGlite(PGLITE_OPTIONS);
    try {
      pgliteEmptyDump = await base.dumpDataDir("none");
    } finally {
      await base.close();
    }
  }
});

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
});

afterAll(async () => {
  await admin?.end();
  for (const dir of tempDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function emptyDatabase(): Promise<EmptyDatabase> {
  let db: EmptyDatabase;
  if (storeKind === "postgresql") {
    const name = `tg_t_${inject("runId")}_mig_${randomBytes(4).toString("hex")}`;
    await admin!.query(`CREATE DATABASE ${name}`);
    const url = adminUrl(process.env.TEST_DATABASE_URL!, name);
    const factory = new PostgresAdapterFactory(url, { max: 4 });
    db = {
      factory,
      query: async <T>(sql: string) => (await factory.pool.query(sql)).rows as T[],
      async queryFromAnotherSession<T>(sql: string) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query(sql)).rows as T[];
        } finally {
          await client.end();
        }
      },
      async close() {
        await factory.end();
        await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  } else {
    const pglite = await PGlite.create({ loadDataDir: pgliteEmptyDump!, ...PGLITE_OPTIONS });
    db = {
      factory: new PGliteAdapterFactory(pglite),
      query: async <T>(sql: string) => (await pglite.query<T>(sql)).rows,
      queryFromAnotherSession: async <T>(sql: string) => (await pglite.query<T>(sql)).rows,
      close: () => pglite.close(),
    };
  }
  opened.push(db);
  return db;
}

/** A private copy of the committed migrations that a test may edit. */
async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tg-migrations-"));
  tempDirs.push(dir);
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function addMigration(dir: string, name: string, sql: string) {
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, "migration.sql"), sql);
}

const migrationRows = (db: EmptyDatabase) =>
  db.query<MigrationRow>(
    "SELECT migration_name, checksum, started_at, finished_at, rolled_back_at, applied_steps_count, logs FROM _prisma_migrations ORDER BY started_at, migration_name",
  );

const tableExists = async (db: EmptyDatabase, table: string) =>
  (await db.query<{ ok: boolean }>(`SELECT to_regclass('public."${table}"') IS NOT NULL AS ok`))[0]!.ok;

/** The committed migration folders, read straight from disk (not through readMigrations). */
async function committedMigrationNames(): Promise<string[]> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** Awaits a promise that must reject and returns its error. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

// ---------------------------------------------------------------------------------------------

// Each diff replays the migrations into two throwaway PGlite instances (~6 s, more on a busy machine).
describe("schema.prisma and the committed migrations", () => {
  test("the database the committed migrations build is exactly what schema.prisma describes (no drift)", async () => {
    expect(await diffMigrationsToSchema()).toBeNull();
  }, 60_000);

  test("the drift check is not vacuous: a model missing from the migrations is reported as SQL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tg-schema-"));
    tempDirs.push(dir);
    const schema = join(dir, "schema.prisma");
    await writeFile(schema, `${await readFile(SCHEMA_PATH, "utf8")}\nmodel DriftProbe {\n  id Int @id\n}\n`);
    const sql = await diffMigrationsToSchema(MIGRATIONS_DIR, schema);
    expect(sql).toMatch(/CREATE TABLE "DriftProbe"/);
  }, 60_000);
});

describe(`applying migrations (${storeKind})`, () => {
  test("an empty database gets every committed migration, recorded in _prisma_migrations with Prisma's sha256 checksum", async () => {
    const db = await emptyDatabase();
    const names = await committedMigrationNames();
    expect(names.length).toBeGreaterThan(0);

    expect(await applyMigrations(db.factory)).toEqual(names);

    const rows = await migrationRows(db);
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    for (const row of rows) {
      const sql = await readFile(join(MIGRATIONS_DIR, row.migration_name, "migration.sql"), "utf8");
      expect(row.checksum).toBe(sha256(sql));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
    // readMigrations agrees with the files on disk.
    expect((await readMigrations()).map((m) => [m.name, m.checksum])).toEqual(rows.map((r) => [r.migration_name, r.checksum]));
    // The schema really exists.
    expect(await tableExists(db, "Module")).toBe(true);
    expect(await tableExists(db, "Task")).toBe(true);
  });

  test("applying again is a no-op: nothing is returned and the history is untouched", async () => {
    const db = await emptyDatabase();
    await applyMigrations(db.factory);
    const before = await migrationRows(db);

    expect(await applyMigrations(db.factory)).toEqual([]);
    expect(await applyMigrations(db.factory)).toEqual([]);

    expect(await migrationRows(db)).toEqual(before);
  });

  test("a migration added after the last run is applied on the next call, and only it", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const committed = await applyMigrations(db.factory, dir);
    await addMigration(dir, "20990101000000_extra", 'CREATE TABLE "Extra"(id int);');

    expect(await applyMigrations(db.factory, dir)).toEqual(["20990101000000_extra"]);

    expect(await tableExists(db, "Extra")).toBe(true);
    const rows = await migrationRows(db);
    expect(rows.map((r) => r.migration_name)).toEqual([...committed, "20990101000000_extra"]);
    expect(rows.at(-1)!.checksum).toBe(sha256('CREATE TABLE "Extra"(id int);'));
    expect(rows.at(-1)!.finished_at).toBeInstanceOf(Date);
    expect(await applyMigrations(db.factory, dir)).toEqual([]);
  });
});

describe(`what applying leaves behind (${storeKind})`, () => {
  test("after migrating, another process can take Prisma's migration lock at once (it is not left held)", async () => {
    // The schema engine serialises migrators with pg_advisory_lock(72707369). A lock left held on a
    // pooled connection makes every other instance's migration wait for it, then time out.
    const db = await emptyDatabase();
    await applyMigrations(db.factory);

    const [taken] = await db.queryFromAnotherSession<{ ok: boolean }>(
      "SELECT pg_try_advisory_lock(72707369) AS ok, pg_advisory_unlock(72707369) AS released",
    );
    expect(taken?.ok).toBe(true);
  });
});

describe(`refusing an untrustworthy migration history (${storeKind})`, () => {
  test("an applied migration whose file was edited afterwards is refused by name, and nothing is applied", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const [first] = await applyMigrations(db.factory, dir);
    const before = await migrationRows(db);
    await appendFile(join(dir, first!, "migration.sql"), "\n-- an innocent-looking comment\n");
    // A pending migration alongside: it must not be applied either.
    await addMigration(dir, "20990101000000_extra", 'CREATE TABLE "Extra"(id int);');

    const error = await rejectionOf(applyMigrations(db.factory, dir));

    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(first!);
    expect(error.message).toMatch(/changed/);
    expect(await migrationRows(db)).toEqual(before);
    expect(await tableExists(db, "Extra")).toBe(false);
  });

  test("a database with a migration this build does not know is refused by name, and nothing is applied", async () => {
    const db = await emptyDatabase();
    // A newer build applied a migration this one does not have...
    const newer = await copyOfMigrations();
    await addMigration(newer, "20990101000000_from_the_future", 'CREATE TABLE "Future"(id int);');
    await applyMigrations(db.factory, newer);
    const before = await migrationRows(db);
    // ...and this build has a pending migration of its own.
    const older = await copyOfMigrations();
    await addMigration(older, "20980101000000_mine", 'CREATE TABLE "Mine"(id int);');

    const error = await rejectionOf(applyMigrations(db.factory, older));

    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain("20990101000000_from_the_future");
    expect(error.message).toMatch(/does not know/);
    expect(await migrationRows(db)).toEqual(before);
    expect(await tableExists(db, "Mine")).toBe(false);
    // The committed directory (what the app uses) refuses it too.
    await expect(applyMigrations(db.factory)).rejects.toBeInstanceOf(MigrationError);
  });

  test("a failed (unfinished) migration row is refused until a person marks it rolled back", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.factory, dir);
    await db.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('${randomBytes(8).toString("hex")}', '${sha256("x")}', '20990101000000_half_done', now(), 0)`,
    );
    await addMigration(dir, "20990101000000_half_done", "SELECT 1;");
    await addMigration(dir, "20990102000000_extra", 'CREATE TABLE "Extra"(id int);');

    const error = await rejectionOf(applyMigrations(db.factory, dir));

    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain("20990101000000_half_done");
    expect(error.message).toMatch(/failed/);
    expect(await tableExists(db, "Extra")).toBe(false);

    // Once marked rolled back, the history is trusted again and both migrations are applied.
    await db.query("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20990101000000_half_done'");
    expect(await applyMigrations(db.factory, dir)).toEqual(["20990101000000_half_done", "20990102000000_extra"]);
    expect(await tableExists(db, "Extra")).toBe(true);
  });
});

describe(`a migration that fails (${storeKind})`, () => {
  test("a migration with an SQL error is refused and leaves nothing half-applied, then blocks later runs", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const committed = await applyMigrations(db.factory, dir);
    await addMigration(dir, "20990101000000_broken", 'CREATE TABLE "Half"(id int); SELECT broken syntax here;');

    const error = await rejectionOf(applyMigrations(db.factory, dir));

    expect(error.message).toContain("20990101000000_broken");
    expect(await tableExists(db, "Half")).toBe(false);
    const rows = await migrationRows(db);
    expect(rows.filter((r) => r.finished_at !== null).map((r) => r.migration_name)).toEqual(committed);
    // Prisma records the attempt as failed; the next start refuses instead of retrying blindly.
    const failed = rows.find((r) => r.migration_name === "20990101000000_broken");
    expect(failed?.finished_at).toBeNull();
    const next = await rejectionOf(applyMigrations(db.factory, dir));
    expect(next).toBeInstanceOf(MigrationError);
    expect(next.message).toContain("20990101000000_broken");
  });

  test("a migration failing at run time (not at parse time) is rolled back as a whole", async () => {
    // A syntax error stops PostgreSQL before any statement runs; a division by zero only fails
    // when its statement executes, after CREATE TABLE has run: only one transaction undoes it.
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.factory, dir);
    await addMigration(dir, "20990101000000_broken_late", 'CREATE TABLE "Half"(id int);\nINSERT INTO "Half" VALUES (1 / 0);\n');

    const error = await rejectionOf(applyMigrations(db.factory, dir));

    expect(error.message).toContain("20990101000000_broken_late");
    expect(await tableExists(db, "Half")).toBe(false);
  });

  test("the error of a failed migration says what the database objected to", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.factory, dir);
    await addMigration(dir, "20990101000000_broken_late", 'CREATE TABLE "Half"(id int);\nINSERT INTO "Half" VALUES (1 / 0);\n');

    const error = await rejectionOf(applyMigrations(db.factory, dir));

    expect(error.message).toContain("20990101000000_broken_late");
    // PostgreSQL's own message, not just "external connector error / External error id#0".
    expect(error.message).toMatch(/division by zero/);
  });

  test("a function body containing semicolons is applied as written", async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await applyMigrations(db.factory, dir);
    await addMigration(
      dir,
      "20990101000000_function",
      `CREATE FUNCTION "twice"(x int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  x := x * 2;
  RETURN x;
END;
$$;
`,
    );

    expect(await applyMigrations(db.factory, dir)).toEqual(["20990101000000_function"]);
    expect(await db.query<{ v: number }>('SELECT "twice"(21) AS v')).toEqual([{ v: 42 }]);
  });
});

describe("pendingMigrations (the history check, without a database)", () => {
  const local = [
    { name: "1_a", sql: "a", checksum: sha256("a") },
    { name: "2_b", sql: "b", checksum: sha256("b") },
  ];
  const row = (name: string, checksum: string, extra: Partial<MigrationRow> = {}) => ({
    migration_name: name,
    checksum,
    finished_at: new Date(),
    rolled_back_at: null,
    ...extra,
  });

  test("returns the local migrations that have no applied row, in order", () => {
    expect(pendingMigrations(local, [])).toEqual(["1_a", "2_b"]);
    expect(pendingMigrations(local, [row("1_a", sha256("a"))])).toEqual(["2_b"]);
    expect(pendingMigrations(local, [row("1_a", sha256("a")), row("2_b", sha256("b"))])).toEqual([]);
  });

  test("a rolled-back row does not count as applied and is not checked", () => {
    const rows = [row("1_a", sha256("a")), row("2_b", "stale", { finished_at: null, rolled_back_at: new Date() })];
    expect(pendingMigrations(local, rows)).toEqual(["2_b"]);
  });
});

describe(`restarting (${storeKind})`, () => {
  test.skipIf(storeKind !== "pglite")("a PGlite store on disk keeps its data across a restart and migrates only once", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "tg-data-"));
    tempDirs.push(dataDir);
    const store: StoreConfig = { kind: "pglite", dataDir };

    const first = await openDatabase(store);
    try {
      expect(first.appliedMigrations).toEqual(await committedMigrationNames());
      await first.prisma.module.create({ data: { name: "persisted", description: "survives a restart" } });
    } finally {
      await first.close();
    }

    const second = await openDatabase(store);
    try {
      expect(second.appliedMigrations).toEqual([]);
      const module = await second.prisma.module.findUnique({ where: { name: "persisted" } });
      expect(module?.description).toBe("survives a restart");
    } finally {
      await second.close();
    }
  });

  test.skipIf(storeKind !== "postgresql")("a PostgreSQL store keeps its data across a restart and migrates only once", async () => {
    const name = `tg_t_${inject("runId")}_mig_${randomBytes(4).toString("hex")}`;
    await admin!.query(`CREATE DATABASE ${name}`);
    const store: StoreConfig = { kind: "postgresql", url: adminUrl(process.env.TEST_DATABASE_URL!, name) };
    try {
      const first = await openDatabase(store);
      try {
        expect(first.appliedMigrations).toEqual(await committedMigrationNames());
        await first.prisma.module.create({ data: { name: "persisted", description: "survives a restart" } });
      } finally {
        await first.close();
      }
      const second = await openDatabase(store);
      try {
        expect(second.appliedMigrations).toEqual([]);
        const module = await second.prisma.module.findUnique({ where: { name: "persisted" } });
        expect(module?.description).toBe("survives a restart");
      } finally {
        await second.close();
      }
    } finally {
      await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
