// Live progress of the CLI: bars redrawn in place in a pseudo-terminal (tmux), one line per change
// in a pipe, NDJSON with --json, and `wait` when the server goes away.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { CLI, createTestTaskOn, ESCAPE, spawnCli, until } from "./support/cli";

const exec = promisify(execFile);
const TMUX_SOCKET = `taskgraph-cli-${process.pid}`;
const tmux = async (...args: string[]) => (await exec("tmux", ["-L", TMUX_SOCKET, ...args])).stdout;

let app: TestApp;
let url: string;

beforeAll(async () => {
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100, leaseMs: 5000 } });
  ({ url } = await app.start(0));
});
afterAll(async () => {
  await tmux("kill-server").catch(() => {});
  await app?.stop();
});


/** Runs `taskgraph ...args` in a 120×30 pseudo-terminal; the screen shows EXIT=<code> when it is done. */
async function inTerminal(name: string, args: string[], env: Record<string, string> = {}) {
  const vars = Object.entries({ TASKGRAPH_URL: url, ...env }).map(([k, v]) => `${k}='${v}'`);
  const command = `env -u NO_COLOR ${vars.join(" ")} '${process.execPath}' '${CLI}' ${args.map((a) => `'${a}'`).join(" ")}; echo EXIT=$?; sleep 120`;
  await tmux("new-session", "-d", "-x", "120", "-y", "30", "-s", name, command);
  return {
    screen: () => tmux("capture-pane", "-p", "-t", name),
    /** The screen with its colours as escape sequences. */
    styled: () => tmux("capture-pane", "-p", "-e", "-t", name),
  };
}

const count = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length;

describe("in a terminal", () => {
  test("watch and start --wait draw a bar per step and per child, redrawn in place, and end with the task", async () => {
    const flow = await createTestTaskOn(app, { rounds: 8, roundMs: 250, steps: 2 });
    const watch = await inTerminal("watch", ["tasks", "watch", flow], { NO_COLOR: "1" });
    const start = await inTerminal("start", ["tasks", "start", "test", "tree", "--input", '{"rounds":6,"roundMs":250,"children":2}', "--wait"]);
    const plain = await inTerminal("plain", ["tasks", "list", "--no-color", "--limit", "3"]);

    // While the flow runs: one line per bar, whatever the number of updates.
    let running = "";
    await until(async () => /RUNNING/.test((running = await watch.screen())) && /[1-9]\d?% /.test(running), 20_000, "a running bar");
    const screens = [running];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      screens.push(await watch.screen());
    }
    for (const screen of screens) {
      expect(count(screen, /^Flow of 2 step\(s\) +[█░]+ +\d+% /)).toBe(1);
      expect(count(screen, /^ {2}step step-1 +[█░]+ +\d+% /)).toBe(1);
      expect(count(screen, /^ {2}step step-2 +[█░]+ +\d+% /)).toBe(1);
    }
    const percents = screens.map((s) => /^Flow of 2 step\(s\) +[█░]+ +(\d+)%/m.exec(s)![1]);
    expect(new Set(percents).size).toBeGreaterThan(1); // the same line shows the progress moving

    let done = "";
    await until(async () => /EXIT=\d+/.test((done = await watch.screen())), 20_000, "watch to end");
    expect(done).toMatch(/EXIT=0/);
    expect(done).toMatch(/^Flow of 2 step\(s\) +█+ +100% SUCCEEDED +2\/2 steps/m);
    expect(done).toMatch(/^ {2}step step-2 +█+ +100% SUCCEEDED/m);
    expect(count(done, /step step-1/)).toBe(1);
    expect(await watch.styled()).not.toMatch(ESCAPE); // NO_COLOR

    let tree = "";
    await until(async () => /EXIT=\d+/.test((tree = await start.screen())), 25_000, "start --wait to end");
    expect(tree).toMatch(/^[0-9a-f-]{36}$/m); // the id, then the bars
    expect(tree).toMatch(/^Tree of 2 node task\(s\) +█+ +100% SUCCEEDED +2\/2 children/m);
    expect(count(tree, /^ {2}node-1 node-count +█+ +100% SUCCEEDED +6\/6 rounds/)).toBe(1);
    expect(count(tree, /^ {2}node-2 node-count +█+ +100% SUCCEEDED +6\/6 rounds/), tree).toBe(1);
    expect(tree).not.toMatch(/RUNNING/); // internal grandchildren, folded once they succeed, leave no stale bar
    expect(tree).toMatch(/EXIT=0/);
    expect(await start.styled()).toMatch(/\x1b\[32mSUCCEEDED/); // coloured on a terminal
    expect(await plain.screen()).toMatch(/^id +module +type .*\n[\s\S]*EXIT=0/m);
    expect(await plain.styled()).not.toMatch(ESCAPE); // --no-color
  }, 60_000);
});

