// Real taskgraph processes for crash tests (`node --import tsx src/main.ts`), and a fleet of worker
// processes on a PostgreSQL database of their own for a test file.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll } from "vitest";
import { loadConfig } from "../../src/config";
import { PROJECT_ROOT } from "../../src/db/migrator";
import { defineTestModule } from "../../src/modules/test";
import { createTaskManager, type TaskManager } from "../../src/runtime/manager";
import { createPostgresDatabase, type PostgresDatabase } from "./postgres";

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface TaskgraphProcess {
  child: ChildProcess;
  /** The worker's name (role work), or the GraphQL URL (role all/serve). */
  name: string;
  /** When its "ready" line arrived (ms since the epoch). */
  readyAt: number;
  log: () => string;
}

/** Starts src/main.ts with `env` over the test's environment; resolves once it says it is ready. */
export async function startProcess(env: Record<string, string>): Promise<TaskgraphProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TASKGRAPH_MIGRATE_ON_START: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk) => (text += chunk));
  child.stderr!.on("data", (chunk) => (text += chunk));
  const name = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const match = /worker (\S+) running|GraphiQL: (\S+)/.exec(text);
      if (match) {
        clearInterval(timer);
        resolve((match[1] ?? match[2])!);
      } else if (child.exitCode !== null || child.signalCode !== null || Date.now() - started > 60_000) {
        clearInterval(timer);
        child.kill("SIGKILL");
        reject(new Error(`taskgraph did not start: ${text}`));
      }
    }, 20);
  });
  return { child, name, readyAt: Date.now(), log: () => text };
}

export async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

export async function killAll(processes: TaskgraphProcess[]) {
  for (const { child } of processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await Promise.all(processes.map(({ child }) => exitOf(child)));
}

/** Polls until `check` is true; fails with `what` after `ms`. */
export async function until(what: string, ms: number, check: () => Promise<boolean>, everyMs = 100) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting until ${what}`);
    await pause(everyMs);
  }
}

const ENDED = ["SUCCEEDED", "FAILED", "CANCELED"] as const;

/**
 * For a test file of worker processes (TASKGRAPH_ROLE=work) on a PostgreSQL database of its own:
 * the database, a manager without a worker that creates the test module's tasks, and the processes
 * started (killed after the file). Call at the top level of a describe block.
 */
export function useWorkerFleet(prefix: string, workerEnv: Record<string, string> = {}) {
  let database: PostgresDatabase | undefined;
  let manager: TaskManager | undefined;
  const processes: TaskgraphProcess[] = [];
  beforeAll(async () => {
    database = await createPostgresDatabase(prefix);
    manager = createTaskManager({ config: loadConfig({ DATABASE_URL: database.url, TASKGRAPH_MIGRATE_ON_START: "false" }), worker: false });
    defineTestModule(manager);
    await manager.start();
  });
  afterAll(async () => {
    await killAll(processes);
    // Sessions terminated by a test are reported by the pool as errors while it closes.
    (manager?.db.adapterFactory as { pool?: { on(e: "error", l: () => void): unknown } } | undefined)?.pool?.on("error", () => {});
    await manager?.stop();
    await database?.drop();
  });
  const fleet = {
    get database(): PostgresDatabase {
      if (!database) throw new Error("the fleet's database is not created yet");
      return database;
    },
    get manager(): TaskManager {
      if (!manager) throw new Error("the fleet's manager is not started yet");
      return manager;
    },
    processes,
    /** Rows as they are, for checking what a user would see. */
    prisma: () => fleet.manager.store.prismaForTests,
    /** Starts a test-module task (failAtRound off, abortable, no steps or children unless given). */
    start: (type: "flow" | "tree" | "count", input: Record<string, unknown>) =>
      fleet.manager.startTask({ module: "test", type, input: { failAtRound: null, abortable: true, steps: 0, children: 0, ...input } }),
    /** A check for `until`: every one of these tasks has ended. */
    allEnded: (ids: string[]) => async () =>
      (await fleet.prisma().task.count({ where: { id: { in: ids }, state: { in: [...ENDED] } } })) === ids.length,
    /** Starts a worker process on the fleet's database (workerEnv, then env, over the defaults). */
    async startWorker(env: Record<string, string> = {}): Promise<TaskgraphProcess> {
      const worker = await startProcess({ TASKGRAPH_ROLE: "work", DATABASE_URL: fleet.database.url, TASKGRAPH_CONCURRENCY: "16", ...workerEnv, ...env });
      processes.push(worker);
      return worker;
    },
    /** Every process's output, for a failure message. */
    logs: () => processes.map((p) => `\n--- ${p.name} ---\n${p.log()}`).join(""),
  };
  return fleet;
}
