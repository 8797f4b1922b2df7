// Authentication and access roles: API tokens, protected mode, the role × operation matrix over
// HTTP and graphql-ws, and the per-token mutation rate limit.
import { request as httpRequest } from "node:http";
import { networkInterfaces } from "node:os";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { SESSION_CHECK_MS } from "../src/auth/revocation";
import { encodeEventCursor } from "../src/store/journal-reader";
import { createApiToken } from "../src/store/tokens";
import { codes, startTestApp, type TestApp } from "./support/app";

type Role = "VIEWER" | "TASK_MANAGER" | "ADMIN";
const RANK: Record<Role, number> = { VIEWER: 0, TASK_MANAGER: 1, ADMIN: 2 };
const NOWHERE = "01900000-0000-7000-8000-000000000000"; // a well-formed id of nothing
const FROM_THE_START = encodeEventCursor({ txid: 0n, id: 0n });

interface Outcome {
  /** HTTP status, or the WebSocket close code when the connection was refused. */
  status: number;
  codes: unknown[];
  data: Record<string, unknown> | null | undefined;
}

/** One request over real HTTP (a JSON POST; subscriptions as Server-Sent Events, first event only). */
async function overHttp(url: string, query: string, variables: Record<string, unknown>, token?: string, subscription = false): Promise<Outcome> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (subscription) headers.accept = "text/event-stream";
  const abort = new AbortController();
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }), signal: abort.signal });
  let body: any;
  if (subscription && response.status === 200) {
    const reader = response.body!.getReader();
    let text = "";
    while (!/^data: .*\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    body = JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
  } else {
    body = await response.json();
  }
  return { status: response.status, codes: (body.errors ?? []).map((e: any) => e.extensions?.code), data: body.data };
}

/** One operation over graphql-ws: its first result, or the close code if the connection was refused. */
function overWs(client: Client, query: string, variables: Record<string, unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      stop();
      resolve(outcome);
    };
    const stop = client.subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (result) => done({ status: 200, codes: (result.errors ?? []).map((e) => e.extensions?.code), data: result.data }),
        error: (error: any) => {
          if (Array.isArray(error)) done({ status: 200, codes: error.map((e) => e.extensions?.code), data: undefined });
          else done({ status: error?.code ?? 0, codes: [], data: undefined }); // a CloseEvent
        },
        complete: () => done({ status: 200, codes: [], data: null }),
      },
    );
  });
}

const wsClient = (url: string, token?: string) =>
  createClient({
    url: url.replace("http", "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
  });

describe("protected mode (no token exists)", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp({ config: { host: "0.0.0.0" } });
    ({ url } = await app.start(0));
    url = url.replace("0.0.0.0", "127.0.0.1");
  });
  afterAll(() => app.stop());

  test("an in-process call and a loopback client are served as the local ADMIN", async () => {
    expect((await app.gql(`{ me { name role protectedMode } }`)).data!.me).toEqual({ name: "local", role: "ADMIN", protectedMode: true });
    const http = await overHttp(url, `{ me { name role } }`, {});
    expect(http.data).toEqual({ me: { name: "local", role: "ADMIN" } });
    const client = wsClient(url);
    expect((await overWs(client, `{ me { role } }`, {})).data).toEqual({ me: { role: "ADMIN" } });
    await client.dispose();
  });

  test("a request relayed by a proxy is not local: refused with how to create a token", async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.7" },
      body: JSON.stringify({ query: `{ me { role } }` }),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(body.errors[0].message).toMatch(/protected mode.*npm run token -- create/);
  });

  test("a loopback client that names another host (a page re-pointing its domain to 127.0.0.1) is refused over HTTP and graphql-ws", async () => {
    const port = new URL(url).port;
    const asHost = (host: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const body = JSON.stringify({ query: `{ me { role } }` });
        const request = httpRequest(
          { host: "127.0.0.1", port, path: "/graphql", method: "POST", headers: { host, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
          (response) => {
            let text = "";
            response.on("data", (chunk) => (text += chunk));
            response.on("end", () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
          },
        );
        request.on("error", reject);
        request.end(body);
      });
    const rebound = await asHost(`attacker.example:${port}`);
    expect(rebound.status).toBe(401);
    expect(rebound.body.errors[0].extensions).toMatchObject({ code: "UNAUTHENTICATED", protectedMode: true });
    expect(rebound.body.errors[0].message).toMatch(/localhost, 127\.0\.0\.1 or \[::1\].*"attacker\.example:\d+"/);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `api.localhost:${port}`]) {
      const served = await asHost(host);
      expect({ host, body: served.body }).toEqual({ host, body: { data: { me: { role: "ADMIN" } } } });
    }
    const close = await new Promise<number>((resolve) => {
      const socket = new WebSocket(url.replace("http", "ws"), "graphql-transport-ws", { headers: { host: `attacker.example:${port}` } });
      socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
      socket.on("close", (code) => resolve(code));
      socket.on("error", () => resolve(-1));
    });
    expect(close).toBe(4403);
  });

  // Needs an address of this machine that is not loopback (CI machines have one).
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
  test.skipIf(!external)("a client on another address is refused over HTTP (401) and over graphql-ws (4403)", async () => {
    const remote = url.replace("127.0.0.1", external!);
    const http = await overHttp(remote, `{ modules { name } }`, {});
    expect(http.status).toBe(401);
    expect(http.codes).toEqual(["UNAUTHENTICATED"]);
    const client = wsClient(remote);
    expect((await overWs(client, `{ modules { name } }`, {})).status).toBe(4403);
    await client.dispose();
  });
});

