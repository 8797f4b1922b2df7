// @ts-check
// `npm start`: compiles the server (src/scripts/build-server.js) and the console when a source
// changed since their last build, then runs the compiled server (dist/server/main.js) in this
// same process: one Node start, no TypeScript loader. Plain JavaScript, as it runs before any build.
import { buildServerIfStale } from "./build-server.js";

const server = await buildServerIfStale({ ifStale: true });
if (server.built) console.log(`server built into dist/server in ${(server.ms / 1000).toFixed(1)} s`);
/** @type {{ buildConsole(options: { ifStale?: boolean, quiet?: boolean }): Promise<{ built: boolean, ms: number }> }} */
const consoleBuild = await import(new URL("../../dist/server/console-build.js", import.meta.url).href);
const console_ = await consoleBuild.buildConsole({ ifStale: true, quiet: true });
if (console_.built) console.log(`console built into dist/console in ${(console_.ms / 1000).toFixed(1)} s`);
await import(new URL("../../dist/server/main.js", import.meta.url).href);
