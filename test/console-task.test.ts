// A task's page in a real browser (Debian's chromium, headless, through playwright-core): the flow
// view (elkjs layout, React Flow), the log view and the history, all live. A failing flow shows
// its failed step as failed; Rerun from the step's menu (after a confirmation) brings the task to
// SUCCEEDED without a reload; the log view has a tab per attempt with the failed attempt's ERROR
// line and its stack folded; the history names the rerun and its actor. No request leaves the
// server. Screenshots go to test/artifacts/; with TASKGRAPH_DOCS_SCREENSHOTS=1 the flow view's is
// also written to docs/console-flow.png (the README's).
import { mkdirSync } from "node:fs";
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestTaskOn } from "./support/cli";
import { startTestApp, type TestApp } from "./support/app";
import { chromiumPath, launchChromium, watchedPage, type WatchedPage } from "./support/chromium";
import { buildConsoleOnce, expectClean, mark, stillMarked } from "./support/console-browser";
import { storeKind } from "./support/db";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const DOCS_SHOT = new URL("../docs/console-flow.png", import.meta.url);
const hasChromium = chromiumPath() !== undefined;
const onPglite = storeKind === "pglite";
if (!hasChromium) console.warn("console task-page browser tests SKIPPED: no `chromium` on PATH (apt-get install -y chromium; .ci/run installs it)");
if (!onPglite) console.warn("console task-page tests skipped on PostgreSQL: the console is a client of the API only; they run in the PGlite run");

let app: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!onPglite || !hasChromium) return;
  await buildConsoleOnce(); // one build at a time across the console test files
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  const { url } = await app.start(0);
  origin = new URL(url).origin;
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function open(path: string): Promise<WatchedPage> {
  const watched = await watchedPage(browser!, origin);
  await watched.page.setViewportSize({ width: 1000, height: 900 });
  await watched.page.goto(`${origin}${path}`);
  return watched;
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`console-${name}.png`, ARTIFACTS).pathname, fullPage: true });
const taskState = (page: Page) => page.locator("header.task-head .state").textContent();
const stepNode = (page: Page, key: string) => page.locator(`.step-node[data-step="${key}"]`);
const stepState = (page: Page, key: string) => stepNode(page, key).getAttribute("data-state");
const borderColor = (page: Page, key: string) => stepNode(page, key).evaluate((el) => getComputedStyle(el).borderTopColor);

const createTestTask = (input: Record<string, unknown>) => createTestTaskOn(app, input);

