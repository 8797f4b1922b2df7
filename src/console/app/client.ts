// The console's GraphQL client: urql over HTTP for queries and mutations, graphql-ws for
// subscriptions, both at the server's own /graphql (the public API, nothing else). A token, when
// one is in use, goes as `Authorization: Bearer` on HTTP and `connectionParams.authorization` on
// the WebSocket.
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws/client";
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "urql";

/** The header the server's CSRF guard knows (src/server/csrf.ts): marks our POSTs as not forged. */
const CSRF_HEADER = "x-graphql-yoga-csrf";

export interface ApiClients {
  client: Client;
  ws: WsClient;
  dispose(): void;
}

/** The server's WebSocket close codes for a missing, revoked or refused token (src/auth/transport.ts). */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

export interface ClientEvents {
  /** The WebSocket connected again after a loss: live views refetch what they may have missed. */
  reconnected(): void;
  /** The server closed the WebSocket for the token (revoked, or none while tokens exist). */
  unauthorized(): void;
}

/** A client for `token` (null: none, for protected mode). */
export function createApiClients(token: string | null, events: ClientEvents): ApiClients {
  const httpUrl = new URL("/graphql", window.location.href).toString();
  const wsUrl = httpUrl.replace(/^http/, "ws");
  const authorization = token ? `Bearer ${token}` : undefined;
  let connections = 0;
  const ws = createWsClient({
    url: wsUrl,
    lazy: true,
    lazyCloseTimeout: 3_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Lost connections are retried (with graphql-ws's backoff); a refused token is not.
    shouldRetry: (event) => !isRefusal(event),
    connectionParams: authorization ? { authorization } : undefined,
    on: {
      connected: () => {
        connections += 1;
        if (connections > 1) events.reconnected();
      },
      closed: (event) => {
        if (isRefusal(event)) events.unauthorized();
      },
    },
  });
  const client = new Client({
    url: httpUrl,
    preferGetMethod: false,
    fetchOptions: () => ({
      headers: { [CSRF_HEADER]: "console", ...(authorization ? { authorization } : {}) },
    }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
  return { client, ws, dispose: () => void ws.dispose() };
}

const isRefusal = (event: unknown) =>
  event instanceof CloseEvent && (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_FORBIDDEN);
