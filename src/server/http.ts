// The HTTP request handler: /health (the store answers or not), /metrics (metrics.ts), request body limits, the web
// console (a GET of anything but /graphql: console.ts), and everything else to Yoga. graphql-ws
// shares the same node:http server (websocket.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { Store } from "../store";
import { consoleHandler } from "./console";
import type { Yoga } from "./yoga";

export interface HttpParts {
  config: Config;
  db: Database;
  store: Store;
  yoga: Yoga;
  /** GET /metrics (metrics.ts metricsHandler). */
  metrics: (req: IncomingMessage, res: ServerResponse) => void;
}

export function httpHandler({ config, db, store, yoga, metrics }: HttpParts): (req: IncomingMessage, res: ServerResponse) => void {
  async function health(): Promise<{ status: number; body: unknown }> {
    try {
      await store.ping();
      return { status: 200, body: { status: "ok", store: db.kind } };
    } catch {
      return { status: 503, body: { status: "unavailable", store: db.kind } };
    }
  }

  const serveConsole = consoleHandler();

  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      void health().then(({ status, body }) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      });
      return;
    }
    if (path === "/metrics" && (req.method === "GET" || req.method === "HEAD")) {
      metrics(req, res);
      return;
    }
    // Bodies are bounded by their declared length; a body without one (chunked) is not taken,
    // since it could only be measured after buffering it.
    const length = req.headers["content-length"];
    const tooLarge = Number(length ?? 0) > config.maxBodyBytes;
    if (tooLarge || (length === undefined && req.headers["transfer-encoding"] !== undefined)) {
      const message = tooLarge ? `Request body larger than ${config.maxBodyBytes} bytes` : "A request body needs a Content-Length";
      const body = { errors: [{ message, extensions: { code: "BAD_USER_INPUT" } }] };
      res.writeHead(tooLarge ? 413 : 411, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(body));
      return;
    }
    if ((req.method === "GET" || req.method === "HEAD") && path !== "/graphql" && !path?.startsWith("/graphql/")) {
      serveConsole(req, res);
      return;
    }
    void yoga.handle(req, res);
  };
}
