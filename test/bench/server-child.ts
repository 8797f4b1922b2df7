// A taskgraph server in a child process of its own (common.ts startServer), so that the
// benchmark's clients (WebSockets, HTTP) neither share its event loop nor count in its memory.
// It serves the app with no worker (API only) and a `bench` module with a no-op task; the parent
// then asks it, over IPC, to call exported functions of bench modules with the app: fn(app, ...args).
// The console part asks for a worker and the built-in `test` module too (ServerOptions).
import { setFlagsFromString } from "node:v8";
import { type Config, loadConfig, type StoreConfig } from "../../src/config";
import { defineTestModule } from "../../src/modules/test";
import { createTaskManager } from "../../src/runtime/manager";
import { buildApp, type App } from "../../src/server";

export interface ServerOptions {
  store: StoreConfig;
  /** A worker in this process with this concurrency (none by default: API only). */
  workerConcurrency?: number;
  /** Define the built-in `test` module (count, flow, tree), as `npm start` does. */
  testModule?: boolean;
  /** Settings over the defaults (e.g. stopGraceMs: 0). */
  config?: Partial<Config>;
}

export interface CallMessage {
  id: number;
  module: string;
  fn: string;
  args: unknown[];
}

/** The no-op task type that the benchmarks create (throughput, one-at-a-time creation). */
export function defineBenchTask(manager: ReturnType<typeof createTaskManager>): void {
  manager.defineTask({ module: "bench", type: "noop", run: () => null });
}

/** Live taskEvents subscriptions in this process. */
export function liveSubscriptions(app: App): number {
  return app.manager.feed.size;
}

async function main() {
  const options = JSON.parse(process.argv[2] ?? "{}") as ServerOptions;
  if (options.store.kind === "postgresql") setFlagsFromString("--liftoff-only"); // as src/main.ts does
  const config = { ...loadConfig({ LOG_LEVEL: "warn" }), ...options.config, store: options.store, port: 0 }; // no info line per request or task in the figures
  const worker = options.workerConcurrency ? { concurrency: options.workerConcurrency } : false;
  const manager = createTaskManager({ config, worker });
  defineBenchTask(manager);
  if (options.testModule) defineTestModule(manager);
  const app = await buildApp({ manager });
  const { url } = await app.start(0);

  process.on("message", (message: CallMessage | { stop: true }) => {
    if ("stop" in message) {
      void app.stop().then(() => manager.stop()).finally(() => process.exit(0));
      return;
    }
    void call(app, message).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error: unknown) => process.send!({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.send!({ ready: true, url });
}

async function call(app: App, { module, fn, args }: CallMessage): Promise<unknown> {
  // Compiled (common.ts startServer), the modules are dist/bench/<name>.js beside this file.
  const file = import.meta.url.endsWith(".js") ? module.replace(/\.ts$/, ".js") : module;
  const loaded = (await import(new URL(`./${file}`, import.meta.url).href)) as Record<string, unknown>;
  const target = loaded[fn];
  if (typeof target !== "function") throw new Error(`${module} has no exported function ${fn}`);
  return (await target(app, ...args)) as unknown;
}

// By the script's name: compiled, this module's code may sit in a chunk that other modules share.
if (/server-child\.[jt]s$/.test(process.argv[1] ?? "")) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
