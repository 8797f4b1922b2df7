// Throughput: N no-op tasks created in bulk, then executed to completion by one worker process,
// keeping full history (every task: CREATED, QUEUED→RUNNING, RUNNING→SUCCEEDED events); the
// peers the same way (peers.ts). And one-at-a-time creation: taskgraph's startTask mutation over
// HTTP, sequential requests, next to the peers' single add.
// Usage: npm run bench -- throughput [N] [runs]
import { loadConfig, type StoreConfig } from "../../src/config";
import { openDatabase } from "../../src/db/client";
import { createTaskManager } from "../../src/runtime/manager";
import type { App } from "../../src/server";
import type { ServerHandle } from "./common";
import { fmt, graphql, median, progress, runInChild, STORE_LABEL, timeBatches, timeSingleAdds, waitUntilDone, withFreshPostgres, withServer } from "./common";
import { PG_BOSS_OPTIONS, type ThroughputResult } from "./peers";
import { recordTarget, type Section } from "./results";
import { renderSection } from "./results";
import { defineBenchTask } from "./server-child";

export const TASKGRAPH_CONCURRENCY = 32;

/** What a throughput run executes: a no-op task, or a flow of three no-op steps, one after another. */
export type BenchWork = "noop" | "flow3";

/** bench/flow3: three steps a → b → c, each a no-op (each step is its own durable unit: attempts, events). */
function defineBenchWork(manager: ReturnType<typeof createTaskManager>) {
  defineBenchTask(manager);
  manager.defineTask({
    module: "bench",
    type: "flow3",
    steps: [
      { key: "a", run: () => null },
      { key: "b", dependsOn: ["a"], run: () => null },
      { key: "c", dependsOn: ["b"], run: () => null },
    ],
  });
}

/**
 * Creates `n` bench/noop (or bench/flow3) tasks in bulk (1,000 per call), then starts one worker
 * and waits until every task has SUCCEEDED, or `capMs` after the worker started (then the rate is
 * of the tasks done by then).
 */
export async function measureThroughput(store: StoreConfig, n: number, concurrency = TASKGRAPH_CONCURRENCY, capMs = Infinity, work: BenchWork = "noop") {
  // warn: every task's end is an info line; the engine is measured here, not stdout (the peers log nothing either).
  const config = { ...loadConfig({ LOG_LEVEL: "warn" }), store };
  const db = await openDatabase(store);
  const creator = createTaskManager({ config, db, worker: false });
  defineBenchWork(creator);
  await creator.start();
  const createPerSecond = await timeBatches(n, (count) => creator.startTasks(Array.from({ length: count }, () => ({ module: "bench", type: work }))));
  await creator.stop();

  const runner = createTaskManager({ config, db, worker: { concurrency, pollMs: 1000 } });
  defineBenchWork(runner);
  const runStart = performance.now();
  await runner.start();
  const { ms, left } = await waitUntilDone(() => db.prisma.task.count({ where: { state: { not: "SUCCEEDED" } } }), capMs, runStart);
  const events = await db.prisma.taskEvent.count();
  await runner.stop();
  await db.close();
  return { n, created: n, done: n - left, createPerSecond, runPerSecond: (n - left) / (ms / 1000), events };
}

/** In the server process: `runs` rates of `count` manager.startTask calls one after another (the library path). */
export async function startTasksInProcess(app: App, count: number, runs: number): Promise<number[]> {
  return timeSingleAdds(count, runs, () => app.manager.startTask({ module: "bench", type: "noop" }));
}

const START_TASK = `mutation { startTask(input: { module: "bench", type: "noop" }) { id state } }`;

/** `runs` rates of `count` sequential startTask mutations over HTTP. */
export function startTasksOverHttp(server: ServerHandle, count: number, runs: number): Promise<number[]> {
  return timeSingleAdds(count, runs, () => graphql(server.url, START_TASK));
}

interface Contender {
  name: string;
  config: string;
  measure: (n: number, capMs: number) => Promise<ThroughputResult>;
}

const PLAIN = "taskgraph, PostgreSQL";
const FLOWS = "taskgraph, PostgreSQL, 3-step flows";

/** TASKGRAPH_CONCURRENCY for no-op tasks: the slots a finished batch frees are the next claim's size. */
export const TASKGRAPH_TUNED_CONCURRENCY = 256;

const taskgraphOn = (kind: StoreConfig["kind"], concurrency = TASKGRAPH_CONCURRENCY, work: BenchWork = "noop") => (n: number, capMs: number) =>
  kind === "pglite"
    ? runInChild<ThroughputResult>("throughput.ts", "measureThroughput", [{ kind, dataDir: ":memory:" }, n, concurrency, capMs, work])
    : withFreshPostgres((url) => runInChild<ThroughputResult>("throughput.ts", "measureThroughput", [{ kind, url }, n, concurrency, capMs, work]));

const pgPeer = (fn: string, ...extra: unknown[]) => (n: number, capMs: number) =>
  withFreshPostgres((url) => runInChild<ThroughputResult>("peers.ts", fn, [url, n, ...extra, capMs]));

