#!/usr/bin/env node
// The CLI: the compiled JavaScript in dist/server (built by `npm install` and `npm start`) when it
// is current, else the TypeScript sources through tsx (a dependency), so a change to src/ never
// runs stale code.
import { isServerBuildCurrent } from "../src/scripts/build-server.js";

if (isServerBuildCurrent()) {
  await import("../dist/server/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