describe("API tokens", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  test("created by the local ADMIN, shown once, stored hashed; the first one ends protected mode; revoking the last restores it", async () => {
    const created = await app.gql(`mutation { createApiToken(name: "ops-admin", role: ADMIN) { secret token { name role createdBy revokedAt } } }`);
    const { secret, token } = created.data!.createApiToken;
    expect(token).toEqual({ name: "ops-admin", role: "ADMIN", createdBy: "local", revokedAt: null });
    expect(secret).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    const row = await app.store.prismaForTests.apiToken.findUniqueOrThrow({ where: { name: "ops-admin" } });
    expect(JSON.stringify(row)).not.toContain(secret.slice(3));

    // Protected mode is over: no token, a wrong one or a malformed header → 401, even in-process.
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer tg_wrong" }, { authorization: secret }];
    for (const headers of attempts) {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: `{"query":"{ me { name } }"}` });
      expect(response.status).toBe(401);
      expect(((await response.json()) as any).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    }
    expect(codes(await app.gql(`{ me { name } }`))).toEqual(["UNAUTHENTICATED"]);
    expect((await app.gql(`{ me { name role protectedMode } }`, {}, { token: secret })).data!.me).toEqual({ name: "ops-admin", role: "ADMIN", protectedMode: false });

    // The list never shows a secret; a used token shows when it was last used.
    const listed = await app.gql(`{ apiTokens { name role lastUsedAt revokedAt } }`, {}, { token: secret });
    expect(listed.data!.apiTokens).toEqual([{ name: "ops-admin", role: "ADMIN", lastUsedAt: expect.any(String), revokedAt: null }]);

    const other = await app.gql(`mutation { createApiToken(name: "console", role: VIEWER) { secret } }`, {}, { token: secret });
    const viewer = other.data!.createApiToken.secret;
    expect((await app.gql(`{ me { name role } }`, {}, { token: viewer })).data!.me).toEqual({ name: "console", role: "VIEWER" });
    // Names are unique for good (revoked ones too: tasks' createdBy keeps meaning one token).
    expect(codes(await app.gql(`mutation { createApiToken(name: "console", role: ADMIN) { secret } }`, {}, { token: secret }))).toEqual(["CONFLICT"]);
    expect(codes(await app.gql(`mutation { createApiToken(name: "bad name!", role: ADMIN) { secret } }`, {}, { token: secret }))).toEqual(["BAD_USER_INPUT"]);

    // Revoked: refused at once, over HTTP and graphql-ws — a connection opened before ends at its next operation.
    const open = wsClient(url, viewer);
    expect((await overWs(open, `{ me { name } }`, {})).data).toEqual({ me: { name: "console" } });
    await app.gql(`mutation { revokeApiToken(name: "console") { revokedAt } }`, {}, { token: secret });
    expect((await overWs(open, `{ me { name } }`, {})).status).toBe(4401);
    await open.dispose();
    expect(codes(await app.gql(`{ me { name } }`, {}, { token: viewer }))).toEqual(["UNAUTHENTICATED"]);
    const client = wsClient(url, viewer);
    expect((await overWs(client, `{ me { name } }`, {})).status).toBe(4401);
    await client.dispose();
    const anonymous = wsClient(url);
    expect((await overWs(anonymous, `{ me { name } }`, {})).status).toBe(4401);
    await anonymous.dispose();

    const revoked = await app.gql(`mutation { revokeApiToken(name: "ops-admin") { name revokedAt } }`, {}, { token: secret });
    expect(revoked.data!.revokeApiToken.revokedAt).not.toBeNull();
    expect((await app.gql(`{ me { name protectedMode } }`)).data!.me).toEqual({ name: "local", protectedMode: true });
  });
});

