// Live latency: S graphql-ws subscribers on taskEvents while T test tasks report progress;
// commit → client latency (the event's createdAt, stamped in its transaction, to its arrival at
// each client; one machine, one clock) as p50/p99, and delivered events/s.
// Usage: npm run bench -- latency [subscribers] [tasks]   (PGlite in memory, and PostgreSQL when reachable)
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { loadConfig, type StoreConfig } from "../../src/config";
import { buildApp } from "../../src/server";
import { freshPostgres } from "./throughput";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export async function measureLatency(store: StoreConfig, subscribers: number, tasks: number) {
  const app = await buildApp({ config: { ...loadConfig({}), store, port: 0 }, worker: { concurrency: 32 } });
  const { url } = await app.start(0);
  const latencies: number[] = [];
  let delivered = 0;
  const clients = Array.from({ length: subscribers }, () =>
    createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false }),
  );
  let finished = 0;
  const allDone = new Promise<void>((resolve) => {
    for (const client of clients) {
      let ended = 0;
      client.subscribe<{ taskEvents: { type: string; at: string; payload: any } }>(
        { query: `subscription { taskEvents(filter: { module: "test" }) { type at payload } }` },
        {
          next: ({ data }) => {
            const e = data!.taskEvents;
            latencies.push(Date.now() - Date.parse(e.at));
            delivered++;
            if (e.type === "STATE_CHANGED" && e.payload.to === "SUCCEEDED" && ++ended === tasks && ++finished === subscribers) resolve();
          },
          error: (err) => console.error(err),
          complete: () => {},
        },
      );
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // every subscription is live
  const started = performance.now();
  await app.manager.startTasks(
    Array.from({ length: tasks }, () => ({ module: "test", type: "count", input: { rounds: 10, roundMs: 100 } })),
  );
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.dispose()));
  await app.stop();
  latencies.sort((a, b) => a - b);
  return { subscribers, tasks, p50: percentile(latencies, 50), p99: percentile(latencies, 99), eventsPerSecond: delivered / seconds };
}

async function main() {
  const subscribers = Number(process.argv[2] ?? 100) || 100;
  const tasks = Number(process.argv[3] ?? 100) || 100;
  const rows: string[] = [];
  const report = (label: string, r: Awaited<ReturnType<typeof measureLatency>>) =>
    rows.push(`| ${label} | ${r.subscribers} | ${r.tasks} | ${r.p50} | ${r.p99} | ${Math.round(r.eventsPerSecond)} |`);
  report("taskgraph, PGlite (in memory)", await measureLatency({ kind: "pglite", dataDir: ":memory:" }, subscribers, tasks));
  const pgdb = await freshPostgres();
  if (pgdb) {
    try {
      report("taskgraph, PostgreSQL", await measureLatency({ kind: "postgresql", url: pgdb.url }, subscribers, tasks));
    } finally {
      await pgdb.drop();
    }
  }
  console.log("| store | subscribers | tasks | p50 ms | p99 ms | delivered events/s |\n| --- | --- | --- | --- | --- | --- |");
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
