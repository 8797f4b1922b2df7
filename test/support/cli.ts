// Runs the real CLI (bin/taskgraph.js) as a subprocess, as a user's shell would.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { PROJECT_ROOT } from "../../src/db/migrator";
import { startTestApp, type TestApp } from "./app";

export const CLI = join(PROJECT_ROOT, "bin/taskgraph.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment of a CLI run: the given server, no token, no colour settings inherited. */
export function cliEnv(url: string, env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, TASKGRAPH_URL: url };
  delete base.TASKGRAPH_TOKEN;
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  return { ...base, ...env };
}

/** Runs `taskgraph ...args` to its end (asynchronously: the test's server keeps serving meanwhile). */
export function runCli(url: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: cliEnv(url, env), timeout: 45_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `taskgraph ...args` and returns the process; `lines` collects its stdout lines. */
export function spawnCli(url: string, args: string[], env: Record<string, string | undefined> = {}) {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { env: cliEnv(url, env), stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    const parts = stdout.split("\n");
    stdout = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: lines.join("\n") + (stdout ? `\n${stdout}` : ""), stderr })),
  );
  return { child, lines, exited };
}

/** Waits until `check()` is true (checked every 50 ms), or fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const ESCAPE = /\x1b/;

/** Creates a test task through the API of `app` and returns its id. */
export async function createTestTaskOn(app: TestApp, input: Record<string, unknown>): Promise<string> {
  const result = await app.gql<{ createTestTask: { id: string } }>("mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }", { input });
  expect(result.errors).toBeUndefined();
  return result.data!.createTestTask.id;
}

/**
 * A server with a fast worker for the calling test file (started before its tests, stopped after),
 * and the CLI pointed at it. Call at the top level of the file.
 */
export function useCliServer() {
  let app: TestApp | undefined;
  let url = "";
  beforeAll(async () => {
    app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100, leaseMs: 5000 } });
    ({ url } = await app.start(0));
  });
  afterAll(async () => {
    await app?.stop();
  });
  const server = {
    get app(): TestApp {
      if (!app) throw new Error("the CLI test server is not started yet");
      return app;
    },
    get url() {
      return url;
    },
    cli: (...args: string[]) => runCli(url, args),
    createTestTask: (input: Record<string, unknown>) => createTestTaskOn(server.app, input),
    async stateOf(id: string): Promise<string> {
      const result = await server.app.gql<{ task: { state: string } }>("query ($id: ID!) { task(id: $id) { state } }", { id });
      return result.data!.task.state;
    },
  };
  return server;
}
