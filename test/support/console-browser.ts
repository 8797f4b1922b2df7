// Shared by the console's browser tests (test/console*.test.ts): the console is built at most
// once at a time. Test files run in parallel workers, and two Vite builds into the same
// dist/console would empty each other's output; the first to take the lock builds, the others
// then find the build current. The build is a production one, as `npm start` serves: vitest sets
// NODE_ENV=test, which Vite would pass on (React's development build, StrictMode's double effects).
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { buildConsole } from "../../src/console/build";
import type { WatchedPage } from "./chromium";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LOCK = join(tmpdir(), `taskgraph-console-build-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}.lock`);
/** A lock older than this was left by a process that died while building. */
const STALE_MS = 180_000;

/** Builds the console when its build is stale, one build at a time. */
export async function buildConsoleOnce(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Gone meanwhile: try again.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await buildConsole({ ifStale: true, quiet: true });
  } finally {
    process.env.NODE_ENV = nodeEnv;
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Marks the page so that a reload (which would drop the mark) can be detected. */
export const mark = (page: Page) => page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));
export const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded === true);

/** Nothing went to another host, and the page reported no error (but those `ignoreErrors` matches). */
export function expectClean(watched: WatchedPage, ignoreErrors?: RegExp) {
  expect(watched.foreign()).toEqual([]);
  expect(watched.requests.length).toBeGreaterThan(0);
  expect(watched.errors.filter((e) => !ignoreErrors?.test(e))).toEqual([]);
}
