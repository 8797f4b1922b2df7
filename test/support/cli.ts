// Runs the real CLI (bin/taskgraph.js) as a subprocess, as a user's shell would.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/db/migrator";

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