/** What each operation needs; each runs harmlessly (an id of nothing, or a small new thing) when allowed. */
const OPERATIONS: { name: string; role: Role; query: string; variables?: (cell: string) => Record<string, unknown>; subscription?: true }[] = [
  { name: "modules", role: "VIEWER", query: `{ modules { name } }` },
  { name: "module", role: "VIEWER", query: `{ module(name: "test") { name } }` },
  { name: "tasks", role: "VIEWER", query: `{ tasks(first: 5) { totalCount } }` },
  { name: "task", role: "VIEWER", query: `{ task(id: "${NOWHERE}") { id } }` },
  { name: "taskTree", role: "VIEWER", query: `{ taskTree(id: "${NOWHERE}") { id } }` },
  { name: "waitForTask", role: "VIEWER", query: `{ waitForTask(id: "${NOWHERE}", timeoutSeconds: 1) { id } }` },
  { name: "settings", role: "VIEWER", query: `{ settings { taskTtlSeconds } }` },
  { name: "workers", role: "VIEWER", query: `{ workers { name } }` },
  { name: "node", role: "VIEWER", query: `{ node(id: "${NOWHERE}") { id } }` },
  { name: "me", role: "VIEWER", query: `{ me { role } }` },
  { name: "apiTokens", role: "ADMIN", query: `{ apiTokens { name } }` },
  { name: "taskUpdated", role: "VIEWER", query: `subscription ($id: ID!) { taskUpdated(id: $id) { id } }`, subscription: true },
    {
    name: "taskEvents",
    role: "VIEWER",
    query: `subscription ($id: ID!, $after: String) { taskEvents(filter: { taskId: $id }, after: $after) { type } }`,
    variables: () => ({ after: FROM_THE_START }), // replays the task's CREATED event at once
    subscription: true,
  },
  { name: "schedules", role: "VIEWER", query: `{ schedules(first: 5) { totalCount } }` },
  { name: "schedule", role: "VIEWER", query: `{ schedule(id: "Schedule:${NOWHERE}") { id } }` },
  {
    name: "createSchedule",
    role: "TASK_MANAGER",
    query: `mutation ($name: String!) { createSchedule(input: { name: $name, module: "test", type: "count", input: { rounds: 1 }, everySeconds: 3600, enabled: false }) { id } }`,
    variables: (cell) => ({ name: `made-by-${cell}` }),
  },
  { name: "updateSchedule", role: "TASK_MANAGER", query: `mutation { updateSchedule(id: "Schedule:${NOWHERE}", input: { everySeconds: 60 }) { id } }` },
  { name: "pauseSchedule", role: "TASK_MANAGER", query: `mutation { pauseSchedule(id: "Schedule:${NOWHERE}") { id } }` },
  { name: "resumeSchedule", role: "TASK_MANAGER", query: `mutation { resumeSchedule(id: "Schedule:${NOWHERE}") { id } }` },
  { name: "deleteSchedule", role: "TASK_MANAGER", query: `mutation { deleteSchedule(id: "Schedule:${NOWHERE}") { deletedId } }` },
  { name: "createTestTask", role: "TASK_MANAGER", query: `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }` },
  { name: "startTask", role: "TASK_MANAGER", query: `mutation { startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 } }) { id } }` },
  { name: "abortTask", role: "TASK_MANAGER", query: `mutation { abortTask(id: "${NOWHERE}") { id } }` },
  { name: "deleteTask", role: "TASK_MANAGER", query: `mutation { deleteTask(id: "${NOWHERE}") { deleted } }` },
  { name: "retryTask", role: "TASK_MANAGER", query: `mutation { retryTask(id: "${NOWHERE}") { id } }` },
  { name: "rerunStep", role: "TASK_MANAGER", query: `mutation { rerunStep(taskId: "${NOWHERE}", stepKey: "a") { id } }` },
  { name: "markStepSucceeded", role: "TASK_MANAGER", query: `mutation { markStepSucceeded(taskId: "${NOWHERE}", stepKey: "a") { id } }` },
  { name: "terminateStep", role: "TASK_MANAGER", query: `mutation { terminateStep(taskId: "${NOWHERE}", stepKey: "a") { id } }` },
  { name: "setTaskTtl", role: "ADMIN", query: `mutation { setTaskTtl(ttlSeconds: 86400) { taskTtlSeconds } }` },
  { name: "drainModule", role: "ADMIN", query: `mutation { drainModule(module: "nothing-here") { deletedCount } }` },
  {
    name: "createApiToken",
    role: "ADMIN",
    query: `mutation ($name: String!) { createApiToken(name: $name, role: VIEWER) { token { name } } }`,
    variables: (cell) => ({ name: `made-by-${cell}` }),
  },
  { name: "revokeApiToken", role: "ADMIN", query: `mutation { revokeApiToken(name: "nobody") { name } }` },
];

