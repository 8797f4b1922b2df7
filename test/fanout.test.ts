// Fan-out across processes: a subscription served by one process receives the events of a task
// run by another process on the same PostgreSQL (LISTEN/NOTIFY; no other infrastructure).
// Always on PostgreSQL (TEST_DATABASE_URL's server, or the local one), in a database of its own.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createClient } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { PostgresAdapterFactory } from "../src/db/postgres-adapter";
import { applyMigrations, PROJECT_ROOT } from "../src/db/migrator";
import { CHANGE_CHANNEL } from "../src/store/journal-writer";
import { Redis } from "ioredis";

const ADMIN_URL = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const DB_NAME = `tg_fan_${process.pid}_${randomBytes(3).toString("hex")}`;
const DB_URL = (() => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DB_NAME}`;
  return url.toString();
})();

let admin: pg.Client;
const children: ChildProcess[] = [];

const REDIS_URL = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379";

/** Starts `npm start`'s entry point with a role and waits for its ready line. */
async function startProcess(role: "serve" | "work", redisUrl = ""): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TASKGRAPH_ROLE: role, DATABASE_URL: DB_URL, PORT: "0", HOST: "127.0.0.1", REDIS_URL: redisUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let text = "";
  child.stdout!.on("data", (chunk) => (text += chunk));
  child.stderr!.on("data", (chunk) => (text += chunk));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const match = /GraphiQL: (http:\/\/\S+)/.exec(text) ?? /(worker \S+ running)/.exec(text);
      if (match) {
        clearInterval(timer);
        resolve(match[1]!);
      } else if (child.exitCode !== null || Date.now() - started > 30_000) {
        clearInterval(timer);
        reject(new Error(`${role} process did not start: ${text}`));
      }
    }, 50);
  });
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB_NAME}`);
  const factory = new PostgresAdapterFactory(DB_URL, { max: 2 });
  await applyMigrations(factory);
  await factory.end();
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r)))));
  await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  await admin.end();
});

test.each([
  ["PostgreSQL LISTEN/NOTIFY", ""],
  ["Redis", REDIS_URL],
])("a subscriber on an API-only process receives every event of a task run by a worker process, through %s", async (_via, redisUrl) => {
  // Processes of an earlier case are gone: only these two serve and work now.
  for (const child of children.splice(0)) {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
  }
  const api = await startProcess("serve", redisUrl);
  await startProcess("work", redisUrl);
  const published: string[] = [];
  const spy = redisUrl ? new Redis(redisUrl) : null;
  if (spy) {
    // Both processes listen on Redis, and the changes travel through it.
    const [, listeners] = (await spy.call("PUBSUB", "NUMSUB", CHANGE_CHANNEL)) as [string, number];
    expect(listeners).toBe(2);
    spy.on("message", (_channel, message) => published.push(message));
    await spy.subscribe(CHANGE_CHANNEL);
  }
  const client = createClient({ url: api.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
  try {
    const events: { type: string; taskId: string; payload: any }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(events)}`)), 30_000);
      client.subscribe<{ taskEvents: { type: string; taskId: string; payload: any } }>(
        { query: `subscription { taskEvents(filter: { module: "test" }) { type taskId payload } }` },
        {
          next: (r) => {
            events.push(r.data!.taskEvents);
            if (r.data!.taskEvents.type === "STATE_CHANGED" && r.data!.taskEvents.payload.to === "SUCCEEDED") {
              clearTimeout(timer);
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await new Promise((r) => setTimeout(r, 500)); // the subscription is live
    const response = await fetch(api, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `mutation { createTestTask(input: { rounds: 3, roundMs: 50 }) { id } }` }),
    });
    const id = ((await response.json()) as any).data.createTestTask.id;
    await done;
    const mine = events.filter((e) => e.taskId === id);
    expect(mine[0]!.type).toBe("CREATED");
    expect(mine.filter((e) => e.type === "STATE_CHANGED").map((e) => e.payload.to)).toEqual(["RUNNING", "SUCCEEDED"]);
    expect(mine.filter((e) => e.type === "PROGRESSED").at(-1)!.payload.completed).toBe(3);
    if (spy) expect(published.some((m) => m.includes(id))).toBe(true);
  } finally {
    await client.dispose();
    await spy?.quit();
  }
});