describe.skipIf(!onPglite || !hasChromium)("a task's page in Chromium: flow, logs, history", () => {
  test("a failing flow: the failed step shows as failed, Rerun from its menu → SUCCEEDED without a reload; a log tab per attempt with the stack folded; the rerun in the history with its actor", async () => {
    // Three steps of 3 rounds; round 5 (the second step's second round) fails on the first attempt.
    const id = await createTestTask({ rounds: 3, roundMs: 150, steps: 3, failAtRound: 5 });
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await mark(page);

    // The flow view is the first view of a task with steps; it follows the run live.
    const flow = page.getByRole("region", { name: "Flow view" });
    await expect.poll(() => flow.isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => page.locator(".step-node").count()).toBe(3);
    await expect.poll(() => stepState(page, "step-2"), { timeout: 15_000 }).toBe("failed");
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("FAILED");
    expect(await stepState(page, "step-1")).toBe("succeeded");
    expect(await stepState(page, "step-3")).toBe("waiting");
    // Laid out left to right, in flow order.
    const xs = await Promise.all(["step-1", "step-2", "step-3"].map(async (key) => (await stepNode(page, key).boundingBox())!.x));
    expect(xs[0]).toBeLessThan(xs[1]!);
    expect(xs[1]).toBeLessThan(xs[2]!);
    // Coloured by state: the failed step's colour is neither the succeeded one's nor the waiting one's.
    const colours = { failed: await borderColor(page, "step-2"), succeeded: await borderColor(page, "step-1"), waiting: await borderColor(page, "step-3") };
    expect(new Set(Object.values(colours)).size).toBe(3);
    // The failed step's bar stopped where it failed (2 of 3 rounds).
    expect(await stepNode(page, "step-2").getByRole("progressbar").evaluate((el) => [(el as HTMLProgressElement).value, (el as HTMLProgressElement).max])).toEqual([2, 3]);
    // Zoom, pan and fit-view controls.
    for (const name of ["Zoom In", "Zoom Out", "Fit View"]) expect(await flow.getByRole("button", { name }).count()).toBe(1);
    // The reader's zoom stays while the steps change state (the view is fitted again only when the set of steps changes).
    const viewport = () => flow.locator(".react-flow__viewport").getAttribute("style");
    const fitted = await viewport();
    await flow.getByRole("button", { name: "Zoom Out" }).click();
    await expect.poll(viewport).not.toBe(fitted);
    await page.waitForTimeout(500); // the zoom's animation
    const zoomed = await viewport();

    // A menu only where the step allows something; exactly its actions.
    expect(await page.getByRole("button", { name: "Actions for step-1" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Actions for step-3" }).count()).toBe(0);
    await page.getByRole("button", { name: "Actions for step-2" }).click();
    const menu = page.getByRole("menu", { name: "Actions for step-2" });
    await expect.poll(() => menu.isVisible()).toBe(true);
    expect(await menu.getByRole("menuitem").allTextContents()).toEqual(["Rerun", "Set to successful"]);
    // The keyboard (WAI-ARIA menu): focus on the first item, arrows move and wrap, Home/End go to
    // the ends, Esc closes the menu and gives the focus back to the step's menu button.
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? null);
    await expect.poll(focused).toBe("Rerun");
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toBe("Set to successful");
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toBe("Rerun");
    await page.keyboard.press("ArrowUp");
    expect(await focused()).toBe("Set to successful");
    await page.keyboard.press("Home");
    expect(await focused()).toBe("Rerun");
    await page.keyboard.press("End");
    expect(await focused()).toBe("Set to successful");
    await page.keyboard.press("Escape");
    await expect.poll(() => menu.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Actions for step-2");
    expect(new URL(page.url()).pathname).toBe(`/tasks/${id}`); // Esc closed the menu, not the page
    await page.keyboard.press("Enter");
    await expect.poll(() => menu.isVisible()).toBe(true);
    await shot(page, "flow-failed");
    const docs = process.env.TASKGRAPH_DOCS_SCREENSHOTS === "1";
    await page.locator(".task-views").screenshot({ path: new URL("console-flow.png", ARTIFACTS).pathname });
    if (docs) await page.locator(".task-views").screenshot({ path: DOCS_SHOT.pathname });

    // Rerun: a confirmation says what will happen, then the flow runs on, live.
    await menu.getByRole("menuitem", { name: "Rerun" }).click();
    const dialog = page.getByRole("dialog", { name: "Rerun step step-2?" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain("rolled back");
    await dialog.getByRole("button", { name: "Rerun" }).click();
    await expect.poll(() => taskState(page), { timeout: 20_000 }).toBe("SUCCEEDED");
    for (const key of ["step-1", "step-2", "step-3"]) await expect.poll(() => stepState(page, key), { timeout: 5_000 }).toBe("succeeded");
    expect(await viewport()).toBe(zoomed);
    expect(await page.locator(".step-menu-button").count()).toBe(0);
    await shot(page, "flow-rerun-succeeded");

    // The log view: a tab per attempt, as the API reports them.
    await page.getByRole("tab", { name: "Logs" }).click();
    const logTabs = page.getByRole("tablist", { name: "Log of" }).getByRole("tab");
    await expect
      .poll(() => logTabs.allTextContents())
      .toEqual(["All", "Task", "step-1 #1 execute", "step-2 #1 execute", "step-2 #2 rollback", "step-2 #3 retry", "step-3 #1 execute"]);
    const attempts = await app.gql(`query ($id: ID!) { task(id: $id) { flow { nodes { key attempts { number kind } } } } }`, { id });
    const fromApi = attempts.data!.task.flow.nodes.flatMap((n: { key: string; attempts: { number: number; kind: string }[] }) =>
      n.attempts.map((a) => `${n.key} #${a.number} ${a.kind.toLowerCase()}`),
    );
    expect(await logTabs.allTextContents()).toEqual(["All", "Task", ...fromApi]);

    await page.getByRole("tab", { name: "step-2 #1 execute" }).click();
    const log = page.getByRole("log", { name: "Log: step-2 #1 execute" });
    const error = log.locator(".log-line[data-level=ERROR]");
    await expect.poll(() => error.count()).toBe(1);
    expect(await error.locator(".log-text").textContent()).toContain("Failed at round 5, as asked (failAtRound)");
    // The stack is folded: a disclosure, closed, its text hidden until unfolded.
    const stack = error.locator("details.log-stack");
    expect(await stack.evaluate((el) => (el as HTMLDetailsElement).open)).toBe(false);
    expect(await stack.locator("pre").isVisible()).toBe(false);
    await stack.locator("summary").click();
    await expect.poll(() => stack.locator("pre").isVisible()).toBe(true);
    expect(await stack.locator("pre").textContent()).toContain("countRounds");
    await shot(page, "log-attempt");

    // The rollback attempt's own line; the level filter narrows "All" to the ERROR line.
    await page.getByRole("tab", { name: "step-2 #2 rollback" }).click();
    await expect.poll(() => page.getByRole("log", { name: "Log: step-2 #2 rollback" }).locator(".log-text").allTextContents()).toEqual(["Rolled back step 2"]);
    await page.getByRole("tab", { name: "All" }).click();
    await page.getByLabel("Lowest level shown").selectOption("ERROR");
    await expect.poll(() => page.getByRole("log", { name: "Log: All" }).locator(".log-line").evaluateAll((els) => els.map((el) => el.getAttribute("data-level")))).toEqual(["ERROR"]);

    // The history: the rerun, by `local` (the protected mode's local ADMIN).
    await page.getByRole("tab", { name: "History" }).click();
    const timeline = page.getByRole("list", { name: "History" });
    const rerun = timeline.locator("li", { hasText: "step step-2 rerun by local" });
    await expect.poll(() => rerun.count()).toBe(1);
    expect(await rerun.locator(".actor").textContent()).toBe("USER local");
    expect(await rerun.locator(".event-what").textContent()).toBe("step step-2 rerun by local: rolling back first (attempt 2, rollback)");
    const sentences = await timeline.locator(".event-what").allTextContents();
    expect(sentences).toEqual(
      expect.arrayContaining([
        "created by local (QUEUED)",
        "step step-2 failed (attempt 1): Failed at round 5, as asked (failAtRound)",
        "resumed by local after the failure (FAILED → RUNNING)",
        "step step-2 runs again (attempt 3, retry)",
        "succeeded",
      ]),
    );
    // Live to the end: the last event shown is the task's success.
    expect(sentences.at(-1)).toBe("succeeded");
    await shot(page, "history");

    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("live without a reload: a rerun made elsewhere appends the rollback's log line and the new attempts' tabs to the open log view; a running step's menu offers Terminate only, and it fails the task", async () => {
    const id = await createTestTask({ rounds: 2, roundMs: 100, steps: 2, failAtRound: 3 });
    await expect.poll(async () => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state, { timeout: 15_000 }).toBe("FAILED");
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await mark(page);
    await page.getByRole("tab", { name: "Logs" }).click();
    const all = page.getByRole("log", { name: "Log: All" });
    await expect.poll(() => all.locator(".log-text").allTextContents()).toEqual(["Failed at round 3, as asked (failAtRound)"]);
    const logTabs = page.getByRole("tablist", { name: "Log of" }).getByRole("tab");
    expect(await logTabs.allTextContents()).toEqual(["All", "Task", "step-1 #1 execute", "step-2 #1 execute"]);

    // Rerun through the API (another client): the page hears of it by its subscription only.
    expect((await app.gql(`mutation ($id: ID!) { rerunStep(taskId: $id, stepKey: "step-2") { state } }`, { id })).errors).toBeUndefined();
    await expect
      .poll(() => all.locator(".log-text").allTextContents(), { timeout: 15_000 })
      .toEqual(["Failed at round 3, as asked (failAtRound)", "Rolled back step 2"]);
    await expect.poll(() => logTabs.allTextContents(), { timeout: 10_000 }).toEqual(["All", "Task", "step-1 #1 execute", "step-2 #1 execute", "step-2 #2 rollback", "step-2 #3 retry"]);
    await expect.poll(() => taskState(page), { timeout: 15_000 }).toBe("SUCCEEDED");
    await page.getByRole("tab", { name: "History" }).click();
    await expect.poll(() => page.getByRole("list", { name: "History" }).locator(".event-what").last().textContent()).toBe("succeeded");

    // A running step: its menu has Terminate only; confirmed, the step and the task fail.
    const running = await createTestTask({ rounds: 200, roundMs: 100, steps: 2 });
    await page.goto(`${origin}/tasks/${running}`);
    await expect.poll(() => stepState(page, "step-1"), { timeout: 10_000 }).toBe("running");
    // Its bar moves, live.
    const bar = stepNode(page, "step-1").getByRole("progressbar");
    const first = await bar.evaluate((el) => (el as HTMLProgressElement).value);
    await expect.poll(() => bar.evaluate((el) => (el as HTMLProgressElement).value), { timeout: 10_000 }).toBeGreaterThan(first);
    await page.getByRole("button", { name: "Actions for step-1" }).click();
    const menu = page.getByRole("menu", { name: "Actions for step-1" });
    await expect.poll(() => menu.getByRole("menuitem").allTextContents()).toEqual(["Terminate"]);
    await menu.getByRole("menuitem", { name: "Terminate" }).click();
    const dialog = page.getByRole("dialog", { name: "Terminate step step-1?" });
    expect(await dialog.textContent()).toContain("marked FAILED");
    await dialog.getByRole("button", { name: "Terminate" }).click();
    await expect.poll(() => stepState(page, "step-1"), { timeout: 10_000 }).toBe("failed");
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("FAILED");
    // Now it may be rerun or set to successful.
    await page.getByRole("button", { name: "Actions for step-1" }).click();
    await expect.poll(() => page.getByRole("menu", { name: "Actions for step-1" }).getByRole("menuitem").allTextContents()).toEqual(["Rerun", "Set to successful"]);
    await shot(page, "flow-terminated");
    await page.emulateMedia({ colorScheme: "dark" });
    await shot(page, "flow-terminated-dark");
    expect(await stillMarked(page)).toBe(false); // page.goto above: a new document
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("children as a tree: node tasks with their node, live to the end; succeeded internal tasks folded, shown on request; branches fold", async () => {
    const id = await createTestTask({ children: 2, rounds: 4, roundMs: 150 });
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await mark(page);
    const tree = page.getByRole("table", { name: "Children tree" });
    const names = () => tree.locator("tbody td.tree-name a").allTextContents();
    await expect.poll(names, { timeout: 10_000 }).toEqual(expect.arrayContaining(["Count on node-1", "Count on node-2"]));
    await expect.poll(() => taskState(page), { timeout: 20_000 }).toBe("SUCCEEDED");
    // Done: the internal grandchildren are folded into their parents.
    await expect.poll(names, { timeout: 10_000 }).toEqual(["Count on node-1", "Count on node-2"]).catch(async (e) => {
      throw new Error(`${e.message}\nthe tree shows:\n${await tree.locator("tbody").innerText()}\npage errors: ${JSON.stringify(watched.errors)}`);
    });
    const row = (name: string) => tree.locator("tbody tr", { has: page.getByRole("link", { name, exact: true }) });
    expect(await row("Count on node-2").locator("td").nth(1).textContent()).toBe("node-2");
    expect(await row("Count on node-2").locator(".state").textContent()).toBe("SUCCEEDED");
    await page.getByLabel("Show folded internal tasks").check();
    await expect.poll(names).toEqual(["Count on node-1", "Internal count on node-1", "Count on node-2", "Internal count on node-2"]);
    expect(await row("Internal count on node-1").getAttribute("aria-level")).toBe("2");
    expect(await row("Internal count on node-1").locator("td").first().textContent()).toContain("(internal)");
    await page.getByRole("button", { name: "Fold Count on node-1" }).click();
    await expect.poll(names).toEqual(["Count on node-1", "Count on node-2", "Internal count on node-2"]);
    await shot(page, "children-tree");
    // A task without steps opens on its log view, and has no Flow tab.
    expect(await page.getByRole("tab", { name: "Logs" }).getAttribute("aria-selected")).toBe("true");
    expect(await page.getByRole("tab", { name: "Flow" }).count()).toBe(0);
    expect(await stillMarked(page)).toBe(true);
    // The view is in the URL: a reload shows the same one.
    await page.getByRole("tab", { name: "History" }).click();
    await expect.poll(() => new URL(page.url()).search).toBe("?view=history");
    await page.reload();
    await expect.poll(() => page.getByRole("tab", { name: "History" }).getAttribute("aria-selected")).toBe("true");
    expect(await page.getByRole("list", { name: "History" }).locator(".event-what").last().textContent()).toBe("succeeded");
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("the create form's policy fields: a flow whose step fails once shows when it is retried, then succeeds; the history says the system retried it", async () => {
    const watched = await open("/new");
    const { page } = watched;
    await page.getByLabel("Rounds").fill("1");
    await page.getByLabel("Round length (ms)").fill("0");
    await page.getByLabel("Steps (optional)").fill("2");
    await page.getByLabel("Fail at round (optional)").fill("1");
    await page.getByLabel("Priority (optional)").fill("5");
    await page.getByLabel("Exclusive key (optional)").fill("broker-7");
    await page.getByLabel("Time limit (ms, optional)").fill("60000");
    await page.getByLabel("Attempts with automatic retries (optional)").fill("3");
    // A pause long enough for a loaded machine's page to show the step waiting for its retry.
    await page.getByLabel("First pause (ms)").fill("8000");
    await page.getByLabel("Same pause every time").check();
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await mark(page);
    const id = new URL(page.url()).pathname.split("/").pop()!;
    const stored = await app.gql(`query ($id: ID!) { task(id: $id) { priority exclusiveKey timeoutMs retryPolicy { attempts backoff backoffMs } } }`, { id });
    expect(stored.data!.task).toEqual({ priority: 5, exclusiveKey: "broker-7", timeoutMs: 60_000, retryPolicy: { attempts: 3, backoff: "FIXED", backoffMs: 8000 } });
    await expect.poll(() => page.getByText("3 attempts in all, fixed backoff from 8000 ms").count(), { timeout: 10_000 }).toBe(1);

    // While the step waits for its retry it shows as failed, with the time of its next attempt.
    await expect.poll(() => stepNode(page, "step-1").locator(".step-node-retry").textContent(), { timeout: 10_000 }).toMatch(/^retry at /);
    expect(await stepState(page, "step-1")).toBe("failed");
    expect(await taskState(page)).toBe("RUNNING");
    await expect.poll(() => taskState(page), { timeout: 30_000 }).toBe("SUCCEEDED");
    expect(await stepNode(page, "step-1").locator(".step-node-retry").count()).toBe(0);
    await page.getByRole("tab", { name: "History" }).click();
    const timeline = page.getByRole("list", { name: "History" });
    await expect.poll(() => timeline.textContent(), { timeout: 10_000 }).toMatch(/step step-1 failed \(attempt 1\): Failed at round 1, as asked \(failAtRound\); automatic retry at /);
    expect(await timeline.textContent()).toMatch(/step step-1 retried automatically \(attempt 2, retry\)/);
    expectClean(watched);
    await page.context().close();
  }, 90_000);

  test("a long history: the newest page first, older pages on request, down to the task's creation", async () => {
    const id = await createTestTask({ steps: 40, rounds: 1, roundMs: 0 });
    await expect.poll(async () => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state, { timeout: 20_000 }).toBe("SUCCEEDED");
    const all = await app.gql(`query ($id: ID!) { task(id: $id) { events(first: 500) { edges { node { id } } } } }`, { id });
    const total = all.data!.task.events.edges.length;
    expect(total).toBeGreaterThan(100);
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await expect.poll(() => page.locator(".step-node").count(), { timeout: 10_000 }).toBe(40);
    await shot(page, "flow-40-steps");
    await page.getByRole("tab", { name: "History" }).click();
    await page.getByLabel("Show progress and log lines").check();
    const items = page.getByRole("list", { name: "History" }).locator("li");
    await expect.poll(() => items.count()).toBe(100);
    expect(await items.last().locator(".event-what").textContent()).toBe("succeeded");
    while (await page.getByRole("button", { name: "Load older events" }).count()) {
      await page.getByRole("button", { name: "Load older events" }).click();
      await expect.poll(async () => (await page.getByRole("button", { name: "Load older events" }).count()) === 0 || (await items.count()) % 100 === 0).toBe(true);
    }
    await expect.poll(() => items.count()).toBe(total);
    expect(await items.first().locator(".event-what").textContent()).toBe("created by local (QUEUED)");
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("a history that keeps growing live keeps the newest 500 events in the page; the dropped ones come back a page at a time on request", async () => {
    const id = await createTestTask({ rounds: 1, roundMs: 0 });
    await expect.poll(async () => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state, { timeout: 10_000 }).toBe("SUCCEEDED");
    const watched = await open(`/tasks/${id}?view=history`);
    const { page } = watched;
    await mark(page);
    await page.getByLabel("Show progress and log lines").check();
    const items = page.getByRole("list", { name: "History" }).locator("li");
    await expect.poll(() => items.last().locator(".event-what").textContent()).toBe("succeeded");
    const before = await items.count();
    expect(await page.getByRole("button", { name: "Load older events" }).count()).toBe(0);
    for (let i = 1; i <= 600; i++) await app.store.appendLog(id, { level: "INFO", message: `live ${i}` });
    await expect.poll(() => items.last().locator(".event-what").textContent(), { timeout: 20_000 }).toBe("INFO line: live 600");
    expect(await items.count()).toBe(500);
    expect(await items.first().locator(".event-what").textContent()).toBe("INFO line: live 101");
    // What was dropped comes back on request, the page before the oldest shown.
    await page.getByRole("button", { name: "Load older events" }).click();
    await expect.poll(() => items.count()).toBe(600);
    expect(await items.first().locator(".event-what").textContent()).toBe("INFO line: live 1");
    await page.getByRole("button", { name: "Load older events" }).click();
    await expect.poll(() => items.count()).toBe(600 + before);
    expect(await items.first().locator(".event-what").textContent()).toBe("created by local (QUEUED)");
    expect(await page.getByRole("button", { name: "Load older events" }).count()).toBe(0);
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("the log view: the newest 200 lines, older ones on request; the live tail scrolls along at the bottom, not when the reader scrolled up; a live error's stack is fetched when unfolded", async () => {
    const id = await createTestTask({ rounds: 1, roundMs: 0 });
    await expect.poll(async () => (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data!.task.state, { timeout: 10_000 }).toBe("SUCCEEDED");
    for (let i = 1; i <= 230; i++) await app.store.appendLog(id, { level: "INFO", message: `line ${i}` });
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await mark(page);
    const log = page.getByRole("log", { name: "Log: All" });
    const texts = () => log.locator(".log-text").allTextContents();
    await expect.poll(async () => (await texts()).length).toBe(200);
    expect((await texts())[0]).toBe("line 31");
    const atBottom = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4);
    expect(await atBottom()).toBe(true);
    await log.getByRole("button", { name: "Load older lines" }).click();
    await expect.poll(async () => (await texts()).length).toBe(230);
    expect((await texts())[0]).toBe("line 1");
    expect(await log.getByRole("button", { name: "Load older lines" }).count()).toBe(0);

    // Live, at the bottom: followed.
    await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await app.store.appendLog(id, { level: "WARN", message: "line 231" });
    await expect.poll(async () => (await texts()).at(-1)).toBe("line 231");
    await expect.poll(atBottom).toBe(true);
    // Scrolled up: the view stays; a button counts the new lines.
    await log.evaluate((el) => (el.scrollTop = 0));
    await app.store.appendLog(id, { level: "ERROR", message: "line 232", stack: "Error: line 232\n    at somewhere (src/x.ts:1:1)" });
    await expect.poll(async () => (await texts()).at(-1)).toBe("line 232");
    expect(await log.evaluate((el) => el.scrollTop)).toBe(0);
    const unseen = page.getByRole("button", { name: "1 new line ↓" });
    await expect.poll(() => unseen.count()).toBe(1);
    await unseen.click();
    await expect.poll(atBottom).toBe(true);
    // The live error line's stack: folded, fetched when unfolded.
    const stack = log.locator(".log-line[data-level=ERROR] details.log-stack");
    expect(await stack.evaluate((el) => (el as HTMLDetailsElement).open)).toBe(false);
    await stack.locator("summary").click();
    await expect.poll(() => stack.locator("pre").textContent()).toContain("at somewhere (src/x.ts:1:1)");
    // The level filter applies to live lines too.
    await page.getByLabel("Lowest level shown").selectOption("WARN");
    await expect.poll(texts).toEqual(["line 231", "line 232"]);
    await app.store.appendLog(id, { level: "INFO", message: "line 233" });
    await app.store.appendLog(id, { level: "WARN", message: "line 234" });
    await expect.poll(texts).toEqual(["line 231", "line 232", "line 234"]);
    await shot(page, "log-live");
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 90_000);
  test("away longer than the journal keeps (CURSOR_EXPIRED): the task's page loads its views again, says it resynchronised, and follows the task to its end", async () => {
    const id = await createTestTask({ rounds: 40, roundMs: 150, steps: 2 });
    const sockets: WebSocketRoute[] = [];
    const watched = await watchedPage(browser!, origin);
    const { page } = watched;
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.routeWebSocket(/\/graphql$/, (socket) => {
      sockets.push(socket);
      socket.connectToServer();
    });
    await page.goto(`${origin}/tasks/${id}?view=history`);
    await mark(page);
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("RUNNING");
    await expect.poll(() => page.getByRole("list", { name: "History" }).locator("li").count()).toBeGreaterThan(1);
    // As if a week passed offline: the journal is pruned past the feeds' cursors, then the connection drops.
    expect(await app.store.pruneJournal(Date.now() + 8 * 24 * 3_600_000)).toBeGreaterThan(0);
    await sockets[0]!.close({ code: 1012, reason: "restart" });
    const resynced = page.getByRole("status").filter({ hasText: "Resynchronised" });
    await expect.poll(() => resynced.count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator(".error-note").count()).toBe(0);
    // Live again: the task's end arrives without a reload, in the history too.
    await expect.poll(() => taskState(page), { timeout: 30_000 }).toBe("SUCCEEDED");
    await expect.poll(() => page.getByRole("list", { name: "History" }).locator(".event-what").last().textContent(), { timeout: 10_000 }).toBe("succeeded");
    expect(await stillMarked(page)).toBe(true);
    await shot(page, "resynced");
    expectClean(watched);
    await page.context().close();
  }, 90_000);
});
