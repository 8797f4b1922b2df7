// The command line client, run as a subprocess against a real server: commands, filters, --json
// against the API, and exit codes.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ESCAPE, spawnCli, until, useCliServer, runCli } from "./support/cli";

const server = useCliServer();
const { cli, createTestTask } = server;

const SLOW = { rounds: 200, roundMs: 200 };

describe("arguments and connection", () => {
  test("help shows examples and exit codes; bad arguments exit 1; no server exits 3; module table and --json", async () => {
    const [help, waitHelp, badState, missing, down, modules, modulesJson] = await Promise.all([
      cli("--help"),
      cli("tasks", "wait", "--help"),
      cli("tasks", "list", "--state", "sleeping"),
      cli("tasks", "wait"),
      runCli("http://127.0.0.1:9/graphql", ["tasks", "modules"]),
      cli("tasks", "modules"),
      cli("tasks", "modules", "--json"),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/123 +wait: the task failed/);
    expect(waitHelp.code).toBe(0);
    expect(waitHelp.stdout).toMatch(/--timeout/);
    expect(waitHelp.stdout).toMatch(/taskgraph tasks wait .*--quiet/);
    expect(waitHelp.stdout).toMatch(/125 +wait: undetermined/);
    expect(badState).toMatchObject({ code: 1 });
    expect(badState.stderr).toMatch(/sleeping is not one of/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing required argument 'id'/);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach taskgraph at http:\/\/127\.0\.0\.1:9\/graphql.*start it with npm start/i);

    expect(modules.code).toBe(0);
    expect(modules.stdout).toMatch(/^module +tasks +scheduled +pending +failed +finished/);
    expect(modules.stdout).toMatch(/^test +\d+/m);
    expect(ESCAPE.test(modules.stdout)).toBe(false);
    const api = await server.app.gql("{ modules { name description lastSequenceNumber totalTasks taskCounts { state count } } }");
    expect(JSON.parse(modulesJson.stdout)).toEqual(api.data!.modules);
  });

  test("types lists the catalogue: each test type, whether a worker serves it, and --json as the API gives it", async () => {
    const [table, json] = await Promise.all([cli("tasks", "types", "test"), cli("tasks", "types", "--json")]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^module +type +kind +flow +abortable +served +description/);
    expect(table.stdout).toMatch(/^test +flow +NODE +yes +depends +yes +/m);
    expect(table.stdout).toMatch(/^test +count +NODE +depends +yes +/m);
    const api = await server.app.gql("{ taskTypes { module { name } name description kind abortable isFlow served inputSchema } }");
    expect(JSON.parse(json.stdout)).toEqual(api.data!.taskTypes);
  });

  test("shell completion lists the commands", async () => {
    const bash = await cli("completion", "bash");
    expect(bash.code).toBe(0);
    expect(bash.stdout).toMatch(/complete -F _taskgraph taskgraph/);
    expect(bash.stdout).toMatch(/"tasks"\|"tasks "\*\) words="modules types list status tree abort wait delete retry ttl user-ttl drain start watch/);
    expect(bash.stdout).toMatch(/"tasks list"\|.*--ended-since/);
  });
});

