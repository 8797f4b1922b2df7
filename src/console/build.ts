// Builds the console when its build is missing or stale: `npm run console:build` (always) and
// `tsx src/console/build.ts --if-stale` (postinstall, `npm start`, the browser tests). A build is
// stale when the hash of its sources (src/console, package-lock.json) differs from the one
// recorded beside it in dist/console/.source-hash.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// From the root, not from import.meta.url: `npm start` runs this compiled, from dist/server.
const SOURCES = join(ROOT, "src/console");
const OUT_DIR = join(ROOT, "dist/console");
const STAMP = join(OUT_DIR, ".source-hash");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** A hash of everything the build reads: the console's sources and the installed versions. */
export function sourceHash(): string {
  const hash = createHash("sha256");
  for (const file of [...files(SOURCES), join(ROOT, "package-lock.json")]) {
    hash.update(relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

export function isBuildCurrent(): boolean {
  return existsSync(join(OUT_DIR, "index.html")) && existsSync(STAMP) && readFileSync(STAMP, "utf8").trim() === sourceHash();
}

/** Builds the console (unless `ifStale` and the build is current); resolves with what it did. */
export async function buildConsole(options: { ifStale?: boolean; quiet?: boolean } = {}): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  if (options.ifStale && isBuildCurrent()) return { built: false, ms: performance.now() - started };
  const hash = sourceHash();
  const { build } = await import("vite");
  await build({ configFile: join(SOURCES, "vite.config.ts"), logLevel: options.quiet ? "warn" : "info", mode: "production" });
  writeFileSync(STAMP, `${hash}\n`);
  return { built: true, ms: performance.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes("--if-stale");
  buildConsole({ ifStale, quiet: ifStale }).then(
    ({ built, ms }) => {
      if (built) console.log(`console built into ${relative(process.cwd(), OUT_DIR) || "."} in ${(ms / 1000).toFixed(1)} s`);
    },
    (error: unknown) => {
      console.error(`console build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
