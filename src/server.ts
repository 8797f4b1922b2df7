// The HTTP server: graphql-yoga (GraphiQL at /graphql) on node:http, plus /health.
// buildApp() returns { start(port), stop() } (graphql-yoga examples); tests start it on port 0
// or call yoga.fetch in-process.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EnvelopArmor } from "@escape.tech/graphql-armor";
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { type ExecutionArgs, GraphQLError } from "graphql";
import type { Context as WsContext, SubscribePayload } from "graphql-ws";
import type { Extra as WsExtra } from "graphql-ws/use/ws";
import { useServer } from "graphql-ws/use/ws";
import { type WebSocket, WebSocketServer } from "ws";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { Authenticator } from "./auth/principal";
import { mutationRateLimit } from "./auth/rate-limit";
import { SessionWatch } from "./auth/revocation";
import { authenticateConnection, closeFor, connectionCredentials, principalOf, useAuthentication } from "./auth/transport";
import { isDatabaseUnavailable } from "./db/availability";
import type { TaskgraphError } from "./domain/errors";
import { logClientMistake, noteOutage } from "./log";
import type { Principal } from "./auth/principal";
import type { Config } from "./config";
import { loadConfig } from "./config";
import type { Database } from "./db/client";
import type { TaskManager, TaskManagerOptions } from "./runtime/manager";
import { defineTestModule } from "./modules/test";
import { createTaskManager } from "./runtime/manager";
import { schema, type Context } from "./schema";
import { maskError, unavailableError, yogaLogger } from "./schema/errors";
import { useOperationAuthorization } from "./schema/operation-auth";
import type { Store } from "./store";

export interface App {
  config: Config;
  db: Database;
  store: Store;
  manager: TaskManager;
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  /** Listens on `port` (0 = any free port) and the configured host; resolves with the URL of /graphql. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /**
   * Stops accepting requests and closes open connections; then stops the manager if buildApp made
   * it (a manager passed in keeps running, and a database passed in stays open). Idempotent.
   */
  stop(): Promise<void>;
}

export interface BuildOptions extends TaskManagerOptions {
  /** A task manager to serve (an embedding program's); otherwise one is created from the options. */
  manager?: TaskManager;
}

/** The manager of a server that brings its own (`npm start`, tests): with the built-in modules. */
function serverManager(options: TaskManagerOptions): TaskManager {
  const manager = createTaskManager({ ...options, config: options.config ?? loadConfig() });
  defineTestModule(manager);
  return manager;
}

