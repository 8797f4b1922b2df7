// graphql-ws on the HTTP server's port and path (yoga's documented integration): the connection is
// authenticated in onConnect and watched for revocation; each operation is checked (per-connection
// limit, the token still valid) and prepared with Yoga's envelop, so it meets the same plugins as
// over HTTP; every refusal is an error for that operation only, with the code it has over HTTP.
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { type ExecutionArgs, GraphQLError } from "graphql";
import type { Context as WsContext, ServerOptions, SubscribePayload } from "graphql-ws";
import { type Extra as WsExtra, useServer } from "graphql-ws/use/ws";
import { type WebSocket, WebSocketServer } from "ws";
import type { Authenticator, Principal } from "../auth/principal";
import type { SessionWatch } from "../auth/revocation";
import { authenticateConnection, CLOSE_FORBIDDEN, closeFor, connectionCredentials } from "../auth/transport";
import type { Config } from "../config";
import { foreignOriginMessage, judgeUpgrade } from "./origin";
import { isDatabaseUnavailable } from "../db/availability";
import type { TaskgraphError } from "../domain/errors";
import { type Logger, logClientMistake, noteOutage } from "../logger";
import { unavailableError } from "../schema/errors";
import type { Yoga } from "./yoga";
import type { TaskMetrics } from "../runtime/metrics";
import { deliverToSocket, SEND_HIGH_WATER_BYTES, withoutHttpExtension, withoutHttpExtensions } from "./socket-delivery";

export interface WebSocketParts {
  config: Config;
  yoga: Yoga;
  authenticator: Authenticator;
  sessions: SessionWatch;
  log: Logger;
  /** Where each event handed to a subscriber is timed (taskgraph_event_delivery_seconds). */
  metrics: TaskMetrics;
}

type ConnectionContext = WsContext<Record<string, unknown> | undefined, WsExtra>;

/** Serves graphql-ws on `server`'s /graphql; dispose() closes every connection. */
export function attachGraphqlWs(server: Server, parts: WebSocketParts): { dispose(): void | Promise<void> } {
  // A WebSocket message is bounded like a request body (larger ones close the socket with 1009).
  // A browser opens a WebSocket to any site without CORS, naming the page's origin: a foreign one
  // is refused with HTTP 403 before the handshake (origin.ts).
  const wss = new WebSocketServer({
    server,
    path: "/graphql",
    maxPayload: parts.config.maxBodyBytes,
    verifyClient: ({ req }, done) => {
      if (judgeUpgrade(parts.config, req) !== "foreign") return done(true);
      logClientMistake(parts.log, "WebSocket from a foreign origin refused", new Error(`origin ${req.headers.origin}`));
      done(false, 403, foreignOriginMessage(String(req.headers.origin)).replace(/^Refused: /, ""));
    },
  });
  wss.on("connection", (socket) => {
    quietClientProtocolErrors(socket, parts.log);
    coalesceSends(socket);
  });
  return useServer(graphqlWsOptions(parts), wss);
}

