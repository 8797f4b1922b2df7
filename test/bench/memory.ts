// Memory: the server process's growth per idle subscription. graphql-ws subscribers (one
// WebSocket each, in this process) subscribe to taskEvents and receive nothing; the server runs in
// a child process with --expose-gc and is measured after forced collections, before and after
// each step of 1,000 more subscribers.
// Usage: npm run bench -- memory [subscribers per step] [steps]
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { StoreConfig } from "../../src/config";
import type { App } from "../../src/server";
import { fmt, median, progress, type ServerHandle, sleep, withServer, STORE_LABEL } from "./common";
import type { Section } from "./results";
import { renderSection } from "./results";

export interface MemoryOptions {
  perStep: number;
  steps: number;
  warmup: number;
  stores: StoreConfig["kind"][];
}

export const MEMORY_DEFAULTS: MemoryOptions = { perStep: 1_000, steps: 3, warmup: 100, stores: ["postgresql", "pglite"] };

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
  const target = clients.length + count;
  for (let i = 0; i < count; i++) {
    const client = createClient({ url: server.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    client.subscribe(
      { query: `subscription { taskEvents(filter: { module: "test" }) { type at taskId } }` },
      { next: () => {}, error: (error) => console.error("[bench] subscription failed:", error), complete: () => {} },
    );
    clients.push(client);
  }
  const deadline = Date.now() + 120_000;
  while ((await server.call<number>("latency.ts", "liveSubscriptions")) < target) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${target} live subscriptions`);
    await sleep(50);
  }
}


export async function memorySection(options: MemoryOptions): Promise<Section> {
  const rows: string[][] = [];
  for (const kind of options.stores) {
    await withServer(kind, async (server) => {
      const clients: Client[] = [];
      await subscribe(server, clients, options.warmup); // the code paths of a subscription are loaded and warm
      let before = await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory");
      const rss: number[] = [];
      const heap: number[] = [];
      for (let step = 1; step <= options.steps; step++) {
        progress(`memory ${STORE_LABEL[kind]}: step ${step}/${options.steps} (+${options.perStep} idle subscribers)`);
        await subscribe(server, clients, options.perStep);
        const after = await server.call<NodeJS.MemoryUsage>("memory.ts", "collectedMemory");
        rss.push((after.rss - before.rss) / 1024 / options.perStep);
        heap.push((after.heapUsed - before.heapUsed) / 1024 / options.perStep);
        progress(`  RSS +${fmt((after.rss - before.rss) / 2 ** 20, 1)} MiB, heap +${fmt((after.heapUsed - before.heapUsed) / 2 ** 20, 1)} MiB`);
        before = after;
      }
      await Promise.all(clients.map((c) => c.dispose()));
      rows.push([
        `taskgraph, ${STORE_LABEL[kind]}`,
        `${fmt(before.rss / 2 ** 20)} MiB`,
        fmt(median(rss), 1),
        fmt(median(heap), 1),
        fmt(median(rss) * 1000 / 1024, 1),
      ]);
    });
  }
  return {
    title: "4. Memory of idle subscriptions",
    caption:
      `graphql-ws subscribers on \`taskEvents\` (one WebSocket each, in the benchmark process) with no traffic; the server process's memory after forced ` +
      `garbage collections (--expose-gc), before and after each step of ${options.perStep.toLocaleString("en-US")} more subscribers, ${options.steps} steps ` +
      `after ${options.warmup} to warm up; median of the steps (RSS moves in steps as V8 takes and returns pages; the JS heap is steadier).`,
    header: ["server", `RSS with ${(options.warmup + options.steps * options.perStep).toLocaleString("en-US")}`, "RSS KB per subscription", "JS heap KB per subscription", "RSS MiB per 1,000"],
    rows,
  };
}

export async function main(args: string[]): Promise<void> {
  const perStep = Number(args[0] ?? MEMORY_DEFAULTS.perStep) || MEMORY_DEFAULTS.perStep;
  const steps = Number(args[1] ?? MEMORY_DEFAULTS.steps) || MEMORY_DEFAULTS.steps;
  console.log(renderSection(await memorySection({ ...MEMORY_DEFAULTS, perStep, steps })));
}
