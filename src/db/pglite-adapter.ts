// The embedded store's driver adapter: Prisma's PGlite adapter with the atomic executeScript (adapters.ts).
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { type StoreAdapterFactory, withAtomicScripts } from "./adapters";

/**
 * What every PGlite instance is opened with: the contrib extensions the migrations create (pg_trgm
 * for the task search's trigram indexes; a data dir that has them must be opened with them too),
 * and 32 MB of shared buffers instead of PostgreSQL's 128 MB: PGlite touches all of them as it
 * opens, so they are resident from the start. Reopening a data dir: RSS 293-310 MiB -> 179-208 MiB
 * and about 0.1 s faster. The operating system still caches the data dir's files.
 */
export const PGLITE_OPTIONS = {
  extensions: { pg_trgm },
  startParams: [...PGlite.defaultStartParams, "-c", "shared_buffers=32MB"],
} satisfies PGliteOptions;

/** Opens PGlite in `dataDir`, or in memory without one. */
export function openPGlite(dataDir?: string): PGlite {
  return dataDir === undefined ? new PGlite(PGLITE_OPTIONS) : new PGlite(dataDir, PGLITE_OPTIONS);
}

export class PGliteAdapterFactory extends PrismaPGlite implements StoreAdapterFactory {
  constructor(readonly pglite: PGlite) {
    super(pglite);
  }
  override async connect() {
    return withAtomicScripts(await super.connect(), (sql) => this.pglite.exec(sql));
  }
  override async connectToShadowDb() {
    // A throwaway in-memory instance; closed by the adapter's dispose.
    const shadow = openPGlite();
    const adapter = await new PrismaPGlite(shadow).connect();
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await shadow.close();
    };
    return withAtomicScripts(adapter, (sql) => shadow.exec(sql));
  }
}