/** The graphql-ws server's options. */
export function graphqlWsOptions(parts: WebSocketParts): ServerOptions<Record<string, unknown> | undefined, WsExtra> {
  const { config, authenticator, sessions, log, metrics } = parts;
  const delivery = { stallMs: config.subscriberStallMs, log, metrics };
  return {
    execute: (args: any) => args.rootValue.execute(args),
    // A subscription's results go straight to its socket (socket-delivery.ts); graphql-ws's onNext
    // below sees only the results of queries and mutations sent over the WebSocket.
    subscribe: (args: any) => deliverToSocket(args.rootValue.subscribe(args), args.rootValue.socket, args.rootValue.id, delivery) as any,
    onConnect: async (ctx) => {
      const socket = ctx.extra.socket;
      // An origin allowed only by TASKGRAPH_CORS_ORIGINS=* needs a token (not the loopback's protected mode).
      if (judgeUpgrade(config, ctx.extra.request) === "any" && !connectionCredentials(ctx.extra.request, ctx.connectionParams).authorization) {
        socket.close(CLOSE_FORBIDDEN, "An origin allowed only by TASKGRAPH_CORS_ORIGINS=* needs an API token");
        return false;
      }
      let principal: Principal;
      try {
        principal = await authenticateConnection(authenticator, ctx.extra.request, ctx.connectionParams, log);
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
    onSubscribe: async (ctx, id, params) => {
      // Nothing a client sends on an open connection closes it: every refusal, and any
      // failure here, is an error for that operation only, with a code.
      try {
        return await prepareOperation(parts, ctx, id, params);
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          noteOutage(log, error);
          return [unavailableError()];
        }
        log.error({ err: error }, "graphql-ws operation failed");
        return [new GraphQLError("Unexpected error.", { extensions: { code: "INTERNAL_SERVER_ERROR" } })];
      }
    },
  };
}

/** graphql-ws onSubscribe: the operation to run, or the errors refusing it. */
async function prepareOperation(
  { config, yoga, authenticator, log }: WebSocketParts,
  ctx: ConnectionContext,
  id: string,
  params: SubscribePayload,
): Promise<ExecutionArgs | readonly GraphQLError[]> {
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
    await authenticateConnection(authenticator, ctx.extra.request, ctx.connectionParams, log);
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
    logClientMistake(log, "unparsable operation over graphql-ws", error);
    return [withCode(error, "GRAPHQL_PARSE_FAILED")];
  }
  let errors: readonly GraphQLError[];
  try {
    errors = validate(enveloped, document);
  } catch (error) {
    // GraphQL Armor's limits (depth, aliases, directives, tokens, cost) throw their refusal.
    if (!(error instanceof GraphQLError)) throw error;
    logClientMistake(log, "operation over a limit over graphql-ws", error);
    return [withCode(error, "BAD_USER_INPUT")];
  }
  if (errors.length) return errors.map((error: GraphQLError) => withCode(error, "GRAPHQL_VALIDATION_FAILED"));
  return {
    schema: enveloped,
    operationName: params.operationName,
    document,
    variableValues: params.variables,
    contextValue: await contextFactory(),
    rootValue: { execute, subscribe, socket: ctx.extra.socket, id },
  };
}

/**
 * ws reports a client's protocol violations (a message over maxPayload, a bad frame) as an error on
 * its socket after closing it with the right code (1009, 1002…); graphql-ws would log each with its
 * stack as an internal error. They are the client's mistake: one debug line.
 */
function quietClientProtocolErrors(socket: WebSocket, log: Logger): void {
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    const error = args[0] as { code?: unknown } | undefined;
    if (event === "error" && typeof error?.code === "string" && error.code.startsWith("WS_ERR_")) {
      logClientMistake(log, "WebSocket protocol error", error);
      return true;
    }
    return emit(event, ...args);
  }) as typeof socket.emit;
}

/** Sockets corked in this turn of the event loop, uncorked together at its end. */
const corkedSockets = new Set<Duplex>();
const IGNORE = () => {};

function uncorkAll(): void {
  const sockets = [...corkedSockets];
  corkedSockets.clear(); // a socket corked again while these flush belongs to the next turn
  for (const socket of sockets) socket.uncork();
}

/**
 * The frames sent to one socket in one turn of the event loop leave in one write (one system
 * call, the largest cost of a live event here) instead of one write each: the socket is corked at
 * its first frame and uncorked once the turn's callbacks have run. graphql-ws awaits each of its
 * own sends (acknowledgements, results of queries and mutations, `complete`), so a send completes
 * at once while the socket holds less than SEND_HIGH_WATER_BYTES unsent, and only once written
 * beyond that, as subscriptions' messages do (socket-delivery.ts). A failed write is not reported
 * to the sender: the socket closes, which ends its subscriptions.
 */
function coalesceSends(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: Duplex })._socket; // ws's net.Socket under the WebSocket
  if (!raw || typeof raw.cork !== "function") return;
  const send = socket.send.bind(socket);
  socket.send = ((data: unknown, options?: unknown, callback?: (error?: Error) => void) => {
    if (typeof options === "function") {
      callback = options as (error?: Error) => void;
      options = {};
    }
    if (!corkedSockets.has(raw) && !raw.destroyed) {
      if (corkedSockets.size === 0) setImmediate(uncorkAll);
      raw.cork();
      corkedSockets.add(raw);
    }
    if (!callback || socket.bufferedAmount >= SEND_HIGH_WATER_BYTES) return send(data as never, (options ?? {}) as never, callback as never);
    send(data as never, (options ?? {}) as never, IGNORE);
    queueMicrotask(callback);
  }) as typeof socket.send;
}

/** A GraphQL error with an `extensions.code` (its own, if it has one). */
function withCode(error: unknown, code: string): GraphQLError {
  const graphql = error instanceof GraphQLError ? error : new GraphQLError(String(error));
  if (graphql.extensions.code) return graphql;
  return new GraphQLError(graphql.message, { nodes: graphql.nodes, source: graphql.source, positions: graphql.positions, extensions: { ...graphql.extensions, code } });
}