const CONTENDERS: Contender[] = [
  { name: PLAIN, config: `1 worker process, concurrency ${TASKGRAPH_CONCURRENCY}; full history`, measure: taskgraphOn("postgresql") },
  {
    name: FLOWS,
    config: `bench/flow3: 3 no-op steps a → b → c; 1 worker process, concurrency ${TASKGRAPH_CONCURRENCY}; full history`,
    measure: taskgraphOn("postgresql", TASKGRAPH_CONCURRENCY, "flow3"),
  },
  { name: "taskgraph, PGlite (in memory)", config: `1 worker process, concurrency ${TASKGRAPH_CONCURRENCY}; full history`, measure: taskgraphOn("pglite") },
  {
    name: "taskgraph, PostgreSQL, tuned",
    config: `1 worker process, concurrency ${TASKGRAPH_TUNED_CONCURRENCY} (TASKGRAPH_CONCURRENCY); full history`,
    measure: taskgraphOn("postgresql", TASKGRAPH_TUNED_CONCURRENCY),
  },
  { name: "graphile-worker 0.17, defaults", config: "run() defaults: concurrentJobs 1, maxPoolSize 10", measure: pgPeer("graphileThroughput", false) },
  {
    name: "graphile-worker 0.17, tuned",
    config: "concurrentJobs 24, maxPoolSize 25, localQueue.size 500, complete/failJobBatchDelay 0",
    measure: pgPeer("graphileThroughput", true),
  },
  {
    name: "pg-boss 10",
    config: `${PG_BOSS_OPTIONS.workers} × work(), batchSize ${PG_BOSS_OPTIONS.batchSize}, pollingIntervalSeconds ${PG_BOSS_OPTIONS.pollingIntervalSeconds}`,
    measure: pgPeer("pgBossThroughput"),
  },
  { name: "BullMQ 6, defaults", config: "1 Worker, concurrency 1; completed jobs kept", measure: (n, cap) => runInChild("peers.ts", "bullmqThroughput", [n, cap, 1]) },
  { name: "BullMQ 6, concurrency 24", config: "1 Worker, concurrency 24; completed jobs kept", measure: (n, cap) => runInChild("peers.ts", "bullmqThroughput", [n, cap, 24]) },
];

const TUNED = "graphile-worker 0.17, tuned";


export interface ThroughputOptions {
  n: number;
  runs: number;
  /** A run stops this long after its workers started, whether or not all tasks are done. */
  capMs: number;
}

/** Bulk creation, then execution to completion: every contender `runs` times, rounds interleaved. */
export async function throughputSection({ n, runs, capMs }: ThroughputOptions): Promise<Section> {
  const results = new Map<string, ThroughputResult[]>(CONTENDERS.map((c) => [c.name, []]));
  for (let run = 1; run <= runs; run++) {
    for (const contender of CONTENDERS) {
      progress(`throughput ${contender.name}: run ${run}/${runs} (N = ${n})`);
      const result = await contender.measure(n, capMs);
      progress(`  created ${fmt(result.createPerSecond)}/s, executed ${fmt(result.runPerSecond)}/s (${result.done}/${result.n} done)`);
      results.get(contender.name)!.push(result);
    }
  }
  const rate = (name: string) => median(results.get(name)!.map((r) => r.runPerSecond));
  const tuned = rate(TUNED);
  const notes: string[] = [];
  const rows = CONTENDERS.map((c) => {
    const rs = results.get(c.name)!;
    const capped = rs.filter((r) => r.done < r.n);
    let mark = "";
    if (capped.length) {
      mark = " †";
      notes.push(
        `† ${c.name}: ${capped.length} of ${rs.length} runs stopped at the ${capMs / 1000} s cap with ${capped.map((r) => r.done.toLocaleString("en-US")).join(", ")} of ${n.toLocaleString("en-US")} done; the rate is tasks done / time.`,
      );
    }
    return [c.name, c.config, fmt(median(rs.map((r) => r.createPerSecond))), fmt(rate(c.name)) + mark, `${(rate(c.name) / tuned).toFixed(2)}×`];
  });
  notes.push(
    `${FLOWS}: executed/s counts flows (each 3 steps), ${(rate(FLOWS) / rate(PLAIN)).toFixed(2)}× the plain tasks/s of ${PLAIN} (target ≥ 0.5×).`,
  );
  const created = (name: string) => median(results.get(name)!.map((r) => r.createPerSecond));
  const ratios = [PLAIN, "taskgraph, PostgreSQL, tuned"].map((name) => rate(name) / tuned);
  recordTarget({
    figure: "executed/s vs graphile-worker tuned (full history kept), same run",
    now: ratios.map((r) => `${r.toFixed(2)}×`).join(" (concurrency 256: ") + ")",
    target: "≥ 0.5×",
    met: Math.max(...ratios) >= 0.5,
  });
  const bulk = created(PLAIN) / created(TUNED);
  recordTarget({
    figure: "bulk creation/s vs graphile-worker `addJobs`, same run",
    now: `${fmt(created(PLAIN))} vs ${fmt(created(TUNED))}: ${bulk.toFixed(2)}×`,
    target: "≥ 0.5×",
    met: bulk >= 0.5,
  });
  const flows = rate(FLOWS) / rate(PLAIN);
  recordTarget({ figure: "3-step flows executed/s", now: `${fmt(rate(FLOWS))}/s, ${flows.toFixed(2)}× plain tasks/s`, target: "≥ 0.5× plain tasks/s", met: flows >= 0.5 });
  notes.push(
    `pg-boss waits out its polling interval between fetches even with a backlog, so this configuration cannot exceed ${PG_BOSS_OPTIONS.workers} × ${PG_BOSS_OPTIONS.batchSize} / ${PG_BOSS_OPTIONS.pollingIntervalSeconds} s = ${fmt((PG_BOSS_OPTIONS.workers * PG_BOSS_OPTIONS.batchSize) / PG_BOSS_OPTIONS.pollingIntervalSeconds)} jobs/s; with its defaults (batchSize 1, 2 s) it runs 0.5 jobs/s.`,
  );
  return {
    title: "1. Throughput",
    caption: `N = ${n.toLocaleString("en-US")} no-op tasks created in bulk (batches of 1,000), then executed to completion: executed/s is N / (time from starting the workers until the store says all N are complete). Median of ${runs} runs, each in a fresh process and a fresh database.`,
    header: ["system", "configuration", "bulk created/s", "executed/s", "vs graphile-worker tuned"],
    rows,
    notes,
  };
}

