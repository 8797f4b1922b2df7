// The CLI's step, log and retention commands, run as subprocesses against a real server.
import { describe, expect, test } from "vitest";
import { spawnCli, until, useCliServer } from "./support/cli";

const server = useCliServer();
const { cli, createTestTask, stateOf } = server;

describe("steps, logs and retention", () => {
  test("steps, logs, ttl, drain", async () => {
    const [markFlow, rerunFlow, runningFlow] = await Promise.all([
      createTestTask({ rounds: 2, roundMs: 50, steps: 2, failAtRound: 3 }),
      createTestTask({ rounds: 20, roundMs: 100, steps: 2, failAtRound: 21 }),
      createTestTask({ rounds: 200, roundMs: 200, steps: 2 }),
    ]);
    await until(async () => (await stateOf(markFlow)) === "FAILED" && (await stateOf(rerunFlow)) === "FAILED", 20_000, "the flows to fail");
    const [marked, rerun, terminated, badStep] = await Promise.all([
      cli("steps", "mark-succeeded", markFlow, "step-2"),
      cli("steps", "rerun", rerunFlow, "step-2"),
      cli("steps", "terminate", runningFlow, "step-1"),
      cli("steps", "rerun", markFlow, "step-1"),
    ]);
    expect(marked.code).toBe(0);
    expect(marked.stdout).toMatch(new RegExp(`^${markFlow} \\w+, step step-2 SKIPPED$`, "m"));
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`^${rerunFlow} RUNNING, step step-2 (ROLLING_BACK|ROLLED_BACK|RUNNING)$`, "m"));
    expect(terminated.code).toBe(0);
    expect(terminated.stdout).toMatch(/step step-1 FAILED/);
    expect(badStep.code).toBe(2);
    expect(badStep.stderr).toMatch(/INVALID_STATE|BAD_USER_INPUT/);

    // The rerun takes 2 s: --follow prints what is there, then ends by itself when the flow has succeeded.
    const followed = await spawnCli(server.url, ["logs", rerunFlow, "--follow"]).exited;
    expect(followed.code).toBe(0);
    expect(await stateOf(rerunFlow)).toBe("SUCCEEDED");
    expect(followed.stdout).toMatch(/ERROR +\[step-2#1\] Failed at round 21/);
    expect(followed.stdout).toMatch(/\[step-2#2\] Rolled back step 2/);

    const [all, errors, attempt2, json, ttl, stacks, searched, attemptAlone] = await Promise.all([
      cli("logs", rerunFlow),
      cli("logs", rerunFlow, "--level", "error"),
      cli("logs", rerunFlow, "--step", "step-2", "--attempt", "2"),
      cli("logs", rerunFlow, "--json"),
      cli("tasks", "ttl"),
      cli("logs", rerunFlow, "--level", "error", "--stack"),
      cli("logs", rerunFlow, "--search", "ROUND 21"),
      cli("logs", rerunFlow, "--attempt", "2"),
    ]);
    const [setTtl, setUserTtl] = await Promise.all([cli("tasks", "ttl", "--set", "2h"), cli("tasks", "user-ttl", "--set", "600", "--json")]);
    expect(all.stdout.trim()).toBe(followed.stdout.trim());
    const entries = (stdout: string) => stdout.split("\n").filter((l) => /^\d{4}-/.test(l)); // a message may span lines
    expect(entries(errors.stdout).length).toBeGreaterThan(0);
    expect(entries(errors.stdout).every((l) => / ERROR /.test(l))).toBe(true);
    expect(entries(all.stdout).some((l) => / INFO /.test(l))).toBe(true);
    expect(entries(attempt2.stdout).length).toBeGreaterThan(0);
    expect(entries(attempt2.stdout).every((l) => /\[step-2#2\]/.test(l))).toBe(true);
    expect(attempt2.stdout).toMatch(/Rolled back step 2/);
    // The stack only with --stack: below its line, indented, code paths relative to the project root.
    expect(errors.stdout).not.toMatch(/^\s+at /m);
    expect(entries(stacks.stdout)).toEqual(entries(errors.stdout));
    expect(stacks.stdout).toMatch(/ERROR +\[step-2#1\] Failed at round 21, as asked \(failAtRound\)\n {4}Error: Failed at round 21.*\n {8}at .*\(src\/modules\/test\.ts:\d+:\d+\)/);
    expect(entries(searched.stdout)).toHaveLength(1);
    expect(searched.stdout).toMatch(/Failed at round 21/);
    expect(attemptAlone.code).toBe(1);
    expect(attemptAlone.stderr).toMatch(/--attempt needs --step/);
    const api = await server.app.gql<{ task: { logs: { edges: { node: unknown }[] } } }>(
      "query ($id: ID!) { task(id: $id) { logs(first: 500) { edges { node { id level message time step { key } attempt { number kind } } } } } }",
      { id: rerunFlow },
    );
    expect(json.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual(api.data!.task.logs.edges.map((e) => e.node));
    expect(ttl).toMatchObject({ code: 0, stdout: "86400\n" });
    expect(setTtl).toMatchObject({ code: 0, stdout: "7200\n" });
    expect(JSON.parse(setUserTtl.stdout).userTaskTtlSeconds).toBe(600);
    expect((await server.app.gql("{ settings { taskTtlSeconds userTaskTtlSeconds } }")).data!.settings).toEqual({ taskTtlSeconds: 7200, userTaskTtlSeconds: 600 });

    const finished = await server.app.gql<{ tasks: { totalCount: number } }>('{ tasks(filter: { module: "test", category: FINISHED, rootsOnly: true }) { totalCount } }');
    const drained = await cli("tasks", "drain", "--module", "test");
    expect(drained.code).toBe(0);
    expect(drained.stdout).toMatch(/^test: \d+ finished task\(s\) removed$/m);
    expect(Number(/(\d+)/.exec(drained.stdout)![1])).toBeGreaterThanOrEqual(finished.data!.tasks.totalCount);
    expect((await server.app.gql('{ tasks(filter: { module: "test", category: FINISHED }) { totalCount } }')).data!.tasks.totalCount).toBe(0);
  }, 90_000);
});
