// Live latency: S graphql-ws subscribers on taskEvents while T test tasks report progress;
// commit → client latency (the event's `at`, stamped in its transaction, to its arrival at each
// client; one machine, one clock) as p50/p99, and delivered events/s.
// Two shapes: each subscriber watches one task (filter: {taskId}, S/T subscribers per task: a
// console page showing one task), or every subscriber watches the whole module (the fan-out
// worst case). The server runs in a child process; the clients run here.
// Usage: npm run bench -- latency [subscribers] [tasks] [runs] [stores, e.g. postgresql,pglite]
import { availableParallelism } from "node:os";
import type { StoreConfig } from "../../src/config";
import { createTaskManager, type TaskManager } from "../../src/runtime/manager";
import type { App } from "../../src/server";
import { defineTestModule } from "../../src/modules/test";
import { fmt, median, openSubscribers, waitFor, parseStores, percentile, progress, type ServerHandle, STORE_LABEL, withServer } from "./common";
import { recordTarget, type Section } from "./results";
import { renderSection } from "./results";

export type Shape = "task" | "module";

export interface LatencyOptions {
  subscribers: number;
  tasks: number;
  runs: number;
  /** Rounds of each test task per shape (each round reports progress once). */
  rounds: Record<Shape, number>;
  roundMs: number;
  stores: StoreConfig["kind"][];
}

export interface LatencyRun {
  p50: number;
  p99: number;
  delivered: number;
  eventsPerSecond: number;
  /** CPU time of the server process / wall time of the run: 1.0 is one core saturated. */
  serverCpu: number;
  /** The same for this process (the clients). */
  clientCpu: number;
}

// ── in the server process ───────────────────────────────────────────────────

let runner: TaskManager | undefined;

/** Creates the test tasks (QUEUED: the server runs no worker yet) and returns their ids. */
export async function createLatencyTasks(app: App, tasks: number, rounds: number, roundMs: number): Promise<string[]> {
  const created = await app.manager.startTasks(Array.from({ length: tasks }, () => ({ module: "test", type: "count", input: { rounds, roundMs } })));
  return created.map((t) => t.id);
}

/** CPU time used by the server process so far, in ms. */
export function cpuMs(_app: App): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Starts a worker in the server process, on the server's database, running every task at once. */
export async function startLatencyWorker(app: App, concurrency: number): Promise<void> {
  runner = createTaskManager({ config: app.config, db: app.db, worker: { concurrency } });
  defineTestModule(runner);
  await runner.start();
}

export async function stopLatencyWorker(_app: App): Promise<void> {
  await runner?.stop();
  runner = undefined;
}

// ── here: the clients ───────────────────────────────────────────────────────

const SUBSCRIPTION = `subscription ($filter: TaskEventFilter) { taskEvents(filter: $filter) { type at payload } }`;

/** One run: create the tasks, subscribe everyone, start the worker, wait until every subscriber saw every task end. */
export async function measureLatencyOnce(server: ServerHandle, shape: Shape, subscribers: number, tasks: number, rounds: number, roundMs: number): Promise<LatencyRun> {
  const ids = await server.call<string[]>("latency.ts", "createLatencyTasks", tasks, rounds, roundMs);
  const latencies: number[] = [];
  let delivered = 0;
  let lastArrival = 0;
  let finished = 0;
  const endsPerSubscriber = shape === "task" ? 1 : tasks;
  let resolveAll = () => {};
  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
  const clients = await openSubscribers(server, subscribers, (client, s) => {
    const filter = shape === "task" ? { taskId: ids[s % tasks] } : { module: "test" };
    let ended = 0;
    client.subscribe<{ taskEvents: { type: string; at: string; payload: { to?: string } } }>(
      { query: SUBSCRIPTION, variables: { filter } },
      {
        next: ({ data }) => {
          const event = data!.taskEvents;
          const now = Date.now();
          latencies.push(now - Date.parse(event.at));
          delivered++;
          lastArrival = now;
          if (event.type === "STATE_CHANGED" && event.payload.to === "SUCCEEDED" && ++ended === endsPerSubscriber && ++finished === subscribers) resolveAll();
        },
        error: (error) => console.error("[bench] subscription failed:", error),
        complete: () => {},
      },
    );
  });
  const started = Date.now();
  const serverCpuBefore = await server.call<number>("latency.ts", "cpuMs");
  const clientCpuBefore = process.cpuUsage();
  await server.call("latency.ts", "startLatencyWorker", tasks);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`latency run (${shape}) did not finish in 300 s: ${finished} of ${subscribers} subscribers done`)), 300_000).unref());
  await Promise.race([allDone, timeout]);
  const wallMs = Date.now() - started;
  const serverCpu = ((await server.call<number>("latency.ts", "cpuMs")) - serverCpuBefore) / wallMs;
  const clientCpuUsed = process.cpuUsage(clientCpuBefore);
  const clientCpu = (clientCpuUsed.user + clientCpuUsed.system) / 1000 / wallMs;
  await server.call("latency.ts", "stopLatencyWorker");
  await Promise.all(clients.map((c) => c.dispose()));
  // The next run counts its subscriptions from here: wait until the server has dropped these.
  await waitFor("the last run's subscriptions to end", 60_000, async () => (await server.call<number>("server-child.ts", "liveSubscriptions")) === 0);
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    delivered,
    eventsPerSecond: delivered / ((lastArrival - started) / 1000),
    serverCpu,
    clientCpu,
  };
}

