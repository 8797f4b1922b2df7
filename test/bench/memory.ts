// Memory: the server process's growth per idle subscription. graphql-ws subscribers (one
// WebSocket each, in this process) subscribe to taskEvents and receive nothing; the server runs in
// a child process with --expose-gc and is read after forced collections, before the first and
// after each step of more subscribers. The figure is the median of the steps' growth: RSS now and
// then drops by 20–35 MiB in one step as V8 and malloc give pages back, which the median of six
// steps shrugs off (a single difference, or a slope through all readings, does not).
// Each row also starts the server as `npm start` does, on a data dir (or database) that an earlier
// start migrated: the wall time from spawning `npm start` to its ready line, and the server's RSS
// after one query and 3 s idle (read from /proc, so nothing in the server measures itself).
// Usage: npm run bench -- memory [subscribers per step] [steps] [starts]
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "graphql-ws";
import type { StoreConfig } from "../../src/config";
import type { App } from "../../src/server";
import { fmt, graphql, median, openSubscribers, progress, type ServerHandle, sleep, STORE_LABEL, withFreshPostgres, withServer } from "./common";
import { recordTarget, type Section } from "./results";
import { renderSection } from "./results";

export interface MemoryOptions {
  perStep: number;
  steps: number;
  warmup: number;
  stores: StoreConfig["kind"][];
  /** Timed `npm start`s per store, after one that migrates. */
  starts: number;
}

export const MEMORY_DEFAULTS: MemoryOptions = { perStep: 500, steps: 6, warmup: 100, stores: ["postgresql", "pglite"], starts: 5 };

const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The pids of `pid` and its descendants (npm → sh → node). */
async function processTree(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  const nested = await Promise.all(children.split(" ").filter(Boolean).map((child) => processTree(Number(child))));
  return [pid, ...nested.flat()];
}

/** The resident memory of the server process under `npm start` (the one running start.js), in bytes. */
async function serverRss(npmPid: number): Promise<number> {
  for (const pid of await processTree(npmPid)) {
    const name = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    const command = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (name !== "node" || !command.includes("start.js")) continue; // not npm, nor the shell running the script
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
  }
  throw new Error("No server process under npm start");
}

/** `npm start` with `env` until its ready line; then RSS after one query and 3 s idle; then SIGTERM to the process group. */
async function npmStart(env: Record<string, string>): Promise<{ readyMs: number; rss: number }> {
  const started = performance.now();
  const child = spawn("npm", ["start"], { cwd: PROJECT_ROOT, env: { ...process.env, PORT: "0", LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "inherit"], detached: true });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /taskgraph ready[^\n]*\nGraphiQL: (\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`npm start exited with ${code} before it was ready:\n${output}`)));
    });
    const readyMs = performance.now() - started;
    await graphql(url, `{ tasks(first: 10) { totalCount edges { node { id } } } }`);
    await sleep(3000);
    return { readyMs, rss: await serverRss(child.pid!) };
  } finally {
    process.kill(-child.pid!, "SIGTERM");
    await exited;
  }
}

/** Medians of `runs` timed starts on `env`'s store, after one untimed start that migrates it (and builds, if stale). */
async function timedStarts(label: string, runs: number, env: Record<string, string>): Promise<{ readyMs: number; rss: number }> {
  progress(`start ${label}: first start (migrates)`);
  await npmStart(env);
  const results: { readyMs: number; rss: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    progress(`start ${label}: run ${run}/${runs}`);
    results.push(await npmStart(env));
  }
  return { readyMs: median(results.map((r) => r.readyMs)), rss: median(results.map((r) => r.rss)) };
}

/** `npm start` on PostgreSQL (a fresh database) or PGlite (a new data dir in the temp folder). */
function startOn(kind: StoreConfig["kind"], runs: number): Promise<{ readyMs: number; rss: number }> {
  if (kind === "postgresql") return withFreshPostgres((url) => timedStarts("PostgreSQL", runs, { DATABASE_URL: url }));
  return (async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "taskgraph-bench-start-"));
    try {
      return await timedStarts("PGlite", runs, { TASKGRAPH_DATA_DIR: dataDir, DATABASE_URL: "" }); // an empty DATABASE_URL: PGlite
    } finally {
      await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }); // the last server may still be writing as it exits
    }
  })();
}


/** In the server process: memory after forced collections (a few, apart: V8 gives pages back lazily). */
export async function collectedMemory(_app: App): Promise<NodeJS.MemoryUsage> {
  if (!globalThis.gc) throw new Error("The server process needs --expose-gc");
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(200);
  }
  return process.memoryUsage();
}

/** In the server process: a heap snapshot written to `path` (BENCH_HEAPSNAP: what an idle subscription holds). */
export async function heapSnapshot(_app: App, path: string): Promise<string> {
  const { writeHeapSnapshot } = await import("node:v8");
  globalThis.gc?.();
  return writeHeapSnapshot(path);
}

async function subscribe(server: ServerHandle, clients: Client[], count: number): Promise<void> {
  const opened = await openSubscribers(server, count, (client) =>
    client.subscribe(
      { query: `subscription { taskEvents(filter: { module: "test" }) { type at taskId } }` },
      { next: () => {}, error: (error) => console.error("[bench] subscription failed:", error), complete: () => {} },
    ),
  );
  clients.push(...opened);
}

