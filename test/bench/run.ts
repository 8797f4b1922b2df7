// npm run bench — every benchmark (throughput, latency, queries, memory, console) with the peers in the same run; prints the tables
// and writes test/bench/RESULTS.md. With a part's name, runs only that part and prints its table:
//   npm run bench -- throughput [N] [runs]
//   npm run bench -- latency [subscribers] [tasks] [runs] [stores, e.g. postgresql,pglite]
//   npm run bench -- queries [tasks] [executions] [stores]
//   npm run bench -- queries-1m [executions]   (1,000,000 tasks, PostgreSQL only)
//   npm run bench -- memory [subscribers per step] [steps]
//   npm run bench -- console [tasks] [runs] [load tasks]   (needs Debian's chromium)
// Progress goes to stderr; tables to stdout.
import * as consolePart from "./console";
import { dropStaleDatabases, postgresReachable, progress } from "./common";
import * as latency from "./latency";
import * as memory from "./memory";
import * as queries from "./queries";
import type { Section } from "./results";
import { renderSection, writeResults } from "./results";
import * as throughput from "./throughput";

const PARTS: Record<string, (args: string[]) => Promise<void>> = {
  throughput: throughput.main,
  latency: latency.main,
  queries: queries.main,
  "queries-1m": queries.mainMillion,
  memory: memory.main,
  console: consolePart.main,
};

const METHOD = [
  "Everything runs on one machine: PostgreSQL and Redis are local, and the benchmark, the servers and the workers share its cores, so figures are",
  "comparable within this file, not with other machines. Each throughput run is a fresh Node process on a fresh PostgreSQL database (or a",
  "fresh Redis key prefix for BullMQ): it creates the jobs in bulk, then starts the workers and polls the store every 50 ms until all are complete,",
  "so the time includes the workers' start-up; runs of all systems are interleaved (round 1 of each, then round 2, …) so that background",
  "load spreads over all of them. The servers of the latency, query and memory parts run in a child process of their own (the app of",
  "src/server.ts, no worker unless the benchmark starts one), and their clients run in the benchmark process. Latency compares the event's",
  "`at` with its arrival at the client on the same clock. Query data is written with SQL into the same tables the store uses and ANALYZEd;",
  "queries are sequential over HTTP. Memory is the server process's RSS and JS heap after forced collections. The console part drives",
  "the built console in headless Chromium (Debian's, through playwright-core) against such a server (API only) with a worker in a third process, and measures in the page. No figure is a single run:",
  "each is the median of the runs stated in its table's caption.",
].join(" ");

async function runAll(): Promise<void> {
  const started = performance.now();
  if (!(await postgresReachable())) throw new Error("The benchmarks need the local PostgreSQL (BENCH_DATABASE_URL)");
  await dropStaleDatabases();
  const sections: Section[] = [];
  const add = (section: Section) => {
    sections.push(section);
    console.log(renderSection(section));
  };
  add(await throughput.throughputSection(throughput.THROUGHPUT_DEFAULTS));
  add(await throughput.singleAddSection(throughput.SINGLE_ADD_DEFAULTS));
  add(await latency.latencySection(latency.LATENCY_DEFAULTS));
  add(await queries.querySection(queries.QUERY_DEFAULTS));
  add(await queries.querySection(queries.MILLION_DEFAULTS));
  add(await memory.memorySection(memory.MEMORY_DEFAULTS));
  add(await consolePart.consoleSection(consolePart.CONSOLE_DEFAULTS));
  const wallSeconds = (performance.now() - started) / 1000;
  const path = await writeResults(sections, {
    wallSeconds,
    method: METHOD,
    commands: [
      "npm run bench                                   # everything, writes test/bench/RESULTS.md",
      "npm run bench -- throughput [N] [runs]          # throughput and one-at-a-time creation, with the peers",
      "npm run bench -- latency [subscribers] [tasks] [runs] [postgresql,pglite]",
      "npm run bench -- queries [tasks] [executions] [postgresql,pglite]",
      "npm run bench -- queries-1m [executions]          # the queries over 1,000,000 tasks, PostgreSQL only",
      "npm run bench -- memory [subscribers per step] [steps]",
      "npm run bench -- console [tasks] [runs] [load tasks]   # needs Debian's chromium; TASKGRAPH_DOCS_SCREENSHOTS=1 writes docs/console-list.png",
      "BENCH_DATABASE_URL=postgres://… BENCH_REDIS_DB=7 npm run bench   # other PostgreSQL / Redis database",
      "BENCH_SERVER_PROF=/tmp/prof npm run bench -- latency   # CPU profiles of the benchmark servers (--cpu-prof) in that directory",
    ],
  });
  progress(`done in ${Math.round(wallSeconds)} s; wrote ${path}`);
}

async function main() {
  const [part, ...args] = process.argv.slice(2);
  if (!part) return runAll();
  const run = PARTS[part];
  if (!run) throw new Error(`Unknown benchmark "${part}": use one of ${Object.keys(PARTS).join(", ")}, or nothing for all`);
  await run(args);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