describe("in a pipe", () => {
  test("watch prints one line per state change, no escape codes; watch --module --json streams NDJSON until Ctrl-C", async () => {
    const events = spawnCli(url, ["tasks", "watch", "--module", "test", "--json"]);
    const lines = spawnCli(url, ["tasks", "watch", "--module", "test"]);
    // Both are subscribed once they have reported a task created after they started.
    await until(
      async () => {
        const probe = await createTestTaskOn(app, { rounds: 1, roundMs: 0 });
        const seen = () => events.lines.some((l) => l.includes(probe)) && lines.lines.some((l) => l.includes(probe));
        await until(seen, 1500).catch(() => {});
        return seen();
      },
      30_000,
      "the watchers to subscribe",
    );
    const tree = await createTestTaskOn(app, { rounds: 4, roundMs: 100, children: 2 });
    const watch = await spawnCli(url, ["tasks", "watch", tree]).exited;
    expect(watch.code).toBe(0);
    expect(ESCAPE.test(watch.stdout)).toBe(false);
    const rows = watch.stdout.trim().split("\n");
    expect(rows.at(-1)).toMatch(new RegExp(`^\\S+Z ${tree} Tree of 2 node task\\(s\\) SUCCEEDED$`));
    expect(count(watch.stdout, /node-1 node-count SUCCEEDED$/)).toBe(1);
    // RUNNING once per task at most (internal grandchildren included when caught running), never per progress report.
    const runningIds = rows.filter((row) => row.endsWith(" RUNNING")).map((row) => row.split(" ")[1]);
    expect(runningIds.length).toBe(new Set(runningIds).size);

    await until(() => events.lines.some((l) => l.includes(tree) && l.includes('"to":"SUCCEEDED"')), 10_000, `the tree's end event: ${events.lines.join("\n")}`);
    await until(() => lines.lines.some((l) => l.includes(`${tree} Tree of 2 node task(s) SUCCEEDED`)), 10_000, "the tree's end line");
    events.child.kill("SIGINT");
    lines.child.kill("SIGINT");
    const [ended, endedLines] = await Promise.all([events.exited, lines.exited]);
    expect(ended.code).toBe(0);
    const parsed = ended.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(parsed.filter((e) => e.taskId === tree).map((e) => e.type)).toEqual(expect.arrayContaining(["CREATED", "STATE_CHANGED", "PROGRESSED"]));
    expect(parsed.every((e) => typeof e.cursor === "string" && e.module === "test")).toBe(true);
    expect(endedLines.code).toBe(0);
    expect(ESCAPE.test(endedLines.stdout)).toBe(false);
    expect(endedLines.stdout).not.toMatch(/Internal count/); // internal tasks stay hidden, as in lists
  }, 60_000);

  test("wait exits 125 when the server goes away, with and without --quiet", async () => {
    const other = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 100, leaseMs: 5000 } });
    const { url: otherUrl } = await other.start(0);
    const id = await createTestTaskOn(other, { rounds: 200, roundMs: 200 });
    const loud = spawnCli(otherUrl, ["tasks", "wait", id]);
    const quiet = spawnCli(otherUrl, ["tasks", "wait", id, "--quiet"]);
    await until(() => loud.lines.some((l) => l.includes("RUNNING")), 20_000, "the waiter to see the task running");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await other.stop();
    const [loudEnd, quietEnd] = await Promise.all([loud.exited, quiet.exited]);
    expect([loudEnd.code, quietEnd.code]).toEqual([125, 125]);
    expect(loudEnd.stderr).toMatch(/lost the connection while waiting/);
    expect(quietEnd.stdout).toBe("");
  }, 60_000);
});