export interface SingleAddOptions {
  count: number;
  runs: number;
}

/** One-at-a-time creation: sequential requests, each waiting for the previous one. */
export async function singleAddSection({ count, runs }: SingleAddOptions): Promise<Section> {
  const rows: { name: string; how: string; rates: number[] }[] = [];
  for (const kind of ["postgresql", "pglite"] as const) {
    progress(`one-at-a-time: taskgraph startTask over HTTP on ${kind} (${runs} × ${count})`);
    await withServer(kind, async (server) => {
      rows.push({
        name: `taskgraph, ${STORE_LABEL[kind]}`,
        how: "`startTask` mutation over HTTP (GraphQL, sequential requests)",
        rates: await startTasksOverHttp(server, count, runs),
      });
      if (kind === "postgresql") {
        progress(`one-at-a-time: taskgraph manager.startTask in-process on ${kind}`);
        rows.push({
          name: "taskgraph, PostgreSQL",
          how: "`manager.startTask()` in-process (library, no HTTP)",
          rates: await server.call<number[]>("throughput.ts", "startTasksInProcess", count, runs),
        });
      }
    });
  }
  progress("one-at-a-time: graphile-worker addJob");
  rows.push({ name: "graphile-worker 0.17", how: "`addJob()` one by one", rates: await withFreshPostgres((url) => runInChild("peers.ts", "graphileSingleAdd", [url, count, runs])) });
  progress("one-at-a-time: pg-boss send");
  rows.push({ name: "pg-boss 10", how: "`send()` one by one", rates: await withFreshPostgres((url) => runInChild("peers.ts", "pgBossSingleAdd", [url, count, runs])) });
  progress("one-at-a-time: BullMQ add");
  rows.push({ name: "BullMQ 6", how: "`queue.add()` one by one", rates: await runInChild("peers.ts", "bullmqSingleAdd", [count, runs]) });
  const reference = median(rows.find((r) => r.name.startsWith("graphile-worker"))!.rates);
  const overHttp = median(rows[0]!.rates);
  recordTarget({ figure: "`startTask` over HTTP, sequential (PostgreSQL)", now: `${fmt(overHttp)}/s`, target: "≥ 600/s", met: overHttp >= 600 });
  return {
    title: "1b. One-at-a-time creation",
    caption: `${count} creations one after another (each waits for the previous), after 50 to warm up; median of ${runs} runs. taskgraph's mutation goes through HTTP and GraphQL to a server in another process; the peers' calls are in-process library calls (as is taskgraph's manager.startTask row).`,
    header: ["system", "how", "created/s", "vs graphile-worker addJob"],
    rows: rows.map((r) => [r.name, r.how, fmt(median(r.rates)), `${(median(r.rates) / reference).toFixed(2)}×`]),
  };
}

/** capMs: the longest a run may execute, so that `npm run bench` stays within its time budget. */
export const THROUGHPUT_DEFAULTS: ThroughputOptions = { n: 20_000, runs: 3, capMs: Number(process.env.BENCH_THROUGHPUT_CAP_MS ?? 20_000) };
export const SINGLE_ADD_DEFAULTS: SingleAddOptions = { count: 200, runs: 5 };

/** npm run bench -- throughput [N] [runs] */
export async function main(args: string[]): Promise<void> {
  const n = Number(args[0] ?? THROUGHPUT_DEFAULTS.n) || THROUGHPUT_DEFAULTS.n;
  const runs = Number(args[1] ?? THROUGHPUT_DEFAULTS.runs) || THROUGHPUT_DEFAULTS.runs;
  console.log(renderSection(await throughputSection({ ...THROUGHPUT_DEFAULTS, n, runs })));
  console.log(renderSection(await singleAddSection(SINGLE_ADD_DEFAULTS)));
}
