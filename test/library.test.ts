// The package as an embedding program sees it: a program outside the checkout imports
// `taskgraph` by name (through package.json `exports`) and runs the README's embedding example.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PROJECT_ROOT } from "../src/db/migrator";
import { createServer, createTaskManager, defineTestModule } from "../src/index";
import { openTestDatabase, testConfig } from "./support/db";

/** The README's code block under "Embedding: your own task types". */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(PROJECT_ROOT, "README.md"), "utf8");
  const section = readme.split("## Embedding: your own task types")[1] ?? "";
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README.md has no ts block under 'Embedding: your own task types'");
  return block;
}

describe("the package, imported by name", () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "taskgraph-embed-"));
    await mkdir(join(dir, "node_modules"));
    await symlink(PROJECT_ROOT, join(dir, "node_modules", "taskgraph"), "dir");
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "ops-backend", private: true, type: "module" }));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("the README's embedding example runs its task to SUCCEEDED and serves it over GraphQL", async () => {
    const source = await readmeExample();
    expect(source).toContain('from "taskgraph"');
    await writeFile(join(dir, "example.ts"), source);
    child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "example.ts"], {
      cwd: dir,
      env: { ...process.env, PORT: "0", TASKGRAPH_DATA_DIR: ":memory:", DATABASE_URL: "", REDIS_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const lines: string[] = [];
    let url: string | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      lines.push(line);
      url = /^GraphiQL: (\S+)$/.exec(line)?.[1];
      if (url) break;
    }
    expect(url, `example printed ${JSON.stringify(lines)}; stderr: ${stderr}`).toBeDefined();
    expect(lines).toContain("SUCCEEDED");

    const response = await fetch(url!, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: `{ tasks(filter: { module: "kafka" }) { edges { node { type target state progress { completed total } steps { key state } } } } }`,
      }),
    });
    const body = (await response.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.tasks.edges.map((e: any) => e.node)).toEqual([
      {
        type: "restart-broker",
        target: "broker-3",
        state: "SUCCEEDED",
        progress: { completed: 3, total: 3 },
        steps: [
          { key: "shutdown", state: "SUCCEEDED" },
          { key: "start", state: "SUCCEEDED" },
          { key: "wait-isr", state: "SUCCEEDED" },
        ],
      },
    ]);
    child.kill("SIGTERM");
  }, 60_000);
});

describe("an embedding program's manager", () => {
  test("has no test module unless it asks for it; createTestTask then says how to add it", async () => {
    const db = await openTestDatabase();
    const manager = createTaskManager({ config: testConfig(), db, worker: false });
    const server = await createServer(manager);
    const createTestTask = async () => {
      const response = await server.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `mutation { createTestTask(input: { rounds: 1 }) { id } } ` }),
      });
      return (await response.json()) as any;
    };
    try {
      const refused = await createTestTask();
      expect(refused.data).toBeNull();
      expect(refused.errors[0].extensions.code).toBe("NOT_FOUND");
      expect(refused.errors[0].message).toContain("defineTestModule(manager)");

      defineTestModule(manager);
      const created = await createTestTask();
      expect(created.errors).toBeUndefined();
      expect(created.data.createTestTask.id).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await server.stop();
      await manager.stop();
      await db.close();
    }
  });

  test("keeps running after the server stops: the program owns it", async () => {
    const db = await openTestDatabase();
    const manager = createTaskManager({ config: testConfig(), db });
    try {
      manager.defineTask({ module: "billing", type: "invoice", run: async (ctx) => ({ invoiced: (ctx.input as { n: number }).n }) });
      const server = await createServer(manager);
      await server.start(0);
      await server.stop();
      const task = await manager.startTask({ module: "billing", type: "invoice", input: { n: 2 } });
      expect((await manager.waitForTask(task.id, 10)).result).toEqual({ invoiced: 2 });
    } finally {
      await manager.stop();
      await db.close();
    }
  });
});