/** Serves a task manager: starts it (store, bus, worker) and builds the HTTP app around it. */
export async function buildApp(options: BuildOptions = {}): Promise<App> {
  const manager = options.manager ?? serverManager(options);
  await manager.start();
  const { config, store, db } = manager;
  const authenticator = new Authenticator(store);
  const sessions = new SessionWatch(authenticator);
  const rateLimit = mutationRateLimit(config.mutationsPerMinute, config.redisUrl);
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    // graphql-ws connections bring their principal (authenticated in onConnect); HTTP requests
    // were authenticated by useAuthentication.
    context: ({ request, principal }) => ({
      principal: (principal as Principal | undefined) ?? principalOf(request),
      store,
      config,
      manager,
    }),
    maskedErrors: { maskError },
    graphiql: config.graphiql ? { title: "taskgraph", defaultQuery: EXAMPLE_QUERY, subscriptionsProtocol: "WS" } : false,
    plugins: [
      // Who is asking, before anything else runs (auth/transport.ts).
      useAuthentication(authenticator, sessions),
      // Limits against hostile queries (GraphQL Armor): depth, aliases, tokens, directives, cost.
      ...new EnvelopArmor({
        maxDepth: { n: config.maxQueryDepth, ignoreIntrospection: true },
        maxAliases: { n: 20 },
        maxTokens: { n: 5_000 },
        maxDirectives: { n: 50 },
        costLimit: { maxCost: 100_000 },
        blockFieldSuggestion: { enabled: !config.introspection },
      }).protect().plugins,
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      // CSRF: a request a browser may send cross-site without a preflight (GET, form or text
      // POST) must carry the x-graphql-yoga-csrf header; JSON POSTs (GraphiQL, clients) need nothing.
      useCSRFPrevention(),
      // Every root field is checked against the caller's role before any of them runs.
      useOperationAuthorization(),
      rateLimit.plugin,
    ],
    landingPage: false,
    healthCheckEndpoint: false as unknown as string, // we serve /health ourselves (it checks the store)
    logging: yogaLogger,
  });

  let server: Server | undefined;
  let sockets: { dispose(): void | Promise<void> } | undefined;
  let stopping: Promise<void> | undefined;

  async function health(): Promise<{ status: number; body: unknown }> {
    try {
      await store.ping();
      return { status: 200, body: { status: "ok", store: db.kind } };
    } catch {
      return { status: 503, body: { status: "unavailable", store: db.kind } };
    }
  }

  /** graphql-ws onSubscribe: the operation to run, or the errors refusing it. */
  async function prepareOperation(ctx: WsContext<Record<string, unknown> | undefined, WsExtra>, params: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> {
    // One client may not open unbounded operations on one connection (a subscription flood).
    if (Object.keys(ctx.subscriptions).length > config.maxOperationsPerConnection) {
      return [
        new GraphQLError(`At most ${config.maxOperationsPerConnection} operations at once on one connection`, {
          extensions: { code: "RATE_LIMITED" },
        }),
      ];
    }
    // A token revoked since the connection opened ends it at its next operation (if the watch has not already).
    try {
      await authenticateConnection(authenticator, ctx.extra.request, ctx.connectionParams);
    } catch (error) {
      const refusal = error as TaskgraphError;
      if (refusal.code === "UNAVAILABLE") return [unavailableError()];
      if (refusal.code === "UNAUTHENTICATED") ctx.extra.socket.close(...closeFor(refusal));
      return [new GraphQLError(refusal.message, { extensions: { code: refusal.code } })];
    }
    const { schema: enveloped, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
      ...ctx,
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      principal: (ctx.extra as { principal?: Principal }).principal,
      params,
    });
    // Refusals carry the codes they have over HTTP (Yoga's), instead of closing the socket.
    let document;
    try {
      document = parse(params.query);
    } catch (error) {
      logClientMistake("unparsable operation over graphql-ws", error);
      return [withCode(error, "GRAPHQL_PARSE_FAILED")];
    }
    let errors: readonly GraphQLError[];
    try {
      errors = validate(enveloped, document);
    } catch (error) {
      // GraphQL Armor's limits (depth, aliases, directives, tokens, cost) throw their refusal.
      if (!(error instanceof GraphQLError)) throw error;
      logClientMistake("operation over a limit over graphql-ws", error);
      return [withCode(error, "BAD_USER_INPUT")];
    }
    if (errors.length) return errors.map((error: GraphQLError) => withCode(error, "GRAPHQL_VALIDATION_FAILED"));
    return {
      schema: enveloped,
      operationName: params.operationName,
      document,
      variableValues: params.variables,
      contextValue: await contextFactory(),
      rootValue: { execute, subscribe, socket: ctx.extra.socket },
    };
  }

  return {
    config,
    db,
    store,
    manager,
    yoga,
    start(port = config.port) {
      server = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        if (path === "/health") {
          void health().then(({ status, body }) => {
            res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
          });
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
        if (path === "/" && req.method === "GET") {
          res.writeHead(302, { location: "/graphql" }).end();
          return;
        }
        void yoga.handle(req, res);
      });
      // graphql-ws on the same port and path (yoga's documented integration).
      // A WebSocket message is bounded like a request body (larger ones close the socket with 1009).
      const wss = new WebSocketServer({ server, path: "/graphql", maxPayload: config.maxBodyBytes });
      wss.on("connection", quietClientProtocolErrors);
      sockets = useServer(
        {
          execute: (args: any) => args.rootValue.execute(args),
          subscribe: (args: any) => closeWhenStalled(args.rootValue.subscribe(args), args.rootValue.socket, config.subscriberStallMs) as any,
          onConnect: async (ctx) => {
            const socket = ctx.extra.socket;
            let principal: Principal;
            try {
              principal = await authenticateConnection(authenticator, ctx.extra.request, ctx.connectionParams);
            } catch (error) {
              socket.close(...closeFor(error as TaskgraphError));
              return false;
            }
            (ctx.extra as { principal?: Principal }).principal = principal;
            // The connection ends (close 4401) once its token is revoked, in whichever process.
            const unwatch = sessions.watch(connectionCredentials(ctx.extra.request, ctx.connectionParams), (error) => socket.close(...closeFor(error)));
            socket.once("close", unwatch);
            return true;
          },
          // `extensions.http` tells Yoga the HTTP status of an error; it means nothing on a WebSocket.
          onNext: (_ctx, _id, _payload, _args, result) => withoutHttpExtensions(result),
          onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttpExtension),
          onSubscribe: async (ctx, _id, params) => {
            // Nothing a client sends on an open connection closes it: every refusal, and any
            // failure here, is an error for that operation only, with a code.
            try {
              return await prepareOperation(ctx, params);
            } catch (error) {
              if (isDatabaseUnavailable(error)) {
                noteOutage(error);
                return [unavailableError()];
              }
              console.error("[taskgraph] graphql-ws operation failed:", error);
              return [new GraphQLError("Unexpected error.", { extensions: { code: "INTERNAL_SERVER_ERROR" } })];
            }
          },
        },
        wss,
      );
      const listening = server;
      return new Promise((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(port, config.host, () => {
          const { port: actual } = listening.address() as AddressInfo;
          const host = config.host.includes(":") ? `[${config.host}]` : config.host;
          resolve({ port: actual, url: `http://${host}:${actual}/graphql` });
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        sessions.stop();
        await sockets?.dispose();
        if (server) {
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          server.closeAllConnections();
          await closed;
        }
        // A manager handed to us is its owner's to stop (with the database it was given).
        if (!options.manager) await manager.stop();
        await rateLimit.close();
      })();
      return stopping;
    },
  };
}

