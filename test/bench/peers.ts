// The peers a user would pick instead of taskgraph, measured the same way: N no-op jobs created
// in bulk (batches of 1,000, like taskgraph's throughput run), then the workers are started and
// timed until the store says all N are complete; and jobs added one at a time.
// Each function runs in a child process of its own (common.ts runInChild), one run per process.
//
// Options (the libraries' own names):
// - graphile-worker "defaults": run() with its defaults (concurrentJobs 1, maxPoolSize 10,
//   pollInterval 2 s; the worker is woken by NOTIFY).
// - graphile-worker "tuned": its documented performance configuration
//   (worker.graphile.org/docs/performance): concurrentJobs 24, maxPoolSize 25,
//   localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0.
// - pg-boss: work() with batchSize and polling interval below (its defaults, batchSize 1 and a
//   2 s polling interval, take one job per poll: 0.5 jobs/s on a backlog).
// - BullMQ: one Worker, with its default concurrency 1 and with concurrency 24; completed jobs
//   are kept (its default), as taskgraph keeps its history.
// Both graphile-worker configurations get a silent logger: its default logs a line per job.
import { Queue, Worker as BullWorker } from "bullmq";
import { Logger, makeWorkerUtils, run, type RunnerOptions } from "graphile-worker";
import { Redis } from "ioredis";
import PgBoss from "pg-boss";
import pg from "pg";
import { BENCH_REDIS, BENCH_REDIS_PREFIX, timeBatches, timeSingleAdds, waitUntilDone } from "./common";

/** pg-boss waits out its polling interval between fetches even on a backlog: ≤ workers × batchSize / interval. */
export const PG_BOSS_OPTIONS = { batchSize: 500, pollingIntervalSeconds: 0.5, workers: 4 };

export interface ThroughputResult {
  /** Jobs created per second in bulk. */
  createPerSecond: number;
  /** Jobs executed per second, from starting the workers until the store says all are complete. */
  runPerSecond: number;
  /** Jobs complete when the run ended (less than n only when it hit its time cap). */
  done: number;
  n: number;
}

const silentLogger = new Logger(() => () => {});

const graphileOptions = (tuned: boolean): RunnerOptions =>
  tuned
    ? {
        concurrency: 24,
        maxPoolSize: 25,
        preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      }
    : {};

// ── graphile-worker ─────────────────────────────────────────────────────────

export async function graphileThroughput(url: string, n: number, tuned: boolean, capMs: number): Promise<ThroughputResult> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silentLogger });
  await utils.migrate();
  const createPerSecond = await timeBatches(n, (count) =>
    utils.addJobs(Array.from({ length: count }, (_, i) => ({ identifier: "noop", payload: { i } }))),
  );
  const counter = new pg.Client({ connectionString: url });
  await counter.connect();
  const started = performance.now();
  const runner = await run({
    ...graphileOptions(tuned),
    connectionString: url,
    logger: silentLogger,
    noHandleSignals: true,
    taskList: { noop: async () => {} },
  });
  // Completed jobs are deleted.
  const { ms, left } = await waitUntilDone(
    async () => Number((await counter.query("SELECT count(*) AS n FROM graphile_worker._private_jobs")).rows[0].n),
    capMs,
    started,
  );
  await runner.stop();
  await counter.end();
  await utils.release();
  return { createPerSecond, runPerSecond: (n - left) / (ms / 1000), done: n - left, n };
}

export async function graphileSingleAdd(url: string, count: number, runs: number): Promise<number[]> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silentLogger });
  await utils.migrate();
  const rates = await timeSingleAdds(count, runs, (i) => utils.addJob("noop", { i }));
  await utils.release();
  return rates;
}

// ── pg-boss ─────────────────────────────────────────────────────────────────

async function startBoss(url: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url });
  boss.on("error", (error) => console.error("[pg-boss]", error));
  await boss.start();
  await boss.createQueue("noop");
  return boss;
}

export async function pgBossThroughput(url: string, n: number, capMs: number): Promise<ThroughputResult> {
  const boss = await startBoss(url);
  const createPerSecond = await timeBatches(n, (count) =>
    boss.insert(Array.from({ length: count }, (_, i) => ({ name: "noop", data: { i } }))),
  );
  const started = performance.now();
  const { batchSize, pollingIntervalSeconds, workers } = PG_BOSS_OPTIONS;
  for (let i = 0; i < workers; i++) await boss.work("noop", { batchSize, pollingIntervalSeconds }, async () => {});
  // Jobs in a state before `completed` (created, retry, active).
  const { ms, left } = await waitUntilDone(() => boss.getQueueSize("noop", { before: "completed" }), capMs, started);
  await boss.stop({ graceful: false, wait: true });
  return { createPerSecond, runPerSecond: (n - left) / (ms / 1000), done: n - left, n };
}

export async function pgBossSingleAdd(url: string, count: number, runs: number): Promise<number[]> {
  const boss = await startBoss(url);
  const rates = await timeSingleAdds(count, runs, (i) => boss.send("noop", { i }));
  await boss.stop({ graceful: false, wait: true });
  return rates;
}

// ── BullMQ ──────────────────────────────────────────────────────────────────

const connection = { host: BENCH_REDIS.host, port: BENCH_REDIS.port, db: BENCH_REDIS.db };

/** Deletes every key under the benchmarks' prefix in the benchmarks' Redis database. */
export async function clearBullRedis(): Promise<void> {
  const redis = new Redis(connection);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${BENCH_REDIS_PREFIX}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
  await redis.quit();
}

export async function bullmqThroughput(n: number, capMs: number, concurrency: number): Promise<ThroughputResult> {
  await clearBullRedis();
  const queue = new Queue("noop", { connection, prefix: BENCH_REDIS_PREFIX });
  const createPerSecond = await timeBatches(n, (count) =>
    queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: "noop", data: { i } }))),
  );
  const started = performance.now();
  const worker = new BullWorker("noop", async () => {}, { connection, prefix: BENCH_REDIS_PREFIX, concurrency });
  const { ms } = await waitUntilDone(async () => n - (await queue.getCompletedCount()), capMs, started);
  const done = await queue.getCompletedCount();
  await worker.close();
  await queue.close();
  await clearBullRedis();
  return { createPerSecond, runPerSecond: done / (ms / 1000), done, n };
}

export async function bullmqSingleAdd(count: number, runs: number): Promise<number[]> {
  await clearBullRedis();
  const queue = new Queue("noop", { connection, prefix: BENCH_REDIS_PREFIX });
  const rates = await timeSingleAdds(count, runs, (i) => queue.add("noop", { i }));
  await queue.close();
  await clearBullRedis();
  return rates;
}