describe("role × operation matrix over HTTP and graphql-ws", () => {
  let app: TestApp;
  let url: string;
  let taskId: string;
  const tokens = {} as Record<Role, string>;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
    taskId = (await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`)).data!.createTestTask.id;
    for (const role of ["VIEWER", "TASK_MANAGER", "ADMIN"] as const) {
      tokens[role] = (await createApiToken(app.store.prismaForTests, { name: `matrix-${role}`, role, createdBy: null })).secret;
    }
  });
  afterAll(() => app.stop());

  /** Everything an operation could change. */
  const fingerprint = async () => {
    const [tasks, events, apiTokens, settings, schedules] = await Promise.all([
      app.store.prismaForTests.task.count(),
      app.store.prismaForTests.taskEvent.count(),
      app.store.prismaForTests.apiToken.count(),
      app.store.prismaForTests.setting.findMany({ orderBy: { key: "asc" } }),
      app.store.prismaForTests.schedule.findMany({ orderBy: { id: "asc" } }),
    ]);
    return { tasks, events, apiTokens, settings, schedules };
  };

  for (const transport of ["HTTP", "graphql-ws"] as const) {
    test(`${transport}: every role may do exactly what its rank allows; a refusal is FORBIDDEN and changes nothing`, async () => {
      const cells: string[] = [];
      for (const role of ["VIEWER", "TASK_MANAGER", "ADMIN"] as const) {
        const client = transport === "graphql-ws" ? wsClient(url, tokens[role]) : undefined;
        for (const op of OPERATIONS) {
          const cell = `${transport}-${role}-${op.name}`.replace(/[^A-Za-z0-9-]/g, "");
          const variables = { id: taskId, ...op.variables?.(cell) };
          const before = await fingerprint();
          const outcome = client
            ? await overWs(client, op.query, variables)
            : await overHttp(url, op.query, variables, tokens[role], op.subscription);
          const allowed = RANK[role] >= RANK[op.role];
          if (allowed) {
            expect(outcome.codes, cell).not.toContain("FORBIDDEN");
            expect(outcome.codes, cell).not.toContain("UNAUTHENTICATED");
            expect(outcome.status, cell).toBe(200);
          } else {
            expect(outcome.codes, cell).toEqual(["FORBIDDEN"]);
            expect(await fingerprint(), cell).toEqual(before);
          }
          cells.push(`${cell}:${allowed ? "allowed" : "forbidden"}`);
        }
        await client?.dispose();
      }
      expect(cells).toHaveLength(3 * OPERATIONS.length);
    });
  }

  test("without a token every operation is UNAUTHENTICATED (HTTP 401, graphql-ws close 4401) and changes nothing", async () => {
    const before = await fingerprint();
    for (const op of OPERATIONS) {
      const http = await overHttp(url, op.query, { id: taskId, ...op.variables?.("anonymous") }, undefined, op.subscription);
      expect([http.status, http.codes], op.name).toEqual([401, ["UNAUTHENTICATED"]]);
    }
    const client = wsClient(url);
    expect((await overWs(client, `{ modules { name } }`, {})).status).toBe(4401);
    await client.dispose();
    expect(await fingerprint()).toEqual(before);
  });

  test("a FORBIDDEN error says which role is needed", async () => {
    const result = await app.gql(`mutation { drainModule(module: "x") { deletedCount } }`, {}, { token: tokens.TASK_MANAGER });
    expect(result.errors![0]!.message).toMatch(/drainModule needs the ADMIN role; matrix-TASK_MANAGER has TASK_MANAGER/);
  });
});

describe("per-token rate limit of mutations", () => {
  let app: TestApp;
  const tokens: string[] = [];
  beforeAll(async () => {
    app = await startTestApp({ config: { mutationsPerMinute: 5 } });
    for (const name of ["busy", "calm"]) {
      tokens.push((await createApiToken(app.store.prismaForTests, { name, role: "TASK_MANAGER", createdBy: null })).secret);
    }
  });
  afterAll(() => app.stop());

  test("each mutation field costs a point; over budget the whole operation is RATE_LIMITED (429, Retry-After) and runs nothing", async () => {
    const [busy, calm] = tokens as [string, string];
    const create = `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`;
    const three = `mutation { a: createTestTask(input: { rounds: 1, roundMs: 0 }) { id } b: createTestTask(input: { rounds: 1, roundMs: 0 }) { id } c: createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`;
    expect((await app.gql(three, {}, { token: busy })).errors).toBeUndefined();
    expect((await app.gql(create, {}, { token: busy })).errors).toBeUndefined();
    expect((await app.gql(create, {}, { token: busy })).errors).toBeUndefined();
    const tasks = await app.store.prismaForTests.task.count();
    expect(tasks).toBe(5);

    const response = await app.yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${busy}` },
      body: JSON.stringify({ query: create }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe("RATE_LIMITED");
    expect(await app.store.prismaForTests.task.count()).toBe(5);

    // Queries are not limited, and another token has its own budget.
    expect((await app.gql(`{ modules { name } }`, {}, { token: busy })).errors).toBeUndefined();
    expect((await app.gql(create, {}, { token: calm })).errors).toBeUndefined();
  });
});

