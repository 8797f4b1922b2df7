// Tables and RESULTS.md: each benchmark part returns Sections; this renders them as Markdown,
// describes the machine, and writes test/bench/RESULTS.md.
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { Redis } from "ioredis";
import pg from "pg";
import { BENCH_REDIS, BENCH_URL } from "./common";

export interface Section {
  title: string;
  /** What was measured and how, in a sentence or two; printed above the table. */
  caption: string;
  header: string[];
  rows: string[][];
  /** Footnotes, printed below the table. */
  notes?: string[];
}

/** A figure with a target (issue 16's table): each part records those it measures. */
export interface Target {
  figure: string;
  /** The measured value, as printed. */
  now: string;
  target: string;
  met: boolean;
}

const targets: Target[] = [];

/** Records a target's verdict for RESULTS.md's "Targets" table. */
export function recordTarget(target: Target): void {
  targets.push(target);
}

function renderTargets(): string[] {
  if (targets.length === 0) return [];
  const met = targets.filter((t) => t.met).length;
  return [
    "## Targets",
    "",
    `${met} of ${targets.length} met in this run.`,
    "",
    "| figure | now | target | met |",
    "| --- | --- | --- | --- |",
    ...targets.map((t) => `| ${t.figure} | ${t.now} | ${t.target} | ${t.met ? "yes" : "**no**"} |`),
    "",
  ];
}

export function renderSection(section: Section): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    `### ${section.title}`,
    "",
    section.caption,
    "",
    line(section.header),
    line(section.header.map(() => "---")),
    ...section.rows.map(line),
    ...(section.notes?.length ? ["", ...section.notes] : []),
    "",
  ].join("\n");
}

export async function describeMachine(): Promise<[string, string][]> {
  const cpus = os.cpus();
  let postgres = "unreachable";
  try {
    const client = new pg.Client({ connectionString: BENCH_URL });
    await client.connect();
    postgres = (await client.query("SHOW server_version")).rows[0].server_version;
    await client.end();
  } catch {}
  let redis = "unreachable";
  try {
    const client = new Redis({ ...BENCH_REDIS, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    redis = /redis_version:(\S+)/.exec(await client.info("server"))?.[1] ?? "?";
    await client.quit();
  } catch {}
  let distro = "";
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(await readFile("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {}
  return [
    ["CPU", `${cpus[0]?.model ?? "?"}`],
    ["cores", String(cpus.length)],
    ["RAM", `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ["Node.js", process.version],
    ["PostgreSQL", `${postgres} (local, default settings)`],
    ["Redis", `${redis} (local)`],
    ["OS", `${distro ? `${distro}, ` : ""}${os.type()} ${os.release()} ${os.arch()}`],
    ["date", new Date().toISOString()],
  ];
}

export async function writeResults(sections: Section[], options: { wallSeconds: number; method: string; commands: string[] }): Promise<string> {
  const machine = await describeMachine();
  const markdown = [
    "# taskgraph benchmarks",
    "",
    "Written by `npm run bench` (test/bench/run.ts); do not edit by hand. Figures are medians of several runs;",
    "the peers were measured in the same run, against the same local PostgreSQL and Redis.",
    "",
    "## Machine",
    "",
    "| | |",
    "| --- | --- |",
    ...machine.map(([k, v]) => `| ${k} | ${v} |`),
    `| whole run | ${Math.round(options.wallSeconds)} s |`,
    "",
    ...renderTargets(),
    "## Results",
    "",
    ...sections.map(renderSection),
    "## Method",
    "",
    options.method,
    "",
    "## Commands",
    "",
    "```sh",
    ...options.commands,
    "```",
    "",
  ].join("\n");
  const path = new URL("./RESULTS.md", import.meta.url).pathname;
  await writeFile(path, markdown);
  return path;
}
