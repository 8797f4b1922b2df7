// Memory: the server process's growth per idle subscription. graphql-ws subscribers (one
// WebSocket each, in this process) subscribe to taskEvents and receive nothing; the server runs in
// a child process with --expose-gc and is read after forced collections, before the first and
// after each step of more subscribers. The figure is the median of the steps' growth: RSS now and
// then drops by 20–35 MiB in one step as V8 and malloc give pages back, which the median of six
// steps shrugs off (a single difference, or a slope through all readings, does not).
// Usage: npm run bench -- memory [subscribers per step] [steps]
import type { Client } from "graphql-ws";
import type { StoreConfig } from "../../src/config";
import type { App } from "../../src/server";
import { fmt, median, openSubscribers, progress, type ServerHandle, sleep, STORE_LABEL, withServer } from "./common";
import type { Section } from "./results";
import { renderSection } from "./results";

export interface MemoryOptions {
  perStep: number;
  steps: number;
  warmup: number;
  stores: StoreConfig["kind"][];
}

export const MEMORY_DEFAULTS: MemoryOptions = { perStep: 500, steps: 6, warmup: 100, stores: ["postgresql", "pglite"] };


/** In the server process: memory after forced collections (a few, apart: V8 gives pages back lazily). */
export async function collectedMemory(_app: App): Promise<NodeJS.MemoryUsage> {
  if (!globalThis.gc) throw new Error("The server process needs --expose-gc");
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(200);
  }
  return process.memoryUsage();
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
    await withServer(kind, async (server) => {
      const clients: Client[] = [];
      await subscribe(server, clients, options.warmup); // the code paths of a subscription are loaded and warm
      const readings: { subscribers: number; memory: NodeJS.MemoryUsage }[] = [];
      readings.push({ subscribers: clients.length, memory: await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory") });
      for (let step = 1; step <= options.steps; step++) {
        progress(`memory ${STORE_LABEL[kind]}: step ${step}/${options.steps} (+${options.perStep} idle subscribers)`);
        await subscribe(server, clients, options.perStep);
        readings.push({ subscribers: clients.length, memory: await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory") });
        const [before, after] = readings.slice(-2).map((r) => r.memory) as [NodeJS.MemoryUsage, NodeJS.MemoryUsage];
        progress(`  RSS ${fmt((after.rss - before.rss) / 2 ** 20, 1)} MiB, heap ${fmt((after.heapUsed - before.heapUsed) / 2 ** 20, 1)} MiB`);
      }
      await Promise.all(clients.map((c) => c.dispose()));
      /** KB per subscription: the median over the steps of (growth / subscribers added). */
      const perSubscription = (of: (m: NodeJS.MemoryUsage) => number) =>
        median(readings.slice(1).map((r, i) => (of(r.memory) - of(readings[i]!.memory)) / 1024 / (r.subscribers - readings[i]!.subscribers)));
      const rss = perSubscription((m) => m.rss);
      const heap = perSubscription((m) => m.heapUsed);
      const last = readings.at(-1)!;
      rows.push([`taskgraph, ${STORE_LABEL[kind]}`, `${fmt(last.memory.rss / 2 ** 20)} MiB`, fmt(rss, 1), fmt(heap, 1), fmt((rss * 1000) / 1024, 1)]);
    });
  }
  return {
    title: "4. Memory of idle subscriptions",
    caption:
      `graphql-ws subscribers on \`taskEvents\` (one WebSocket each, opened 100 at a time, in the benchmark process) with no traffic; the server process's memory read after forced ` +
      `garbage collections (--expose-gc) at ${options.warmup} subscribers (after warming up) and after each of ${options.steps} steps of ` +
      `${options.perStep.toLocaleString("en-US")} more. Per subscription: the median over the steps of the step's growth / ${options.perStep} ` +
      `(RSS sometimes drops by tens of MiB in one step as V8 and malloc return pages; the JS heap is steadier).`,
    header: ["server", `RSS with ${(options.warmup + options.steps * options.perStep).toLocaleString("en-US")} subscribers`, "RSS KB per subscription", "JS heap KB per subscription", "RSS MiB per 1,000"],
    rows,
  };
}

export async function main(args: string[]): Promise<void> {
  const perStep = Number(args[0] ?? MEMORY_DEFAULTS.perStep) || MEMORY_DEFAULTS.perStep;
  const steps = Number(args[1] ?? MEMORY_DEFAULTS.steps) || MEMORY_DEFAULTS.steps;
  console.log(renderSection(await memorySection({ ...MEMORY_DEFAULTS, perStep, steps })));
}