/**
 * ws reports a client's protocol violations (a message over maxPayload, a bad frame) as an error on
 * its socket after closing it with the right code (1009, 1002…); graphql-ws would log each with its
 * stack as an internal error. They are the client's mistake: one debug line.
 */
function quietClientProtocolErrors(socket: WebSocket): void {
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    const error = args[0] as { code?: unknown } | undefined;
    if (event === "error" && typeof error?.code === "string" && error.code.startsWith("WS_ERR_")) {
      logClientMistake("WebSocket protocol error", error);
      return true;
    }
    return emit(event, ...args);
  }) as typeof socket.emit;
}

function withoutHttpExtension(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions });
}

function withoutHttpExtensions<T extends { errors?: readonly GraphQLError[] }>(result: T): T {
  if (!result.errors?.some((error) => error.extensions?.http)) return result;
  return { ...result, errors: result.errors.map(withoutHttpExtension) };
}

/** A GraphQL error with an `extensions.code` (its own, if it has one). */
function withCode(error: unknown, code: string): GraphQLError {
  const graphql = error instanceof GraphQLError ? error : new GraphQLError(String(error));
  if (graphql.extensions.code) return graphql;
  return new GraphQLError(graphql.message, { nodes: graphql.nodes, source: graphql.source, positions: graphql.positions, extensions: { ...graphql.extensions, code } });
}

/** Close code for a WebSocket subscriber that stopped taking events (README: resume with `after`). */
export const CLOSE_SUBSCRIBER_TOO_SLOW = 4001;

/**
 * Subscriptions are pulled: graphql-ws asks for the next event only once the previous one was
 * written to the socket, so a client that stops reading stalls only its own subscription and the
 * server holds at most one event for it (events wait in the journal). A subscriber stalled longer
 * than `stallMs` is closed with CLOSE_SUBSCRIBER_TOO_SLOW; it can reconnect and resume with `after`.
 */
async function closeWhenStalled(result: unknown, socket: WebSocket, stallMs: number): Promise<unknown> {
  const resolved = await result;
  if (!resolved || typeof resolved !== "object" || !(Symbol.asyncIterator in resolved)) return resolved;
  return new StallGuard((resolved as AsyncIterable<unknown>)[Symbol.asyncIterator](), socket, stallMs);
}

/** The iterator closeWhenStalled hands graphql-ws (a class: idle subscriptions should cost little). */
class StallGuard implements AsyncIterableIterator<unknown> {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inner: AsyncIterator<unknown>,
    private readonly socket: WebSocket,
    private readonly stallMs: number,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<unknown>> {
    clearTimeout(this.timer);
    const step = await this.inner.next();
    if (!step.done) {
      this.timer = setTimeout(StallGuard.close, this.stallMs, this.socket);
      this.timer.unref();
    }
    return step;
  }

  async return(value?: unknown): Promise<IteratorResult<unknown>> {
    clearTimeout(this.timer);
    return this.inner.return ? this.inner.return(value) : { done: true, value };
  }

  async throw(error?: unknown): Promise<IteratorResult<unknown>> {
    clearTimeout(this.timer);
    if (this.inner.throw) return this.inner.throw(error);
    throw error;
  }

  private static close(socket: WebSocket): void {
    socket.close(CLOSE_SUBSCRIBER_TOO_SLOW, "Subscriber too slow: reconnect and resume with after");
  }
}

const EXAMPLE_QUERY = `# taskgraph: background tasks of an operations console.
# Run \`npm run seed\` for demo data, then press the run button.
query RecentTasks {
  modules { name totalTasks taskCounts { state count } }
  tasks(first: 10, filter: { rootsOnly: true }) {
    totalCount
    edges {
      node {
        id module type target state category
        progress { units completed total fraction }
        availableActions
        children(first: 5) { totalCount edges { node { id type state node } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;
