// PostgreSQL's driver adapter: adapter-pg over one shared pool, with the atomic executeScript
// (adapters.ts) and the internal "char" type read as text.
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { type StoreAdapterFactory, withAtomicScripts } from "./adapters";
import { statementName } from "./prepared";
import { DEFAULT_LOG_LEVEL } from "../config";
import { createLogger, type Logger } from "../logger";

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
export class PostgresAdapterFactory extends PrismaPg implements StoreAdapterFactory {
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
