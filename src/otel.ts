// Trace export over OTLP (HTTP), only when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: the exporter reads those and the other standard
// OTEL_EXPORTER_OTLP_* variables itself; OTEL_SERVICE_NAME names the service (default taskgraph).
// Otherwise no SDK is loaded and every span taskgraph opens is the API's no-op.
import type { Logger } from "./logger";

export type StopTracing = () => Promise<void>;

/** Starts exporting traces if configured; resolves with how to flush and stop them. */
export async function startTracing(log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<StopTracing> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return async () => {};
  // Loaded only when used: the SDK and the exporter cost start-up time and memory otherwise.
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || "taskgraph" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register(); // the global tracer provider, AsyncLocalStorage context, W3C traceparent propagation
  log.info({ endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT }, "exporting traces over OTLP");
  return () => provider.shutdown();
}
