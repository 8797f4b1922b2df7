// The console's Scheduled tab in a real browser (Debian's chromium through playwright-core): the
// recurring schedules' next runs (the API's upcomingRuns) or PAUSED, above the one-off tasks that
// wait for their runAt; Pause and Resume; the next runs move on once the earliest has passed; a
// VIEWER sees no button. A client of the API only, so it runs once, on the embedded store.
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createApiToken } from "../src/store/tokens";
import { startTestApp, type TestApp } from "./support/app";
import { chromiumPath, launchChromium, watchedPage } from "./support/chromium";
import { buildConsoleOnce, expectClean } from "./support/console-browser";
import { storeKind } from "./support/db";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const enabled = chromiumPath() !== undefined && storeKind === "pglite";
if (!enabled) console.warn("console schedule tests SKIPPED: they need `chromium` on PATH and run in the PGlite run (the console is a client of the API only)");

let app: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!enabled) return;
  await buildConsoleOnce();
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  origin = new URL((await app.start(0)).url).origin;
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function createSchedule(input: Record<string, unknown>): Promise<{ id: string; upcomingRuns: string[] }> {
  const result = await app.gql(`mutation ($input: CreateScheduleInput!) { createSchedule(input: $input) { id upcomingRuns(count: 3) } }`, {
    input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0 }, ...input },
  });
  expect(result.errors).toBeUndefined();
  return result.data!.createSchedule;
}

const scheduleRow = (page: Page, id: string) => page.locator(`table.schedules-table tr[data-schedule="${id}"]`);
/** The next runs a row shows, as the exact times of their `title`. */
const shownRuns = (page: Page, id: string) => scheduleRow(page, id).locator("td.next-runs time").evaluateAll((times) => times.map((t) => t.getAttribute("datetime")));

test.skipIf(!enabled)("the Scheduled tab shows each schedule's next runs or PAUSED, and the one-off runAt tasks; Pause/Resume; the runs move on by themselves", { timeout: 60_000 }, async () => {
  const nightly = await createSchedule({ name: "nightly compaction", cron: "0 2 * * *", timeZone: "Europe/Berlin", catchUp: true });
  const paused = await createSchedule({ name: "weekly report", cron: "0 9 * * MON", enabled: false });
  const fast = await createSchedule({ name: "heartbeat", everySeconds: 3 });
  const oneOff = await app.gql(`mutation { startTask(input: { module: "test", type: "count", name: "one-off later", input: { rounds: 1 }, runAt: "2099-01-01T00:00:00Z" }) { id } }`);
  const oneOffId = oneOff.data!.startTask.id as string;

  const watched = await watchedPage(browser!, origin);
  const { page } = watched;
  await page.goto(`${origin}/?tab=scheduled`);
  const table = page.getByRole("table", { name: "Recurring schedules" });
  await expect.poll(() => table.isVisible()).toBe(true);
  const nightlyRow = scheduleRow(page, nightly.id);
  expect(await nightlyRow.locator("td").nth(0).textContent()).toBe("nightly compaction");
  expect(await nightlyRow.locator("td").nth(3).textContent()).toBe("cron 0 2 * * * (Europe/Berlin)catch-up");
  expect(await shownRuns(page, nightly.id)).toEqual(nightly.upcomingRuns);
  expect(await scheduleRow(page, paused.id).locator("td.next-runs").textContent()).toBe("PAUSED");
  expect(await scheduleRow(page, fast.id).locator("td").nth(3).textContent()).toBe("every 3 s");
  // The one-off task waits in the tasks table below.
  await expect.poll(() => page.locator(`table.tasks[aria-label="Tasks"] tr[data-task="${oneOffId}"] td.col-name`).textContent()).toBe("one-off later");
  await page.screenshot({ path: new URL("console-schedules.png", ARTIFACTS).pathname, fullPage: true });

  // The earliest next run passes: the row shows the runs after it, without a reload of the page.
  const before = await shownRuns(page, fast.id);
  await expect.poll(async () => (await shownRuns(page, fast.id))[0]! > before[0]!, { timeout: 15_000 }).toBe(true);

  await nightlyRow.getByRole("button", { name: "Pause nightly compaction" }).click();
  await expect.poll(() => nightlyRow.locator("td.next-runs").textContent()).toBe("PAUSED");
  const stored = await app.gql(`query ($id: ID!) { schedule(id: $id) { enabled } }`, { id: nightly.id });
  expect(stored.data!.schedule.enabled).toBe(false);
  await nightlyRow.getByRole("button", { name: "Resume nightly compaction" }).click();
  await expect.poll(() => shownRuns(page, nightly.id)).toEqual(nightly.upcomingRuns);
  expectClean(watched);

  // A VIEWER reads the same, with no button.
  const { secret } = await createApiToken(app.store.prismaForTests, { name: "wall", role: "VIEWER", createdBy: null });
  const viewer = await watchedPage(browser!, origin);
  await viewer.page.goto(`${origin}/?tab=scheduled`);
  await viewer.page.getByLabel(/token/i).first().fill(secret);
  await viewer.page.keyboard.press("Enter");
  const viewerRow = scheduleRow(viewer.page, nightly.id);
  await expect.poll(() => viewerRow.isVisible(), { timeout: 10_000 }).toBe(true);
  expect(await viewerRow.getByRole("button").count()).toBe(0);
});
