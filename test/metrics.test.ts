// /metrics, scraped over real HTTP while test tasks run, fail, retry and roll back: counters and
// histograms move by exactly what happened (checked against the store's own records), label sets
// stay bounded, live subscriptions and their deliveries are counted, and the access rules hold.
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { PROJECT_ROOT } from "../src/db/migrator";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codes, startTestApp, type TestApp } from "./support/app";
import { killAll, startProcess } from "./support/processes";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (0 when absent). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(new URL("/metrics", url), { headers });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type"), text, samples: response.status === 200 ? parseMetrics(text) : [] };
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe("/metrics while tasks run", () => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    app = await startTestApp({ worker: { concurrency: 4, pollMs: 50, housekeepingMs: 100 }, config: { metricsRefreshSeconds: 1 } });
    ({ url } = await app.start(0));
  });
  afterAll(() => app?.stop());

  const state = async (id: string) => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state as string;
  const ended = (id: string, expected: string) => waitFor(`task ${id} ${expected}`, () => state(id), (s) => s === expected);
  const create = async (input: Record<string, unknown>) => {
    const result = await app.gql(`mutation ($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }`, { input });
    expect(result.errors).toBeUndefined();
    return result.data!.createTestTask.id as string;
  };

  test("outcomes, attempts, queue and run times move by exactly what the tasks did; store gauges and slots are right", async () => {
    const before = (await scrape(url)).samples;
    const succeeding = await Promise.all([1, 2, 3].map(() => create({ rounds: 2, roundMs: 10 })));
    const failing = await Promise.all([1, 2].map(() => create({ rounds: 2, roundMs: 10, failAtRound: 1 })));
    // A flow failing at its second step; then retried (the step rolled back and run again) to SUCCEEDED.
    const retried = await create({ rounds: 1, roundMs: 0, steps: 3, failAtRound: 2 });
    // Another failing at its second step, then aborted with rollback: every step from the failed one back.
    const aborted = await create({ rounds: 1, roundMs: 0, steps: 3, failAtRound: 2 });
    for (const id of succeeding) await ended(id, "SUCCEEDED");
    for (const id of [...failing, retried, aborted]) await ended(id, "FAILED");
    expect((await app.gql(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: retried })).errors).toBeUndefined();
    expect((await app.gql(`mutation ($id: ID!) { abortTask(id: $id, rollback: true) { id } }`, { id: aborted })).errors).toBeUndefined();
    await ended(retried, "SUCCEEDED");
    await ended(aborted, "CANCELED");
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the store-wide gauges are at most 1 s old
    const after = (await scrape(url)).samples;
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);

    const count = { module: "test", type: "count" };
    const flow = { module: "test", type: "flow" };
    expect(delta("taskgraph_tasks_finished_total", { ...count, outcome: "succeeded" })).toBe(3);
    expect(delta("taskgraph_tasks_finished_total", { ...count, outcome: "failed" })).toBe(2);
    // Each flow: one run failed it; the retry's run succeeded, the abort's run canceled it.
    expect(delta("taskgraph_tasks_finished_total", { ...flow, outcome: "failed" })).toBe(2);
    expect(delta("taskgraph_tasks_finished_total", { ...flow, outcome: "succeeded" })).toBe(1);
    expect(delta("taskgraph_tasks_finished_total", { ...flow, outcome: "canceled" })).toBe(1);
    expect(delta("taskgraph_task_run_seconds_count", count)).toBe(5);
    expect(delta("taskgraph_task_run_seconds_count", flow)).toBe(4);
    // Queue time: once per task, at its first start (a retry's wait is not a queue wait since creation).
    expect(delta("taskgraph_task_queue_seconds_count", count)).toBe(5);
    expect(delta("taskgraph_task_queue_seconds_count", flow)).toBe(2);
    expect(delta("taskgraph_task_run_seconds_sum", count)).toBeGreaterThan(0);

    // Step attempts: exactly the attempts the store recorded for the two flows, by kind and outcome.
    const recorded = await app.db.prisma.stepAttempt.groupBy({ by: ["kind", "state"], where: { taskId: { in: [retried, aborted] } }, _count: { _all: true } });
    expect(recorded.some((r) => r.kind === "ROLLBACK")).toBe(true);
    expect(recorded.some((r) => r.kind === "RETRY")).toBe(true);
    for (const kind of ["EXECUTE", "RETRY", "ROLLBACK"]) {
      for (const outcome of ["SUCCEEDED", "FAILED"]) {
        const expected = recorded.find((r) => r.kind === kind && r.state === outcome)?._count._all ?? 0;
        expect(delta("taskgraph_step_attempts_total", { ...flow, kind: kind.toLowerCase(), outcome: outcome.toLowerCase() }), `${kind} ${outcome}`).toBe(expected);
      }
    }

    // The store-wide gauges: what the store holds now.
    expect(value(after, "taskgraph_tasks", { ...count, state: "SUCCEEDED" })).toBe(3);
    expect(value(after, "taskgraph_tasks", { ...count, state: "FAILED" })).toBe(2);
    expect(value(after, "taskgraph_tasks", { ...flow, state: "CANCELED" })).toBe(1);
    expect(value(after, "taskgraph_workers_alive")).toBe(1);
    expect(value(after, "taskgraph_event_journal_events")).toBeGreaterThan(0);
    expect(after.filter((s) => s.name === "taskgraph_oldest_queued_task_age_seconds")).toEqual([]); // nothing waits
    expect(value(after, "taskgraph_worker_slots", { state: "busy" }) + value(after, "taskgraph_worker_slots", { state: "free" })).toBe(4);
    // The process's own metrics and the GraphQL server's are there too.
    expect(value(after, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(delta("graphql_envelop_request", { operationType: "mutation" })).toBe(9);
  });

  test("every label is bounded: no task id or other unbounded value, no operation name; the dashboard's metrics exist", async () => {
    const { samples, type, text } = await scrape(url);
    // docs/grafana-dashboard.json and the README's queries name only metrics this server has.
    const served = new Set([...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]));
    const docs = (await readFile(join(PROJECT_ROOT, "docs/grafana-dashboard.json"), "utf8")) + (await readFile(join(PROJECT_ROOT, "README.md"), "utf8"));
    const named = new Set([...docs.matchAll(/\b((?:taskgraph|graphql_envelop|graphql_yoga)_\w+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, "")));
    expect(named.size).toBeGreaterThan(10);
    for (const name of named) expect(served.has(name), name).toBe(true);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const allowed = new Set(["module", "type", "state", "outcome", "kind", "operation", "le", "quantile", "operationType", "method", "statusCode", "phase", "version", "major", "minor", "patch", "space", "code"]);
    const ours = samples.filter((s) => s.name.startsWith("taskgraph_") || s.name.startsWith("graphql_"));
    expect(ours.length).toBeGreaterThan(20);
    for (const sample of samples) {
      for (const [label, text] of Object.entries(sample.labels)) {
        expect(allowed.has(label), `${sample.name} has label ${label}`).toBe(true);
        expect(UUID.test(text), `${sample.name}{${label}="${text}"}`).toBe(false);
      }
    }
  });

  test("live subscriptions are counted per root field, and every event handed to one is timed from its write", async () => {
    const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const received: string[] = [];
    const id = await (async () => {
      const before = await scrape(url);
      const dispose = client.subscribe(
        { query: `subscription { taskEvents(filter: { module: "test" }) { type taskId } }` },
        { next: (r) => void received.push((r.data as { taskEvents: { type: string } }).taskEvents.type), error: () => {}, complete: () => {} },
      );
      await waitFor("the subscription", async () => value((await scrape(url)).samples, "taskgraph_subscriptions", { operation: "taskEvents" }), (n) => n === 1);
      const task = await create({ rounds: 3, roundMs: 10 });
      await ended(task, "SUCCEEDED");
      // Every event of the task reached the subscriber (the last one says it succeeded).
      await waitFor("the last event", async () => received, (events) => events.filter((e) => e === "STATE_CHANGED").length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 200)); // nothing else is coming
      const after = (await scrape(url)).samples;
      const delivered = value(after, "taskgraph_event_delivery_seconds_count") - value(before.samples, "taskgraph_event_delivery_seconds_count");
      expect(delivered).toBe(received.length);
      expect(value(after, "taskgraph_event_delivery_seconds_bucket", { le: "+Inf" })).toBeGreaterThanOrEqual(received.length);
      dispose();
      return task;
    })();
    expect(id).toMatch(UUID);
    await waitFor("the subscription to end", async () => value((await scrape(url)).samples, "taskgraph_subscriptions", { operation: "taskEvents" }), (n) => n === 0);
    await client.dispose();
  });
});

