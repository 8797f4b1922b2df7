// The driver adapters' shared fix and the shape openDatabase and the migrator use of either store's
// factory (pglite-adapter.ts, postgres-adapter.ts). Each store's adapter is loaded only when that
// store is used: PGlite's and pg's modules each cost ~15 MB and ~0.1 s of start-up otherwise.
// The fixes the offline migrator (migrator.ts, Prisma's schema engine in WebAssembly) needs:
// - executeScript runs the whole script as ONE awaited simple query: atomic (PostgreSQL runs a
//   multi-statement simple query in one implicit transaction), and errors propagate. Both stock
//   adapters get this wrong (PGlite's does not await; adapter-pg splits on ";").
// - adapter-pg rejects PostgreSQL's internal "char" type (OID 18) read by the schema describer.
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

/** Either store's adapter factory. */
export interface StoreAdapterFactory extends SqlMigrationAwareDriverAdapterFactory {
  /** PostgreSQL: a factory with connections of its own, for the schema engine (see PostgresAdapterFactory). */
  dedicated?(): StoreAdapterFactory;
  /** PostgreSQL: closes the factory's pool. */
  end?(): Promise<void>;
}

type ScriptRunner = (sql: string) => Promise<unknown>;

/** The adapter with executeScript running the whole script as one awaited query. */
export function withAtomicScripts<A extends SqlDriverAdapter>(adapter: A, run: ScriptRunner): A {
  adapter.executeScript = async (sql: string) => {
    await run(sql);
  };
  return adapter;
}

