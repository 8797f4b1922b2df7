// CSRF: a POST that a browser may send from another site without a CORS preflight (a form or a
// text body: application/x-www-form-urlencoded, multipart/form-data, text/plain, or no content
// type at all) must carry the CSRF header, or it is refused with 403 FORBIDDEN naming the header.
//
// Why not Yoga's useCSRFPrevention: it also demands the header on every GET and cannot be told
// otherwise, which refuses clients with default settings (urql sends queries as GET), and its
// refusal has no code (ours then reported it as BAD_USER_INPUT). A GET needs no such guard: Yoga
// runs only queries and subscriptions over GET (a mutation gets 405), so a forged GET changes
// nothing, and another site's page cannot read the answer: CORS headers go only to the origins
// listed in TASKGRAPH_CORS_ORIGINS (none by default), and a request naming any other origin in its
// Origin header — a cross-origin fetch, EventSource or form POST — is refused with 403 before it
// gets here (origin.ts). This plugin is the guard for what carries no Origin header (older
// browsers' form POSTs, some redirects).
import { createGraphQLError, type Plugin } from "graphql-yoga";

/** The header that marks a form or text POST as not forged (the name Yoga's plugin uses). */
export const CSRF_HEADER = "x-graphql-yoga-csrf";

/** Content types a browser sends cross-site without a preflight (the CORS "simple" ones). */
const SIMPLE_CONTENT_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/** Whether a request could have been sent by another site's page without a CORS preflight. */
export function needsCsrfHeader(request: Request): boolean {
  if (request.method === "GET" || request.method === "HEAD") return false;
  const type = request.headers.get("content-type")?.trim().toLowerCase();
  if (!type) return true;
  return SIMPLE_CONTENT_TYPES.some((simple) => type.startsWith(simple));
}

export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!needsCsrfHeader(request) || request.headers.has(CSRF_HEADER)) return;
      const type = request.headers.get("content-type");
      throw createGraphQLError(
        `Refused as a possible cross-site request: a POST with ${type ? `content-type ${type}` : "no content-type"} must carry the header ` +
          `${CSRF_HEADER} (any value). Send JSON (content-type: application/json) or add that header.`,
        { extensions: { code: "FORBIDDEN", http: { status: 403 } } },
      );
    },
  };
}
