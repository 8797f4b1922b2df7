// Real GraphQL clients with their default settings against a running server, no extra headers:
// urql (queries as GET, its default) and Apollo Client 4 (POST), each running a query, a mutation
// and a subscription over graphql-ws. Then what stays refused: a POST a browser could send from
// another site without a CORS preflight (403 FORBIDDEN), and a mutation over GET (405).
// The selections are the stable core of the schema (me, tasks, createTestTask, taskEvents).
import { ApolloClient, gql, HttpLink, InMemoryCache } from "@apollo/client";
import { split } from "@apollo/client/link";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { type Client as WsClient, createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { codes, startTestApp, type TestApp } from "./support/app";

const ME = `query Me { me { name role } }`;
const TASKS = `query Tasks { tasks(first: 5) { totalCount edges { node { id state } } } }`;
const CREATE = `mutation Create { createTestTask(input: { rounds: 1, roundMs: 0 }) { id state } }`;
/** A test task that runs for about three seconds once a worker takes it: a source of events to subscribe to. */
const CREATE_SLOW = `mutation CreateSlow { createTestTask(input: { rounds: 10, roundMs: 300 }) { id state } }`;
const EVENTS = `subscription Events($id: ID!) { taskEvents(filter: { taskId: $id }) { type taskId } }`;

/** The first value of a subscription, or a failure after `ms`. */
function first<T>(subscribe: (next: (value: T) => void, fail: (error: unknown) => void) => () => void, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no event within ${ms} ms`));
    }, ms);
    const stop = subscribe(
      (value) => {
        clearTimeout(timer);
        queueMicrotask(() => stop());
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** An SSE stream's text up to the first `data:` line containing `needle` (or all of it after `ms`). */
async function sseUntil(response: Response, abort: AbortController, needle: string, ms: number): Promise<string> {
  const reader = response.body!.getReader();
  const timer = setTimeout(() => abort.abort(), ms);
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.split("\n").some((line) => line.startsWith("data: ") && line.includes(needle))) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // aborted: what came so far
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return text;
}

describe("GraphQL clients with default settings", () => {
  let app: TestApp;
  let url: string;
  let wsUrl: string;
  const wsClients: WsClient[] = [];
  beforeAll(async () => {
    // With a worker: the subscriptions watch a task that runs.
    app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
    ({ url } = await app.start(0));
    wsUrl = url.replace(/^http/, "ws");
  });
  afterAll(async () => {
    await Promise.all(wsClients.map((client) => client.dispose()));
    await app.stop();
  });

  const graphqlWs = () => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    wsClients.push(client);
    return client;
  };

  const taskCount = async () => (await app.gql(`{ tasks(filter: { includeInternal: true }) { totalCount } }`)).data!.tasks.totalCount as number;

  test("urql (default exchanges and fetch options, plus graphql-ws for subscriptions): query over GET, mutation, subscription", async () => {
    const methods: string[] = [];
    const ws = graphqlWs();
    const client = new Client({
      url,
      exchanges: [
        cacheExchange,
        fetchExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query ?? "" };
            return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
          },
        }),
      ],
      // Only watches what urql sends; it passes every request on unchanged.
      fetch: (input, init) => {
        methods.push(init?.method ?? "GET");
        return fetch(input, init);
      },
    });

    const me = await client.query(ME, {}).toPromise();
    expect(me.error).toBeUndefined();
    expect(me.data.me).toMatchObject({ name: "local", role: "ADMIN" }); // and a __typename (urql adds it)
    expect(methods).toEqual(["GET"]); // urql's default: queries as GET (was refused with 403 before)

    const created = await client.mutation(CREATE_SLOW, {}).toPromise();
    expect(created.error).toBeUndefined();
    const { id, state } = created.data.createTestTask;
    expect(["QUEUED", "RUNNING"]).toContain(state);
    expect(methods.at(-1)).toBe("POST");

    const tasks = await client.query(TASKS, {}, { requestPolicy: "network-only" }).toPromise();
    expect(tasks.error).toBeUndefined();
    expect(methods.at(-1)).toBe("GET");
    expect(tasks.data.tasks.totalCount).toBeGreaterThanOrEqual(1);
    expect(tasks.data.tasks.edges.map((e: any) => e.node.id)).toContain(id);

    // The task runs for a few seconds (the app's worker): its progress comes as events.
    const event = await first<any>((next, fail) => {
      const { unsubscribe } = client.subscription(EVENTS, { id }).subscribe((result) => (result.error ? fail(result.error) : next(result.data)));
      return unsubscribe;
    });
    expect(event.taskEvents).toMatchObject({ type: expect.any(String), taskId: id });
  });

  test("Apollo Client 4 (InMemoryCache without type policies, HttpLink, GraphQLWsLink by split): query, mutation, subscription", async () => {
    const link = split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === "OperationDefinition" && definition.operation === "subscription";
      },
      new GraphQLWsLink(graphqlWs()),
      new HttpLink({ uri: url }),
    );
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    try {
      const me = await client.query({ query: gql(ME) });
      expect(me.error).toBeUndefined();
      expect(me.data).toMatchObject({ me: { name: "local", role: "ADMIN" } });

      const created = await client.mutate({ mutation: gql(CREATE_SLOW) });
      expect(created.error).toBeUndefined();
      const { id, state } = (created.data as any).createTestTask;
      expect(["QUEUED", "RUNNING"]).toContain(state);

      const tasks = await client.query({ query: gql(TASKS), fetchPolicy: "network-only" });
      expect(tasks.error).toBeUndefined();
      expect((tasks.data as any).tasks.edges.map((e: any) => e.node.id)).toContain(id);

      const event = first<any>((next, fail) => {
        const subscription = client.subscribe({ query: gql(EVENTS), variables: { id } }).subscribe({
          next: (result) => (result.error ? fail(result.error) : next(result.data)),
          error: fail,
        });
        return () => subscription.unsubscribe();
      });
      expect((await event).taskEvents).toMatchObject({ type: expect.any(String), taskId: id });
    } finally {
      client.stop();
    }
  });

  test("a subscription over SSE by GET needs no CSRF header", async () => {
    const abort = new AbortController();
    const query = encodeURIComponent(`subscription { taskEvents { type taskId } }`);
    const response = await fetch(`${url}?query=${query}`, { headers: { accept: "text/event-stream" }, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    // Other tests' tasks may still be running: read on until this test's task is created.
    const seen = sseUntil(response, abort, '"CREATED"', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const id = (await app.gql(CREATE)).data!.createTestTask.id;
    expect(await seen).toMatch(new RegExp(`^data: .*"type":"CREATED","taskId":"${id}"`, "m"));
  });

  test("a POST a browser could send cross-site without a preflight is refused: 403 FORBIDDEN naming the header", async () => {
    const before = await taskCount();
    const bodies = [
      { type: "text/plain", body: JSON.stringify({ query: CREATE }) },
      { type: "text/plain;charset=UTF-8", body: JSON.stringify({ query: CREATE }) },
      { type: "application/x-www-form-urlencoded", body: new URLSearchParams({ query: CREATE }).toString() },
    ];
    for (const { type, body } of bodies) {
      const response = await fetch(url, { method: "POST", headers: { "content-type": type }, body });
      expect(response.status, type).toBe(403);
      const result = (await response.json()) as any;
      expect(result.data, type).toBeUndefined();
      expect(codes(result), type).toEqual(["FORBIDDEN"]);
      expect(result.errors[0].message).toContain("x-graphql-yoga-csrf");
    }
    const form = new FormData();
    form.set("operations", JSON.stringify({ query: CREATE }));
    form.set("map", "{}");
    const multipart = await fetch(url, { method: "POST", body: form });
    expect(multipart.status).toBe(403);
    expect(codes((await multipart.json()) as any)).toEqual(["FORBIDDEN"]);
    expect(await taskCount()).toBe(before);

    // The same form-encoded POST with the header is served (a page on another site cannot add it
    // without a preflight).
    const withHeader = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-graphql-yoga-csrf": "1", accept: "application/json" },
      body: new URLSearchParams({ query: ME }).toString(),
    });
    expect(withHeader.status).toBe(200);
    expect(((await withHeader.json()) as any).data.me.role).toBe("ADMIN");
  });

  test("a mutation over GET is refused (405) and creates nothing", async () => {
    const before = await taskCount();
    const response = await fetch(`${url}?query=${encodeURIComponent(CREATE)}`, { headers: { accept: "application/json" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const result = (await response.json()) as any;
    expect(result.data).toBeUndefined();
    expect(result.errors[0].message).toMatch(/mutation.*POST/i);
    expect(await taskCount()).toBe(before);
  });
});
