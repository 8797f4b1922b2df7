// @ts-check
// Compiles the server, the CLI and the console's build check (TypeScript in src/, with the
// generated Prisma client) into JavaScript in dist/server with esbuild: `npm start` and
// bin/taskgraph.js run that, not a TypeScript loader. Plain JavaScript itself, so that it runs
// before anything is compiled. The build is one bundle per entry point with shared chunks; npm
// packages stay imports of node_modules. Entry points stay two directories deep (dist/server/x.js,
// as src/dir/x.ts), so that paths the sources take from import.meta (the project root,
// dist/console) are the same compiled.
// `node src/scripts/build-server.js` builds; `--if-stale` only when a source is newer than the build.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SERVER_OUT_DIR = join(ROOT, "dist/server");
/** esbuild's list of what the build read (metafile), and when the build began reading. */
const META = join(SERVER_OUT_DIR, "meta.json");
/** Files that shape the build besides the sources it reads. */
const SETTINGS = [fileURLToPath(import.meta.url), join(ROOT, "tsconfig.json"), join(ROOT, "package.json")];

const ENTRY_POINTS = {
  main: join(ROOT, "src/main.ts"),
  cli: join(ROOT, "src/cli/main.ts"),
  "console-build": join(ROOT, "src/console/build.ts"),
};

/**
 * The package.json above `file`, read.
 * @param {string} file
 * @returns {{ name?: string, exports?: unknown }}
 */
function packageOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, "utf8"));
  }
  return {};
}

/**
 * Keeps npm packages out of the bundle, as imports Node resolves from dist/server. A deep import
 * without an extension into a package without an "exports" map (`ajv/dist/2020`), which tsx and
 * bundlers accept but Node's ESM loader does not, gets the extension of the file it names.
 * @type {import("esbuild").Plugin}
 */
const packagesAsNodeImports = {
  name: "packages-as-node-imports",
  setup(build) {
    const inner = Symbol("inner");
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === inner) return undefined;
      const external = { path: args.path, external: true };
      if (args.path.startsWith("node:") || isBuiltin(args.path) || extname(args.path)) return external;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: inner });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      const manifest = packageOf(resolved.path);
      const deep = manifest.name !== undefined && args.path !== manifest.name;
      return deep && manifest.exports === undefined ? { path: `${args.path}${extname(resolved.path)}`, external: true } : external;
    });
  },
};

/**
 * True when dist/server holds a build and nothing it was built from changed since: no input
 * (every source file the bundles include, as esbuild recorded them) is newer than the build or gone.
 */
export function isServerBuildCurrent() {
  if (!existsSync(META)) return false;
  /** @type {{ builtAt: number, inputs: Record<string, unknown> }} */
  const meta = JSON.parse(readFileSync(META, "utf8"));
  const built = meta.builtAt;
  for (const file of [...Object.keys(meta.inputs).map((input) => join(ROOT, input)), ...SETTINGS]) {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat || !(stat.mtimeMs < built)) return false;
  }
  return true;
}

/**
 * Bundles `entryPoints` (name → source) into `outDir`: a new directory swapped in at the end, so
 * that a process starting meanwhile never loads half a build. Resolves with how long it took.
 * @param {{ entryPoints?: Record<string, string>, outDir?: string }} [options]
 */
export async function buildServer({ entryPoints = ENTRY_POINTS, outDir = SERVER_OUT_DIR } = {}) {
  const started = performance.now();
  const builtAt = Date.now();
  const { build } = await import("esbuild");
  const next = `${outDir}.next-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints,
    outdir: next,
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    plugins: [packagesAsNodeImports],
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  writeFileSync(join(next, "meta.json"), JSON.stringify({ builtAt, ...result.metafile }));
  const old = `${outDir}.old-${process.pid}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(next, outDir);
  rmSync(old, { recursive: true, force: true });
  return { ms: performance.now() - started };
}

/** Builds unless `ifStale` and the build is current; resolves with what it did. */
export async function buildServerIfStale({ ifStale = false } = {}) {
  if (ifStale && isServerBuildCurrent()) return { built: false, ms: 0 };
  return { built: true, ...(await buildServer()) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildServerIfStale({ ifStale: process.argv.includes("--if-stale") }).then(
    ({ built, ms }) => {
      if (built) console.log(`server built into ${relative(process.cwd(), SERVER_OUT_DIR) || "."} in ${(ms / 1000).toFixed(1)} s`);
    },
    (error) => {
      console.error(`server build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
