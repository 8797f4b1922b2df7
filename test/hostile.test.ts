// The hostile-input corpus: every request gets a clear error code, the server keeps
// serving another client meanwhile, and the database is unchanged at the end.
// (test/limits.test.ts holds the limit-by-limit tests: depth, aliases, tokens, body size, CSRF.)
import { request as httpRequest } from "node:http";
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
} from "graphql";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { schema } from "../src/schema";
import { codes, startTestApp, type TestApp } from "./support/app";
import { LEVEL, recordingLogger } from "./support/log";
import { firstSseEvent } from "./support/sse";

let app: TestApp;
const serverLog = recordingLogger("debug");
let url: string;
let taskId: string;

beforeAll(async () => {
  app = await startTestApp({ config: { maxOperationsPerConnection: 20 }, logger: serverLog.logger });
  ({ url } = await app.start(0));
  taskId = (await app.gql(`mutation { createTestTask(input: { rounds: 2, roundMs: 10, steps: 2, children: 2 }) { id } }`)).data!.createTestTask.id;
});
afterAll(() => app.stop());

/** Everything a request could change. */
async function fingerprint() {
  const p = app.store.prismaForTests;
  const [tasks, steps, events, logs, tokens, settings, schedules] = await Promise.all([
    p.task.findMany({ select: { id: true, version: true, state: true }, orderBy: { id: "asc" } }),
    p.step.count(),
    p.taskEvent.count(),
    p.logEntry.count(),
    p.apiToken.count(),
    p.setting.findMany({ orderBy: { key: "asc" } }),
    p.schedule.findMany({ orderBy: { id: "asc" } }),
  ]);
  return { tasks, steps, events, logs, tokens, settings, schedules };
}

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: response.status, codes: (json.errors ?? []).map((e: any) => e.extensions?.code), json };
}

const gql = (query: string, variables?: Record<string, unknown>) => post(JSON.stringify({ query, variables }));

/** Another client, served normally while the hostile ones are refused. */
async function bystanderIsServed() {
  const result = await gql(`{ task(id: "${taskId}") { id state } }`);
  expect(result.status).toBe(200);
  expect(result.json.data.task.id).toBe(taskId);
}

