// A revoked token loses its open subscriptions within a second, in every process: two apps on one
// PostgreSQL database (each with its own store client, token lookups and change bus, as two server
// processes have); the token is revoked through one, its graphql-ws connection and SSE subscription
// on the other end, while another token's subscription there goes on. Always on PostgreSQL.
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { openDatabase } from "../src/db/client";
import { buildApp, type App } from "../src/server";
import { createApiToken } from "../src/store/tokens";
import { testConfig } from "./support/db";
import { createPostgresDatabase, type PostgresDatabase } from "./support/postgres";

let database: PostgresDatabase;
const apps: App[] = [];

beforeAll(async () => {
  database = await createPostgresDatabase("tg_revoke");
  for (let i = 0; i < 2; i++) {
    const db = await openDatabase({ kind: "postgresql", url: database.url }, { migrate: false });
    apps.push(await buildApp({ config: testConfig(), db, worker: false }));
  }
});

afterAll(async () => {
  for (const app of apps) {
    await app.stop();
    await app.db.close();
  }
  await database?.drop();
});

const SUBSCRIPTION = `subscription { taskEvents { type taskId } }`;

/** An SSE subscription: its events as they come, and when (and how) it ended. */
function sse(url: string, token: string) {
  const state = { events: [] as any[], endedAt: 0, ended: false };
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SUBSCRIPTION }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += new TextDecoder().decode(value);
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: next$/m.test(block) && data) state.events.push(JSON.parse(data));
          if (/^event: complete$/m.test(block)) break;
        }
      }
    } catch {
      // aborted by the test
    }
    state.ended = true;
    state.endedAt = Date.now();
  })();
  return { state, stop: () => abort.abort() };
}

test("revoking a token through one process ends its graphql-ws connection and SSE subscription on another within a second", async () => {
  const [a, b] = apps as [App, App];
  const { url: urlB } = await b.start(0);
  const admin = (await createApiToken(a.store.prismaForTests, { name: "admin", role: "ADMIN", createdBy: null })).secret;
  const revoked = (await createApiToken(a.store.prismaForTests, { name: "leaving", role: "VIEWER", createdBy: null })).secret;
  const staying = (await createApiToken(a.store.prismaForTests, { name: "staying", role: "VIEWER", createdBy: null })).secret;

  const ws = (token: string) => {
    const state = { events: [] as unknown[], closedAt: 0, closeCode: 0 };
    const client = createClient({
      url: urlB.replace("http", "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
      on: {
        closed: (event: any) => {
          state.closeCode = event.code;
          state.closedAt = Date.now();
        },
      },
    });
    client.subscribe({ query: SUBSCRIPTION }, { next: (r) => state.events.push(r), error: () => {}, complete: () => {} });
    return { state, client };
  };
  const leavingWs = ws(revoked);
  const stayingWs = ws(staying);
  const leavingSse = sse(urlB, revoked);

  // Events keep coming from process A.
  let creating = true;
  const creator = (async () => {
    while (creating) {
      await a.yoga.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }` }),
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  for (let i = 0; i < 100 && (leavingWs.state.events.length < 2 || leavingSse.state.events.length < 2); i++) await new Promise((r) => setTimeout(r, 50));
  expect(leavingWs.state.events.length).toBeGreaterThanOrEqual(2);
  expect(leavingSse.state.events.length).toBeGreaterThanOrEqual(2);

  const revokedAt = Date.now();
  const revocation = await a.yoga.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
    body: JSON.stringify({ query: `mutation { revokeApiToken(name: "leaving") { revokedAt } }` }),
  });
  expect(((await revocation.json()) as any).data.revokeApiToken.revokedAt).toBeTruthy();

  for (let i = 0; i < 60 && (!leavingWs.state.closedAt || !leavingSse.state.ended); i++) await new Promise((r) => setTimeout(r, 50));
  expect(leavingWs.state.closeCode).toBe(4401);
  expect(leavingWs.state.closedAt - revokedAt).toBeLessThan(1_500);
  expect(leavingSse.state.ended).toBe(true);
  expect(leavingSse.state.endedAt - revokedAt).toBeLessThan(1_500);
  expect(leavingSse.state.events.at(-1)).toEqual({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: "UNAUTHENTICATED" }) })] });

  // Nothing more reaches the revoked token's subscriptions; the other token's goes on.
  const counts = { ws: leavingWs.state.events.length, sse: leavingSse.state.events.length, staying: stayingWs.state.events.length };
  await new Promise((r) => setTimeout(r, 1_000));
  expect(leavingWs.state.events.length).toBe(counts.ws);
  expect(leavingSse.state.events.length).toBe(counts.sse);
  expect(stayingWs.state.events.length).toBeGreaterThan(counts.staying);
  expect(stayingWs.state.closeCode).toBe(0);

  creating = false;
  await creator;
  leavingSse.stop();
  await leavingWs.client.dispose();
  await stayingWs.client.dispose();
});
