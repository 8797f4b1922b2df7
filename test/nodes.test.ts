// node(id) and nodes(ids) (issue 12): one object of every Node type (test/support/relay/node-types.ts),
// refetched by each role — the same __typename and id back, an ApiToken only to an ADMIN (FORBIDDEN
// at that path for the others) — and the ids of nothing (null, no error) and malformed ids
// (BAD_USER_INPUT).
import { randomUUID } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { encodeEventCursor } from "../src/store/journal-reader";
import { createApiToken } from "../src/store/tokens";
import { codes, startTestApp, type TestApp } from "./support/app";
import { findId, NODE_TYPES } from "./support/relay/node-types";

type Role = "VIEWER" | "TASK_MANAGER" | "ADMIN";
const ROLES: Role[] = ["VIEWER", "TASK_MANAGER", "ADMIN"];
const FROM_THE_START = encodeEventCursor({ txid: 0n, id: 0n });

const NODE = `query ($id: ID!) { node(id: $id) { __typename id } }`;
const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;

let app: TestApp;
let url: string;
let ws: Client;
const tokens = {} as Record<Role, string>;
/** typename → the id of one object of that type. */
const ids: Record<string, string> = {};

/** The first result of a subscription over graphql-ws. */
function firstEvent(query: string, variables: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no event within 10 s")), 10_000);
    const stop = ws.subscribe(
      { query, variables },
      {
        next: (result) => {
          clearTimeout(timer);
          queueMicrotask(() => stop());
          resolve(result);
        },
        error: (error) => {
          clearTimeout(timer);
          reject(error);
        },
        complete: () => undefined,
      },
    );
  });
}

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  ({ url } = await app.start(0));

  // A flow that failed once and was retried: steps, several attempts each (execute, rollback,
  // retry), ERROR log lines of steps and attempts.
  const created = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, steps: 2, failAtRound: 1 }) { id } }`);
  const task = created.data!.createTestTask.id as string;
  const wait = async () => (await app.gql(`query ($id: ID!) { waitForTask(id: $id, timeoutSeconds: 30) { state } }`, { id: task })).data!.waitForTask.state;
  expect(await wait()).toBe("FAILED");
  expect(codes(await app.gql(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: task }))).toEqual([]);
  expect(await wait()).toBe("SUCCEEDED");

  // Tokens end protected mode: from here on every request carries one.
  for (const role of ROLES) tokens[role] = (await createApiToken(app.store.prismaForTests, { name: `nodes-${role}`, role, createdBy: null })).secret;
  ws = createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${tokens.ADMIN}` },
  });

  for (const type of NODE_TYPES) {
    const variables = { task, after: FROM_THE_START };
    const result = type.sample.trimStart().startsWith("subscription")
      ? await firstEvent(type.sample, variables)
      : await app.gql(type.sample, variables, { token: tokens.ADMIN });
    expect(result.errors, type.typename).toBeUndefined();
    const id = findId(result.data, type.idPattern);
    expect(id, `${type.typename} in ${JSON.stringify(result.data)}`).toBeDefined();
    ids[type.typename] = id!;
  }
});
afterAll(async () => {
  await ws?.dispose();
  await app?.stop();
});