describe("hostile input over HTTP", () => {
  let before: Awaited<ReturnType<typeof fingerprint>>;
  beforeAll(async () => {
    before = await fingerprint();
  });

  const cases: [string, () => Promise<{ status: number; codes: unknown[] }>, number, string[]][] = [
    [
      "deep: a tree query 20 levels down",
      () => gql(`{ task(id: "${taskId}") { ${"children(first: 2) { edges { node { ".repeat(20)} id ${"} } }".repeat(20)} } }`),
      200,
      ["BAD_USER_INPUT"],
    ],
    [
      "wide: nested connections of 500 × 500 × 500 (cost)",
      () => gql(`{ tasks(first: 500) { edges { node { children(first: 500) { edges { node { children(first: 500) { edges { node { logs(first: 500) { edges { node { message } } } } } } } } } } } } }`),
      200,
      ["BAD_USER_INPUT"],
    ],
    [
      "10,000 aliases",
      () => gql(`{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(" ")} }`),
      200,
      ["GRAPHQL_PARSE_FAILED"],
    ],
    ["a 900 kB string in a filter", () => gql(`query ($s: String) { tasks(filter: { target: $s }) { totalCount } }`, { s: "z".repeat(900_000) }), 200, ["BAD_USER_INPUT"]],
    ["a NUL character in a string", () => gql(`query ($s: String) { tasks(filter: { search: $s }) { totalCount } }`, { s: "a\u0000b" }), 200, ["BAD_USER_INPUT"]],
    [
      "a huge string in startTask",
      () => gql(`mutation ($n: String) { startTask(input: { module: "test", type: "count", name: $n, input: { rounds: 1 } }) { id } }`, { n: "n".repeat(100_000) }),
      200,
      ["BAD_USER_INPUT"],
    ],
    ["an invalid UUID", () => gql(`{ task(id: "not-a-uuid") { id } }`), 200, ["BAD_USER_INPUT"]],
    ["SQL in an id", () => gql(`mutation { abortTask(id: "1'; DROP TABLE \\"Task\\"; --") { id } }`), 200, ["BAD_USER_INPUT"]],
    ["a node id of an unknown type", () => gql(`{ node(id: "Secret:01900000-0000-7000-8000-000000000000") { id } }`), 200, ["BAD_USER_INPUT"]],
    ["negative rounds", () => gql(`mutation { createTestTask(input: { rounds: -1 }) { id } }`), 200, ["BAD_USER_INPUT"]],
    ["rounds beyond Int", () => gql(`mutation { createTestTask(input: { rounds: 99999999999 }) { id } }`), 200, ["GRAPHQL_VALIDATION_FAILED"]],
    ["a huge roundMs", () => gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 2000000000 }) { id } }`), 200, ["BAD_USER_INPUT"]],
    ["a negative page size", () => gql(`{ tasks(first: -5) { totalCount } }`), 200, ["BAD_USER_INPUT"]],
    ["a page of a billion", () => gql(`{ tasks(first: 1000000000) { totalCount } }`), 200, ["BAD_USER_INPUT"]],
    ["a negative TTL", () => gql(`mutation { setTaskTtl(ttlSeconds: -1) { taskTtlSeconds } }`), 200, ["BAD_USER_INPUT"]],
    ["a negative wait", () => gql(`{ waitForTask(id: "${taskId}", timeoutSeconds: -1) { id } }`), 200, ["BAD_USER_INPUT"]],
    ["a float where an Int goes", () => gql(`{ tasks(first: 1.5) { totalCount } }`), 200, ["GRAPHQL_VALIDATION_FAILED"]],
    ["malformed JSON", () => post(`{ "query": "{ modules { name } }"`), 400, ["BAD_REQUEST"]],
    ["a JSON array of junk", () => post(`[1, 2, 3]`), 400, ["BAD_REQUEST"]],
    ["a query that is not a string", () => post(`{ "query": 42 }`), 400, ["BAD_REQUEST"]],
    ["variables that are not an object", () => post(`{ "query": "{ modules { name } }", "variables": "x" }`), 400, ["BAD_REQUEST"]],
    ["an unknown field", () => gql(`{ dropAllTasks }`), 200, ["GRAPHQL_VALIDATION_FAILED"]],
    ["an unknown mutation", () => gql(`mutation { deleteEverything { ok } }`), 200, ["GRAPHQL_VALIDATION_FAILED"]],
    ["an operation name that is not in the document", () => post(JSON.stringify({ query: `query A { modules { name } }`, operationName: "B" })), 400, ["OPERATION_RESOLUTION_FAILURE"]],
    ["syntax garbage", () => gql(`{{{{ ))) mutation`), 200, ["GRAPHQL_PARSE_FAILED"]],
  ];

  for (const [name, send, status, expected] of cases) {
    test(`${name} → ${expected.join(", ")}`, async () => {
      const result = await send();
      expect(result.status, name).toBe(status);
      expect(result.codes.length, name).toBeGreaterThan(0);
      expect(result.codes, name).toEqual(expect.arrayContaining(expected));
      expect(result.codes.every((c) => typeof c === "string" && c !== "INTERNAL_SERVER_ERROR"), name).toBe(true);
      await bystanderIsServed();
    });
  }

  test("a chunked body without Content-Length is refused (411) before it is read", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      req.write(`{"query":"{ modules { name } }"`);
      req.end("}");
    });
    expect(status).toBe(411);
  });

  test("after all of it nothing in the database changed", async () => {
    expect(await fingerprint()).toEqual(before);
  });
});

/** A raw graphql-transport-ws socket: resolves with the close code after sending `frames`. */
function rawSocket(frames: (string | Buffer)[], initFirst = true): Promise<{ code: number; messages: any[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace("http", "ws"), "graphql-transport-ws");
    const messages: any[] = [];
    socket.on("open", () => {
      if (initFirst) socket.send(JSON.stringify({ type: "connection_init" }));
      else for (const frame of frames) socket.send(frame);
    });
    socket.on("message", (data) => {
      const message = JSON.parse(String(data));
      messages.push(message);
      if (message.type === "connection_ack") for (const frame of frames) socket.send(frame);
    });
    socket.on("close", (code) => resolve({ code, messages }));
    socket.on("error", (error) => (error.message.includes("1009") ? undefined : reject(error)));
  });
}

describe("hostile input over graphql-ws", () => {
  let before: Awaited<ReturnType<typeof fingerprint>>;
  beforeAll(async () => {
    before = await fingerprint();
  });

  test("malformed frames close the socket with graphql-ws's codes, and only that socket", async () => {
    expect((await rawSocket(["this is not json"])).code).toBe(4400);
    expect((await rawSocket([JSON.stringify({ type: "no_such_type" })])).code).toBe(4400);
    expect((await rawSocket([JSON.stringify({ type: "subscribe", id: 5, payload: {} })])).code).toBe(4400);
    expect((await rawSocket([JSON.stringify({ type: "subscribe", id: "1", payload: { query: "{ modules { name } }" } })], false)).code).toBe(4401);
    expect((await rawSocket([JSON.stringify({ type: "connection_init" })])).code).toBe(4429);
    const sub = JSON.stringify({ type: "subscribe", id: "same", payload: { query: `subscription { taskUpdated(id: "${taskId}") { id } }` } });
    expect((await rawSocket([sub, sub])).code).toBe(4409);
    expect((await rawSocket([Buffer.alloc(2_000_000, 0x61)])).code).toBe(1009); // larger than the body limit
    await bystanderIsServed();
  });

  test("bad operations on a good connection get error codes and the connection lives on", async () => {
    const client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const run = (query: string, variables?: Record<string, unknown>) =>
      new Promise<unknown[]>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: (r) => resolve((r.errors ?? []).map((e) => e.extensions?.code)),
            error: (e: any) => resolve(Array.isArray(e) ? e.map((x) => x.extensions?.code) : [`closed ${e?.code}`]),
            complete: () => resolve([]),
          },
        );
      });
    expect(await run(`{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(" ")} }`)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(await run(`subscription { taskEvents(after: "garbage") { type } }`)).toEqual(["BAD_USER_INPUT"]);
    expect(await run(`subscription { taskUpdated(id: "not-a-uuid") { id } }`)).toEqual(["BAD_USER_INPUT"]);
    expect(await run(`subscription { nope }`)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(await run(`{{{ ))) garbage`)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(await run(`mutation { createTestTask(input: { rounds: -3 }) { id } }`)).toEqual(["BAD_USER_INPUT"]);
    expect(await run(`{ me { role } }`)).toEqual([]); // still connected and served
    await client.dispose();
  });

  test("a subscription flood from one client: past the per-connection limit each gets RATE_LIMITED; others are served; nothing is left behind", async () => {
    const baseline = app.manager.feed.size;
    const flooder = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const refusals: unknown[] = [];
    const stops: (() => void)[] = [];
    for (let i = 0; i < 50; i++) {
      stops.push(
        flooder.subscribe(
          { query: `subscription { taskEvents(filter: { module: "flood-${i}" }) { type } }` },
          { next: () => {}, error: (e: any) => refusals.push(...(Array.isArray(e) ? e.map((x) => x.extensions?.code) : [e?.code])), complete: () => {} },
        ),
      );
    }
    for (let i = 0; i < 200 && refusals.length < 30; i++) await new Promise((r) => setTimeout(r, 10));
    expect(refusals).toEqual(Array(30).fill("RATE_LIMITED"));
    // The 20 accepted ones register once their token check is done.
    for (let i = 0; i < 300 && app.manager.feed.size - baseline < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.manager.feed.size - baseline).toBe(20);
    await bystanderIsServed();
    await flooder.dispose();
    for (let i = 0; i < 200 && app.manager.feed.size > baseline; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.manager.feed.size).toBe(baseline);
  });

  test("after all of it nothing in the database changed", async () => {
    expect(await fingerprint()).toEqual(before);
  });
});

test("codes() of a clean result is empty (the corpus's checks can tell success from refusal)", async () => {
  expect(codes(await app.gql(`{ modules { name } }`))).toEqual([]);
});

// Every argument of every root field, found in the schema (new fields and arguments are walked
// without editing this list), each given hostile values in turn while the others hold harmless
// ones: NUL characters, overlong strings, numbers beyond bigint or Int, malformed ids and cursors,
// wrong types. Each must be refused with a code (or accepted harmlessly), never INTERNAL_SERVER_ERROR,
// never closing the connection, never changing the database, never logging a stack trace.
describe("every argument of every root field, with hostile values, over HTTP and graphql-ws", () => {
  const NOWHERE = "01900000-0000-7000-8000-000000000000";
  const b64 = (text: string) => Buffer.from(text).toString("base64url");
  const nested = (depth: number): unknown => (depth === 0 ? "deep" : { d: nested(depth - 1) });

  /** Hostile values by the argument's GraphQL type. */
  const TEXT: [string, unknown][] = [
    ["NUL", "a\u0000b"],
    ["overlong", "x".repeat(200_000)],
    ["below bigint", "-9223372036854775809"],
    ["malformed id", "Task:0190 not-a-uuid"],
    ["SQL", `x'; DROP TABLE "Task"; --`],
    ["cursor beyond bigint", `${b64("9999999999999999999:1")}==`],
    ["malformed cursor", `${b64('["CREATED_AT",null,"not-a-uuid"]')}==`],
  ];
  const HOSTILE: Record<string, [string, unknown][]> = {
    String: TEXT,
    ID: TEXT,
    Int: [["beyond Int", 2 ** 31], ["beyond bigint", 2 ** 64], ["negative", -1], ["a string", "1"]],
    Float: [["not a number", "NaN"]],
    Boolean: [["a string", "true"]],
    DateTime: [["NUL", "2030-01-01\u0000"], ["not a date", "not-a-date"], ["beyond Date", "+275760-09-13T00:00:00.001Z"], ["a number", 99999999999999999999]],
    JSON: [["NUL in a string", { k: "a\u0000b" }], ["NUL in a key", { "a\u0000": 1 }], ["500 levels deep", nested(500)]],
    JSONObject: [["NUL in a string", { k: "a\u0000b" }], ["NUL in a key", { "a\u0000": 1 }], ["an array", [1, 2]]],
  };
  const ENUM: [string, unknown][] = [["unknown value", "NOT_A_VALUE"], ["NUL", "A\u0000"]];

  /** A harmless value of a type (only required input fields filled). */
  function harmless(type: GraphQLInputType): unknown {
    if (isNonNullType(type)) return harmless(type.ofType);
    if (isListType(type)) return [harmless(type.ofType)];
    if (isInputObjectType(type)) {
      const value: Record<string, unknown> = {};
      for (const field of Object.values(type.getFields())) {
        if (isNonNullType(field.type) && field.defaultValue === undefined) value[field.name] = harmless(field.type);
      }
      return value;
    }
    if (isEnumType(type)) return type.getValues()[0]!.name;
    return { ID: NOWHERE, String: "x", Int: 1, Float: 1, Boolean: false, DateTime: "2030-01-01T00:00:00Z", JSON: {}, JSONObject: {} }[type.name];
  }

  /** Every place inside an argument a value can go: [path within the argument, the type there]. */
  function leaves(type: GraphQLInputType, path: string[] = []): [string[], GraphQLInputType][] {
    const named = isNonNullType(type) ? type.ofType : type;
    if (isListType(named)) return [[path, type], ...leaves(named.ofType, [...path, "0"])];
    if (isInputObjectType(named)) return Object.values(named.getFields()).flatMap((field) => leaves(field.type, [...path, field.name]));
    return [[path, type]];
  }

  function hostileFor(type: GraphQLInputType): [string, unknown][] {
    if (isListType(isNonNullType(type) ? type.ofType : type)) return [["5,000 items", Array(5_000).fill(harmless(getNamedType(type) as GraphQLInputType))]];
    const named = getNamedType(type);
    return isEnumType(named) ? ENUM : HOSTILE[named.name] ?? [];
  }

  function setAt(value: unknown, path: string[], leaf: unknown): unknown {
    if (path.length === 0) return leaf;
    const [head, ...rest] = path as [string, ...string[]];
    const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
    copy[head] = setAt(copy[head] ?? (Array.isArray(value) ? undefined : {}), rest, leaf);
    return copy;
  }

  interface Case {
    name: string;
    subscription: boolean;
    query: string;
    variables: Record<string, unknown>;
  }

  function casesOf(operation: "query" | "mutation" | "subscription", root: GraphQLObjectType | null | undefined): Case[] {
    const cases: Case[] = [];
    for (const field of Object.values(root?.getFields() ?? {}) as GraphQLField<unknown, unknown>[]) {
      const selection = isCompositeType(getNamedType(field.type)) ? "{ __typename }" : "";
      const operationFor = (args: readonly GraphQLArgument[]) =>
        `${operation}${args.length ? `(${args.map((a) => `$${a.name}: ${String(a.type)}`).join(", ")})` : ""} { ${field.name}${args.length ? `(${args.map((a) => `${a.name}: $${a.name}`).join(", ")})` : ""} ${selection} }`;
      for (const arg of field.args) {
        const args = field.args.filter((a) => a === arg || (isNonNullType(a.type) && a.defaultValue === undefined));
        const base = Object.fromEntries(args.map((a) => [a.name, harmless(a.type)]));
        for (const [path, type] of leaves(arg.type)) {
          for (const [what, value] of hostileFor(type)) {
            cases.push({
              name: `${operation} ${field.name}(${[arg.name, ...path].join(".")}: ${what})`,
              subscription: operation === "subscription",
              query: operationFor(args),
              variables: { ...base, [arg.name]: setAt(base[arg.name], path, value) },
            });
          }
        }
      }
    }
    return cases;
  }

  // Values that are hostile elsewhere but legitimate here, so a task is created: a negative
  // priority is a low one, and an exclusive key is any text (without NUL, of bounded length). They
  // are checked below: stored as given, as data.
  const LEGITIMATE = /^mutation (createTestTask|startTask)\(input\.(priority: negative|exclusiveKey: (below bigint|malformed id|SQL|cursor beyond bigint|malformed cursor))\)$/;
  const all = [
    ...casesOf("query", schema.getQueryType()),
    ...casesOf("mutation", schema.getMutationType()),
    ...casesOf("subscription", schema.getSubscriptionType()),
  ];
  const cases = all.filter((c) => !LEGITIMATE.test(c.name));
  const legitimate = all.filter((c) => LEGITIMATE.test(c.name));

  interface Outcome {
    status: number;
    codes: unknown[];
    /** An accepted subscription: it waits for events (none come). */
    waiting?: boolean;
  }

  async function overHttp(c: Case): Promise<Outcome> {
    const abort = new AbortController();
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(c.subscription ? { accept: "text/event-stream" } : {}) },
      body: JSON.stringify({ query: c.query, variables: c.variables }),
      signal: abort.signal,
    });
    let text = "";
    if (response.headers.get("content-type")?.includes("text/event-stream")) {
      const event = await firstSseEvent(response, abort, 500);
      if (event === null) return { status: response.status, codes: [], waiting: true };
      text = event;
      text = /^data: (.*)$/m.exec(text)?.[1] ?? "{}";
    } else {
      text = await response.text();
    }
    const body = JSON.parse(text);
    return { status: response.status, codes: (body.errors ?? []).map((e: any) => e.extensions?.code) };
  }

  function overWs(client: Client, c: Case): Promise<Outcome> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        stop();
        resolve(outcome);
      };
      const stop = client.subscribe(
        { query: c.query, variables: c.variables },
        {
          next: (r) => done({ status: 200, codes: (r.errors ?? []).map((e) => e.extensions?.code) }),
          error: (e: any) => done(Array.isArray(e) ? { status: 200, codes: e.map((x) => x.extensions?.code) } : { status: e?.code ?? -1, codes: [] }),
          complete: () => done({ status: 200, codes: [] }),
        },
      );
      if (c.subscription) timer = setTimeout(() => done({ status: 200, codes: [], waiting: true }), 500);
    });
  }

  /** Server log lines (warnings and errors) written meanwhile that carry a stack trace. */
  function watchLog() {
    const from = serverLog.lines.length;
    let until: number | undefined;
    return {
      get stacks() {
        const written = serverLog.texts.slice(from, until).filter((_, i) => serverLog.lines[from + i]!.level >= LEVEL.warn);
        return written.filter((text) => /\\n\s+at /.test(text)).map((text) => text.slice(0, 300));
      },
      restore: () => (until = serverLog.lines.length),
    };
  }

  function check(c: Case, outcome: Outcome, transport: string) {
    const label = `${transport}: ${c.name}`;
    // 400: a request GraphQL itself refuses (a variable of the wrong type), with its code.
    expect([200, 400], label).toContain(outcome.status);
    if (outcome.status === 400) expect(outcome.codes.length, label).toBeGreaterThan(0);
    expect(outcome.codes, label).not.toContain("INTERNAL_SERVER_ERROR");
    expect(outcome.codes.every((code) => typeof code === "string" && code.length > 0), label).toBe(true);
  }

  test("values legitimate for a policy field are stored as data: a negative priority, any text as an exclusive key", async () => {
    expect(legitimate.length).toBeGreaterThanOrEqual(7);
    const sql = `x'; DROP TABLE "Task"; --`;
    const result = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, priority: -1, exclusiveKey: ${JSON.stringify(sql)} }) { id priority exclusiveKey } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data!.createTestTask).toMatchObject({ priority: -1, exclusiveKey: sql });
    expect(await app.store.prismaForTests.task.count({ where: { exclusiveKey: sql } })).toBe(1);
  });

  test("the walk covers every argument of every root field", () => {
    const fields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => Object.values(t!.getFields()));
    for (const field of fields) {
      for (const arg of field.args) expect(all.some((c) => c.name.includes(` ${field.name}(${arg.name}`)), `${field.name}(${arg.name})`).toBe(true);
    }
    expect(cases.length).toBeGreaterThan(300);
  });

  test("over HTTP (SSE for subscriptions): refused with a code, nothing changed, no stack logged", async () => {
    const before = await fingerprint();
    const log = watchLog();
    const refused: string[] = [];
    try {
      for (const c of cases) {
        const outcome = await overHttp(c);
        check(c, outcome, "HTTP");
        if (outcome.codes.length) refused.push(c.name);
      }
    } finally {
      log.restore();
    }
    expect(log.stacks).toEqual([]);
    expect(await fingerprint()).toEqual(before);
    // Most of them are refusals (the rest are harmless lookups of nothing).
    expect(refused.length).toBeGreaterThan(cases.length / 2);
    await bystanderIsServed();
  }, 120_000); // several hundred requests one after another: a loaded 2-core machine needs more than the default

  test("over graphql-ws, on one connection: refused with a code, never closed, nothing changed, no stack logged", async () => {
    const before = await fingerprint();
    const closes: number[] = [];
    const client = createClient({
      url: url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (e: any) => closes.push(e.code) },
    });
    const log = watchLog();
    try {
      for (const c of cases) check(c, await overWs(client, c), "graphql-ws");
    } finally {
      log.restore();
    }
    expect(closes).toEqual([]);
    expect(log.stacks).toEqual([]);
    expect(await fingerprint()).toEqual(before);
    expect((await overWs(client, { name: "me", subscription: false, query: `{ me { role } }`, variables: {} })).codes).toEqual([]);
    await client.dispose();
  }, 120_000);
});