describe("wait: exit codes, the same with and without --quiet", () => {
  test("0 succeeded, 123 failed, 124 timed out, 125 canceled", async () => {
    const [ok, failed, slow, canceled] = await Promise.all([
      createTestTask({ rounds: 3, roundMs: 100 }),
      createTestTask({ rounds: 3, roundMs: 100, failAtRound: 2 }),
      createTestTask(SLOW),
      createTestTask(SLOW),
    ]);
    const waitCanceled = [spawnCli(server.url, ["tasks", "wait", canceled]), spawnCli(server.url, ["tasks", "wait", canceled, "--quiet"])];
    const runs = await Promise.all([
      cli("tasks", "wait", ok),
      cli("tasks", "wait", ok, "--quiet"),
      cli("tasks", "wait", failed),
      cli("tasks", "wait", failed, "--quiet"),
      cli("tasks", "wait", slow, "--timeout", "1"),
      cli("tasks", "wait", slow, "--timeout", "1", "--quiet"),
      cli("tasks", "wait", ok, "--json"),
    ]);
    // Both waiters have seen the task running before it is aborted.
    await until(() => waitCanceled[0]!.lines.some((l) => l.includes("RUNNING")), 20_000, "the waiter's RUNNING line");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await server.app.gql("mutation ($id: ID!) { abortTask(id: $id) { id } }", { id: canceled })).errors).toBeUndefined();
    const [canceledLoud, canceledQuiet] = await Promise.all(waitCanceled.map((w) => w.exited));
    const [okLoud, okQuiet, failedLoud, failedQuiet, slowLoud, slowQuiet, okJson] = runs;

    expect([okLoud!.code, okQuiet!.code]).toEqual([0, 0]);
    expect(okLoud!.stdout).toMatch(new RegExp(`${ok} Count 3 round\\(s\\) SUCCEEDED`));
    expect(okQuiet!.stdout + okQuiet!.stderr).toBe("");
    expect([failedLoud!.code, failedQuiet!.code]).toEqual([123, 123]);
    expect(failedLoud!.stdout).toMatch(/FAILED Failed at round 2, as asked/);
    expect(failedQuiet!.stdout).toBe("");
    expect([slowLoud!.code, slowQuiet!.code]).toEqual([124, 124]);
    expect(slowLoud!.stderr).toMatch(/timed out after 1 s: task .* is still (QUEUED|RUNNING)/);
    expect(slowQuiet!.stdout + slowQuiet!.stderr).toBe("");
    expect([canceledLoud!.code, canceledQuiet!.code]).toEqual([125, 125]);
    expect(canceledLoud!.stdout).toMatch(/CANCELED/);

    expect(okJson!.code).toBe(0);
    const doc = JSON.parse(okJson!.stdout);
    expect(doc).toMatchObject({ outcome: "SUCCEEDED", exitCode: 0, task: { id: ok, state: "SUCCEEDED", progress: { completed: 3, total: 3 } } });
    for (const run of runs) expect(ESCAPE.test(run!.stdout)).toBe(false);
    await server.app.gql("mutation ($id: ID!) { abortTask(id: $id) { id } }", { id: slow });
  }, 60_000);
});

// Last: the first token ends protected mode for the rest of this server's life.
describe("tokens", () => {
  test("create, list, revoke over the API; 4 unauthenticated; 2 FORBIDDEN for a viewer; --token-file", async () => {
    const admin = await cli("tokens", "create", "ops-admin", "--role", "admin");
    expect(admin.code).toBe(0);
    const secret = admin.stdout.trim();
    expect(secret).toMatch(/^tg_/);
    expect(admin.stderr).toMatch(/shown only now/);

    const dir = await mkdtemp(join(tmpdir(), "taskgraph-cli-"));
    const tokenFile = join(dir, "admin.token");
    await writeFile(tokenFile, `${secret}\n`);
    const [anonymous, viewer, badFile] = await Promise.all([
      cli("tasks", "modules"),
      runCli(server.url, ["tokens", "create", "watcher", "--role", "viewer", "--json"], { TASKGRAPH_TOKEN: secret }),
      cli("--token-file", join(dir, "missing"), "tasks", "modules"),
    ]);
    expect(anonymous.code).toBe(4);
    expect(anonymous.stderr).toMatch(/UNAUTHENTICATED/);
    expect(badFile.code).toBe(1);
    expect(viewer.code).toBe(0);
    const viewerSecret = JSON.parse(viewer.stdout).secret;

    const id = await createTestTask(SLOW).catch(() => null); // protected mode is over: in-process calls still work
    const [list, forbidden, viewerWatch] = await Promise.all([
      cli("--token-file", tokenFile, "tokens", "list"),
      runCli(server.url, ["tasks", "drain"], { TASKGRAPH_TOKEN: viewerSecret }),
      runCli(server.url, ["tasks", "wait", id ?? "00000000-0000-4000-8000-000000000000", "--timeout", "1"], { TASKGRAPH_TOKEN: viewerSecret }),
    ]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ops-admin +ADMIN /m);
    expect(list.stdout).toMatch(/^watcher +VIEWER +\S+ +ops-admin/m);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/FORBIDDEN/);
    if (id) expect(viewerWatch.code).toBe(124); // a viewer may follow tasks over graphql-ws

    const revoked = await cli("--token-file", tokenFile, "tokens", "revoke", "watcher");
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^Revoked "watcher" at /);
    const afterRevoke = await runCli(server.url, ["tasks", "list"], { TASKGRAPH_TOKEN: viewerSecret });
    expect(afterRevoke.code).toBe(4);
    if (id) await server.app.gql("mutation ($id: ID!) { abortTask(id: $id) { id } }", { id }, { token: secret });
  }, 60_000);
});
