// Traces (OpenTelemetry API): a span for each task run, step attempt and rollback, children of the
// request that started the task. The request's trace context is stored on the task (its W3C
// `traceparent`) when it is created, and the run — in whichever process, however much later —
// continues that trace. Without an SDK registered (see src/otel.ts: only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set) every call here is the API's no-op.
import { type Context, context, type Attributes, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from "@opentelemetry/api";

// A proxy: it uses whichever tracer provider is registered when a span starts, even a later one.
const tracer = trace.getTracer("taskgraph");

/** The active trace context as a W3C traceparent (stored on tasks created in it), or null outside any sampled trace. */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** The trace context a stored traceparent names (the root context when there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/**
 * Runs `work` in a new span named `name`, a child of `parent` (default: the active context), made
 * active for what `work` does; the span ends with it, with an ERROR status if it throws.
 */
export function inSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>, parent: Context = context.active()): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks the active span as failed (an outcome the code returned rather than threw: a failed task, step or rollback). */
export function markActiveSpanFailed(message: string): void {
  trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** A task's attributes on its spans. */
export function taskAttributes(task: { id: string; moduleName: string; type: string }): Attributes {
  return { "taskgraph.task.id": task.id, "taskgraph.module": task.moduleName, "taskgraph.task.type": task.type };
}
