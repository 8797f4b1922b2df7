// Throughput: N no-op tasks created in bulk, then executed to completion by one worker process,
// keeping full history (every task: CREATED, QUEUED→RUNNING, RUNNING→SUCCEEDED events).
// Usage: npm run bench -- throughput [N]   (PGlite in memory, and PostgreSQL when reachable)
import pg from "pg";
import { loadConfig, type StoreConfig } from "../../src/config";
import { openDatabase } from "../../src/db/client";
import { createTaskManager } from "../../src/runtime/manager";

const BENCH_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> } | null> {
  const admin = new pg.Client({ connectionString: BENCH_URL });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `taskgraph_bench_${process.pid}`;
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

export async function measureThroughput(store: StoreConfig, n: number, concurrency = 32) {
  const config = { ...loadConfig({}), store };
  const db = await openDatabase(store);
  const define = (m: ReturnType<typeof createTaskManager>) => m.defineTask({ module: "bench", type: "noop", run: () => null });
  const creator = createTaskManager({ config, db, worker: false });
  define(creator);
  await creator.start();
  const createStart = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await creator.startTasks(Array.from({ length: Math.min(1000, n - i) }, () => ({ module: "bench", type: "noop" })));
  }
  const createMs = performance.now() - createStart;
  await creator.stop();

  const runner = createTaskManager({ config, db, worker: { concurrency, pollMs: 1000 } });
  define(runner);
  const runStart = performance.now();
  await runner.start();
  for (;;) {
    const left = await db.prisma.task.count({ where: { state: { not: "SUCCEEDED" } } });
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const runMs = performance.now() - runStart;
  const events = await db.prisma.taskEvent.count();
  await runner.stop();
  await db.close();
  return { created: n, createPerSecond: n / (createMs / 1000), runPerSecond: n / (runMs / 1000), events };
}

async function main() {
  const n = Number(process.argv[2] ?? 10_000) || 10_000;
  const rows: string[] = [];
  const report = (label: string, r: Awaited<ReturnType<typeof measureThroughput>>) =>
    rows.push(`| ${label} | ${r.created} | ${Math.round(r.createPerSecond)} | ${Math.round(r.runPerSecond)} | ${r.events} |`);
  report("taskgraph, PGlite (in memory)", await measureThroughput({ kind: "pglite", dataDir: ":memory:" }, n));
  const pgdb = await freshPostgres();
  if (pgdb) {
    try {
      report("taskgraph, PostgreSQL", await measureThroughput({ kind: "postgresql", url: pgdb.url }, n));
    } finally {
      await pgdb.drop();
    }
  }
  console.log("| store | tasks | created/s (bulk) | executed/s | events kept |\n| --- | --- | --- | --- | --- |");
  console.log(rows.join("\n"));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
