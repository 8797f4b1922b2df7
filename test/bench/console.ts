// Console: the web console's task list (served at `/`) in headless Chromium (Debian's `chromium`,
// driven by playwright-core, as the browser tests do) with 100,000 tasks in the store.
//  1. First render: a fresh page (own browser context, empty cache) opens `/` (the Pending tab);
//     the time from navigation start to the first task row in the DOM, taken in the page by a
//     MutationObserver on the page's own clock (performance.now(), 0 = navigation start).
//  2. Under load: workers (processes of their own, one per LOAD_PER_WORKER tasks) run `load`
//     test/count tasks that report progress (each ~10 writes/s, the progress coalescing's
//     limit), so about 1,000 real PROGRESSED events a second or more match the Pending tab's
//     subscription; while the page shows that tab, requestAnimationFrame deltas and 'longtask'
//     entries are collected in the page for 10 s, and the graphql-ws `next` messages that reach
//     the page are counted (the achieved rate), beside the events the journal received meanwhile
//     and the CPU time the server's process used (what limits the rate: the server or the page).
// The tasks are written with the queries part's SQL seeding into a fresh PostgreSQL database;
// the load goes through the API (startTask) and the worker, so every event is a real one.
// No peers: their consoles (Bull Board, Flower, Temporal UI, …) poll, and are not run here.
// The worker runs in a process of its own, so that the server's event loop only serves.
// Usage: npm run bench -- console [tasks] [runs] [load tasks]
// TASKGRAPH_DOCS_SCREENSHOTS=1 also writes docs/console-list.png (the Pending tab under load).
import { mkdirSync } from "node:fs";
import { createClient } from "graphql-ws";
import type { Browser, Page } from "playwright-core";
import WebSocket from "ws";
import { chromiumPath, launchChromium } from "../support/chromium";
import { buildConsoleOnce } from "../support/console-browser";
import { fmt, graphql, median, percentile, progress, runInChild, type ServerHandle, sleep, startServer, withFreshPostgres } from "./common";
import type { App } from "../../src/server";
import type { SeedInfo } from "./queries";
import type { Section } from "./results";
import { renderSection } from "./results";

export interface ConsoleOptions {
  tasks: number;
  /** First-render runs (a fresh page each). */
  runs: number;
  /** Running test/count tasks that make the load (~10 events/s each). */
  load: number;
  /** How long frames are collected under load. */
  measureMs: number;
}

export const CONSOLE_DEFAULTS: ConsoleOptions = { tasks: 100_000, runs: 7, load: 150, measureMs: 10_000 };

/**
 * Load tasks per worker process: one process writes about 370 progress events a second on this
 * machine (each a transaction), so 1,000 a second and more take several.
 */
const LOAD_PER_WORKER = 50;

const ROW = "table.tasks tbody tr[data-task]";
const VIEWPORT = { width: 1000, height: 600 };
const ROUND_MS = 50;

/**
 * Runs in the page before its own scripts: records when the first task row appears, counts the
 * graphql-ws `next` messages, and (once `__bench.collect()` is called) the rAF deltas and long tasks.
 */
const INSTRUMENT = `(() => {
  const bench = { firstRow: null, nexts: 0, frames: [], longTasks: [], collecting: false, longTaskSupported: false };
  window.__bench = bench;
  const observer = new MutationObserver(() => {
    if (bench.firstRow === null && document.querySelector(${JSON.stringify(ROW)})) {
      bench.firstRow = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true });
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string" && event.data.includes('"type":"next"')) bench.nexts++;
      });
    }
  };
  try {
    new PerformanceObserver((list) => {
      if (bench.collecting) for (const entry of list.getEntries()) bench.longTasks.push(entry.duration);
    }).observe({ type: "longtask" });
    bench.longTaskSupported = true;
  } catch {}
  bench.collect = () => {
    bench.frames = [];
    bench.longTasks = [];
    bench.collecting = true;
    bench.nextsAtStart = bench.nexts;
    bench.startedAt = performance.now();
    let last = null;
    const tick = (t) => {
      if (!bench.collecting) return;
      if (last !== null) bench.frames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  bench.stop = () => {
    bench.collecting = false;
    return { frames: bench.frames, longTasks: bench.longTasks, longTaskSupported: bench.longTaskSupported,
      nexts: bench.nexts - bench.nextsAtStart, ms: performance.now() - bench.startedAt };
  };
})();`;

