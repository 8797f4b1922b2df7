// Relay against the schema (issue 12): relay-compiler 21 accepts a @refetchable fragment on every
// Node type (each gets a refetch query through node(id)) and compiles a query that reaches every
// kind of object around a task; relay-runtime then fetches that query from a running server and
// normalizes it without a single warning — every id names one record of one __typename.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Environment, fetchQuery, type GraphQLResponse, Network, RecordSource, Store, type ConcreteRequest, type LogEvent } from "relay-runtime";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { NODE_TYPES } from "./support/relay/node-types";

const ROOT = join(import.meta.dirname, "..");
const RELAY = join(ROOT, "node_modules/relay-compiler/linux-x64/relay");

let project: string;
let compiled: { code: number; output: string };

/** A Relay project in a temporary directory: a refetchable fragment per Node type, and the details query. */
async function writeProject(dir: string) {
  await mkdir(join(dir, "src"), { recursive: true });
  await mkdir(join(dir, "__generated__"), { recursive: true });
  // The artifacts are ES modules.
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  await writeFile(
    join(dir, "relay.config.json"),
    JSON.stringify({ src: "./src", schema: join(ROOT, "schema.graphql"), language: "javascript", artifactDirectory: "./__generated__" }),
  );
  for (const { typename, fields } of NODE_TYPES) {
    // Relay's naming rule: a fragment is named after its module (<file>_<name>).
    await writeFile(
      join(dir, "src", `${typename}Node.js`),
      `graphql\`fragment ${typename}Node_node on ${typename} @refetchable(queryName: "${typename}RefetchQuery") { id ${fields} }\`;\n`,
    );
  }
  await copyFile(join(ROOT, "test/support/relay/TaskDetailsQuery.js"), join(dir, "src/TaskDetailsQuery.js"));
}

function runCompiler(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(RELAY, ["--noWatchman", "relay.config.json"], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as any).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const artifact = (name: string) => join(project, "__generated__", `${name}.graphql.js`);
const loadArtifact = async (name: string) => (await import(pathToFileURL(artifact(name)).href)).default as ConcreteRequest;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "taskgraph-relay-"));
  await writeProject(project);
  compiled = await runCompiler(project);
});
afterAll(() => rm(project, { recursive: true, force: true }));

