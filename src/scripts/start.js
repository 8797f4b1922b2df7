// @ts-check
// `npm start`: compiles the server (src/scripts/build-server.js) and the console when a source
// changed since their last build, then runs the compiled server (dist/server/main.js) in this
// process: no TypeScript loader. A build runs in a child process of its own, so the server never
// holds esbuild's or Vite's memory. Plain JavaScript, as it runs before anything is compiled.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isServerBuildCurrent } from "./build-server.js";

/**
 * Runs a build script with `--if-stale`; exits as it did when it failed.
 * @param {URL} script
 */
function build(script) {
  const { status } = spawnSync(process.execPath, [fileURLToPath(script), "--if-stale"], { stdio: "inherit" });
  if (status !== 0) process.exit(status ?? 1);
}

if (!isServerBuildCurrent()) build(new URL("./build-server.js", import.meta.url));
const consoleBuild = new URL("../../dist/server/console-build.js", import.meta.url);
/** @type {{ isBuildCurrent(): boolean }} */
const { isBuildCurrent } = await import(consoleBuild.href);
if (!isBuildCurrent()) build(consoleBuild);
await import(new URL("../../dist/server/main.js", import.meta.url).href);