describe("/metrics access", () => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    app = await startTestApp({ config: { metricsToken: "scrape-me-please-0123456789", metricsRefreshSeconds: 1 } });
    ({ url } = await app.start(0));
  });
  afterAll(() => app?.stop());

  test("protected mode: this machine may scrape, a relayed request may not; the oldest queued task's age is shown", async () => {
    const task = await app.gql(`mutation { createTestTask(input: { rounds: 1 }) { id } }`); // no worker here: it waits
    expect(task.errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const local = await scrape(url);
    expect(local.status).toBe(200);
    expect(value(local.samples, "taskgraph_oldest_queued_task_age_seconds", { module: "test" })).toBeGreaterThanOrEqual(1);
    expect(value(local.samples, "taskgraph_tasks", { module: "test", type: "count", state: "QUEUED" })).toBe(1);
    const relayed = await scrape(url, { "x-forwarded-for": "203.0.113.9" });
    expect(relayed.status).toBe(401);
    expect(JSON.parse(relayed.text).errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  test("once tokens exist: a VIEWER token or TASKGRAPH_METRICS_TOKEN may scrape; nothing else may; the metrics token opens nothing else", async () => {
    const created = await app.gql(`mutation { createApiToken(name: "grafana", role: VIEWER) { secret } }`);
    const viewer = created.data!.createApiToken.secret as string;
    const anonymous = await scrape(url);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text).errors[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
    expect((await scrape(url, { authorization: "Bearer not-a-token" })).status).toBe(401);
    expect((await scrape(url, { authorization: `Bearer ${viewer}` })).status).toBe(200);
    expect((await scrape(url, { authorization: "Bearer scrape-me-please-0123456789" })).status).toBe(200);
    const api = await app.gql(`{ modules { name } }`, {}, { token: "scrape-me-please-0123456789" });
    expect(api.status).toBe(401);
    expect(codes(api)).toEqual(["UNAUTHENTICATED"]);
  });

  test("TASKGRAPH_METRICS=false: /metrics is not served", async () => {
    const off = await startTestApp({ config: { metrics: false } });
    try {
      const { url: offUrl } = await off.start(0);
      const response = await scrape(offUrl);
      expect(response.status).toBe(404);
      expect(JSON.parse(response.text).errors[0].extensions.code).toBe("NOT_FOUND");
    } finally {
      await off.stop();
    }
  });
});

describe("a worker-only process", () => {
  test("serves /metrics on TASKGRAPH_METRICS_PORT (and nothing else), with its own worker's slots", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskgraph-metrics-"));
    const worker = await startProcess({ TASKGRAPH_ROLE: "work", TASKGRAPH_DATA_DIR: dir, TASKGRAPH_MIGRATE_ON_START: "true", TASKGRAPH_METRICS_PORT: "0", TASKGRAPH_CONCURRENCY: "3" });
    try {
      const url = /Metrics: (\S+)/.exec(worker.log())![1]!;
      const { status, samples } = await scrape(url);
      expect(status).toBe(200);
      expect(value(samples, "taskgraph_worker_slots", { state: "free" })).toBe(3);
      expect(value(samples, "taskgraph_workers_alive")).toBe(1);
      expect((await fetch(new URL("/graphql", url))).status).toBe(404);
    } finally {
      await killAll([worker]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
