// The console's task list in a real browser (Debian's chromium, headless, through playwright-core):
// tabs with live badges that are the API's taskCounts, a scheduled task moving between tabs, rows
// that leave the view live (leavesFilter), a search and a started-time range that live in the URL,
// bulk actions by selection and by filter with per-task refusals, and a live feed that resumes
// after a lost connection. No page loads anything from another host. Screenshots go to
// test/artifacts/. A client of the API only, so it runs once, on the embedded store.
import { mkdirSync } from "node:fs";
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestTaskOn } from "./support/cli";
import { startTestApp, type TestApp } from "./support/app";
import { chromiumPath, launchChromium, watchedPage, type WatchedPage } from "./support/chromium";
import { buildConsoleOnce, expectClean, mark, stillMarked } from "./support/console-browser";
import { storeKind } from "./support/db";
import { baseFilter, DEFAULT_VIEW, type ListView, parseView, timeBounds, viewFilter, viewToSearch } from "../src/console/app/list/view";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const hasChromium = chromiumPath() !== undefined;
const onPglite = storeKind === "pglite";
if (!hasChromium) console.warn("console list browser tests SKIPPED: no `chromium` on PATH (apt-get install -y chromium; .ci/run installs it)");
if (!onPglite) console.warn("console list tests skipped on PostgreSQL: the console is a client of the API only; they run in the PGlite run");

let app: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!onPglite || !hasChromium) return;
  await buildConsoleOnce();
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

/** A new page at `path`, once its rows are loaded. */
async function open(path: string, before?: (page: Page) => Promise<unknown>): Promise<WatchedPage> {
  const watched = await watchedPage(browser!, origin);
  await before?.(watched.page);
  await watched.page.goto(`${origin}${path}`);
  await expect.poll(() => watched.page.locator("table.tasks").getAttribute("aria-busy")).toBe("false");
  return watched;
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`console-list-${name}.png`, ARTIFACTS).pathname, fullPage: true });
const rowNames = (page: Page) => page.locator("table.tasks tbody td.col-name a").allTextContents();
const row = (page: Page, id: string) => page.locator(`table.tasks tr[data-task="${id}"]`);
/** The state a task's row shows; null while there is no such row. */
const shownState = (page: Page, id: string) => row(page, id).locator(".state").textContent({ timeout: 500 }).catch(() => null);

const createTestTask = (input: Record<string, unknown>) => createTestTaskOn(app, input);

async function startNamed(name: string, rounds: number, roundMs: number, target = "t"): Promise<string> {
  const result = await app.gql(`mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`, {
    input: { module: "test", type: "count", name, target, input: { rounds, roundMs } },
  });
  expect(result.errors).toBeUndefined();
  return result.data!.startTask.id;
}

const stateOf = async (id: string): Promise<string | null> =>
  (await app.gql(`query ($id: ID!) { task(id: $id) { state } }`, { id })).data?.task?.state ?? null;

async function waitForStates(ids: string[], state: string) {
  await expect.poll(async () => (await Promise.all(ids.map(stateOf))).every((s) => s === state), { timeout: 20_000 }).toBe(true);
}

const TAB_LABELS = ["Pending", "Scheduled", "Failed", "Finished", "All"] as const;

/** The badge of each tab, as shown. */
async function shownBadges(page: Page): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const label of TAB_LABELS) {
    const text = await page.getByRole("tab", { name: new RegExp(`^${label}`) }).locator(".badge").textContent({ timeout: 1_000 }).catch(() => null);
    out[label] = text === null ? null : Number(text);
  }
  return out;
}

/** The badges the API's taskCounts gives under `filter`. */
async function apiBadges(filter: Record<string, unknown> = {}): Promise<Record<string, number>> {
  const result = await app.gql(`query ($filter: TaskFilter) { taskCounts(filter: $filter) { total byCategory { category count } } }`, { filter });
  expect(result.errors).toBeUndefined();
  const counts = result.data!.taskCounts as { total: number; byCategory: { category: string; count: number }[] };
  const of = (category: string) => counts.byCategory.find((c) => c.category === category)!.count;
  return { Pending: of("PENDING"), Scheduled: of("SCHEDULED"), Failed: of("FAILED"), Finished: of("FINISHED"), All: counts.total };
}