describe("per-token rate limit shared through Redis", () => {
  const apps: TestApp[] = [];
  afterAll(() => Promise.all(apps.map((a) => a.stop())));

  test("with REDIS_URL, two API processes draw on one budget per token", async () => {
    const config = { mutationsPerMinute: 3, redisUrl: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379" };
    apps.push(await startTestApp({ config }), await startTestApp({ config }));
    const [first, second] = apps as [TestApp, TestApp];
    // The same token in both stores (as two API processes on one database would see it).
    const { token, secret } = await createApiToken(first.store.prismaForTests, { name: "shared", role: "TASK_MANAGER", createdBy: null });
    await second.store.prismaForTests.apiToken.create({ data: token });
    const create = `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`;
    expect((await first.gql(create, {}, { token: secret })).errors).toBeUndefined();
    expect((await second.gql(create, {}, { token: secret })).errors).toBeUndefined();
    expect((await first.gql(create, {}, { token: secret })).errors).toBeUndefined();
    expect(codes(await second.gql(create, {}, { token: secret }))).toEqual(["RATE_LIMITED"]);
    expect(await second.store.prismaForTests.task.count()).toBe(1);
  });
});

describe("createdBy", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ worker: { concurrency: 8, pollMs: 200, housekeepingMs: 200 } });
  });
  afterAll(() => app.stop());

  test("a task records the token that started it, and every task its run spawns below it does too", async () => {
    const local = await app.gql(`mutation { startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 } }) { createdBy } }`);
    expect(local.data!.startTask.createdBy).toBe("local"); // protected mode: the machine's own operator
    const { secret } = await createApiToken(app.store.prismaForTests, { name: "deploy-bot", role: "TASK_MANAGER", createdBy: null });
    const tree = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, children: 3 }) { id createdBy } }`, {}, { token: secret });
    expect(tree.data!.createTestTask.createdBy).toBe("deploy-bot");
    const id = tree.data!.createTestTask.id;
    const done = await app.gql(`{ waitForTask(id: "${id}", timeoutSeconds: 20) { state } }`, {}, { token: secret });
    expect(done.data!.waitForTask.state).toBe("SUCCEEDED");
    const descendants = await app.store.prismaForTests.task.findMany({ where: { rootId: id, NOT: { id } } });
    expect(descendants).toHaveLength(6); // 3 node tasks, each with an internal grandchild
    expect(new Set(descendants.map((t) => t.createdBy))).toEqual(new Set(["deploy-bot"]));
  });
});

describe("a burst of connections", () => {
  let app: TestApp;
  let url: string;
  let tokenQueries = 0;
  beforeAll(async () => {
    app = await startTestApp({ onQuery: (sql) => void (sql.includes('"ApiToken"') && tokenQueries++) });
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  test("300 consoles reconnecting at once are all served, with a handful of token lookups rather than one per connection", async () => {
    const { secret } = await createApiToken(app.store.prismaForTests, { name: "wall", role: "VIEWER", createdBy: null });
    tokenQueries = 0;
    const started = Date.now();
    const clients = Array.from({ length: 300 }, () => wsClient(url, secret));
    const outcomes = await Promise.all(clients.map((c) => overWs(c, `{ me { name } }`, {})));
    expect(outcomes.every((o) => o.status === 200 && (o.data as any)?.me?.name === "wall")).toBe(true);
    // A handful for the burst, plus the revocation check of the open connections (one query for
    // all of them every SESSION_CHECK_MS), which runs more often the longer a loaded machine takes.
    expect(tokenQueries).toBeLessThan(10 + (Date.now() - started) / SESSION_CHECK_MS);
    await Promise.all(clients.map((c) => c.dispose()));
  });
});

describe("authorization per operation", () => {
  let app: TestApp;
  let url: string;
  let manager: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
    manager = (await createApiToken(app.store.prismaForTests, { name: "ops", role: "TASK_MANAGER", createdBy: null })).secret;
  });
  afterAll(() => app.stop());

  const state = async () => ({
    tasks: await app.store.prismaForTests.task.count(),
    settings: await app.store.prismaForTests.setting.findMany({ orderBy: { key: "asc" } }),
  });

  const mixed = [
    `mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } setTaskTtl(ttlSeconds: 5) { taskTtlSeconds } }`,
    // the forbidden field behind an alias, a fragment and an inline fragment
    `mutation { a: createTestTask(input: { rounds: 1, roundMs: 0 }) { id } ...F } fragment F on Mutation { ... on Mutation { b: drainModule(module: "test") { deletedCount } } }`,
  ];

  test("one root field beyond the role refuses the whole operation before anything runs (HTTP and graphql-ws)", async () => {
    const before = await state();
    for (const query of mixed) {
      const http = await overHttp(url, query, {}, manager);
      expect(http.codes, query).toEqual(["FORBIDDEN"]);
      expect(http.data ?? null, query).toBeNull();
      const client = wsClient(url, manager);
      const ws = await overWs(client, query, {});
      await client.dispose();
      expect(ws.codes, query).toEqual(["FORBIDDEN"]);
    }
    expect(await state()).toEqual(before);
    // The same fields alone, each within the role, run.
    expect(codes(await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`, {}, { token: manager }))).toEqual([]);
  });

  test("a field left out by @skip or @include does not count", async () => {
    const query = `mutation ($no: Boolean = false) { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } setTaskTtl(ttlSeconds: 5) @include(if: $no) { taskTtlSeconds } }`;
    const result = await app.gql(query, {}, { token: manager });
    expect(codes(result)).toEqual([]);
    expect(result.data!.createTestTask.id).toBeTruthy();
  });
});

