// Shared helpers of the benchmarks: statistics, fresh PostgreSQL databases, the Redis of the
// BullMQ runs, child processes, progress output. Nothing here measures anything.
import { fork } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import type { StoreConfig } from "../../src/config";
import { buildServer } from "../../src/scripts/build-server.js";
import type { ServerOptions } from "./server-child";

export const BENCH_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
/** BullMQ's Redis: a database index of its own, and a key prefix only the benchmarks use. */
export const BENCH_REDIS = {
  host: process.env.BENCH_REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.BENCH_REDIS_PORT ?? 6379),
  db: Number(process.env.BENCH_REDIS_DB ?? 7),
};
export const BENCH_REDIS_PREFIX = "taskgraph-bench";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Bulk creation goes in batches of this many jobs (one transaction or call each), for every system. */
export const CREATE_BATCH = 1_000;
/** How often a throughput run asks its store whether all jobs are done. */
export const DONE_POLL_MS = 50;

/** Creates `n` jobs with `add(count)` in batches of CREATE_BATCH; returns jobs per second. */
export async function timeBatches(n: number, add: (count: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += CREATE_BATCH) await add(Math.min(CREATE_BATCH, n - i));
  return n / ((performance.now() - started) / 1000);
}

/** Polls `left()` until it is 0 or `capMs` has passed since `started`; returns the elapsed ms and what was left. */
export async function waitUntilDone(left: () => Promise<number>, capMs: number, started: number): Promise<{ ms: number; left: number }> {
  const cap = Number.isFinite(capMs) ? capMs : Infinity; // JSON turns Infinity into null
  for (;;) {
    const remaining = await left();
    const ms = performance.now() - started;
    if (remaining === 0 || ms >= cap) return { ms, left: remaining };
    await sleep(DONE_POLL_MS);
  }
}

/** `runs` rates (per second) of `count` sequential `add` calls each, after 50 to warm up. */
export async function timeSingleAdds(count: number, runs: number, add: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 50; i++) await add(i);
  const rates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    for (let i = 0; i < count; i++) await add(i);
    rates.push(count / ((performance.now() - started) / 1000));
  }
  return rates;
}

export const STORE_LABEL: Record<StoreConfig["kind"], string> = { postgresql: "PostgreSQL", pglite: "PGlite (in memory)" };

/** Progress for whoever watches: stderr, so stdout keeps only the tables. */
export function progress(message: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
}
const started = performance.now();

/** Rounds for tables: 3 significant figures at most, never a fraction above 100. */
export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 100 || digits === 0) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}

/** "postgresql,pglite" → the store kinds (a command-line argument). */
export function parseStores(text: string): StoreConfig["kind"][] {
  const kinds = text.split(",").map((k) => k.trim());
  for (const kind of kinds) if (kind !== "postgresql" && kind !== "pglite") throw new Error(`Unknown store "${kind}": postgresql or pglite`);
  return kinds as StoreConfig["kind"][];
}

let databaseCounter = 0;

/** A new empty PostgreSQL database (dropped by `drop`), or null when PostgreSQL is not reachable. */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> } | null> {
  const admin = new pg.Client({ connectionString: BENCH_URL });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `taskgraph_bench_${process.pid}_${++databaseCounter}`;
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Runs `fn` with a fresh database, dropping it afterwards whatever happens. */
export async function withFreshPostgres<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const db = await freshPostgres();
  if (!db) throw new Error(`PostgreSQL is not reachable at ${BENCH_URL}`);
  try {
    return await fn(db.url);
  } finally {
    await db.drop();
  }
}

/** Drops the databases of benchmark processes that are gone (killed before they could drop them). */
export async function dropStaleDatabases(): Promise<void> {
  const admin = new pg.Client({ connectionString: BENCH_URL });
  await admin.connect();
  const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'taskgraph\\_bench\\_%'`);
  for (const { datname } of rows) {
    const pid = Number(/^taskgraph_bench_(\d+)/.exec(datname)?.[1]);
    if (!pid || alive(pid)) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  }
  await admin.end();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BENCH_URL });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

// ── child processes ─────────────────────────────────────────────────────────
// Each measured run of a queue happens in a process of its own (child.ts), so no run inherits
// another's heap, timers or connections, and the parent's bookkeeping costs it nothing.

/** Node flags of a child: the parent's (tsx's loader) plus --expose-gc (and --cpu-prof with BENCH_CHILD_PROF=<dir>). */
export const childExecArgv = () => [
  ...process.execArgv.filter((a) => a !== "--expose-gc"),
  "--expose-gc",
  ...(process.env.BENCH_CHILD_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`] : []),
];

/**
 * Calls `module`'s export `fn` with `args` in a new Node process and resolves with what it
 * returned (JSON). `module` is a file name in test/bench. The child is killed after `timeoutMs`.
 */