interface Collected {
  frames: number[];
  longTasks: number[];
  longTaskSupported: boolean;
  nexts: number;
  ms: number;
}

async function freshPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  await page.addInitScript(INSTRUMENT);
  page.on("pageerror", (error) => progress(`  page error: ${error.message}`));
  return page;
}

/** Navigation start → first task row, in ms (the page's clock). */
async function firstRow(browser: Browser, origin: string): Promise<number> {
  const page = await freshPage(browser);
  try {
    await page.goto(`${origin}/`, { waitUntil: "commit" });
    await page.waitForSelector(ROW, { timeout: 60_000 });
    return await page.evaluate(() => (window as unknown as { __bench: { firstRow: number } }).__bench.firstRow);
  } finally {
    await page.context().close();
  }
}

/** In the server process: the CPU time it used so far, in ms (user + system). */
export function serverCpuMs(_app: App): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** In the server process: the journal's events so far (to compare with what reached the page). */
export async function journalEvents(app: App): Promise<number> {
  const rows = await app.db.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM "TaskEvent"`);
  return Number(rows[0]!.n);
}

/**
 * In a process of its own (runInChild): a worker with the `test` module on the benchmark's
 * database for `ms`, so that the server's event loop only serves the API and the subscriptions.
 */
export async function runLoadWorker(url: string, concurrency: number, ms: number): Promise<void> {
  const { loadConfig } = await import("../../src/config");
  const { createTaskManager } = await import("../../src/runtime/manager");
  const { defineTestModule } = await import("../../src/modules/test");
  // TTLs of ten years: the seeded tasks ended up to 30 days ago, and the worker's housekeeping
  // would otherwise delete most of the 100,000 at start (and flood the journal with DELETED events).
  const config = {
    ...loadConfig({}),
    store: { kind: "postgresql" as const, url },
    stopGraceMs: 0,
    logLevel: "warn" as const,
    taskTtlSeconds: 315_360_000,
    userTaskTtlSeconds: 315_360_000,
  };
  const manager = createTaskManager({ config, worker: { concurrency } });
  defineTestModule(manager);
  await manager.start();
  await sleep(ms);
  await manager.stop();
}

/** The list page's selection of the ListEvents subscription (src/console/app/list/queries.ts). */
const PAGE_SELECTION =
  "version payload task { id name type target state category isInternal version module { id name } progress { id units total completed fraction } createdAt startedAt endedAt scheduledFor kind availableActions }";

/** A graphql-ws subscriber in this process with the page's filter; stop() gives the events received. */
function probe(server: ServerHandle, withTask: boolean | "page", after: string | null = null) {
  const client = createClient({ url: server.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
  let count = 0;
  const started = performance.now();
  const marks: string[] = [];
  const tick = setInterval(() => marks.push(`${((performance.now() - started) / 1000).toFixed(0)}s:${count}`), 2000);
  const dispose = client.subscribe(
    {
      query: `subscription ($filter: TaskEventFilter, $after: String) { taskEvents(filter: $filter, after: $after) { cursor type taskId leavesFilter ${withTask === "page" ? PAGE_SELECTION : withTask ? "task { id state progress { completed total } }" : ""} } }`,
      variables: { filter: { task: { category: "PENDING" }, types: ["CREATED", "STATE_CHANGED", "PROGRESSED", "DELETED"] }, after },
    },
    { next: () => void count++, error: (e) => progress(`  probe error ${e instanceof Error ? e.message : JSON.stringify(e)}`), complete: () => {} },
  );
  const label = `${withTask === "page" ? "with the page's selection" : withTask ? "with task" : "without task"}${after ? ", after the list's journalCursor" : ""}`;
  return { label, stop: () => { clearInterval(tick); dispose(); void client.dispose(); return `${count} (${marks.join(" ")})`; } };
}

const START = `mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`;

/** Starts `count` test/count tasks of 20–60 s, each reporting progress every ROUND_MS (stored ≤ 10/s). */
async function startLoad(server: ServerHandle, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) => i + j);
    ids.push(
      ...(await Promise.all(
        batch.map(async (n) => {
          const rounds = 400 + ((n * 7919) % 800); // 20–60 s at 50 ms a round: bars at different places
          const input = { module: "test", type: "count", name: `load ${n + 1}`, target: `node-${(n % 12) + 1}`, input: { rounds, roundMs: ROUND_MS } };
          return (await graphql<{ startTask: { id: string } }>(server.url, START, { input })).startTask.id;
        }),
      )),
    );
  }
  return ids;
}

async function abortAll(server: ServerHandle, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 20) {
    await Promise.all(ids.slice(i, i + 20).map((id) => graphql(server.url, `mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id }).catch(() => undefined)));
  }
}

