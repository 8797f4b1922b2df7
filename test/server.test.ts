// The README's promise, as a user meets it: `npm start` serves GraphiQL and /health on the embedded
// store, stops cleanly on SIGTERM, and keeps the data across a restart. The server runs as `npm
// start` runs it: the compiled bundle (dist/server/main.js, built here when stale) under plain Node.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { PROJECT_ROOT } from "../src/db/migrator";
import { buildServerIfStale } from "../src/scripts/build-server.js";

const dataDir = mkdtempSync(join(tmpdir(), "taskgraph-server-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
beforeAll(() => buildServerIfStale({ ifStale: true }), 120_000);

/** Runs a script: TypeScript through tsx, the compiled server as it is. */
function run(script: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...(script.endsWith(".ts") ? ["--import", "tsx"] : []), script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TASKGRAPH_DATA_DIR: dataDir, DATABASE_URL: "", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function output(child: ChildProcess) {
  let text = "";
  child.stdout!.on("data", (chunk) => (text += chunk));
  child.stderr!.on("data", (chunk) => (text += chunk));
  return () => text;
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Starts what `npm start` runs (the compiled server) on a free port and waits for its GraphiQL line. */
async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = run("dist/server/main.js", { PORT: "0" });
  const log = output(child);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /GraphiQL: (http:\/\/\S+)/.exec(log());
      if (match) {
        clearInterval(timer);
        resolve(match[1]!);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`server exited: ${log()}`));
      }
    }, 50);
  });
  return { child, url, log };
}

async function post(url: string, query: string) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: any; errors?: any[] };
}

describe("npm start on the embedded store", () => {
  test("a new data dir is created and migrated, seeded data is served, and SIGTERM stops the server cleanly", async () => {
    const seed = run("src/scripts/seed.ts");
    const seedLog = output(seed);
    expect(await exitOf(seed), seedLog()).toBe(0);

    const { child, url, log } = await startServer();
    const health = await fetch(url.replace("/graphql", "/health"));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", store: "pglite" });

    const graphiql = await fetch(url, { headers: { accept: "text/html" } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain("graphiql");

    const result = await post(url, "{ tasks(filter: { rootsOnly: true }) { totalCount } modules { name } }");
    expect(result.data.tasks.totalCount).toBe(6);
    expect(result.data.modules.map((m: { name: string }) => m.name)).toEqual(["cluster", "kafka", "storage", "test"]);

    // Live over graphql-ws: a task started now arrives as its CREATED event.
    const client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const created = new Promise<{ type: string; taskId: string }>((resolve, reject) => {
      client.subscribe<{ taskEvents: { type: string; taskId: string } }>(
        { query: `subscription { taskEvents(filter: { module: "test" }) { type taskId } }` },
        { next: ({ data }) => resolve(data!.taskEvents), error: reject, complete: () => {} },
      );
    });
    await new Promise((r) => setTimeout(r, 300)); // the subscription is set up on the server
    const started = await post(url, 'mutation { startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 } }) { id } }');
    expect(await created).toEqual({ type: "CREATED", taskId: started.data.startTask.id });
    await client.dispose();

    child.kill("SIGTERM");
    expect(await exitOf(child), log()).toBe(0);
  }, 90_000); // two processes start from scratch (tsx, PGlite, migrations) while other test files run on 2 cores

  test("after a restart the same data is there and no migration runs again", async () => {
    const { child, url, log } = await startServer();
    expect(log()).not.toContain("applied");
    const result = await post(url, '{ tasks(filter: { search: "orders" }) { totalCount edges { node { type state steps { key state } } } } }');
    const types = result.data.tasks.edges.map((e: any) => e.node.type).sort();
    expect(types).toEqual(["compact-table", "reassign-partitions"]);
    const reassign = result.data.tasks.edges.find((e: any) => e.node.type === "reassign-partitions").node;
    expect(reassign.state).toBe("FAILED");
    expect(reassign.steps.find((s: any) => s.key === "move").state).toBe("FAILED");
    child.kill("SIGINT");
    expect(await exitOf(child), log()).toBe(0);
  }, 90_000);

  test("a bad setting stops start-up with a message naming it", async () => {
    const child = run("dist/server/main.js", { PORT: "seventy" });
    const log = output(child);
    expect(await exitOf(child)).toBe(1);
    expect(log()).toContain('PORT must be a whole number from 0 to 65535, got "seventy"');
  });
});
