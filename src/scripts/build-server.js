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
import { extname, join, relative } from "node:path";
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
 * Whether Node's ESM loader finds `specifier` from here (import.meta.resolve does not check that the file exists).
 * @param {string} specifier
 */
function resolvableByNode(specifier) {
  try {
    const url = import.meta.resolve(specifier);
    return !url.startsWith("file:") || statSync(fileURLToPath(url), { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    return false;
  }
}

/**
 * Keeps npm packages out of the bundle, as imports Node resolves from dist/server: a deep import
 * without an extension in a package without an "exports" map (`ajv/dist/2020`), which tsx and
 * bundlers accept but Node's ESM loader does not, gets the extension of the file it names.
 * @type {import("esbuild").Plugin}
 */
export const packagesAsNodeImports = {
  name: "packages-as-node-imports",
  setup(build) {
    const inner = Symbol("inner");
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === inner) return undefined;
      if (resolvableByNode(args.path)) return { path: args.path, external: true };
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: inner });
      const withExtension = `${args.path}${extname(resolved.path)}`;
      if (resolved.errors.length === 0 && resolvableByNode(withExtension)) return { path: withExtension, external: true };
      return { errors: [{ text: `Node cannot import "${args.path}" (from ${args.importer})` }] };
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
 * Builds into a new directory and then swaps it in, so that a process starting meanwhile never
 * loads half a build. Resolves with how long it took.
 */
export async function buildServer() {
  const started = performance.now();
  const builtAt = Date.now();
  const { build } = await import("esbuild");
  const next = `${SERVER_OUT_DIR}.next-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
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
  const old = `${SERVER_OUT_DIR}.old-${process.pid}`;
  if (existsSync(SERVER_OUT_DIR)) renameSync(SERVER_OUT_DIR, old);
  renameSync(next, SERVER_OUT_DIR);
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
