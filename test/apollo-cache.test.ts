// Apollo Client 4 with a plain InMemoryCache (no type policies) keeps a task's details current from
// a taskUpdated subscription with a smaller selection (issue 12): every object the details reach
// has an id, so the subscription's results merge into the same cache entries — the watched details
// update in place, are never refetched over HTTP, and Apollo warns of no data loss.
import { format } from "node:util";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "./support/app";

// Apollo's development checks (among them "Cache data may be lost when replacing …") run only
// when __DEV__ is set before it loads; its messages are stripped unless the dev messages are loaded.
(globalThis as any).__DEV__ = true;
const apollo = await import("@apollo/client");
const { GraphQLWsLink } = await import("@apollo/client/link/subscriptions");
const { getMainDefinition } = await import("@apollo/client/utilities");
const { loadDevMessages, loadErrorMessages } = await import("@apollo/client/dev");
loadDevMessages();
loadErrorMessages();
const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = apollo;

const DETAILS = gql`
  query Details($id: ID!) {
    task(id: $id) {
      id
      state
      progress { id completed total fraction }
      flow { id nodes { id state } }
      steps { id state }
      module { id name }
    }
  }
`;
const UPDATED = gql`
  subscription Updated($id: ID!) {
    taskUpdated(id: $id) { id state version progress { id completed total } }
  }
`;

let app: TestApp;
let url: string;
const wsClients: WsClient[] = [];
const messages: string[] = [];

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  ({ url } = await app.start(0));
});
afterAll(async () => {
  await Promise.all(wsClients.map((c) => c.dispose()));
  await app?.stop();
});

/** console.warn/error (where Apollo's invariant warnings go) collected into `messages` while `fn` runs. */
async function capturing<T>(fn: () => Promise<T>): Promise<T> {
  const spies = (["warn", "error"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args) => void messages.push(`${level}: ${format(...args)}`)),
  );
  try {
    return await fn();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** A client over HTTP (counting its requests) and graphql-ws, with a cache without type policies. */
function apolloClient(requests: string[]) {
  const ws = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
  wsClients.push(ws);
  const http = new HttpLink({
    uri: url,
    fetch: (input, init) => {
      requests.push(JSON.parse(String(init?.body ?? "{}")).operationName ?? "?");
      return fetch(input, init);
    },
  });
  const link = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(ws),
    http,
  );
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

describe("Apollo InMemoryCache without type policies", () => {
  test("taskUpdated with a smaller selection updates the watched details in place: no refetch, no warning", async () => {
    // Two steps of 8 rounds of 150 ms: a few seconds of progress events.
    const created = await app.gql(`mutation { createTestTask(input: { rounds: 8, roundMs: 150, steps: 2 }) { id } }`);
    const id = created.data!.createTestTask.id as string;
    const requests: string[] = [];
    const client = apolloClient(requests);
    messages.length = 0;
    try {
      const seen = await capturing(
        () =>
          new Promise<any[]>((resolve, reject) => {
            const results: any[] = [];
            let sub: { unsubscribe(): void } | undefined;
            const timer = setTimeout(() => finish(new Error(`not SUCCEEDED within 30 s: ${JSON.stringify(results.at(-1))}`)), 30_000);
            const watch = client.watchQuery({ query: DETAILS, variables: { id }, fetchPolicy: "cache-first" }).subscribe({
              next: (result: any) => {
                if (result.error) return finish(result.error);
                if (!result.data?.task) return;
                results.push(result.data.task);
                // Once the details are in, follow the task live.
                sub ??= client.subscribe({ query: UPDATED, variables: { id } }).subscribe({
                  next: (update: any) => update.error && finish(update.error),
                  error: finish,
                });
                const { state, progress } = result.data.task;
                if (state === "SUCCEEDED" && progress.completed === progress.total) finish();
              },
              error: finish,
            });
            let finished = false;
            function finish(error?: unknown) {
              if (finished) return;
              finished = true;
              clearTimeout(timer);
              // Not from inside Apollo's own callback.
              setTimeout(() => done(error));
            }
            function done(error?: unknown) {
              watch.unsubscribe();
              sub?.unsubscribe();
              if (error) reject(error);
              else resolve(results);
            }
          }),
      );

      // One HTTP request: the details query; every later result came from the cache.
      expect(requests).toEqual(["Details"]);
      // The details followed the task: its state and progress moved as the events arrived.
      const completed = seen.map((t) => t.progress.completed);
      expect(new Set(completed).size, JSON.stringify(completed)).toBeGreaterThanOrEqual(3);
      expect(completed).toEqual([...completed].sort((a, b) => a - b));
      expect(seen.map((t) => t.state)).toContain("RUNNING");
      const last = seen.at(-1)!;
      expect(last).toMatchObject({ id, state: "SUCCEEDED", progress: { id: `Progress:${id}`, completed: 2, total: 2 } }); // a flow counts its steps
      // Fields only the details selected are still there (from the first answer), not lost by a merge.
      expect(last.steps).toHaveLength(2);
      expect(last.flow.nodes.map((n: any) => n.id)).toEqual(last.steps.map((s: any) => s.id));
      expect(last.module.id).toBe(`Module:${last.module.name}`);

      // The cache holds one entry per object, keyed by its id.
      const cache = client.cache.extract() as Record<string, any>;
      expect(cache[`Task:${id}`]).toBeDefined();
      expect(cache[`Progress:Progress:${id}`]).toMatchObject({ completed: 2, total: 2 });
      expect(cache[`Flow:Flow:${id}`]).toBeDefined();
      expect(cache[`Task:${id}`].progress).toEqual({ __ref: `Progress:Progress:${id}` });

      expect(messages.filter((m) => /Cache data may be lost/.test(m))).toEqual([]);
      expect(messages).toEqual([]);
    } finally {
      client.stop();
    }
  });

  // Last: Apollo warns once per type and field, so this must not run before the test above.
  test("the warning capture works: an object without an id replaced under a task makes Apollo warn", async () => {
    const cache = new InMemoryCache();
    const query = gql`query Control($id: ID!) { task(id: $id) { id progress { completed total } } }`;
    const id = "00000000-0000-4000-8000-000000000000";
    messages.length = 0;
    await capturing(async () => {
      cache.writeQuery({ query, variables: { id }, data: { task: { __typename: "Task", id, progress: { __typename: "Progress", completed: 1, total: 2 } } } });
      cache.writeQuery({
        query: gql`query Control2($id: ID!) { task(id: $id) { id progress { completed } } }`,
        variables: { id },
        data: { task: { __typename: "Task", id, progress: { __typename: "Progress", completed: 2 } } },
      });
    });
    expect(messages.join("\n")).toMatch(/Cache data may be lost when replacing the progress field of a Task object/);
  });
});