describe("relay-compiler", () => {
  test("compiles a @refetchable fragment on every Node type, each refetched through node(id)", async () => {
    expect(compiled.output).not.toMatch(/ERROR/);
    expect(compiled.code, compiled.output).toBe(0);
    for (const { typename } of NODE_TYPES) {
      const text = await readFile(artifact(`${typename}RefetchQuery`), "utf8");
      expect(text, typename).toContain(`query ${typename}RefetchQuery(`);
      expect(text, typename).toContain("node(id: $id)");
      const fragment = await readFile(artifact(`${typename}Node_node`), "utf8");
      // The fragment knows how to refetch itself: by node(id) with its id.
      expect(fragment, typename).toMatch(/"fragmentPathInResult":\s*\[\s*"node"\s*\]/);
      expect(fragment, typename).toMatch(/"identifierInfo":\s*\{[^}]*"identifierField":\s*"id"/s);
    }
    expect((await loadArtifact("TaskDetailsQuery")).params.text).toContain("query TaskDetailsQuery(");
  });

  test("a @refetchable fragment on a type that is not a Node is refused (the check above means something)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taskgraph-relay-neg-"));
    try {
      await writeProject(dir);
      await writeFile(join(dir, "src/StateCountNode.js"), 'graphql`fragment StateCountNode_node on StateCount @refetchable(queryName: "StateCountRefetchQuery") { count }`;\n');
      const result = await runCompiler(dir);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/refetchable/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("relay-runtime against a running server", () => {
  let app: TestApp;
  let url: string;
  const messages: string[] = [];
  beforeAll(async () => {
    app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
    ({ url } = await app.start(0));
  });
  afterAll(() => app?.stop());

  const post = async (query: string, variables: Record<string, unknown>) => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as GraphQLResponse & { data: any };
  };

  /** An environment whose network is `fetchFn`, logging Relay's own events into `events`. */
  const environment = (fetchFn: (text: string, variables: Record<string, unknown>) => Promise<GraphQLResponse>, events: LogEvent[]) =>
    new Environment({
      network: Network.create((params, variables) => fetchFn(params.text!, variables)),
      store: new Store(new RecordSource()),
      log: (event) => events.push(event),
      relayFieldLogger: (event) => messages.push(`field logger: ${JSON.stringify(event)}`),
    });

  /** Runs `fn` with console.warn and console.error (Relay's `warning` writes there) captured into `messages`. */
  async function capturing<T>(fn: () => Promise<T>): Promise<T> {
    const warn = vi.spyOn(console, "warn").mockImplementation((...args) => void messages.push(`warn: ${args.join(" ")}`));
    const error = vi.spyOn(console, "error").mockImplementation((...args) => void messages.push(`error: ${args.join(" ")}`));
    try {
      return await fn();
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  }

  const waitFor = async (id: string) =>
    (await app.gql(`query ($id: ID!) { waitForTask(id: $id, timeoutSeconds: 30) { state } }`, { id })).data?.waitForTask.state;

  /** A test task that has ended well; `failAtRound` makes it fail once first, then it is retried (ERROR logs, rollbacks, retries). */
  async function finished(input: string) {
    const created = await app.gql(`mutation { createTestTask(input: ${input}) { id } }`);
    expect(created.errors).toBeUndefined();
    const id = created.data!.createTestTask.id as string;
    if (input.includes("failAtRound")) {
      expect(await waitFor(id)).toBe("FAILED");
      expect((await app.gql(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id })).errors).toBeUndefined();
    }
    expect(await waitFor(id)).toBe("SUCCEEDED");
    return id;
  }

  test("a flow and a tree, fetched with the compiled query: normalized with no warning, one __typename per id", async () => {
    const query = await loadArtifact("TaskDetailsQuery");
    const flowId = await finished(`{ rounds: 1, roundMs: 0, steps: 3, failAtRound: 2 }`);
    const treeId = await finished(`{ rounds: 1, roundMs: 0, children: 2 }`);
    const events: LogEvent[] = [];
    const env = environment(post, events);
    messages.length = 0;

    const { flow, tree, child } = await capturing(async () => {
      const flow = (await fetchQuery(env, query, { id: flowId }).toPromise()) as any;
      const tree = (await fetchQuery(env, query, { id: treeId }).toPromise()) as any;
      const child = (await fetchQuery(env, query, { id: tree.task.children.edges[0].node.id }).toPromise()) as any;
      return { flow, tree, child };
    });

    // What the server answered, as Relay reads it back.
    expect(flow.task.id).toBe(flowId);
    expect(flow.task.steps).toHaveLength(3);
    const stepIds = flow.task.steps.map((s: any) => s.id);
    expect(flow.task.flow.id).toBe(`Flow:${flowId}`);
    expect(flow.task.flow.nodes.map((n: any) => n.id)).toEqual(stepIds);
    for (const edge of flow.task.flow.edges) {
      expect(stepIds).toContain(edge.from.id);
      expect(stepIds).toContain(edge.to.id);
    }
    expect(flow.task.progress.id).toBe(`Progress:${flowId}`);
    expect(flow.task.module.id).toBe(`Module:${flow.task.module.name}`);
    expect(flow.task.steps.every((s: any) => s.attempts.length >= 1)).toBe(true);
    expect(flow.task.logs.edges.length).toBeGreaterThan(0);
    expect(tree.task.children.edges).toHaveLength(2);
    const childIds = tree.task.children.edges.map((e: any) => e.node.id);
    expect(tree.task.childrenStatus.map((c: any) => c.task.id)).toEqual(expect.arrayContaining(childIds));
    for (const edge of tree.task.children.edges) expect(edge.node.progress.id).toBe(`Progress:${edge.node.id}`);
    expect(child.task.parent.id).toBe(treeId);
    expect(child.task.root.id).toBe(treeId);
    expect(child.task.childrenStatus.length).toBeGreaterThanOrEqual(1); // its internal grandchild

    // No warning from Relay (a conflicting __typename, a missing field, …), no error event.
    expect(messages).toEqual([]);
    expect(events.filter((e) => /error/i.test(e.name)).map((e) => e.name)).toEqual([]);

    // The store: every record of the server's objects is keyed by its id, with the type the id says.
    const records = env.getStore().getSource().toJSON() as Record<string, Record<string, unknown>>;
    const seen: Record<string, string> = {};
    for (const [dataId, record] of Object.entries(records)) {
      if (dataId.startsWith("client:")) continue; // Relay's own ids for objects without one (edges, ChildStatus, …)
      const typename = record.__typename as string;
      expect(record.__id).toBe(dataId);
      const type = NODE_TYPES.find((t) => t.typename === typename);
      expect(type, `${dataId} is a ${typename}`).toBeDefined();
      expect(dataId, typename).toMatch(type!.idPattern);
      seen[typename] = dataId;
      // Ids of one type never match another type's pattern (no id is ambiguous).
      for (const other of NODE_TYPES) if (other !== type) expect(other.idPattern.test(dataId), `${dataId} looks like a ${other.typename}`).toBe(false);
    }
    expect(Object.keys(seen).sort()).toEqual(["Flow", "LogEntry", "Module", "Progress", "Step", "StepAttempt", "Task"]);

    // Each Node type's refetch query (node(id)) for an object the store holds: same record, same type.
    const refetched = await capturing(async () => {
      const out: Record<string, any> = {};
      for (const [typename, dataId] of Object.entries(seen)) {
        out[typename] = await fetchQuery(env, await loadArtifact(`${typename}RefetchQuery`), { id: dataId }).toPromise();
      }
      return out;
    });
    for (const [typename, dataId] of Object.entries(seen)) {
      expect(refetched[typename].node, typename).not.toBeNull();
      expect(records[dataId]!.__typename).toBe(typename);
      expect((env.getStore().getSource().get(dataId) as any).__typename).toBe(typename);
    }
    expect(messages).toEqual([]);
  });

  test("the warning capture works: a payload that reuses the task's id for its progress makes Relay warn", async () => {
    const query = await loadArtifact("TaskDetailsQuery");
    const id = await finished(`{ rounds: 1, roundMs: 0, steps: 1 }`);
    const env = environment(async (text, variables) => {
      const response = await post(text, variables);
      response.data.task.progress.id = response.data.task.id; // what a server without global ids would do
      return response;
    }, []);
    messages.length = 0;
    await capturing(() => fetchQuery(env, query, { id }).toPromise());
    expect(messages.join("\n")).toMatch(/conflicting types `Task` and `Progress`/);
  });
});
