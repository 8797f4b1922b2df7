// Real taskgraph processes for crash tests (`node --import tsx src/main.ts`), and a fresh
// PostgreSQL database for them: TEST_DATABASE_URL's server when set, otherwise
// postgres://postgres@127.0.0.1:5432 (the tests fail, rather than skip, when neither is reachable).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresAdapterFactory } from "../../src/db/adapters";
import { applyMigrations, PROJECT_ROOT } from "../../src/db/migrator";

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

/** A fresh, migrated PostgreSQL database; `drop()` removes it. */
export async function createPostgresDatabase(prefix: string) {
  const adminUrl = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect(); // no PostgreSQL reachable: the test fails here, on purpose
  await admin.query(`CREATE DATABASE ${name}`);
  const factory = new PostgresAdapterFactory(url.toString(), { max: 2 });
  try {
    await applyMigrations(factory);
  } finally {
    await factory.end();
  }
  return {
    name,
    url: url.toString(),
    admin,
    /** Terminates every session of the database but the admin's (what a PostgreSQL restart does to clients). */
    async terminateSessions(): Promise<number> {
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [name],
      );
      return Number(rows[0]!.n);
    },
    /**
     * A database restart as clients see it: every session is terminated and no new one is
     * accepted for `ms`. Returns how many sessions were terminated.
     */
    async outage(ms: number): Promise<number> {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      try {
        const terminated = await this.terminateSessions();
        await pause(ms);
        return terminated;
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      }
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
