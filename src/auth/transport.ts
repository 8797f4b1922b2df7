// Authentication at the edge of each transport, before anything is parsed or run: HTTP and SSE
// requests in a Yoga `onRequest` hook (refused with 401 and a JSON GraphQL error), graphql-ws
// connections in `onConnect` (closed with 4401, or 4403 in protected mode). The principal then
// reaches the GraphQL context (server.ts).
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Plugin } from "graphql-yoga";
import { TaskgraphError } from "../domain/errors";
import type { Authenticator, Credentials, Principal } from "./principal";

/** graphql-ws close codes (its CloseCode.Unauthorized / Forbidden). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

const principals = new WeakMap<Request, Principal>();

/** The principal an HTTP request was authenticated as (set by useAuthentication). */
export function principalOf(request: Request): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error("request reached the schema unauthenticated");
  return principal;
}

/**
 * Headers that proxies, load balancers and CDNs add to a request they relay. Any one of them means
 * the peer is a relay and the real client may be anywhere, so protected mode does not serve it.
 */
export const RELAY_HEADERS = [
  "forwarded",
  "via",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-original-forwarded-for",
  "x-real-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-appengine-user-ip",
  "x-azure-clientip",
] as const;

function credentials(headers: { get(name: string): string | null }, req: IncomingMessage | undefined, authorization?: unknown): Credentials {
  return {
    authorization: typeof authorization === "string" ? authorization : headers.get("authorization"),
    remoteAddress: req?.socket.remoteAddress ?? (req ? "" : undefined), // a node request without an address is not local
    forwarded: RELAY_HEADERS.some((name) => headers.get(name) !== null),
  };
}

const nodeHeaders = (headers: IncomingHttpHeaders) => ({
  get: (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : (value ?? null);
  },
});

/**
 * Yoga plugin: every GraphQL request (HTTP or SSE) is authenticated first. GraphiQL's page, when
 * enabled, is served by Yoga's own plugin before this hook runs: nothing else skips it.
 */
export function useAuthentication(authenticator: Authenticator): Plugin<Record<string, unknown>, { req?: IncomingMessage }> {
  return {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      try {
        principals.set(request, await authenticator.authenticate(credentials(request.headers, serverContext.req)));
      } catch (error) {
        if (!(error instanceof TaskgraphError)) throw error;
        const body = JSON.stringify({ errors: [{ message: error.message, extensions: error.extensions }] });
        endResponse(
          new fetchAPI.Response(body, {
            status: 401,
            headers: { "content-type": "application/json", "www-authenticate": 'Bearer realm="taskgraph"' },
          }),
        );
      }
    },
  };
}

/**
 * graphql-ws onConnect: the token comes in `connectionParams.authorization` (browsers cannot set
 * headers on a WebSocket) or the upgrade request's Authorization header. Resolves with the
 * principal, or closes the socket with a reason (at most 123 bytes) and resolves with null.
 */
export async function authenticateConnection(
  authenticator: Authenticator,
  request: IncomingMessage,
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  close: (code: number, reason: string) => void,
): Promise<Principal | null> {
  const fromParams = connectionParams?.authorization ?? connectionParams?.Authorization;
  try {
    return await authenticator.authenticate(credentials(nodeHeaders(request.headers), request, fromParams));
  } catch (error) {
    if (!(error instanceof TaskgraphError)) throw error;
    if (error.details.protectedMode) {
      close(CLOSE_FORBIDDEN, "Protected mode: no API token exists, only local clients are served (README: Security)");
    } else {
      close(CLOSE_UNAUTHORIZED, error.message.slice(0, 120));
    }
    return null;
  }
}
