// Hostile queries are refused before they run, with a code, and the server keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { codes, startTestApp, type TestApp } from "./support/app";

describe("query limits", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
    await app.store.ensureModule("kafka");
    await app.store.createTask({ module: "kafka", type: "restart-broker", children: [{ type: "drain" }] });
  });
  afterAll(() => app.stop());

  const taskCount = async () => (await app.gql(`{ tasks(filter: { includeInternal: true }) { totalCount } }`)).data!.tasks.totalCount;

  test("a query deeper than the limit (15) is refused with BAD_USER_INPUT and nothing runs", async () => {
    let nested = "id";
    for (let i = 0; i < 20; i++) nested = `id parent { ${nested} }`;
    const result = await app.gql(`{ tasks(first: 1) { edges { node { ${nested} } } } }`);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toContain("BAD_USER_INPUT");
    expect(JSON.stringify(result.errors)).toMatch(/depth/i);
  });

  test("10,000 aliases are refused while parsing (token limit), 100 by the alias limit", async () => {
    const flood = Array.from({ length: 10_000 }, (_, i) => `a${i}: modules { name }`).join(" ");
    const huge = await app.gql(`{ ${flood} }`);
    expect(huge.data).toBeUndefined();
    expect(codes(huge)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(JSON.stringify(huge.errors)).toMatch(/Token limit/);
    const many = Array.from({ length: 100 }, (_, i) => `a${i}: modules { name }`).join(" ");
    const aliased = await app.gql(`{ ${many} }`);
    expect(aliased.data).toBeUndefined();
    expect(codes(aliased)[0]).toBe("BAD_USER_INPUT");
    expect(JSON.stringify(aliased.errors)).toMatch(/alias/i);
  });

  test("a request body over the limit is refused with 413 before it is parsed", async () => {
    const body = JSON.stringify({ query: `{ modules { name } }`, variables: { pad: "x".repeat(2_000_000) } });
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });

  test("a huge search string and a malformed JSON body get clear errors", async () => {
    const search = await app.gql(`query ($s: String) { tasks(filter: { search: $s }) { totalCount } }`, { s: "y".repeat(500_000) });
    expect(codes(search)).toEqual(["BAD_USER_INPUT"]);
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{ not json" });
    expect(response.status).toBe(400);
  });

  test("CSRF: a GET is served without the CSRF header; a form/text POST without it is refused 403 FORBIDDEN", async () => {
    const query = encodeURIComponent("{ modules { name } }");
    const simpleGet = await fetch(`${url}?query=${query}`, { headers: { accept: "application/json" } });
    expect(simpleGet.status).toBe(200);
    expect(((await simpleGet.json()) as any).data.modules).toBeDefined();
    const text = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ query: "{ modules { name } }" }) });
    expect(text.status).toBe(403);
    const refusal = (await text.json()) as any;
    expect(refusal.errors[0].extensions.code).toBe("FORBIDDEN");
    expect(refusal.errors[0].message).toContain("x-graphql-yoga-csrf");
  });

  test("after all of that the server still serves, and nothing changed", async () => {
    expect(await taskCount()).toBe(2);
    const ok = await app.gql(`{ modules { name } }`);
    expect(ok.errors).toBeUndefined();
  });
});

describe("GraphiQL and introspection can be turned off", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp({ config: { graphiql: false, introspection: false } });
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  test("introspection is refused and GraphiQL is not served, while queries work", async () => {
    const introspection = await app.gql(`{ __schema { types { name } } }`);
    expect(introspection.data).toBeUndefined();
    expect(introspection.errors?.length).toBeGreaterThan(0);
    const page = await fetch(url, { headers: { accept: "text/html" } });
    expect(await page.text()).not.toContain("graphiql");
    expect((await app.gql(`{ modules { name } }`)).errors).toBeUndefined();
  });
});