describe("GraphiQL is the only thing served without a token", () => {
  const apps: TestApp[] = [];
  afterAll(() => Promise.all(apps.map((a) => a.stop())));

  const getAsBrowser = (url: string) =>
    fetch(`${url}?query=${encodeURIComponent("{ me { name } }")}`, { headers: { accept: "text/html, application/json" } });

  test("with GraphiQL off, a GET that accepts text/html is authenticated like any request", async () => {
    const app = await startTestApp({ config: { graphiql: false } });
    apps.push(app);
    const { url } = await app.start(0);
    await createApiToken(app.store.prismaForTests, { name: "someone", role: "ADMIN", createdBy: null });
    const response = await getAsBrowser(url);
    expect(response.status).toBe(401);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(JSON.stringify(body)).not.toContain("someone");
  });

  test("with GraphiQL on, that GET gets the GraphiQL page and no data", async () => {
    const app = await startTestApp({ config: { graphiql: true } });
    apps.push(app);
    const { url } = await app.start(0);
    await createApiToken(app.store.prismaForTests, { name: "someone", role: "ADMIN", createdBy: null });
    const response = await getAsBrowser(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const page = await response.text();
    expect(page).toContain("<html");
    expect(page).not.toContain('"me"');
  });
});

describe("protected mode and proxies", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  // What common proxies, load balancers and CDNs add; a proxy that sets only one of them relays too.
  const relayed: [string, string][] = [
    ["forwarded", "for=203.0.113.7"],
    ["x-forwarded-for", "203.0.113.7"],
    ["x-real-ip", "203.0.113.7"],
    ["via", "1.1 proxy"],
    ["x-forwarded-host", "taskgraph.example.com"],
    ["x-forwarded-proto", "https"],
    ["x-forwarded-port", "443"],
    ["cf-connecting-ip", "203.0.113.7"],
    ["true-client-ip", "203.0.113.7"],
    ["x-client-ip", "203.0.113.7"],
    ["x-original-forwarded-for", "203.0.113.7"],
    ["fastly-client-ip", "203.0.113.7"],
    ["x-cluster-client-ip", "203.0.113.7"],
  ];

  test("a loopback request carrying any relay header is not local: UNAUTHENTICATED over HTTP (401) and graphql-ws (4403)", async () => {
    for (const [name, value] of relayed) {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", [name]: value }, body: `{"query":"{ me { role } }"}` });
      expect(response.status, name).toBe(401);
      expect(((await response.json()) as any).errors[0].extensions.code, name).toBe("UNAUTHENTICATED");
      const close = await new Promise<number>((resolve) => {
        const socket = new WebSocket(url.replace("http", "ws"), "graphql-transport-ws", { headers: { [name]: value } });
        socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
        socket.on("close", (code) => resolve(code));
      });
      expect(close, name).toBe(4403);
    }
    // Without them, the same client is the local ADMIN.
    expect((await overHttp(url, `{ me { role } }`, {})).data).toEqual({ me: { role: "ADMIN" } });
  });
});