export function runInChild<T>(module: string, fn: string, args: unknown[], timeoutMs = 600_000): Promise<T> {
  const script = new URL("./child.ts", import.meta.url).pathname;
  const child = fork(script, [JSON.stringify({ module, fn, args })], { execArgv: childExecArgv(), stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(new Error(`${module} ${fn} took more than ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("message", (message: { ok: boolean; result?: T; error?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (message.ok) resolve(message.result as T);
      else reject(new Error(`${module} ${fn} failed in its child process:\n${message.error}`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(new Error(`${module} ${fn}: child process exited with ${code} before answering`));
    });
  });
}

/** Runs `measure` `runs` times and returns every result (the caller takes medians). */
export async function repeat<T>(label: string, runs: number, measure: (run: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let run = 1; run <= runs; run++) {
    progress(`${label}: run ${run}/${runs}`);
    results.push(await measure(run));
  }
  return results;
}

export interface ServerHandle {
  /** The /graphql URL (http://…); ws://… for subscriptions. */
  url: string;
  pid: number;
  /** Calls `module`'s export `fn(app, ...args)` in the server process. */
  call<T>(module: string, fn: string, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

/** The bench modules whose functions run in the server process (ServerHandle.call). */
const SERVER_MODULES = ["server-child", "memory", "latency", "queries", "throughput", "console"];
let serverBuild: Promise<string> | undefined;

/**
 * The server child and those modules compiled by esbuild into dist/bench, once per benchmark
 * process, as `npm start` runs compiled JavaScript (no TypeScript loader, whose wrappers cost memory).
 */
function compiledServerChild(): Promise<string> {
  serverBuild ??= (async () => {
    const outDir = fileURLToPath(new URL("../../dist/bench", import.meta.url));
    const entryPoints = Object.fromEntries(SERVER_MODULES.map((name) => [name, fileURLToPath(new URL(`./${name}.ts`, import.meta.url))]));
    await buildServer({ entryPoints, outDir });
    return join(outDir, "server-child.js");
  })();
  return serverBuild;
}

/** Starts a taskgraph server (server-child.ts, compiled) on `store` in a child process (API only unless `extra` asks for a worker). */
export async function startServer(store: StoreConfig, extra: Omit<ServerOptions, "store"> = {}): Promise<ServerHandle> {
  const script = await compiledServerChild();
  const child = fork(script, [JSON.stringify({ ...extra, store })], { execArgv: ["--expose-gc", ...(process.env.BENCH_SERVER_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`] : [])], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let exited = false;
  return new Promise<ServerHandle>((resolve, reject) => {
    child.on("exit", (code) => {
      exited = true;
      const error = new Error(`The server process exited with ${code}`);
      for (const { reject: fail } of pending.values()) fail(error);
      pending.clear();
      reject(error);
    });
    child.on("message", (message: { ready?: true; url?: string; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (message.ready) {
        resolve({
          url: message.url!,
          pid: child.pid!,
          call: (module, fn, ...args) =>
            new Promise((resolveCall, rejectCall) => {
              const id = ++nextId;
              pending.set(id, { resolve: resolveCall, reject: rejectCall });
              child.send({ id, module, fn, args });
            }),
          stop: () =>
            new Promise<void>((resolveStop) => {
              if (exited) return resolveStop();
              child.once("exit", () => resolveStop());
              child.send({ stop: true });
            }),
        });
        return;
      }
      const waiting = pending.get(message.id!);
      if (!waiting) return;
      pending.delete(message.id!);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(`In the server process:\n${message.error}`));
    });
  });
}

/** Starts a server on a fresh PostgreSQL database or on PGlite in memory, runs `fn`, stops it. */
export async function withServer<T>(kind: StoreConfig["kind"], fn: (server: ServerHandle) => Promise<T>, options: Omit<ServerOptions, "store"> = {}): Promise<T> {
  const run = async (store: StoreConfig) => {
    const server = await startServer(store, options);
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };
  if (kind === "pglite") return run({ kind: "pglite", dataDir: ":memory:" });
  return withFreshPostgres((url) => run({ kind: "postgresql", url }));
}

export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Subscribers opened per burst. A thousand WebSocket handshakes at once (each authenticated with a
 * query) can outlast graphql-ws's 3 s connection_init timeout on a small machine (close 4408).
 */
const SUBSCRIBER_BURST = 100;

/**
 * Opens `count` graphql-ws clients (one WebSocket each) and lets `subscribe` start each one's
 * subscription; resolves once the server counts them all live.
 */
export async function openSubscribers(server: ServerHandle, count: number, subscribe: (client: Client, index: number) => void): Promise<Client[]> {
  const live = () => server.call<number>("server-child.ts", "liveSubscriptions");
  const base = await live();
  const clients: Client[] = [];
  for (let start = 0; start < count; start += SUBSCRIBER_BURST) {
    const end = Math.min(count, start + SUBSCRIBER_BURST);
    for (let i = start; i < end; i++) {
      const client = createClient({ url: server.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
      subscribe(client, i);
      clients.push(client);
    }
    await waitFor(`${base + end} live subscriptions`, 60_000, async () => (await live()) >= base + end);
  }
  return clients;
}

/** One GraphQL request over HTTP; throws on GraphQL errors. */
export async function graphql<T = any>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join("; ")}`);
  return body.data as T;
}