export async function memorySection(options: MemoryOptions): Promise<Section> {
  const rows: string[][] = [];
  for (const kind of options.stores) {
    const start = await startOn(kind, options.starts);
    await withServer(kind, async (server) => {
      const clients: Client[] = [];
      await subscribe(server, clients, options.warmup); // the code paths of a subscription are loaded and warm
      const readings: { subscribers: number; memory: NodeJS.MemoryUsage }[] = [];
      readings.push({ subscribers: clients.length, memory: await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory") });
      const snapshots = process.env.BENCH_HEAPSNAP; // a directory: heap snapshots before the first step and after the last
      if (snapshots) progress(`  ${await server.call<string>("memory.ts", "heapSnapshot", join(snapshots, `${kind}-${clients.length}.heapsnapshot`))}`);
      for (let step = 1; step <= options.steps; step++) {
        progress(`memory ${STORE_LABEL[kind]}: step ${step}/${options.steps} (+${options.perStep} idle subscribers)`);
        await subscribe(server, clients, options.perStep);
        readings.push({ subscribers: clients.length, memory: await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory") });
        const [before, after] = readings.slice(-2).map((r) => r.memory) as [NodeJS.MemoryUsage, NodeJS.MemoryUsage];
        progress(`  RSS ${fmt((after.rss - before.rss) / 2 ** 20, 1)} MiB, heap ${fmt((after.heapUsed - before.heapUsed) / 2 ** 20, 1)} MiB`);
      }
      if (snapshots) progress(`  ${await server.call<string>("memory.ts", "heapSnapshot", join(snapshots, `${kind}-${clients.length}.heapsnapshot`))}`);
      await Promise.all(clients.map((c) => c.dispose()));
      /** KB per subscription: the median over the steps of (growth / subscribers added). */
      const perSubscription = (of: (m: NodeJS.MemoryUsage) => number) =>
        median(readings.slice(1).map((r, i) => (of(r.memory) - of(readings[i]!.memory)) / 1024 / (r.subscribers - readings[i]!.subscribers)));
      const rss = perSubscription((m) => m.rss);
      const heap = perSubscription((m) => m.heapUsed);
      const last = readings.at(-1)!;
      const label = STORE_LABEL[kind];
      recordTarget({ figure: `memory per idle subscription (${label})`, now: `${fmt(rss, 1)} KB RSS, ${fmt(heap, 1)} KB heap`, target: "≤ 10 KB", met: rss <= 10 });
      recordTarget({ figure: `\`npm start\` to ready on an existing store (${label})`, now: `${fmt(start.readyMs)} ms`, target: "≤ 800 ms", met: start.readyMs <= 800 });
      const rssTarget = kind === "postgresql" ? 150 : 400;
      const idle = start.rss / 2 ** 20;
      recordTarget({ figure: `idle server RSS after start (${label})`, now: `${fmt(idle)} MiB`, target: `≤ ${rssTarget} MiB`, met: idle <= rssTarget });
      rows.push([`taskgraph, ${STORE_LABEL[kind]}`, fmt(start.readyMs), `${fmt(start.rss / 2 ** 20)} MiB`, `${fmt(last.memory.rss / 2 ** 20)} MiB`, fmt(rss, 1), fmt(heap, 1), fmt((rss * 1000) / 1024, 1)]);
    });
  }
  return {
    title: "4. Start, idle memory, and memory of idle subscriptions",
    caption:
      `Start: \`npm start\` (compiled JavaScript, dist/server) spawned ${options.starts} times on a store an earlier start migrated (a fresh PostgreSQL database; ` +
      `PGlite: a data dir on disk): wall ms from the spawn to the ready line, and the server process's RSS (/proc) after one \`tasks\` query and 3 s idle; medians. ` +
      `Subscriptions, on a server of its own (the same compiled code; PGlite in memory): graphql-ws subscribers on \`taskEvents\` (one WebSocket each, opened 100 at a time, in the benchmark process) with no traffic; the server process's memory read after forced ` +
      `garbage collections (--expose-gc) at ${options.warmup} subscribers (after warming up) and after each of ${options.steps} steps of ` +
      `${options.perStep.toLocaleString("en-US")} more. Per subscription: the median over the steps of the step's growth / ${options.perStep} ` +
      `(RSS sometimes drops by tens of MiB in one step as V8 and malloc return pages; the JS heap is steadier).`,
    header: ["server", "`npm start` to ready, ms", "idle RSS after start", `RSS with ${(options.warmup + options.steps * options.perStep).toLocaleString("en-US")} subscribers`, "RSS KB per subscription", "JS heap KB per subscription", "RSS MiB per 1,000"],
    rows,
  };
}

export async function main(args: string[]): Promise<void> {
  const perStep = Number(args[0] ?? MEMORY_DEFAULTS.perStep) || MEMORY_DEFAULTS.perStep;
  const steps = Number(args[1] ?? MEMORY_DEFAULTS.steps) || MEMORY_DEFAULTS.steps;
  const starts = Number(args[2] ?? MEMORY_DEFAULTS.starts) || MEMORY_DEFAULTS.starts;
  console.log(renderSection(await memorySection({ ...MEMORY_DEFAULTS, perStep, steps, starts })));
}