/** BENCH_LATENCY_SHAPES=task (or module) runs one shape only, e.g. to profile it. */
const SHAPES = (process.env.BENCH_LATENCY_SHAPES?.split(",") ?? ["task", "module"]) as Shape[];

const SHAPE_LABEL: Record<Shape, string> = {
  task: "one task each (`filter: {taskId}`)",
  module: "whole module each (`filter: {module}`)",
};

export async function latencySection(options: LatencyOptions): Promise<Section> {
  const { subscribers, tasks, runs, rounds, roundMs } = options;
  const rows: string[][] = [];
  for (const kind of options.stores) {
    await withServer(kind, async (server) => {
      for (const shape of SHAPES) {
        const results: LatencyRun[] = [];
        for (let run = 1; run <= runs; run++) {
          progress(`latency ${STORE_LABEL[kind]}, ${shape} shape: run ${run}/${runs} (${subscribers} subscribers, ${tasks} tasks × ${rounds[shape]} rounds)`);
          const result = await measureLatencyOnce(server, shape, subscribers, tasks, rounds[shape], roundMs);
          progress(
            `  p50 ${result.p50} ms, p99 ${result.p99} ms, ${fmt(result.eventsPerSecond)} events/s (${result.delivered} delivered); CPU: server ${result.serverCpu.toFixed(2)}, clients ${result.clientCpu.toFixed(2)}`,
          );
          results.push(result);
        }
        rows.push([
          `taskgraph, ${STORE_LABEL[kind]}`,
          SHAPE_LABEL[shape],
          String(subscribers),
          `${tasks} × ${rounds[shape]} rounds`,
          fmt(median(results.map((r) => r.delivered))),
          fmt(median(results.map((r) => r.p50))),
          fmt(median(results.map((r) => r.p99))),
          fmt(median(results.map((r) => r.eventsPerSecond))),
          `${median(results.map((r) => r.serverCpu)).toFixed(2)} / ${median(results.map((r) => r.clientCpu)).toFixed(2)}`,
        ]);
        if (kind === "postgresql") {
          const p99 = median(results.map((r) => r.p99));
          const limit = shape === "module" ? 50 : 25;
          recordTarget({
            figure: `live latency, ${subscribers} subscribers each on ${shape === "module" ? "the whole module (a list page)" : "one task (a details page)"}, p99`,
            now: `${fmt(p99)} ms`,
            target: `≤ ${limit} ms`,
            met: p99 <= limit,
          });
        }
      }
    }, { testModule: true });
  }
  return {
    title: "2. Live latency (graphql-ws `taskEvents`)",
    caption:
      `${subscribers} graphql-ws subscribers (one WebSocket each, opened 100 at a time, in the benchmark process) on a server in its own process; ${tasks} test tasks ` +
      `run at once, each counting rounds of ${roundMs} ms and reporting progress every round. Latency: the event's \`at\` (stamped in its ` +
      `transaction) to its arrival at a client, same clock; delivered events/s: events received by all clients / time from starting the worker to the last arrival. ` +
      `Every subscriber waits until it has seen its tasks end. Median of ${runs} runs. The whole-module shape runs ${rounds.module} round(s) per task ` +
      `instead of ${rounds.task} to keep the run short (each event goes to every subscriber). CPU: CPU time of the server process and of the ` +
      `clients' process over the run's wall time (1.00 = one core busy; the machine has ${availableParallelism()}).`,
    header: ["server", "each subscriber watches", "subscribers", "tasks", "events delivered", "p50 ms", "p99 ms", "delivered events/s", "CPU: server / clients"],
    rows,
    notes: [
      "An event is delivered once every older write transaction of the store's database has ended (the journal is read in commit order), " +
        "so the workers' own writes (100 tasks reporting progress, claims, completions) set a floor under the latency.",
    ],
  };
}

export const LATENCY_DEFAULTS: LatencyOptions = {
  subscribers: 1_000,
  tasks: 100,
  runs: 3,
  rounds: { task: 10, module: 1 },
  roundMs: 100,
  stores: ["postgresql"],
};

export async function main(args: string[]): Promise<void> {
  const subscribers = Number(args[0] ?? LATENCY_DEFAULTS.subscribers) || LATENCY_DEFAULTS.subscribers;
  const tasks = Number(args[1] ?? LATENCY_DEFAULTS.tasks) || LATENCY_DEFAULTS.tasks;
  const runs = Number(args[2] ?? LATENCY_DEFAULTS.runs) || LATENCY_DEFAULTS.runs;
  const stores = args[3] ? parseStores(args[3]) : LATENCY_DEFAULTS.stores;
  console.log(renderSection(await latencySection({ ...LATENCY_DEFAULTS, subscribers, tasks, runs, stores })));
}
