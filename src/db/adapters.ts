// Driver adapter factories for the two stores, with the fixes the offline migrator (migrator.ts,
// Prisma's schema engine in WebAssembly) needs:
// - executeScript runs the whole script as ONE awaited simple query: atomic (PostgreSQL runs a
//   multi-statement simple query in one implicit transaction), and errors propagate. Both stock
//   adapters get this wrong (PGlite's does not await; adapter-pg splits on ";").
// - adapter-pg rejects PostgreSQL's internal "char" type (OID 18) read by the schema describer.
import pg from "pg";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { statementName } from "./prepared";
import { DEFAULT_LOG_LEVEL } from "../config";
import { createLogger, type Logger } from "../logger";

/**
 * What every PGlite instance is opened with: the contrib extensions the migrations create (pg_trgm
 * for the task search's trigram indexes). A data dir that has them must be opened with them too.
 */
export const PGLITE_OPTIONS = { extensions: { pg_trgm } } satisfies PGliteOptions;

type ScriptRunner = (sql: string) => Promise<unknown>;

function withAtomicScripts<A extends SqlDriverAdapter>(adapter: A, run: ScriptRunner): A {
  adapter.executeScript = async (sql: string) => {
    await run(sql);
  };
  return adapter;
}

export class PGliteAdapterFactory extends PrismaPGlite implements SqlMigrationAwareDriverAdapterFactory {
  constructor(readonly pglite: PGlite) {
    super(pglite);
  }
  override async connect() {
    return withAtomicScripts(await super.connect(), (sql) => this.pglite.exec(sql));
  }
  override async connectToShadowDb() {
    // A throwaway in-memory instance; closed by the adapter's dispose.
    const shadow = new PGlite(PGLITE_OPTIONS);
    const adapter = await new PrismaPGlite(shadow).connect();
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await shadow.close();
    };
    return withAtomicScripts(adapter, (sql) => shadow.exec(sql));
  }
}

/** A pool that maps the internal "char" type (OID 18) to text (OID 25) so adapter-pg accepts catalog rows. */
function charAsTextPool(config: pg.PoolConfig, log: Logger): pg.Pool {
  // No JIT: the store's statements are short, and the planner's guess for a recursive walk (a
  // tree's pending descendants) went over jit_above_cost, compiling ~150 ms for a query that runs
  // in under 1 ms. pg-pool runs onConnect before it hands a new connection out.
  const pool = new pg.Pool({ ...config, onConnect: async (client) => void (await client.query("SET jit = off")) });
  // An idle connection dropped by the server (restart, failover, DROP DATABASE … FORCE) must not
  // crash the process; the pool replaces it on the next query.
  pool.on("error", (error) => log.warn(`idle PostgreSQL connection lost: ${error.message}`));
  // So must one dropped while checked out between two statements (an open transaction): pg emits the
  // error on the client, which nobody else listens to. The statement in flight, if any, fails on its
  // own; the pool discards the broken client when it is released.
  pool.on("connect", (client) => client.on("error", (error) => log.warn(`PostgreSQL connection lost while in use: ${error.message}`)));
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
  Object.assign(pool, {
    async query(...args: unknown[]) {
      const result = await query(...args);
      for (const field of result?.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
      return result;
    },
  });
  return pool;
}

/**
 * One pool shared by Prisma Client and the migrator; adapters borrow it and `end()` closes it.
 * (With adapter-pg's disposeExternalPool the first dispose would end the pool for everyone.)
 */
export class PostgresAdapterFactory extends PrismaPg {
  readonly pool: pg.Pool;
  constructor(
    readonly url: string,
    private readonly settings: { max?: number; logger?: Logger } = {},
  ) {
    const pool = charAsTextPool({ connectionString: url, max: settings.max ?? 10 }, settings.logger ?? createLogger(DEFAULT_LOG_LEVEL));
    super(pool, { statementNameGenerator: statementName });
    this.pool = pool;
  }
  /**
   * A factory with connections of its own, for the schema engine. The engine takes Prisma's
   * migration advisory lock and never unlocks it (it relies on closing its connection), so it must
   * not run on the app's long-lived pool: end() on this one releases the lock.
   */
  dedicated(): PostgresAdapterFactory {
    return new PostgresAdapterFactory(this.url, { ...this.settings, max: 2 });
  }
  override async connect() {
    return withAtomicScripts(await super.connect(), (sql) => this.pool.query(sql));
  }
  end() {
    return this.pool.end();
  }
}
