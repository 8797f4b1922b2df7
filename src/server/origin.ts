// Which browser pages may use the API: the server's own origin, and the origins listed in
// TASKGRAPH_CORS_ORIGINS (config.corsOrigins). This replaces Yoga's default CORS (yoga.ts passes
// `cors: false`), which answered every Origin with itself and `Allow-Credentials: true` and
// approved every preflight: any site could then read answers and send JSON mutations, and in
// protected mode a page opened on the server's own machine was the local ADMIN.
//
// A browser names the page's origin in the Origin header of every cross-origin request (and of
// every WebSocket handshake, which CORS does not cover), so the server checks it itself:
//   - no Origin: not a cross-origin browser request (curl, the CLI, server-side clients, a
//     same-origin GET) → served as before;
//   - the server's own origin (its host:port is the request's Host) → served, no CORS headers;
//   - a listed origin → served, with CORS headers (credentials allowed), preflights approved;
//   - `*` configured and any other origin → served with `Access-Control-Allow-Origin: *` (no
//     credentials), but only with an API token: a loopback address must not make another site's
//     page the protected-mode ADMIN;
//   - any other origin (and `null`: sandboxed frames, file: pages) → HTTP 403 FORBIDDEN naming the
//     origin and the setting; a preflight gets 403 without CORS headers; a WebSocket handshake
//     gets 403 (websocket.ts).
import type { IncomingMessage } from "node:http";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config";

export type OriginVerdict =
  /** No Origin header. */
  | "none"
  /** The server's own origin. */
  | "same"
  /** Listed in TASKGRAPH_CORS_ORIGINS. */
  | "listed"
  /** Allowed only because TASKGRAPH_CORS_ORIGINS is `*`: needs an API token. */
  | "any"
  /** Refused. */
  | "foreign";

/**
 * How a request with this Origin header, sent to this host (the Host header, `host[:port]`), is
 * treated. The server's own origin is compared by host and port only, not scheme: behind a
 * TLS-terminating proxy the browser's origin is https while the server sees http.
 */
export function judgeOrigin(config: Pick<Config, "corsOrigins">, origin: string | null | undefined, host: string | null | undefined): OriginVerdict {
  if (origin === null || origin === undefined) return "none";
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined; // "null" and anything malformed
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) return config.corsOrigins === "*" ? "any" : "foreign";
  if (host && parsed.host === normalizedHost(host, parsed.protocol)) return "same";
  if (config.corsOrigins === "*") return "any";
  return config.corsOrigins.includes(parsed.origin) ? "listed" : "foreign";
}

/** A Host header as URL.host spells it for `protocol` (lower case, that scheme's default port dropped). */
function normalizedHost(host: string, protocol: string): string | undefined {
  try {
    return new URL(`${protocol}//${host.trim()}`).host;
  } catch {
    return undefined;
  }
}

/** The refusal of a foreign origin (HTTP 403 body, WebSocket handshake message). */
export function foreignOriginMessage(origin: string): string {
  return (
    `Refused: requests from browser pages of origin ${origin} are not allowed. ` +
    `Only the server's own origin and those listed in TASKGRAPH_CORS_ORIGINS may call this API.`
  );
}

/** The refusal of a token-less request allowed only by `*`. */
export function anyOriginNeedsTokenMessage(origin: string): string {
  return (
    `Refused: a request from origin ${origin}, allowed only by TASKGRAPH_CORS_ORIGINS=*, must carry an API token ` +
    `(Authorization: Bearer …); list the origin in TASKGRAPH_CORS_ORIGINS to allow it otherwise.`
  );
}

/** The verdict for a graphql-ws upgrade request. */
export function judgeUpgrade(config: Pick<Config, "corsOrigins">, request: IncomingMessage): OriginVerdict {
  return judgeOrigin(config, request.headers.origin, request.headers.host);
}

/**
 * Yoga plugin (first of ours, before authentication): refuses foreign origins, answers preflights,
 * and adds CORS headers for listed origins and `*`. Requests without Origin are untouched.
 */
export function useOriginPolicy(config: Pick<Config, "corsOrigins">): Plugin {
  const mayAllowOthers = config.corsOrigins === "*" || config.corsOrigins.length > 0;
  const verdicts = new WeakMap<Request, OriginVerdict>();
  const verdictOf = (request: Request): OriginVerdict => {
    let verdict = verdicts.get(request);
    if (!verdict) {
      verdict = judgeOrigin(config, request.headers.get("origin"), request.headers.get("host") ?? new URL(request.url).host);
      verdicts.set(request, verdict);
    }
    return verdict;
  };
  const refusal = (Response: typeof globalThis.Response, message: string) =>
    new Response(JSON.stringify({ errors: [{ message, extensions: { code: "FORBIDDEN" } }] }), {
      status: 403,
      headers: { "content-type": "application/json" },
    });

  return {
    onRequest({ request, fetchAPI, endResponse }) {
      const verdict = verdictOf(request);
      const origin = request.headers.get("origin") ?? "";
      if (request.method.toUpperCase() === "OPTIONS") {
        // A preflight: approved for listed origins and `*` (headers added in onResponse), refused
        // for foreign ones; no CORS headers otherwise (same origin and no Origin need none).
        if (verdict === "foreign") endResponse(refusal(fetchAPI.Response, foreignOriginMessage(origin)));
        else endResponse(new fetchAPI.Response(null, { status: 204, headers: { "content-length": "0" } }));
        return;
      }
      if (verdict === "foreign") endResponse(refusal(fetchAPI.Response, foreignOriginMessage(origin)));
      else if (verdict === "any" && !request.headers.get("authorization")) endResponse(refusal(fetchAPI.Response, anyOriginNeedsTokenMessage(origin)));
    },
    onResponse({ request, response }) {
      const verdict = verdictOf(request);
      // Answers depend on the Origin once another origin may be allowed: caches must keep them apart.
      if (mayAllowOthers && !/\borigin\b/i.test(response.headers.get("vary") ?? "")) response.headers.append("vary", "Origin");
      if (verdict !== "listed" && verdict !== "any") return;
      if (verdict === "listed") {
        response.headers.set("access-control-allow-origin", request.headers.get("origin")!);
        response.headers.set("access-control-allow-credentials", "true");
      } else {
        response.headers.set("access-control-allow-origin", "*");
      }
      if (request.method.toUpperCase() === "OPTIONS") {
        response.headers.set("access-control-allow-methods", "GET, POST, OPTIONS");
        const requested = request.headers.get("access-control-request-headers");
        if (requested) response.headers.set("access-control-allow-headers", requested);
        response.headers.set("access-control-max-age", "600");
        response.headers.append("vary", "Access-Control-Request-Headers");
      }
    },
  };
}