/** Polls until the page's badges equal the API's counts. */
async function expectBadgesMatchApi(page: Page, filter: Record<string, unknown> = {}) {
  await expect
    .poll(async () => {
      const [shown, api] = await Promise.all([shownBadges(page), apiBadges(filter)]);
      return JSON.stringify(shown) === JSON.stringify(api) ? "equal" : `shown ${JSON.stringify(shown)} api ${JSON.stringify(api)}`;
    }, { timeout: 10_000 })
    .toBe("equal");
}

describe("the list's view in the URL", () => {
  test("every filter round-trips through the query string; defaults are left out; old links still read", () => {
    const view: ListView = {
      ...DEFAULT_VIEW,
      tab: "scheduled",
      modules: ["kafka", "test"],
      search: "broker-7",
      time: "ended",
      range: "custom",
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-30T12:00:00.000Z",
      states: ["FAILED", "CANCELED"],
      kind: "CLUSTER",
      internal: true,
      sort: "STATE",
      dir: "ASC",
      size: 50,
    };
    const query = viewToSearch(view);
    expect(query).toBe(
      "tab=scheduled&module=kafka&module=test&q=broker-7&time=ended&range=custom&from=2026-11-01T00%3A00%3A00.000Z&to=2026-11-30T12%3A00%3A00.000Z&state=failed&state=canceled&kind=cluster&internal=1&sort=state&dir=asc&size=50",
    );
    expect(parseView(query)).toEqual(view);
    expect(viewToSearch(DEFAULT_VIEW)).toBe("");
    expect(parseView("?tab=all&module=kafka&q=x&range=day")).toMatchObject({ tab: "all", modules: ["kafka"], search: "x", time: "created", range: "day" });
    expect(parseView("?state=nope&kind=x&time=y&range=z")).toMatchObject({ states: [], kind: null, time: "created", range: "any" });
    // The filter: the tab adds its category; the range goes to the chosen time field.
    const bounds = timeBounds(view);
    expect(viewFilter(view, bounds)).toEqual({
      modules: ["kafka", "test"],
      search: "broker-7",
      states: ["FAILED", "CANCELED"],
      kind: "CLUSTER",
      includeInternal: true,
      endedAfter: "2026-11-01T00:00:00.000Z",
      endedBefore: "2026-11-30T12:00:00.000Z",
      category: "SCHEDULED",
    });
    expect(baseFilter({ ...DEFAULT_VIEW, time: "started", range: "hour" }, timeBounds({ ...DEFAULT_VIEW, range: "hour" }, Date.parse("2026-11-30T12:00:00Z")))).toEqual({
      startedAfter: "2026-11-30T11:00:00.000Z",
    });
  });
});

