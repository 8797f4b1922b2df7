// The CLI's task commands, run as subprocesses against a real server: filters mapped
// to the API, --json against the API, refusals with the server's code.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { until, useCliServer } from "./support/cli";

const server = useCliServer();
const { cli, createTestTask, stateOf } = server;

const SLOW = { rounds: 200, roundMs: 200 };

describe("task commands", () => {
  test("start --wait, status --json against the API, abort and its refusal, delete, retry", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taskgraph-cli-"));
    await writeFile(join(dir, "input.json"), JSON.stringify({ rounds: 2, roundMs: 50, steps: 2 }));
    const [started, scheduled, notAbortable, abortable, failed] = await Promise.all([
      cli("tasks", "start", "test", "flow", "--input", `@${join(dir, "input.json")}`, "--target", "broker-3", "--label", "env=prod", "--label", "team=ops", "--wait"),
      cli("tasks", "start", "test", "count", "--input", '{"rounds":1}', "--at", "1h", "--json"),
      createTestTask({ ...SLOW, abortable: false }),
      createTestTask(SLOW),
      createTestTask({ rounds: 2, roundMs: 50, steps: 2, failAtRound: 3 }),
    ]);
    expect(started.code).toBe(0);
    const id = started.stdout.split("\n")[0]!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.stdout).toMatch(/step step-2 SUCCEEDED/);
    expect(scheduled.code).toBe(0);
    const scheduledTask = JSON.parse(scheduled.stdout);
    expect(scheduledTask.state).toBe("SCHEDULED");
    expect(new Date(scheduledTask.scheduledFor).getTime()).toBeGreaterThan(Date.now() + 3500_000);

    await until(async () => (await stateOf(failed)) === "FAILED", 15_000, "the flow to fail");
    const [status, statusJson, abortRefused, aborted, deletePending, forced, retried] = await Promise.all([
      cli("tasks", "status", id),
      cli("tasks", "status", id, "--json"),
      cli("tasks", "abort", notAbortable),
      cli("tasks", "abort", abortable, "--rollback"),
      cli("tasks", "delete", scheduledTask.id),
      cli("tasks", "delete", notAbortable, "--force"),
      cli("tasks", "retry", failed),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^state: +SUCCEEDED$/m);
    expect(status.stdout).toMatch(/^target: +broker-3$/m);
    expect(status.stdout).toMatch(/^labels: +env=prod, team=ops$/m);
    expect(status.stdout).toMatch(/^step-2 +Step 2: count 2 round\(s\) +SUCCEEDED/m);
    const api = await server.app.gql("query ($id: ID!) { task(id: $id) { id module { name } type state target labels progress { completed total } steps { key state } } }", { id });
    expect(JSON.parse(statusJson.stdout)).toMatchObject(api.data!.task);

    expect(abortRefused.code).toBe(2);
    expect(abortRefused.stderr).toMatch(/NOT_ABORTABLE/);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(new RegExp(`^${abortable} (RUNNING|CANCELED)$`, "m"));
    expect(deletePending.code).toBe(2);
    expect(deletePending.stderr).toMatch(/TASK_NOT_FINISHED/);
    expect(forced.code).toBe(2); // not abortable: cannot be force-deleted either
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^${failed} (QUEUED|RUNNING)$`, "m"));

    const [waitRetried, waitAborted, unknown] = await Promise.all([
      cli("tasks", "wait", failed, "--quiet"),
      cli("tasks", "wait", abortable, "--quiet"),
      cli("tasks", "status", "00000000-0000-4000-8000-000000000000"),
    ]);
    expect(waitRetried.code).toBe(0);
    expect(waitAborted.code).toBe(125);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);

    const [deleted, forceScheduled] = await Promise.all([cli("tasks", "delete", id, "--json"), cli("tasks", "delete", scheduledTask.id, "--force")]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ deleted: true, deletedIds: [id] });
    expect(forceScheduled.code).toBe(0);
    expect(forceScheduled.stdout).toMatch(/FAILED: its pending work is canceled; delete it again/);
    await server.app.gql("mutation ($id: ID!) { deleteTask(id: $id, force: true) { deleted } }", { id: notAbortable }).catch(() => {});
  }, 60_000);

  test("start with --priority, --exclusive (waiting, or --refuse: CONFLICT, exit 2) and --time-limit; status shows them", async () => {
    const key = `broker-${Date.now()}`;
    const holder = await cli("tasks", "start", "test", "count", "--input", '{"rounds":300,"roundMs":100}', "--exclusive", key, "--priority", "7");
    expect(holder.code).toBe(0);
    const holderId = holder.stdout.trim();
    await until(async () => (await stateOf(holderId)) === "RUNNING", 15_000, "the holder to run");
    const [waiting, refused, limited] = await Promise.all([
      cli("tasks", "start", "test", "count", "--input", '{"rounds":1,"roundMs":0}', "--exclusive", key),
      cli("tasks", "start", "test", "count", "--input", '{"rounds":1,"roundMs":0}', "--exclusive", key, "--refuse"),
      cli("tasks", "start", "test", "count", "--input", '{"rounds":50,"roundMs":100}', "--time-limit", "1s", "--wait"),
    ]);
    expect(waiting.code).toBe(0);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/CONFLICT/);
    expect(refused.stderr).toContain(holderId);
    const [status, waitingStatus] = await Promise.all([cli("tasks", "status", holderId), cli("tasks", "status", waiting.stdout.trim())]);
    expect(status.stdout).toMatch(/^priority: +7$/m);
    expect(status.stdout).toMatch(new RegExp(`^exclusive_key: +${key}$`, "m"));
    expect(waitingStatus.stdout).toMatch(new RegExp(`^blocked_by: +${holderId} `, "m"));
    expect(limited.code).not.toBe(0); // --wait exits non-zero for a FAILED task
    const limitedStatus = await cli("tasks", "status", limited.stdout.split("\n")[0]!);
    expect(limitedStatus.stdout).toMatch(/^error_code: +TIMEOUT$/m);
    expect(limitedStatus.stdout).toMatch(/^time_limit: +1000 ms$/m);
    await cli("tasks", "abort", holderId);
  });

  test("start with --attempts, --backoff and --fixed-backoff retries a failing task automatically; status shows the policy and the count", async () => {
    const input = '{"rounds":1,"roundMs":0,"failAtRound":1,"failAttempts":2}';
    const started = Date.now();
    const retried = await cli("tasks", "start", "test", "count", "--input", input, "--attempts", "3", "--backoff", "0.3", "--fixed-backoff", "--wait");
    expect(retried.code, retried.stderr).toBe(0); // SUCCEEDED on its third attempt
    expect(Date.now() - started).toBeGreaterThanOrEqual(600); // two pauses of 0.3 s
    const status = await cli("tasks", "status", retried.stdout.split("\n")[0]!);
    expect(status.stdout).toMatch(/^retry: +3 attempts, fixed backoff from 300 ms$/m);
    expect(status.stdout).toMatch(/^automatic_retries: +2$/m);
    const misuse = await cli("tasks", "start", "test", "count", "--input", input, "--backoff", "1s");
    expect(misuse.code).not.toBe(0);
    expect(misuse.stderr).toMatch(/--backoff and --fixed-backoff go with --attempts/);
  });

  test("list: filters map to the API's TaskFilter, --ended-since, --interval/--iterations; tree", async () => {
    const started = await server.app.gql<{ a: { id: string }; b: { id: string } }>(
      `mutation {
        a: startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 }, target: "kafka-1", labels: { env: "prod" } }) { id }
        b: startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 }, target: "kafka-2", labels: { env: "dev" } }) { id }
      }`,
    );
    const { a, b } = started.data!;
    const treeId = await createTestTask({ rounds: 1, roundMs: 0, children: 2 });
    await until(async () => (await stateOf(treeId)) === "SUCCEEDED" && (await stateOf(b.id)) === "SUCCEEDED", 15_000, "the tasks to end");
    const cutoff = new Date().toISOString();
    const late = await createTestTask({ rounds: 1, roundMs: 0 });
    await until(async () => (await stateOf(late)) === "SUCCEEDED", 15_000, "the late task");

    const [byLabel, byState, bySearch, internal, endedSince, repeated, table, tree, trees] = await Promise.all([
      cli("tasks", "list", "test", "--label", "env=prod", "--json"),
      cli("tasks", "list", "--state", "succeeded", "--category", "finished", "--since", "1h", "--json", "--limit", "500"),
      cli("tasks", "list", "--search", "kafka-2", "--json"),
      cli("tasks", "list", "--internal", "--type", "count", "--json", "--limit", "500"),
      cli("tasks", "list", "--ended-since", cutoff, "--json"),
      cli("tasks", "list", "--target-prefix", "kafka-", "--interval", "0.2", "--iterations", "2", "--json"),
      cli("tasks", "list", "test", "--target", "kafka-1"),
      cli("tasks", "tree", treeId, "--json"),
      cli("tasks", "tree", "--module", "test", "--limit", "500"),
    ]);
    for (const run of [byLabel, byState, bySearch, internal, endedSince, repeated, table, tree, trees]) expect(run.code).toBe(0);

    const ids = (stdout: string) => JSON.parse(stdout).tasks.map((t: { id: string }) => t.id);
    const apiIds = async (filter: Record<string, unknown>) =>
      (await server.app.gql<{ tasks: { edges: { node: { id: string } }[] } }>("query ($filter: TaskFilter) { tasks(filter: $filter, first: 500) { edges { node { id } } } }", { filter })).data!.tasks.edges.map((e) => e.node.id);
    expect(ids(byLabel.stdout)).toEqual([a.id]);
    expect(ids(byLabel.stdout)).toEqual(await apiIds({ module: "test", labels: { env: "prod" } }));
    expect(ids(byState.stdout)).toEqual(await apiIds({ states: ["SUCCEEDED"], category: "FINISHED" }));
    expect(ids(bySearch.stdout)).toEqual([b.id]);
    const internalList = JSON.parse(internal.stdout);
    expect(internalList.tasks.some((t: { isInternal: boolean }) => t.isInternal)).toBe(true);
    expect(ids(internal.stdout)).toEqual(await apiIds({ includeInternal: true, types: ["count"] }));
    // Tasks of other tests may end after the cutoff too: the late one is in, those that ended before are out.
    const endedList = JSON.parse(endedSince.stdout).tasks as { id: string; endedAt: string }[];
    expect(endedList.map((t) => t.id)).toContain(late);
    expect(endedList.map((t) => t.id).some((id) => [a.id, b.id, treeId].includes(id))).toBe(false);
    expect(endedList.every((t) => t.endedAt >= cutoff)).toBe(true);

    const iterations = repeated.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(iterations).toHaveLength(2);
    expect(iterations[1].tasks.map((t: { id: string }) => t.id).sort()).toEqual([a.id, b.id].sort());

    expect(table.stdout).toMatch(/^id +module +type +kind +scope +state +progress +target +start +end$/m);
    expect(table.stdout).toMatch(new RegExp(`^${a.id} +test +count +NODE +node +SUCCEEDED +100% 1/1 rounds +kafka-1 +\\S+Z +\\S+Z$`, "m"));
    expect(table.stdout).toMatch(/^1 task\(s\)$/m);

    const api = await server.app.gql<{ taskTree: unknown[] }>("query ($id: ID!) { taskTree(id: $id) { id depth state node } }", { id: treeId });
    expect(JSON.parse(tree.stdout).map((t: { id: string; depth: number; state: string; node: string }) => ({ id: t.id, depth: t.depth, state: t.state, node: t.node }))).toEqual(api.data!.taskTree);
    expect(trees.stdout).toMatch(new RegExp(`^${treeId} +test +tree +CLUSTER`, "m"));
    expect(trees.stdout).toMatch(/^ {2}\S+ +test +node-count +NODE +node +SUCCEEDED .* node-1 /m);
  }, 60_000);

  test("list: --category scheduled is its own tab, --started-since, --search by an id prefix", async () => {
    const cutoff = new Date().toISOString();
    const [later, now] = await Promise.all([
      cli("tasks", "start", "test", "count", "--input", '{"rounds":1}', "--at", "1h", "--json"),
      createTestTask({ rounds: 1, roundMs: 0 }),
    ]);
    expect(later.code).toBe(0);
    const scheduled = JSON.parse(later.stdout).id as string;
    await until(async () => (await stateOf(now)) === "SUCCEEDED", 15_000, "the task to end");
    const [scheduledTab, pendingTab, startedSince, byPrefix] = await Promise.all([
      cli("tasks", "list", "--category", "scheduled", "--json", "--limit", "500"),
      cli("tasks", "list", "--category", "pending", "--json", "--limit", "500"),
      cli("tasks", "list", "--started-since", cutoff, "--json", "--limit", "500"),
      cli("tasks", "list", "--search", scheduled.slice(0, 23), "--json"),
    ]);
    for (const run of [scheduledTab, pendingTab, startedSince, byPrefix]) expect(run.code).toBe(0);
    const ids = (stdout: string) => JSON.parse(stdout).tasks.map((t: { id: string }) => t.id) as string[];
    expect(ids(scheduledTab.stdout)).toContain(scheduled);
    expect(ids(pendingTab.stdout)).not.toContain(scheduled);
    expect(ids(startedSince.stdout)).toContain(now);
    expect(ids(startedSince.stdout)).not.toContain(scheduled);
    expect(ids(byPrefix.stdout)).toEqual([scheduled]);
    await server.app.gql("mutation ($id: ID!) { abortTask(id: $id) { id } }", { id: scheduled });
  }, 60_000);
});