describe("node(id) of one object of every Node type, by every role", () => {
  for (const type of NODE_TYPES) {
    for (const role of ROLES) {
      const allowed = !type.adminOnly || role === "ADMIN";
      test(`${type.typename} as ${role}: ${allowed ? "the same __typename and id" : "FORBIDDEN at node"}`, async () => {
        const id = ids[type.typename]!;
        const result = await app.gql(NODE, { id }, { token: tokens[role] });
        if (allowed) {
          expect(result.errors).toBeUndefined();
          expect(result.data!.node).toEqual({ __typename: type.typename, id });
        } else {
          expect(codes(result)).toEqual(["FORBIDDEN"]);
          // At node, or at the field below it that was refused (node.id): node itself is null.
          expect(result.errors![0]!.path!.slice(0, 1)).toEqual(["node"]);
          expect(result.data?.node ?? null).toBeNull();
        }
      });
    }
  }

  for (const role of ROLES) {
    test(`nodes(ids) of every one as ${role}: in the order asked`, async () => {
      const order = NODE_TYPES.map((t) => t.typename).reverse(); // not the order they were made in
      const result = await app.gql(NODES, { ids: order.map((t) => ids[t]) }, { token: tokens[role] });
      const expected = order.map((typename) => {
        const type = NODE_TYPES.find((t) => t.typename === typename)!;
        return type.adminOnly && role !== "ADMIN" ? null : { __typename: typename, id: ids[typename] };
      });
      expect(result.data?.nodes).toEqual(expected);
      const forbidden = order.flatMap((typename, i) => (NODE_TYPES.find((t) => t.typename === typename)!.adminOnly && role !== "ADMIN" ? [i] : []));
      expect(codes(result)).toEqual(forbidden.map(() => "FORBIDDEN"));
      expect((result.errors ?? []).map((e) => e.path!.slice(0, 2))).toEqual(forbidden.map((i) => ["nodes", i]));
    });
  }

  test("an ApiToken asked for by a non-ADMIN with only __typename selected: still FORBIDDEN, not its type", async () => {
    // No field of ApiToken is selected, so no field-level check runs: node/nodes must check the
    // type's own rule (the same as apiTokens: ADMIN), else a VIEWER learns that the token exists.
    for (const role of ["VIEWER", "TASK_MANAGER"] as const) {
      const one = await app.gql(`query ($id: ID!) { node(id: $id) { __typename } }`, { id: ids.ApiToken }, { token: tokens[role] });
      expect({ codes: codes(one), node: one.data?.node ?? null }, role).toEqual({ codes: ["FORBIDDEN"], node: null });
      const many = await app.gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { __typename } }`, { ids: [ids.Task, ids.ApiToken] }, { token: tokens[role] });
      expect({ codes: codes(many), nodes: many.data?.nodes }, role).toEqual({ codes: ["FORBIDDEN"], nodes: [{ __typename: "Task" }, null] });
    }
  });

  test("every Node type is in the table (a new one must be added to test/support/relay/node-types.ts)", async () => {
    const result = await app.gql(`{ __type(name: "Node") { possibleTypes { name } } }`, {}, { token: tokens.VIEWER });
    const possible = result.data!.__type.possibleTypes.map((t: any) => t.name).sort();
    expect(possible).toEqual(NODE_TYPES.map((t) => t.typename).sort());
  });
});

describe("ids of nothing, malformed ids", () => {
  const nothing = () => [
    randomUUID(), // a Task
    `Step:${randomUUID()}`,
    `StepAttempt:${randomUUID()}`,
    `LogEntry:${randomUUID()}`,
    `Progress:${randomUUID()}`,
    `StepProgress:${randomUUID()}`,
    `Flow:${randomUUID()}`,
    "TaskEvent:999999999",
    "Module:nope",
    "Worker:nope",
  ];

  test("a well-formed id of nothing: null, no error (every role)", async () => {
    for (const role of ROLES) {
      for (const id of nothing()) {
        const result = await app.gql(NODE, { id }, { token: tokens[role] });
        expect(result.errors, `${id} as ${role}`).toBeUndefined();
        expect(result.data, `${id} as ${role}`).toEqual({ node: null });
      }
      const many = await app.gql(NODES, { ids: [...nothing(), ids.Task] }, { token: tokens[role] });
      expect(many.errors).toBeUndefined();
      expect(many.data!.nodes).toEqual([...nothing().map(() => null), { __typename: "Task", id: ids.Task }]);
    }
    const token = await app.gql(NODE, { id: `ApiToken:${randomUUID()}` }, { token: tokens.ADMIN });
    expect(token.errors).toBeUndefined();
    expect(token.data).toEqual({ node: null });
  });

  test("a malformed id: BAD_USER_INPUT, in node and in nodes", async () => {
    for (const id of ["Step:xyz", "Bogus:1", "hello", "Module:", ":x", "TaskEvent:0", "TaskEvent:abc", "Step:", ""]) {
      const result = await app.gql(NODE, { id }, { token: tokens.VIEWER });
      expect(codes(result), JSON.stringify(id)).toEqual(["BAD_USER_INPUT"]);
      expect(result.data?.node ?? null).toBeNull();
    }
    const many = await app.gql(NODES, { ids: [ids.Task, "Step:xyz"] }, { token: tokens.VIEWER });
    expect(codes(many)).toEqual(["BAD_USER_INPUT"]);
  });

  test("task(id) of nothing is null and the rest of the answer is there; module(name) of nothing is null", async () => {
    const result = await app.gql(`query ($id: ID!) { task(id: $id) { id state } me { name } }`, { id: randomUUID() }, { token: tokens.VIEWER });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ task: null, me: { name: "nodes-VIEWER" } });
    const module = await app.gql(`{ module(name: "nope") { id name } me { role } }`, {}, { token: tokens.VIEWER });
    expect(module.errors).toBeUndefined();
    expect(module.data).toEqual({ module: null, me: { role: "VIEWER" } });
  });
});