describe.skipIf(!onPglite || !hasChromium)("the console's task list in Chromium", () => {
  test("the tabs' badges are the API's taskCounts; a scheduled task waits under Scheduled (not Pending), then moves to Pending and Finished live", async () => {
    const scheduledTab = await open("/?tab=scheduled");
    const pendingTab = await open("/");
    await mark(scheduledTab.page);
    await mark(pendingTab.page);
    const id = await createTestTask({ rounds: 8, roundMs: 300, runAt: new Date(Date.now() + 4_000).toISOString() });

    await expect.poll(() => row(scheduledTab.page, id).count(), { timeout: 10_000 }).toBe(1);
    expect(await row(scheduledTab.page, id).locator(".state").textContent()).toBe("SCHEDULED");
    expect(await stateOf(id)).toBe("SCHEDULED");
    expect(await row(pendingTab.page, id).count()).toBe(0);
    await expectBadgesMatchApi(scheduledTab.page);
    await expectBadgesMatchApi(pendingTab.page);
    expect((await shownBadges(scheduledTab.page)).Scheduled).toBe(1);
    await shot(scheduledTab.page, "scheduled");

    // Its time comes: it leaves Scheduled and appears under Pending, running, without a reload…
    await expect.poll(() => shownState(pendingTab.page, id), { timeout: 15_000 }).toBe("RUNNING");
    await expect.poll(() => row(scheduledTab.page, id).count(), { timeout: 10_000 }).toBe(0);
    await shot(pendingTab.page, "pending");
    // …then it ends, leaves Pending, and the Finished badge takes it in.
    await expect.poll(() => row(pendingTab.page, id).count(), { timeout: 15_000 }).toBe(0);
    expect(await stateOf(id)).toBe("SUCCEEDED");
    await expectBadgesMatchApi(pendingTab.page);
    await expectBadgesMatchApi(scheduledTab.page);
    expect((await shownBadges(pendingTab.page)).Scheduled).toBe(0);
    for (const watched of [scheduledTab, pendingTab]) {
      expect(await stillMarked(watched.page)).toBe(true);
      expectClean(watched);
      await watched.page.context().close();
    }
  }, 60_000);

  test("a task that finishes leaves the Pending tab live (leavesFilter), and the badges follow", async () => {
    const watched = await open("/");
    const { page } = watched;
    await mark(page);
    const id = await createTestTask({ rounds: 6, roundMs: 300 });
    await expect.poll(() => row(page, id).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => row(page, id).locator(".state").textContent(), { timeout: 10_000 }).toBe("RUNNING");
    await expectBadgesMatchApi(page);
    await expect.poll(() => row(page, id).count(), { timeout: 15_000 }).toBe(0);
    expect(await stateOf(id)).toBe("SUCCEEDED");
    await expectBadgesMatchApi(page);
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("a search and a started-time range (preset, then custom) narrow the list, live in the URL and survive a reload", async () => {
    const delta = await startNamed("delta backup", 1, 0, "db-1");
    const epsilon = await startNamed("epsilon backup", 1, 0, "db-2");
    const zeta = await startNamed("zeta restart", 1, 0, "broker-9");
    await waitForStates([delta, epsilon, zeta], "SUCCEEDED");
    // epsilon ran two days ago.
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await app.db.prisma.task.update({ where: { id: epsilon }, data: { startedAt: twoDaysAgo, endedAt: new Date(twoDaysAgo.getTime() + 1_000) } });

    const watched = await open("/?tab=all");
    const { page } = watched;
    await expect.poll(() => rowNames(page)).toContain("zeta restart");
    await page.getByRole("searchbox").fill("backup");
    await page.getByRole("searchbox").press("Enter");
    await expect.poll(async () => (await rowNames(page)).sort()).toEqual(["delta backup", "epsilon backup"]);
    await page.getByLabel("Time field").selectOption("started");
    await page.getByLabel("Started", { exact: true }).selectOption({ label: "Last day" });
    await expect.poll(() => rowNames(page)).toEqual(["delta backup"]);
    expect(new URL(page.url()).search).toBe("?tab=all&q=backup&time=started&range=day");
    // The badges count under the same search and range.
    await expectBadgesMatchApi(page, { search: "backup", startedAfter: new Date(Date.now() - 86_400_000 + 60_000).toISOString() });

    await page.reload();
    await expect.poll(() => rowNames(page)).toEqual(["delta backup"]);
    expect(await page.getByRole("searchbox").inputValue()).toBe("backup");
    expect(await page.getByLabel("Time field").inputValue()).toBe("started");
    expect(await page.getByLabel("Started", { exact: true }).inputValue()).toBe("day");
    await shot(page, "search-started-day");

    // A custom range: started between three days and one day ago.
    await page.getByLabel("Started", { exact: true }).selectOption({ label: "From – to…" });
    const local = (date: Date) => {
      const pad = (n: number) => String(n).padStart(2, "0");
      return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
    };
    const from = local(new Date(Date.now() - 3 * 86_400_000));
    const to = local(new Date(Date.now() - 86_400_000));
    await page.getByLabel("From").fill(from);
    await page.getByLabel("To", { exact: true }).fill(to);
    await expect.poll(() => rowNames(page)).toEqual(["epsilon backup"]);
    const query = new URL(page.url()).searchParams;
    expect([query.get("time"), query.get("range")]).toEqual(["started", "custom"]);
    expect(query.get("from")).toBe(new Date(from).toISOString());
    expect(query.get("to")).toBe(new Date(to).toISOString());
    await page.reload();
    await expect.poll(() => rowNames(page)).toEqual(["epsilon backup"]);
    expect(await page.getByLabel("From").inputValue()).toBe(from);
    expect(await page.getByLabel("To", { exact: true }).inputValue()).toBe(to);
    await shot(page, "search-started-custom");
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("kind, state and module multi-selects and internal tasks narrow the list like the API's filter, in the URL", async () => {
    // A CLUSTER root with two NODE children, each with an internal grandchild.
    const root = await createTestTask({ rounds: 1, roundMs: 0, children: 2 });
    await waitForStates([root], "SUCCEEDED");
    const total = async (filter: Record<string, unknown>) =>
      (await app.gql(`query ($filter: TaskFilter) { tasks(filter: $filter) { totalCount } }`, { filter })).data!.tasks.totalCount as number;
    const shownTotal = async (page: Page) => Number((await page.locator(".pager > .muted").textContent())?.split(" ")[0]);

    const watched = await open("/?tab=all");
    const { page } = watched;
    await page.getByLabel("Kind").selectOption("CLUSTER");
    await expect.poll(() => new URL(page.url()).search).toBe("?tab=all&kind=cluster");
    await expect.poll(() => rowNames(page)).toHaveLength(await total({ kind: "CLUSTER" }));
    expect(await row(page, root).count()).toBe(1);

    await page.getByLabel("Kind").selectOption("NODE");
    await page.getByLabel("Include internal").check();
    await expect.poll(() => new URL(page.url()).search).toBe("?tab=all&kind=node&internal=1");
    await expect.poll(() => shownTotal(page)).toBe(await total({ kind: "NODE", includeInternal: true }));
    expect(await page.locator("table.tasks .tag").count()).toBeGreaterThanOrEqual(2); // the internal grandchildren

    await page.locator("details.multi summary", { hasText: "States" }).click();
    const states = page.getByRole("group", { name: "States" });
    await states.getByLabel("SUCCEEDED").check();
    await states.getByLabel("FAILED").check();
    await expect.poll(() => new URL(page.url()).search).toBe("?tab=all&state=succeeded&state=failed&kind=node&internal=1");
    await expect.poll(() => shownTotal(page)).toBe(await total({ kind: "NODE", includeInternal: true, states: ["SUCCEEDED", "FAILED"] }));
    const shownStates = new Set(await page.locator("table.tasks tbody .state").allTextContents());
    expect([...shownStates].every((state) => state === "SUCCEEDED" || state === "FAILED")).toBe(true);

    await page.locator("details.multi summary", { hasText: "Modules" }).click();
    await page.getByRole("group", { name: "Modules" }).getByLabel("test").check();
    await expect.poll(() => new URL(page.url()).searchParams.getAll("module")).toEqual(["test"]);
    await shot(page, "filters-open");
    await page.reload();
    await expect.poll(() => shownTotal(page)).toBe(await total({ modules: ["test"], kind: "NODE", includeInternal: true, states: ["SUCCEEDED", "FAILED"] }));
    expect(await page.getByLabel("Kind").inputValue()).toBe("NODE");
    expect(await page.getByLabel("Include internal").isChecked()).toBe(true);
    expect(await page.locator("details.multi summary", { hasText: "States" }).textContent()).toContain("SUCCEEDED, FAILED");
    await expectBadgesMatchApi(page, { modules: ["test"], kind: "NODE", includeInternal: true, states: ["SUCCEEDED", "FAILED"] });
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("bulk retry of three failed tasks selected by their checkboxes: a confirmation with the count, then all three SUCCEEDED", async () => {
    const ids = await Promise.all([1, 2, 3].map(() => createTestTask({ rounds: 2, roundMs: 50, failAtRound: 1 })));
    await waitForStates(ids, "FAILED");
    const watched = await open("/?tab=failed");
    const { page } = watched;
    await mark(page);
    for (const id of ids) await row(page, id).getByRole("checkbox").check();
    const bar = page.getByRole("group", { name: "Bulk actions" });
    expect(await bar.locator(".bulk-count").textContent()).toBe("3 selected");
    // Failed tasks accept Retry, Abort (with rollback) and Delete.
    expect(await bar.locator(".bulk-actions button").allTextContents()).toEqual(["Retry", "Abort", "Delete"]);
    await bar.getByRole("button", { name: "Retry" }).click();
    const dialog = page.getByRole("dialog", { name: "Retry 3 tasks?" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain("All 3 tasks accept it now.");
    await shot(page, "bulk-retry-confirm");
    await dialog.getByRole("button", { name: "Retry 3 tasks" }).click();
    const panel = page.getByRole("region", { name: "Bulk action result" });
    await expect.poll(() => panel.textContent(), { timeout: 10_000 }).toContain("Retry: 3 of 3 accepted.");
    await waitForStates(ids, "SUCCEEDED");
    // They left the Failed tab live.
    await expect.poll(async () => (await Promise.all(ids.map((id) => row(page, id).count()))).reduce((a, b) => a + b), { timeout: 10_000 }).toBe(0);
    await expectBadgesMatchApi(page);
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("bulk delete of every task matching a search: the running one is refused, with its code and message", async () => {
    const done = await Promise.all([startNamed("purge one", 1, 0), startNamed("purge two", 1, 0)]);
    const running = await startNamed("purge running", 600, 100);
    await waitForStates(done, "SUCCEEDED");
    await waitForStates([running], "RUNNING");
    const watched = await open("/?tab=all&q=purge");
    const { page } = watched;
    await mark(page);
    await expect.poll(async () => (await rowNames(page)).length).toBe(3);
    await row(page, done[0]!).getByRole("checkbox").check();
    const bar = page.getByRole("group", { name: "Bulk actions" });
    await bar.getByRole("button", { name: "Select all matching (3)" }).click();
    expect(await bar.locator(".bulk-count").textContent()).toBe("All 3 matching tasks selected");
    await bar.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete 3 tasks?" });
    await expect.poll(() => dialog.isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await dialog.textContent()).toContain("2 of 3 tasks accept it now; the server will refuse the other 1");
    await shot(page, "bulk-delete-confirm");
    await dialog.getByRole("button", { name: "Delete 3 tasks" }).click();
    const panel = page.getByRole("region", { name: "Bulk action result" });
    await expect.poll(() => panel.textContent(), { timeout: 10_000 }).toContain("Delete: 2 of 3 accepted, 1 refused.");
    const refusal = panel.locator(`tr[data-refused="${running}"]`);
    expect(await refusal.locator("td").allTextContents()).toEqual([running, "TASK_NOT_FINISHED", expect.stringMatching(/./)]);
    expect(await panel.locator("tbody tr").count()).toBe(1);
    // The deleted rows left the list live; the running one stays.
    await expect.poll(() => rowNames(page), { timeout: 10_000 }).toEqual(["purge running"]);
    expect(await stateOf(done[0]!)).toBeNull();
    await shot(page, "bulk-delete-refused");
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id: running });
    await page.context().close();
  }, 60_000);

  test("the badges refetch taskCounts at most once a second while events flow, and never while idle", async () => {
    // Timed in the page (this process's clock stalls while the embedded database works).
    const watched = await open("/?tab=all", (page) =>
      page.addInitScript(() => {
        const times: number[] = [];
        (window as unknown as { countQueries: number[] }).countQueries = times;
        const original = window.fetch.bind(window);
        window.fetch = (input, init) => {
          if (typeof init?.body === "string" && init.body.includes("query TaskTabCounts")) times.push(performance.now());
          return original(input, init);
        };
      }),
    );
    const countTimes = (page: Page) => page.evaluate(() => (window as unknown as { countQueries: number[] }).countQueries);
    const { page } = watched;
    await mark(page);
    const idle = async () => {
      const before = (await countTimes(page)).length;
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect((await countTimes(page)).length, "taskCounts queried while nothing happened").toBe(before);
    };
    await idle();
    const first = (await countTimes(page)).length;
    // Twelve tasks, one every 150 ms: about two seconds of events.
    const burst: string[] = [];
    for (let i = 0; i < 12; i++) {
      burst.push(await startNamed(`burst ${i}`, 1, 0));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await expectBadgesMatchApi(page);
    // Idle again only once the burst's last events are out (a loaded machine finishes them late)
    // and the throttle's trailing refetch for them is done.
    for (const id of burst) await app.manager.waitForTask(id, 20);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const during = (await countTimes(page)).slice(first);
    expect(during.length).toBeGreaterThanOrEqual(1);
    const gaps = during.slice(1).map((t, i) => t - during[i]!);
    expect(gaps.filter((gap) => gap < 950), `gaps between taskCounts queries: ${gaps.join(", ")} ms`).toEqual([]);
    await idle();
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("after a lost connection the feed resumes after the last event it handled: what happened meanwhile arrives, with no list query", async () => {
    const sockets: WebSocketRoute[] = [];
    const subscribes: string[] = [];
    const listQueries: string[] = [];
    const trail: string[] = [];
    const watched = await open("/?tab=all&q=resume", async (page) => {
      await page.routeWebSocket(/\/graphql$/, (socket) => {
        sockets.push(socket);
        const server = socket.connectToServer();
        socket.onMessage((message) => {
          if (String(message).includes('"type":"subscribe"')) subscribes.push(String(message));
          server.send(message);
        });
      });
      page.on("request", (request) => {
        if (request.method() === "POST" && request.postData()?.includes("query TaskList")) listQueries.push(request.url());
      });
      page.on("websocket", (ws) => {
        trail.push(`open ${Date.now() % 100000}`);
        ws.on("close", () => trail.push(`close ${Date.now() % 100000}`));
        ws.on("socketerror", (e) => trail.push(`error ${e}`));
        ws.on("framesent", (f) => trail.push(`sent ${String(f.payload).slice(0, 40)}`));
      });
    });
    const { page } = watched;
    await mark(page);
    await expect.poll(() => subscribes.length, { timeout: 10_000 }).toBe(1);
    // The feed starts at the page's journalCursor: nothing changed after the page was read is missed.
    expect(Buffer.from(JSON.parse(subscribes[0]!).payload.variables.after, "base64url").toString()).toMatch(/^\d+:\d+$/);
    // A first event, so the feed has a cursor.
    const first = await startNamed("resume one", 1, 0);
    await expect.poll(() => shownState(page, first), { timeout: 10_000 }).toBe("SUCCEEDED");
    const queriesBefore = listQueries.length;
    expect(sockets.length).toBe(1);
    // The connection drops (a server restart, say); graphql-ws reconnects by itself.
    await sockets[0]!.close({ code: 1012, reason: "restart" });
    const second = await startNamed("resume two", 1, 0);
    await waitForStates([second], "SUCCEEDED");
    await expect.poll(() => subscribes.length, { timeout: 15_000, message: `websocket: ${trail.join(" | ")}` }).toBe(2);
    expect(sockets.length).toBe(2);
    // The same subscription again, now with `after`: the cursor of the last event it handled.
    expect(JSON.parse(subscribes[1]!).payload.variables.after).toMatch(/./);
    // Replayed from the cursor: the task created while the page was offline is listed, finished.
    await expect.poll(() => shownState(page, second), { timeout: 10_000 }).toBe("SUCCEEDED");
    expect(listQueries.length).toBe(queriesBefore);
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("away longer than the journal keeps (CURSOR_EXPIRED): the list loads again, says it resynchronised, and stays live", async () => {
    const sockets: WebSocketRoute[] = [];
    const listQueries: string[] = [];
    const watched = await open("/?tab=all&q=expiry", async (page) => {
      await page.routeWebSocket(/\/graphql$/, (socket) => {
        sockets.push(socket);
        socket.connectToServer();
      });
      page.on("request", (request) => {
        if (request.method() === "POST" && request.postData()?.includes("query TaskList")) listQueries.push(request.url());
      });
    });
    const { page } = watched;
    await mark(page);
    const first = await startNamed("expiry one", 1, 0);
    await expect.poll(() => shownState(page, first), { timeout: 10_000 }).toBe("SUCCEEDED");
    const queriesBefore = listQueries.length;
    // As if a week passed offline: the journal is pruned past the feed's cursor, then the connection drops.
    expect(await app.store.pruneJournal(Date.now() + 8 * 24 * 3_600_000)).toBeGreaterThan(0);
    await sockets[0]!.close({ code: 1012, reason: "restart" });
    const resynced = page.getByRole("status").filter({ hasText: "Resynchronised" });
    await expect.poll(() => resynced.count(), { timeout: 20_000 }).toBe(1);
    // The refetch leaves with the notice; the browser reports its request to this process a moment later.
    await expect.poll(() => listQueries.length, { timeout: 10_000 }).toBeGreaterThan(queriesBefore);
    // Live again from the new page's position: a task started now appears and finishes.
    const second = await startNamed("expiry two", 1, 0);
    await expect.poll(() => shownState(page, second), { timeout: 10_000 }).toBe("SUCCEEDED");
    expect(await shownState(page, first)).toBe("SUCCEEDED");
    expect(await page.locator(".error-note").count()).toBe(0);
    expect(await stillMarked(page)).toBe(true);
    await shot(page, "resynced");
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  // Last: creating a token ends protected mode for the whole app.
  test("a VIEWER gets the live list and badges but no checkbox and no bulk action", async () => {
    const id = await createTestTask({ rounds: 300, roundMs: 100 });
    const admin = await app.gql(`mutation { createApiToken(name: "lister-admin", role: ADMIN) { secret } }`);
    expect(admin.errors).toBeUndefined();
    const adminToken: string = admin.data!.createApiToken.secret;
    const viewer = await app.gql(`mutation { createApiToken(name: "lister", role: VIEWER) { secret } }`, {}, { token: adminToken });
    expect(viewer.errors).toBeUndefined();

    const watched = await watchedPage(browser!, origin);
    const { page } = watched;
    await page.goto(`${origin}/`);
    await page.getByLabel("API token").fill(viewer.data!.createApiToken.secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => shownState(page, id), { timeout: 10_000 }).toBe("RUNNING");
    expect(await page.locator("table.tasks input[type=checkbox]").count()).toBe(0);
    expect(await page.getByRole("group", { name: "Bulk actions" }).count()).toBe(0);
    await expect.poll(async () => (await shownBadges(page)).Pending).toBeGreaterThanOrEqual(1);
    await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id }, { token: adminToken });
    // The aborted task leaves the Pending tab live, for a VIEWER too.
    await expect.poll(() => row(page, id).count(), { timeout: 10_000 }).toBe(0);
    await shot(page, "viewer");
    // The first request, before the token, is refused (401), which the browser logs as a failed load.
    expectClean(watched, /status of 401/);
    await page.context().close();
  }, 60_000);
});