describe("GraphQL Armor limits over graphql-ws", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  test("an operation over a limit gets an error of its own; the connection and its other subscriptions live on", async () => {
    const closes: number[] = [];
    const client = createClient({
      url: url.replace("http", "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (event: any) => closes.push(event.code) },
    });
    const events: unknown[] = [];
    const stop = client.subscribe({ query: `subscription { taskEvents { type } }` }, { next: (r) => events.push(r), error: (e) => events.push(e), complete: () => {} });
    await new Promise((r) => setTimeout(r, 200));
    const overLimits = {
      aliases: `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: me { name }`).join(" ")} }`,
      depth: `{ tasks(first: 1) { edges { node { ${"children(first: 1) { edges { node { ".repeat(8)} id ${"} } }".repeat(8)} } } } }`,
      directives: `{ me { name ${"@include(if: true) ".repeat(60)} } }`,
      cost: `{ tasks(first: 500) { edges { node { children(first: 500) { edges { node { children(first: 500) { edges { node { logs(first: 500) { edges { node { message } } } } } } } } } } } } }`,
    };
    for (const [limit, query] of Object.entries(overLimits)) {
      const outcome = await overWs(client, query, {});
      expect(outcome.status, limit).toBe(200);
      expect(outcome.codes, limit).toEqual(["BAD_USER_INPUT"]);
    }
    expect(closes).toEqual([]);
    // The subscription opened before still delivers.
    await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`);
    for (let i = 0; i < 50 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([{ data: { taskEvents: { type: "CREATED" } } }]);
    stop();
    await client.dispose();
  });
});
