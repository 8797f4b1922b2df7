// Browser pages of other origins (CORS and the Origin header) against a running server: by default
// only the server's own origin is served (no CORS headers); a foreign Origin is refused with 403
// FORBIDDEN over HTTP (preflight, JSON POST, GET, SSE) and at the WebSocket handshake, and changes
// nothing; requests without Origin (curl, the CLI, server-side clients) are unaffected.
// TASKGRAPH_CORS_ORIGINS lists origins that get CORS with credentials; `*` allows any origin
// without credentials, and only with an API token (the loopback's protected mode is not lent to
// another site's page).
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { loadConfig } from "../src/config";
import { startTestApp, type TestApp } from "./support/app";

const EVIL = "http://evil.example";
const CONSOLE = "https://console.example.com";
const CREATE = `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`;
const COUNT = `{ tasks { totalCount } }`;

/** POSTs one JSON operation to `url` from a page of `origin` (none: no Origin header). */
function post(url: string, query: string, origin?: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...(origin ? { origin } : {}), ...extra },
    body: JSON.stringify({ query }),
  });
}

/** A preflight from `origin` for a JSON POST with a token. */
function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization" },
  });
}

/** Runs `{ me { name } }` over graphql-ws from a page of `origin` (none: no Origin header). */
function overWebSocket(wsUrl: string, origin?: string, connectionParams?: Record<string, unknown>): Promise<{ data?: unknown; failure?: string }> {
  class FromOrigin extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, origin ? { origin } : {});
    }
  }
  const client = createClient({ url: wsUrl, webSocketImpl: FromOrigin, lazy: true, retryAttempts: 0, connectionParams });
  return new Promise<{ data?: unknown; failure?: string }>((resolve) => {
    client.subscribe(
      { query: `{ me { name } }` },
      {
        next: (result) => resolve(result.errors ? { failure: JSON.stringify(result.errors) } : { data: result.data }),
        error: (error) => {
          const event = error as { code?: number; reason?: string; message?: string };
          resolve({ failure: event.code !== undefined ? `close ${event.code} ${event.reason}` : String(event.message ?? error) });
        },
        complete: () => resolve({ failure: "completed without a result" }),
      },
    );
  }).finally(() => client.dispose());
}

describe("default: the server's own origin only", () => {
  let app: TestApp;
  let url: string;
  let wsUrl: string;
  let own: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
    wsUrl = url.replace(/^http/, "ws");
    own = new URL(url).origin;
  });
  afterAll(() => app.stop());

  const taskCount = async () => (await app.gql(COUNT)).data!.tasks.totalCount as number;

  test("the setting is empty by default", () => {
    expect(app.config.corsOrigins).toEqual([]);
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });

  test("a preflight from a foreign origin is not approved: no Access-Control-Allow-Origin", async () => {
    const response = await preflight(url, EVIL);
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("a JSON POST from a foreign origin is refused 403 FORBIDDEN, naming the origin and the setting, and creates nothing", async () => {
    const before = await taskCount();
    const response = await post(url, CREATE, EVIL);
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await response.json()) as any;
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe("FORBIDDEN");
    expect(body.errors[0].message).toContain(EVIL);
    expect(body.errors[0].message).toContain("TASKGRAPH_CORS_ORIGINS");
    // a form or text POST (no preflight in a browser) too, with or without the CSRF header
    const text = await fetch(url, { method: "POST", headers: { "content-type": "text/plain", origin: EVIL, "x-graphql-yoga-csrf": "1" }, body: JSON.stringify({ query: CREATE }) });
    expect(text.status).toBe(403);
    expect(await taskCount()).toBe(before);
  });

  test("a GET query and an SSE subscription from a foreign origin are refused; `null` (sandboxed frames, file: pages) too", async () => {
    const query = encodeURIComponent(COUNT);
    const get = await fetch(`${url}?query=${query}`, { headers: { origin: EVIL, accept: "application/json" } });
    expect(get.status).toBe(403);
    expect(((await get.json()) as any).errors[0].extensions.code).toBe("FORBIDDEN");
    const sse = await fetch(`${url}?query=${encodeURIComponent(`subscription { taskEvents { type } }`)}`, { headers: { origin: EVIL, accept: "text/event-stream" } });
    expect(sse.status).toBe(403);
    await sse.body?.cancel();
    const nullOrigin = await post(url, COUNT, "null");
    expect(nullOrigin.status).toBe(403);
  });

  test("a POST from the server's own origin works, without CORS headers; so does one without Origin", async () => {
    const before = await taskCount();
    const same = await post(url, CREATE, own);
    expect(same.status).toBe(200);
    expect(((await same.json()) as any).data.createTestTask.id).toBeTruthy();
    expect(same.headers.get("access-control-allow-origin")).toBeNull();
    const none = await post(url, CREATE);
    expect(none.status).toBe(200);
    expect(((await none.json()) as any).errors).toBeUndefined();
    expect(await taskCount()).toBe(before + 2);
    // a same-origin GET (a browser sends no Origin on it, but may) is served too
    const get = await fetch(`${url}?query=${encodeURIComponent(COUNT)}`, { headers: { origin: own, accept: "application/json" } });
    expect(get.status).toBe(200);
  });

  test("graphql-ws: a foreign origin is refused at the handshake (HTTP 403); the own origin and no Origin are served", async () => {
    const foreign = await overWebSocket(wsUrl, EVIL);
    expect(foreign.data).toBeUndefined();
    expect(foreign.failure).toMatch(/403/);
    expect(await overWebSocket(wsUrl, own)).toEqual({ data: { me: { name: "local" } } });
    expect(await overWebSocket(wsUrl)).toEqual({ data: { me: { name: "local" } } });
  });
});

