// Authentication at the edge of each transport, before anything is parsed or run: HTTP and SSE
// requests in a Yoga `onRequest` hook (refused with 401 and a JSON GraphQL error; 503 UNAVAILABLE
// when the token store cannot be reached), graphql-ws connections in `onConnect` (closed with 4401,
// 4403 in protected mode, 1013 when unavailable). The principal then reaches the GraphQL context
// (server.ts). Open sessions are checked again while they last (revocation.ts).
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { type ExecutionResult, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isDatabaseUnavailable } from "../db/availability";
import { RETRY_AFTER_SECONDS, TaskgraphError, unavailable } from "../domain/errors";
import { type Logger, noteOutage } from "../logger";
import type { Authenticator, Credentials, Principal } from "./principal";
import type { SessionWatch } from "./revocation";

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
    host: req ? headers.get("host") : null,
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
export function useAuthentication(authenticator: Authenticator, sessions: SessionWatch, log: Logger): Plugin<Record<string, unknown>, { req?: IncomingMessage }> {
  const requestCredentials = new WeakMap<Request, Credentials>();
  return {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      try {
        const given = credentials(request.headers, serverContext.req);
        principals.set(request, await authenticator.authenticate(given));
        requestCredentials.set(request, given);
      } catch (thrown) {
        const error = asAuthenticationError(thrown, log);
        const body = JSON.stringify({ errors: [{ message: error.message, extensions: error.extensions }] });
        const headers: Record<string, string> = { "content-type": "application/json" };
        let status = 401;
        if (error.code === "UNAVAILABLE") {
          status = 503;
          headers["retry-after"] = String(RETRY_AFTER_SECONDS);
        } else if (error.code === "UNAUTHENTICATED") {
          headers["www-authenticate"] = 'Bearer realm="taskgraph"';
        } else {
          status = 500;
        }
        endResponse(new fetchAPI.Response(body, { status, headers }));
      }
    },
    // An SSE subscription ends (with UNAUTHENTICATED) once its token is revoked. graphql-ws
    // connections are watched as a whole (server.ts); their contexts carry no Request.
    onSubscribe({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const given = request && requestCredentials.get(request);
      if (!given) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (result && typeof result === "object" && Symbol.asyncIterator in result) {
            setResult(new EndWhenRefused((result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator](), sessions, given));
          }
        },
      };
    },
  };
}

/** A subscription's results, ended by an UNAUTHENTICATED result once its credentials are refused. */
class EndWhenRefused implements AsyncIterableIterator<ExecutionResult> {
  private refusal: ExecutionResult | undefined;
  private wake: (() => void) | undefined;
  private done = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly inner: AsyncIterator<ExecutionResult>,
    sessions: SessionWatch,
    given: Credentials,
  ) {
    this.unwatch = sessions.watch(given, (error) => {
      this.refusal = { errors: [new GraphQLError(error.message, { extensions: error.extensions })] };
      this.wake?.();
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.done) return { done: true, value: undefined };
    if (!this.refusal) {
      const refused = new Promise<"refused">((resolve) => (this.wake = () => resolve("refused")));
      const step = await Promise.race([this.inner.next(), refused]);
      this.wake = undefined;
      if (step !== "refused") {
        if (step.done) this.finish();
        return step;
      }
    }
    this.finish();
    void this.inner.return?.();
    return { done: false, value: this.refusal! };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    await this.inner.return?.();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    if (this.inner.throw) return this.inner.throw(error);
    throw error;
  }

  private finish(): void {
    this.done = true;
    this.unwatch();
  }
}

/**
 * What authentication failed with, as a client may see it: UNAUTHENTICATED, UNAVAILABLE when the
 * token store cannot be reached, or an internal error without detail (logged here).
 */
function asAuthenticationError(thrown: unknown, log: Logger): TaskgraphError | InternalError {
  if (thrown instanceof TaskgraphError) return thrown;
  if (isDatabaseUnavailable(thrown)) {
    noteOutage(log, thrown);
    return unavailable();
  }
  log.error({ err: thrown }, "authentication failed");
  return INTERNAL;
}

interface InternalError {
  code: "INTERNAL_SERVER_ERROR";
  message: string;
  extensions: Record<string, unknown>;
}
const INTERNAL: InternalError = { code: "INTERNAL_SERVER_ERROR", message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } };

/** WebSocket close codes: the standard "try again later" and "internal error". */
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * graphql-ws: the token comes in `connectionParams.authorization` (browsers cannot set headers on
 * a WebSocket) or the upgrade request's Authorization header. Resolves with the principal, or
 * rejects with a TaskgraphError (UNAUTHENTICATED, UNAVAILABLE) or an internal error;
 * closeFor(error) says how to close the socket for it.
 */
export async function authenticateConnection(
  authenticator: Authenticator,
  request: IncomingMessage,
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  log: Logger,
): Promise<Principal> {
  try {
    return await authenticator.authenticate(connectionCredentials(request, connectionParams));
  } catch (thrown) {
    throw asAuthenticationError(thrown, log);
  }
}

/** The credentials a graphql-ws connection authenticates with (kept to check them again later). */
export function connectionCredentials(request: IncomingMessage, connectionParams: Readonly<Record<string, unknown>> | undefined): Credentials {
  const fromParams = connectionParams?.authorization ?? connectionParams?.Authorization;
  return credentials(nodeHeaders(request.headers), request, fromParams);
}

/** The close code and reason (at most 123 bytes) for a connection whose authentication failed. */
export function closeFor(error: { code: string; message: string; extensions: Record<string, unknown> }): [number, string] {
  if (error.code === "UNAVAILABLE") return [CLOSE_TRY_AGAIN_LATER, "Unavailable: the database cannot be reached; retry shortly"];
  if (error.code !== "UNAUTHENTICATED") return [CLOSE_INTERNAL_ERROR, "Internal server error"];
  if (error.extensions.protectedMode) {
    return [CLOSE_FORBIDDEN, "Protected mode: no API token exists, only local clients are served (README: Security)"];
  }
  return [CLOSE_UNAUTHORIZED, error.message.slice(0, 120)];
}
