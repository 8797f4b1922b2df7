// @ts-check
// Compiles the server, the CLI and the console's build check (TypeScript in src/, with the
// generated Prisma client) into JavaScript in dist/server with esbuild: `npm start` and
// bin/taskgraph.js run that, not a TypeScript loader. Plain JavaScript itself, so that it runs
// before anything is compiled. The build is one bundle per entry point with shared chunks, npm
// packages included except those KEPT_AS_IMPORTS. Entry points stay two directories deep (dist/server/x.js,
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
/**
 * Files that shape the build besides the sources it reads. The bundled packages' own files are
 * not looked at one by one (thousands of them): installing or upgrading a package changes the lock file.
 */
const SETTINGS = [fileURLToPath(import.meta.url), join(ROOT, "tsconfig.json"), join(ROOT, "package.json"), join(ROOT, "package-lock.json")];

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
 * npm packages that stay imports Node resolves from dist/server at run time, because they load
 * files of their own (WebAssembly, worker threads, native add-ons, a 9 MB page), register
 * process-wide state another copy must share, or are loaded only when configured. Every other
 * package is bundled: one file to read instead of hundreds of modules to resolve and load saves
 * most of the start-up time.
 */
const KEPT_AS_IMPORTS = [
  /^@prisma\//,
  /^@electric-sql\/pglite/,
  /^pglite-prisma-adapter$/,
  /^pg$/,
  /^ioredis$/,
  /^pino(-pretty)?$/,
  /^@opentelemetry\//,
  /^@graphql-yoga\/render-graphiql$/,
  /^(esbuild|vite|rollup|@vitejs\/.*|playwright-core)$/,
];

/**
 * Bundles npm packages except KEPT_AS_IMPORTS. graphql is bundled once, as its ES module build
 * (packages reach it by both `import` and `require`, and two copies break `instanceof`): an ES
 * importer then calls its functions directly, where a CommonJS module bundled for an ES importer is
 * read through a getter on every call, which cost the executor ~60 ms on a 10,000-node taskTree. A deep
 * import without an extension into a package without an "exports" map (`ajv/dist/2020`), which
 * tsx and bundlers accept but Node's ESM loader does not, gets the extension of the file it names
 * when the package is kept as an import.
 * @type {import("esbuild").Plugin}
 */
const packagesBundledOrKept = {
  name: "packages-bundled-or-kept",
  setup(build) {
    const inner = Symbol("inner");
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === inner) return undefined;
      const external = { path: args.path, external: true };
      if (args.path.startsWith("node:") || isBuiltin(args.path)) return external;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: inner });
      const name = args.path.split("/").slice(0, args.path.startsWith("@") ? 2 : 1).join("/");
      if (name === "graphql" && resolved.errors.length === 0) {
        // Its "main" (CommonJS) is what resolution finds on Node; every module has its .mjs beside it.
        const esm = resolved.path.replace(/\.js$/, ".mjs");
        return { path: existsSync(esm) ? esm : resolved.path };
      }
      if (!KEPT_AS_IMPORTS.some((kept) => kept.test(name))) {
        // An optional dependency that is not installed (ws's bufferutil): left to fail at run time, in its try/catch.
        return resolved.errors.length > 0 ? external : { path: resolved.path };
      }
      if (extname(args.path)) return external;
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      const manifest = packageOf(resolved.path);
      const deep = manifest.name !== undefined && args.path !== manifest.name;
      return deep && manifest.exports === undefined ? { path: `${args.path}${extname(resolved.path)}`, external: true } : external;
    });
  },
};

/**
 * True when dist/server holds a build and nothing it was built from changed since: no source file
 * the bundles include (as esbuild recorded them) is newer than the build or gone, nor a setting.
 */
export function isServerBuildCurrent() {
  if (!existsSync(META)) return false;
  /** @type {{ builtAt: number, inputs: Record<string, unknown> }} */
  const meta = JSON.parse(readFileSync(META, "utf8"));
  const built = meta.builtAt;
  const sources = Object.keys(meta.inputs).filter((input) => !input.startsWith("node_modules/"));
  for (const file of sources.map((input) => join(ROOT, input))) {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat || !(stat.mtimeMs < built)) return false;
  }
  // A settings file that is not there (no lock file) changes nothing.
  return SETTINGS.every((file) => !((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) >= built));
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
    plugins: [packagesBundledOrKept],
    // The compiled server is the production server: bundled packages take their production paths.
    // graphql's development checks (an instanceof that falls back to comparing class names on every
    // type test) cost its executor ~25% of a 10,000-node taskTree; graphql-ws tells a client no
    // internal error message.
    define: { "process.env.NODE_ENV": '"production"' },
    // Bundled CommonJS packages call require(): ESM has none, so each output file makes one.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
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
