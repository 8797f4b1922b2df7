// Traces: with an OpenTelemetry SDK registered (here with an in-memory exporter), one trace shows
// the startTask request (continuing the caller's traceparent), the task's run and each step attempt.
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN = "b7ad6b7169203331";

describe("traces", () => {
  let app: TestApp;
  let url: string;

  beforeAll(async () => {
    provider.register();
    app = await startTestApp({ worker: { pollMs: 50, housekeepingMs: 100 } });
    ({ url } = await app.start(0));
  });
  afterAll(async () => {
    await app?.stop();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  async function start(input: Record<string, unknown>, headers: Record<string, string> = {}): Promise<string> {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query: `mutation Start($input: CreateTestTaskInput!) { createTestTask(input: $input) { id } }`, variables: { input } }),
    });
    const body = (await response.json()) as { data: { createTestTask: { id: string } } };
    return body.data.createTestTask.id;
  }

  async function spansOfTask(id: string, expected: number): Promise<ReadableSpan[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const state = (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state;
      const run = exporter.getFinishedSpans().filter((s) => s.attributes["taskgraph.task.id"] === id);
      if (["SUCCEEDED", "FAILED"].includes(state) && run.length >= expected) return run;
      if (Date.now() > deadline) throw new Error(`task ${id} is ${state} with ${run.length} spans`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  test("the request continues the caller's trace; the task's run and its step attempts are in it, each a child of the one before", async () => {
    const id = await start({ rounds: 1, roundMs: 0, steps: 2 }, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    const taskSpans = await spansOfTask(id, 3);
    const request = exporter.getFinishedSpans().find((s) => s.name === "mutation Start" && s.spanContext().traceId === CALLER_TRACE)!;
    expect(request).toBeDefined();
    expect(parentOf(request)).toBe(CALLER_SPAN);
    expect(request.attributes).toMatchObject({ "graphql.operation.type": "mutation", "graphql.operation.name": "Start" });

    const run = taskSpans.find((s) => s.name === "taskgraph.task.run")!;
    expect(run.spanContext().traceId).toBe(CALLER_TRACE);
    expect(parentOf(run)).toBe(request.spanContext().spanId);
    expect(run.attributes).toMatchObject({ "taskgraph.task.id": id, "taskgraph.module": "test", "taskgraph.task.type": "flow" });

    const steps = taskSpans.filter((s) => s.name === "taskgraph.step.attempt");
    expect(steps.map((s) => s.attributes["taskgraph.step.key"]).sort()).toEqual(["step-1", "step-2"]);
    for (const step of steps) {
      expect(step.spanContext().traceId).toBe(CALLER_TRACE);
      expect(parentOf(step)).toBe(run.spanContext().spanId);
      expect(step.attributes["taskgraph.attempt.kind"]).toBe("execute");
    }
  });

  test("without a traceparent the request starts a trace of its own; a failed run and its failed attempt are marked as errors", async () => {
    const id = await start({ rounds: 1, roundMs: 0, steps: 2, failAtRound: 1 });
    const taskSpans = await spansOfTask(id, 2);
    const run = taskSpans.find((s) => s.name === "taskgraph.task.run")!;
    const request = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === parentOf(run))!;
    expect(request.name).toBe("mutation Start");
    expect(parentOf(request)).toBeUndefined(); // a root: the trace began with the request
    expect(request.spanContext().traceId).not.toBe(CALLER_TRACE);
    expect(run.status).toMatchObject({ code: 2, message: 'Step "step-1" failed: Failed at round 1, as asked (failAtRound)' }); // ERROR
    const attempt = taskSpans.find((s) => s.name === "taskgraph.step.attempt" && s.attributes["taskgraph.step.key"] === "step-1")!;
    expect(attempt.status.code).toBe(2);
    expect(attempt.spanContext().traceId).toBe(run.spanContext().traceId);
  });
});