export interface ConsoleResult {
  seededSeconds: number;
  firstRows: number[];
  frames: { p50: number; p95: number; p99: number; max: number; count: number };
  /** The server process's CPU use while frames were collected (1 = one core busy). */
  serverCores: number;
  workers: number;
  longTasks: { supported: boolean; count: number; totalMs: number; maxMs: number };
  eventsPerSecond: number;
  /** Events the load wrote to the journal (what the tab's subscription could have received). */
  journaledPerSecond: number;
  load: number;
  screenshot?: string;
}

export async function measureConsole(options: ConsoleOptions): Promise<ConsoleResult> {
  if (!chromiumPath()) throw new Error("The console benchmark needs Debian's chromium on the PATH (apt-get install -y chromium)");
  progress("console: building the console (if stale)");
  await buildConsoleOnce();
  return withFreshPostgres(async (url) => {
    const server = await startServer(
      { kind: "postgresql", url },
      { testModule: true, config: { stopGraceMs: 0, mutationsPerMinute: 0, logLevel: "warn" } },
    );
    const browser = await launchChromium();
    try {
      progress(`console: writing ${options.tasks.toLocaleString("en-US")} tasks (the queries part's data)`);
      const seedStarted = performance.now();
      const bigTree = Math.min(10_000, Math.floor(options.tasks / 10));
      await server.call<SeedInfo>("queries.ts", "seedQueryData", options.tasks, bigTree);
      const seededSeconds = (performance.now() - seedStarted) / 1000;
      const origin = new URL(server.url).origin;

      await firstRow(browser, origin); // warm-up: the server's first queries, the OS's file cache
      const firstRows: number[] = [];
      for (let run = 1; run <= options.runs; run++) {
        const ms = await firstRow(browser, origin);
        progress(`console: first row, run ${run}/${options.runs}: ${ms.toFixed(0)} ms`);
        firstRows.push(ms);
      }

      const workers = Math.max(1, Math.ceil(options.load / LOAD_PER_WORKER));
      progress(`console: starting ${workers} worker process(es) and ${options.load} running test tasks`);
      const perWorker = Math.ceil(options.load / workers) + 10;
      // Started a second apart: each one's start-up housekeeping is a transaction of its own.
      const started: Promise<void>[] = [];
      for (let i = 0; i < workers; i++) {
        started.push(runInChild<void>("console.ts", "runLoadWorker", [url, perWorker, options.measureMs + 20_000 + (workers - i) * 1_000]));
        await sleep(1_000);
      }
      const worker = Promise.all(started);
      worker.catch(() => undefined); // handled: awaited (and thrown) after the measurement
      const ids = await startLoad(server, options.load);
      await sleep(3_000); // all claimed and reporting
      const page = await freshPage(browser);
      if (process.env.BENCH_DEBUG) {
        // What the page subscribes to (the frames themselves are counted in the page).
        page.on("websocket", (socket) => {
          progress(`  websocket ${socket.url()}`);
          socket.on("close", () => progress("  websocket closed"));
          socket.on("framesent", (frame) => progress(`  sent ${String(frame.payload).replace(/.*"variables":/, "variables:").slice(0, 600)}`));
        });
        page.on("console", (m) => progress(`  console ${m.type()}: ${m.text()}`));
      }
      await page.goto(`${origin}/`);
      await page.waitForSelector(ROW, { timeout: 60_000 });
      await sleep(1_000);
      progress(`console: collecting frames for ${options.measureMs / 1000} s`);
      // BENCH_DEBUG: the same subscription from Node (without `task`, with a small and with the page's
      // selection of it), to compare. They share the machine with the page: expect every figure lower.
      const listCursor = async () =>
        (await graphql<{ tasks: { journalCursor: string } }>(server.url, `{ tasks(first: 1, filter: { category: PENDING }) { journalCursor } }`)).tasks.journalCursor;
      const probes = process.env.BENCH_DEBUG ? [probe(server, false), probe(server, true), probe(server, "page"), probe(server, "page", await listCursor())] : [];
      const journalBefore = await server.call<number>("console.ts", "journalEvents");
      const cpuBefore = await server.call<number>("console.ts", "serverCpuMs");
      await page.evaluate(() => (window as unknown as { __bench: { collect(): void } }).__bench.collect());
      await sleep(options.measureMs);
      const collected = await page.evaluate(() => (window as unknown as { __bench: { stop(): Collected } }).__bench.stop());
      const cpuUsed = (await server.call<number>("console.ts", "serverCpuMs")) - cpuBefore;
      const journalWritten = (await server.call<number>("console.ts", "journalEvents")) - journalBefore;
      for (const p of probes) progress(`  Node subscriber ${p.label}: ${p.stop()} events`);
      progress(`console: ${collected.nexts} next messages counted in the page, ${journalWritten} events journaled in ${(collected.ms / 1000).toFixed(1)} s`);
      let screenshot: string | undefined;
      if (process.env.TASKGRAPH_DOCS_SCREENSHOTS === "1") {
        const docs = new URL("../../docs/", import.meta.url);
        mkdirSync(docs, { recursive: true });
        screenshot = new URL("console-list.png", docs).pathname;
        await page.screenshot({ path: screenshot });
        progress(`console: wrote ${screenshot}`);
      }
      await page.context().close();
      await abortAll(server, ids);
      await worker;

      const frames = [...collected.frames].sort((a, b) => a - b);
      return {
        seededSeconds,
        firstRows,
        frames: { p50: percentile(frames, 50), p95: percentile(frames, 95), p99: percentile(frames, 99), max: frames.at(-1) ?? NaN, count: frames.length },
        serverCores: cpuUsed / collected.ms,
        workers,
        longTasks: {
          supported: collected.longTaskSupported,
          count: collected.longTasks.length,
          totalMs: collected.longTasks.reduce((s, d) => s + d, 0),
          maxMs: Math.max(0, ...collected.longTasks),
        },
        eventsPerSecond: collected.nexts / (collected.ms / 1000),
        journaledPerSecond: journalWritten / (collected.ms / 1000),
        load: options.load,
        screenshot,
      };
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}

export async function consoleSection(options: ConsoleOptions): Promise<Section> {
  const r = await measureConsole(options);
  const ms = (v: number) => (v < 10 ? v.toFixed(1) : fmt(v));
  const tasks = options.tasks.toLocaleString("en-US");
  return {
    title: "5. Console",
    caption:
      `The web console's task list (\`/\`, the Pending tab) in headless Chromium (Debian's, through playwright-core; viewport ${VIEWPORT.width}×${VIEWPORT.height}) ` +
      `with ${tasks} tasks in the store (the queries part's data, written with SQL into PostgreSQL in ${r.seededSeconds.toFixed(0)} s; the server in its own process, API only). ` +
      `First row: navigation start → the first task row in the DOM, on the page's clock; median of ${options.runs} runs, each a fresh browser context, after one warm-up. ` +
      `Under load: ${r.load} running \`test/count\` tasks (started with \`startTask\`, run by ${r.workers} worker process(es) of their own, progress every ${ROUND_MS} ms, stored at most 10 times a second) ` +
      `make real PROGRESSED events that match the tab's \`taskEvents\` subscription; the page's requestAnimationFrame deltas over ${options.measureMs / 1000} s, and 'longtask' entries (PerformanceObserver).`,
    header: ["measure", "value"],
    rows: [
      [`first task row with ${tasks} tasks (median of ${options.runs}; min–max)`, `${fmt(median(r.firstRows))} ms (${fmt(Math.min(...r.firstRows))}–${fmt(Math.max(...r.firstRows))})`],
      ["events written to the journal under load (all of them match the tab)", `${fmt(r.journaledPerSecond)} /s`],
      ["events reaching the page's subscription under load", `${fmt(r.eventsPerSecond)} /s`],
      ["the server process's CPU under load (1 = one core)", r.serverCores.toFixed(2)],
      ["frame time p50 under load", `${ms(r.frames.p50)} ms`],
      ["frame time p95 under load", `${ms(r.frames.p95)} ms`],
      ["frame time p99 under load", `${ms(r.frames.p99)} ms`],
      ["frame time max under load", `${ms(r.frames.max)} ms`],
      ["frames in the window", fmt(r.frames.count)],
      [
        "long tasks (> 50 ms) in the window",
        r.longTasks.supported ? `${r.longTasks.count} (total ${fmt(r.longTasks.totalMs)} ms, longest ${fmt(r.longTasks.maxMs)} ms)` : "not reported by this Chromium",
      ],
    ],
    notes: [
      "No peers here: the consoles a user would compare with (Bull Board, Flower, Temporal UI, Hatchet, Sidekiq, Airflow, pg-boss's dashboard) poll, and are not run. " +
        "Headless Chromium paces frames at 60 Hz without a display (16.7 ms); the browser, the server, the worker and PostgreSQL share the machine's cores.",
      ...(r.eventsPerSecond < 0.8 * r.journaledPerSecond
        ? [
            `The server handed the page ${fmt(r.eventsPerSecond)} of the ${fmt(r.journaledPerSecond)} events a second the load wrote: the frame times are those of the events that arrived. ` +
              (r.serverCores >= 0.85
                ? `The server's process was busy (${r.serverCores.toFixed(2)} of a core: Node runs the API on one): the limit is the server's fan-out, not the page's. `
                : `The server's process used ${r.serverCores.toFixed(2)} of a core: with the machine's cores shared by the browser, PostgreSQL and the workers, it waited for the CPU or the database. `) +
              "`BENCH_DEBUG=1` adds four Node subscribers with the page's filter (without `task`, with a small selection of it, with the page's selection and with it from the list's journalCursor), to compare with what the page receives; they take CPU from the page and the server.",
          ]
        : []),
    ],
  };
}

/** npm run bench -- console [tasks] [runs] [load tasks] */
export async function main(args: string[]): Promise<void> {
  const tasks = Number(args[0]) || CONSOLE_DEFAULTS.tasks;
  const runs = Number(args[1]) || CONSOLE_DEFAULTS.runs;
  const load = Number(args[2]) || CONSOLE_DEFAULTS.load;
  console.log(renderSection(await consoleSection({ ...CONSOLE_DEFAULTS, tasks, runs, load })));
}
