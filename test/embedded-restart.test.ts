// The embedded store (PGlite with a real data directory): the server is killed with kill -9 while
// a task runs, then started again on the same directory. Its data directory belongs to one
// process, so the new process knows the old lease is dead and resumes the task at once instead of
// waiting the lease out (30 s by default). Driven through the GraphQL API, like a user would.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { exitOf, killAll, startProcess, type TaskgraphProcess, until } from "./support/processes";

describe("embedded store: kill -9 of the server, then a restart", () => {
  const processes: TaskgraphProcess[] = [];
  let dataDir: string | undefined;

  afterAll(async () => {
    await killAll(processes);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }

  const TASK = `query ($id: ID!) { task(id: $id) { state steps { state progress { completed } attempts { number kind state startedAt } } } }`;

  test("the interrupted task resumes within 2 s of the restart, and then succeeds", { timeout: 120_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), "taskgraph-embedded-"));
    // DATABASE_URL is cleared: this is the embedded store. Lease: the default 30 s.
    const env = { DATABASE_URL: "", TASKGRAPH_DATA_DIR: dataDir, PORT: "0", TASKGRAPH_MIGRATE_ON_START: "true", TASKGRAPH_LEASE_MS: "30000" };
    const first = await startProcess(env);
    processes.push(first);
    const created = await gql(first.name, `mutation { createTestTask(input: { rounds: 40, roundMs: 100, steps: 1 }) { id } }`);
    const id = created.createTestTask.id as string;
    await until("the step runs and made progress", 20_000, async () => {
      const { task } = await gql(first.name, TASK, { id });
      return task.steps[0].state === "RUNNING" && task.steps[0].progress.completed >= 3;
    });
    first.child.kill("SIGKILL");
    expect((await exitOf(first.child)).signal).toBe("SIGKILL");

    const second = await startProcess(env);
    processes.push(second);
    let resumedAt = 0;
    await until("a new attempt of the step runs", 10_000, async () => {
      const { task } = await gql(second.name, TASK, { id });
      const attempt = task.steps[0].attempts.find((a: any) => a.number === 2);
      if (!attempt) return false;
      resumedAt = Date.parse(attempt.startedAt);
      return true;
    }, 50);
    const delay = resumedAt - second.readyAt;
    console.log(`[embedded-restart] the interrupted step's new attempt started ${delay} ms after the restarted server was ready`);
    expect(delay).toBeLessThan(2000);

    await until("the task has succeeded", 20_000, async () => (await gql(second.name, TASK, { id })).task.state === "SUCCEEDED");
    const { task } = await gql(second.name, TASK, { id });
    expect(task.steps[0].attempts.map((a: any) => [a.number, a.kind, a.state])).toEqual([
      [1, "EXECUTE", "FAILED"],
      [2, "RETRY", "SUCCEEDED"],
    ]);
    second.child.kill("SIGTERM");
    expect((await exitOf(second.child)).code).toBe(0);
  });
});