describe("TASKGRAPH_CORS_ORIGINS lists an origin", () => {
  let app: TestApp;
  let url: string;
  let wsUrl: string;
  beforeAll(async () => {
    app = await startTestApp({ config: { corsOrigins: loadConfig({ TASKGRAPH_CORS_ORIGINS: `${CONSOLE}, http://localhost:5173` }).corsOrigins } });
    ({ url } = await app.start(0));
    wsUrl = url.replace(/^http/, "ws");
  });
  afterAll(() => app.stop());

  test("its preflight is approved with credentials; its POST works and can be read", async () => {
    const approved = await preflight(url, CONSOLE);
    expect(approved.status).toBe(204);
    expect(approved.headers.get("access-control-allow-origin")).toBe(CONSOLE);
    expect(approved.headers.get("access-control-allow-credentials")).toBe("true");
    expect(approved.headers.get("access-control-allow-methods")).toContain("POST");
    expect(approved.headers.get("access-control-allow-headers")).toContain("content-type");
    expect(approved.headers.get("vary")).toMatch(/Origin/);
    const response = await post(url, CREATE, CONSOLE);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(CONSOLE);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(((await response.json()) as any).data.createTestTask.id).toBeTruthy();
  });

  test("an origin not listed is still refused; its WebSocket too, while the listed one's is served", async () => {
    const refused = await preflight(url, EVIL);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect((await post(url, COUNT, EVIL)).status).toBe(403);
    expect((await post(url, COUNT, "https://console.example.com.evil.example")).status).toBe(403);
    expect((await overWebSocket(wsUrl, EVIL)).failure).toMatch(/403/);
    expect(await overWebSocket(wsUrl, CONSOLE)).toEqual({ data: { me: { name: "local" } } });
  });
});

describe("TASKGRAPH_CORS_ORIGINS=*", () => {
  let app: TestApp;
  let url: string;
  let wsUrl: string;
  let secret: string;
  beforeAll(async () => {
    app = await startTestApp({ config: { corsOrigins: loadConfig({ TASKGRAPH_CORS_ORIGINS: "*" }).corsOrigins } });
    ({ url } = await app.start(0));
    wsUrl = url.replace(/^http/, "ws");
  });
  afterAll(() => app.stop());

  test("a preflight from any origin gets Access-Control-Allow-Origin: * without credentials", async () => {
    const response = await preflight(url, EVIL);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  test("without a token another origin is refused even in protected mode (the loopback is not lent to it); with one it is served", async () => {
    const before = (await app.gql(COUNT)).data!.tasks.totalCount;
    const anonymous = await post(url, CREATE, EVIL);
    expect(anonymous.status).toBe(403);
    const body = (await anonymous.json()) as any;
    expect(body.errors[0].extensions.code).toBe("FORBIDDEN");
    expect(body.errors[0].message).toContain("TASKGRAPH_CORS_ORIGINS=*");
    expect((await overWebSocket(wsUrl, EVIL)).failure).toMatch(/4403/);
    expect((await app.gql(COUNT)).data!.tasks.totalCount).toBe(before);

    secret = (await app.gql(`mutation { createApiToken(name: "web", role: TASK_MANAGER) { secret } }`)).data!.createApiToken.secret;
    const response = await post(url, CREATE, EVIL, { authorization: `Bearer ${secret}` });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(((await response.json()) as any).data.createTestTask.id).toBeTruthy();
    expect(await overWebSocket(wsUrl, EVIL, { authorization: `Bearer ${secret}` })).toEqual({ data: { me: { name: "web" } } });
  });
});

describe("TASKGRAPH_CORS_ORIGINS is validated", () => {
  test("each entry must be scheme://host[:port] without path; * stands alone", () => {
    expect(loadConfig({ TASKGRAPH_CORS_ORIGINS: "https://Console.Example.com:443, http://localhost:5173," }).corsOrigins).toEqual([
      "https://console.example.com",
      "http://localhost:5173",
    ]);
    for (const bad of ["https://console.example.com/", "https://console.example.com/app", "console.example.com", "ftp://x.example", "null", "*, https://x.example"]) {
      expect(() => loadConfig({ TASKGRAPH_CORS_ORIGINS: bad }), bad).toThrow(/TASKGRAPH_CORS_ORIGINS must be \* or a comma-separated list of origins/);
    }
  });
});
