// `taskgraph schedules …` run as a subprocess against a real server with a worker: create (with its
// refusals and exit codes), list, status, pause, resume, delete; --json matches the API.
import { describe, expect, test } from "vitest";
import { until, useCliServer } from "./support/cli";

const server = useCliServer();
const { cli } = server;

describe("schedule commands", () => {
  test("create prints the id and the schedule fires; list and status show it; pause, resume, delete; refusals exit 2 with the server's code, bad arguments 1", async () => {
    const created = await cli("schedules", "create", "test", "count", "--every", "1s", "--input", '{"rounds":1,"roundMs":0}', "--name", "cli heartbeat");
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^Schedule:[0-9a-f-]{36}$/);
    const nightly = await cli("schedules", "create", "test", "count", "--cron", "0 2 * * *", "--tz", "Europe/Berlin", "--catch-up", "--input", '{"rounds":1}', "--json");
    expect(nightly.code).toBe(0);
    const nightlyRow = JSON.parse(nightly.stdout);
    expect(nightlyRow).toMatchObject({ cron: "0 2 * * *", timeZone: "Europe/Berlin", catchUp: true, enabled: true });

    await until(async () => JSON.parse((await cli("schedules", "status", id, "--json")).stdout).lastTask !== null, 10_000, "the first fire");
    const [list, status, statusJson] = await Promise.all([cli("schedules", "list"), cli("schedules", "status", id.slice("Schedule:".length)), cli("schedules", "status", id, "--json")]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id +name +module +type +rule +catch_up +state +next_run +last_run +last_error$/m);
    expect(list.stdout).toMatch(new RegExp(`^${id} +cli heartbeat +test +count +every 1 s +no +enabled `, "m"));
    expect(list.stdout).toMatch(/cron 0 2 \* \* \* \(Europe\/Berlin\) +yes +enabled/);
    expect(status.stdout).toMatch(/^rule: +every 1 s$/m);
    expect(status.stdout).toMatch(/^last_task: +[0-9a-f-]{36} (QUEUED|RUNNING|SUCCEEDED)$/m);
    const api = await server.app.gql("query ($id: ID!) { schedule(id: $id) { id name type everySeconds catchUp enabled } }", { id });
    expect(JSON.parse(statusJson.stdout)).toMatchObject(api.data!.schedule);

    const paused = await cli("schedules", "pause", id);
    expect(paused.stdout.trim()).toBe(`${id} paused`);
    expect((await cli("schedules", "list", "--paused", "--json")).stdout).toContain(id);
    expect(JSON.parse((await cli("schedules", "list", "--enabled", "--json")).stdout).map((s: { id: string }) => s.id)).toEqual([nightlyRow.id]);
    const resumed = await cli("schedules", "resume", id);
    expect(resumed.stdout).toMatch(new RegExp(`^${id} enabled, next run `));

    const [badCron, badZone, unknownType, forbiddenBoth, neither] = await Promise.all([
      cli("schedules", "create", "test", "count", "--cron", "whenever", "--input", '{"rounds":1}'),
      cli("schedules", "create", "test", "count", "--cron", "0 2 * * *", "--tz", "Moon/Base", "--input", '{"rounds":1}'),
      cli("schedules", "create", "test", "nothing", "--every", "60"),
      cli("schedules", "create", "test", "count", "--every", "60", "--cron", "* * * * *"),
      cli("schedules", "create", "test", "count"),
    ]);
    expect([badCron.code, badZone.code, unknownType.code]).toEqual([2, 2, 2]);
    expect(badCron.stderr).toMatch(/BAD_USER_INPUT: cron "whenever" is not a valid cron expression/);
    expect(badZone.stderr).toMatch(/BAD_USER_INPUT: timeZone "Moon\/Base" is not an IANA time zone/);
    expect(unknownType.stderr).toMatch(/NOT_FOUND: Task type test\/nothing is not defined/);
    expect([forbiddenBoth.code, neither.code]).toEqual([1, 1]);
    expect(neither.stderr).toMatch(/exactly one of --cron and --every/);

    const deleted = await cli("schedules", "delete", id);
    expect(deleted.stdout.trim()).toBe(`${id} deleted (the tasks it started stay)`);
    const [gone, again] = await Promise.all([cli("schedules", "status", id), cli("schedules", "delete", id)]);
    expect([gone.code, again.code]).toEqual([2, 2]);
    expect(gone.stderr).toMatch(/NOT_FOUND/);
    await cli("schedules", "delete", nightlyRow.id);
  }, 60_000);
});
