// The web console at `/`, in a real browser (Debian's chromium, headless, through playwright-core):
// it starts and follows tasks live without a reload, its list view lives in the URL, a VIEWER sees
// no action, and no page loads anything from another host. The console is built first when its
// build is stale (src/console/build.ts; a second or two). Screenshots go to test/artifacts/.
// It is a client of the API only, so it runs once, on the embedded store.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { consoleHandler } from "../src/server/console";
import { createTestTaskOn } from "./support/cli";
import { startTestApp, type TestApp } from "./support/app";
import { chromiumPath, launchChromium, watchedPage, type WatchedPage } from "./support/chromium";
import { buildConsoleOnce, expectClean, mark, stillMarked } from "./support/console-browser";
import { storeKind } from "./support/db";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const hasChromium = chromiumPath() !== undefined;
const onPglite = storeKind === "pglite";
if (!hasChromium) console.warn("console browser tests SKIPPED: no `chromium` on PATH (apt-get install -y chromium; .ci/run installs it)");
if (!onPglite) console.warn("console tests skipped on PostgreSQL: the console is a client of the API only; they run in the PGlite run");

let app: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!onPglite) return;
  await buildConsoleOnce();
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  const { url } = await app.start(0);
  origin = new URL(url).origin;
  if (hasChromium) browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A new page at `path`, marked so that a reload (which would drop the mark) can be detected. */
async function open(path: string): Promise<WatchedPage> {
  const watched = await watchedPage(browser!, origin);
  await watched.page.goto(`${origin}${path}`);
  return watched;
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`console-${name}.png`, ARTIFACTS).pathname, fullPage: true });
const taskState = (page: Page) => page.locator("header.task-head .state").textContent();
const rowNames = (page: Page) => page.locator("table.tasks tbody td.col-name a").allTextContents();

const createTestTask = (input: Record<string, unknown>) => createTestTaskOn(app, input);

describe.skipIf(!onPglite)("the console's files", () => {
  test("index.html for / and the console's routes (revalidated), hashed assets cached for good, 404 elsewhere, nothing outside the build", async () => {
    const home = await fetch(`${origin}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-type")).toContain("text/html");
    expect(home.headers.get("cache-control")).toBe("no-cache");
    expect(home.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await home.text();
    expect(html).toContain("<title>taskgraph</title>");
    for (const tag of html.match(/<(script|link)\b[^>]*>/gi) ?? []) expect(tag).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);

    const route = await fetch(`${origin}/tasks/01a22ecc-5303-755a-9bea-28804771a04e?x=1`);
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(html);

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${origin}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");

    expect((await fetch(`${origin}/assets/missing.js`)).status).toBe(404);
    // Paths that climb out of the build get a 404 (or, with an encoded slash, the page itself).
    for (const path of ["/../package.json", "/assets/../../package.json", "/%2e%2e/package.json", "/..%2fpackage.json", "/.source-hash"]) {
      const response = await rawGet(path);
      expect(response.body, path).not.toContain('"name": "taskgraph"');
      if (response.status !== 404) expect(response.body, path).toBe(html);
    }
    // GraphiQL keeps /graphql.
    const graphiql = await fetch(`${origin}/graphql`, { headers: { accept: "text/html" } });
    expect(await graphiql.text()).toContain("graphiql");
  });

  test("without a build, / says so and how to build it", async () => {
    const server = createServer(consoleHandler("/nonexistent/console"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toContain("text/html");
      const text = await response.text();
      expect(text).toContain("The console is not built");
      expect(text).toContain("npm run console:build");
    } finally {
      server.close();
    }
  });
});

describe("the console's GraphQL types", () => {
  test("src/console/app/graphql-env.d.ts is current with schema.graphql (else: npm run console:types)", () => {
    const root = new URL("../", import.meta.url).pathname;
    const output = join(mkdtempSync(join(tmpdir(), "console-types-")), "graphql-env.d.ts");
    execFileSync(join(root, "node_modules/.bin/gql.tada"), ["generate", "output", "--tsconfig", "src/console/tsconfig.json", "--output", output], {
      cwd: root,
      stdio: "ignore",
    });
    const committed = readFileSync(join(root, "src/console/app/graphql-env.d.ts"), "utf8");
    expect(readFileSync(output, "utf8") === committed, "stale: run `npm run console:types`").toBe(true);
  }, 60_000);
});

/** A GET with the path sent as is (fetch would normalise the dots away). */
async function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { request } = await import("node:http");
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!onPglite || !hasChromium)("the console in Chromium", () => {
  test("create a test task from the page: its page shows the progress bar moving and SUCCEEDED, without a reload", async () => {
    const watched = await open("/");
    const { page } = watched;
    await page.getByRole("link", { name: "Create test task" }).click();
    await page.getByLabel("Rounds").fill("8");
    // Long enough rounds for a page on a loaded machine to show some on the way.
    await page.getByLabel("Round length (ms)").fill("600");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await mark(page);
    const bar = page.getByRole("progressbar", { name: "Task progress" });
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          seen.add(await bar.evaluate((el) => (el as HTMLProgressElement).value));
          return taskState(page);
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe("SUCCEEDED");
    // It moved: values between the first round and the last were shown on the way.
    expect([...seen].filter((v) => v > 0 && v < 8).length).toBeGreaterThanOrEqual(2);
    expect(await bar.evaluate((el) => [(el as HTMLProgressElement).value, (el as HTMLProgressElement).max])).toEqual([8, 8]);
    await expect.poll(() => page.locator(".progress-text").first().textContent()).toBe("8 / 8 rounds (100%)");
    // A finished task offers Delete only.
    expect(await page.getByRole("group", { name: "Actions" }).getByRole("button").allTextContents()).toEqual(["Delete"]);
    await shot(page, "task-succeeded");
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("a task started elsewhere appears in the list, and its row moves, live", async () => {
    const watched = await open("/");
    const { page } = watched;
    await expect.poll(() => page.getByRole("tab", { name: /Pending/ }).getAttribute("aria-selected")).toBe("true");
    await mark(page);
    const id = await createTestTask({ rounds: 20, roundMs: 150 });
    const row = page.locator(`tr[data-task="${id}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => row.locator(".state").textContent(), { timeout: 10_000 }).toBe("RUNNING");
    // The tab's count takes the new task in.
    const badge = page.getByRole("tab", { name: /Pending/ }).locator(".badge");
    await expect.poll(async () => Number(await badge.textContent())).toBe(await page.locator("table.tasks tbody tr").count());
    const value = () => row.locator("progress").evaluate((el) => (el as HTMLProgressElement).value);
    const first = await value();
    await expect.poll(value, { timeout: 10_000 }).toBeGreaterThan(first);
    await shot(page, "list-live");
    await page.emulateMedia({ colorScheme: "dark" });
    await shot(page, "list-live-dark");
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("sorted otherwise than newest first, new tasks are counted in a banner, shown on request", async () => {
    const watched = await open("/?tab=all&sort=state&dir=asc");
    const { page } = watched;
    await expect.poll(() => page.locator("table.tasks tbody tr").count()).toBeGreaterThan(0);
    await mark(page);
    const id = await createTestTask({ rounds: 1, roundMs: 0 });
    const banner = page.getByRole("status");
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).toContain("1 new task matches this view");
    expect(await page.locator(`tr[data-task="${id}"]`).count()).toBe(0);
    await shot(page, "list-banner");
    await banner.getByRole("button", { name: "Show them" }).click();
    await expect.poll(() => page.locator(`tr[data-task="${id}"]`).count()).toBe(1);
    expect(await banner.count()).toBe(0);
    expect(await stillMarked(page)).toBe(true);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("abort a running task from its page: a confirmation says what happens, then CANCELED without a reload", async () => {
    const id = await createTestTask({ rounds: 300, roundMs: 100 });
    const watched = await open(`/tasks/${id}`);
    const { page } = watched;
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("RUNNING");
    await mark(page);
    const actions = page.getByRole("group", { name: "Actions" });
    expect(await actions.getByRole("button").allTextContents()).toEqual(["Abort", "Force delete"]);
    await actions.getByRole("button", { name: "Abort", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Abort the task?" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain("will be canceled");
    await shot(page, "abort-confirm");
    await dialog.getByRole("button", { name: "Abort", exact: true }).click();
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("CANCELED");
    expect(await dialog.count()).toBe(0);
    await shot(page, "task-canceled");

    // Force delete of a pending task warns that the running piece is not stopped.
    const other = await createTestTask({ rounds: 300, roundMs: 100 });
    await page.goto(`${origin}/tasks/${other}`);
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("RUNNING");
    await page.getByRole("button", { name: "Force delete" }).click();
    const warning = page.getByRole("dialog", { name: "Force-delete a pending task?" });
    expect(await warning.textContent()).toContain("the piece running now is not stopped");
    await warning.getByRole("button", { name: "Cancel" }).click();
    expect(await warning.count()).toBe(0);
    expect(await taskState(page)).toBe("RUNNING");
    await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id: other });
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("search and a time range narrow the list, live in the URL and survive a reload; keys open a row and go back", async () => {
    const start = (name: string, target: string) =>
      app.gql(`mutation ($input: StartTaskInput!) { startTask(input: $input) { id } }`, {
        input: { module: "test", type: "count", name, target, input: { rounds: 1, roundMs: 0 } },
      });
    const [alpha, beta, gamma] = await Promise.all([start("alpha compaction", "table-a"), start("beta compaction", "table-b"), start("gamma restart", "broker-1")]);
    for (const r of [alpha, beta, gamma]) expect(r.errors).toBeUndefined();
    // beta was created two days ago.
    await app.db.prisma.task.update({ where: { id: beta.data!.startTask.id }, data: { createdAt: new Date(Date.now() - 2 * 86_400_000) } });

    const watched = await open("/?tab=all");
    const { page } = watched;
    await expect.poll(() => rowNames(page)).toContain("gamma restart");
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("task-search");
    await page.keyboard.type("compaction");
    await page.keyboard.press("Enter");
    await expect.poll(() => rowNames(page)).toEqual(["alpha compaction", "beta compaction"]);
    await page.getByLabel("Created").selectOption({ label: "Last day" });
    await expect.poll(() => rowNames(page)).toEqual(["alpha compaction"]);
    expect(new URL(page.url()).search).toBe("?tab=all&q=compaction&range=day");

    await page.reload();
    await expect.poll(() => rowNames(page)).toEqual(["alpha compaction"]);
    expect(await page.getByRole("searchbox").inputValue()).toBe("compaction");
    expect(await page.getByLabel("Created").inputValue()).toBe("day");
    expect(await page.getByRole("tab", { name: /All/ }).getAttribute("aria-selected")).toBe("true");
    await shot(page, "list-filtered");

    // Any time again, oldest first (the Created column's sort).
    await page.getByLabel("Created").selectOption({ label: "Any time" });
    await page.getByRole("button", { name: "Created", exact: true }).click();
    await expect.poll(() => page.getByRole("columnheader", { name: /Created/ }).getAttribute("aria-sort")).toBe("ascending");
    await expect.poll(() => rowNames(page)).toEqual(["beta compaction", "alpha compaction"]);
    expect(new URL(page.url()).searchParams.get("dir")).toBe("asc");

    // j selects the first row, k stays on it, j the second; Enter opens it; Esc comes back.
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    await page.keyboard.press("j");
    await expect.poll(() => page.locator("tr.selected td.col-name").textContent()).toBe("alpha compaction");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${origin}/tasks/${alpha.data!.startTask.id}`);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("alpha compaction");
    await page.keyboard.press("Escape");
    await expect.poll(() => new URL(page.url()).search).toBe("?tab=all&q=compaction&dir=asc");
    await expect.poll(() => rowNames(page)).toEqual(["beta compaction", "alpha compaction"]);
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  // Last: creating a token ends protected mode for the whole app.
  test("with tokens in force: a token prompt, and a VIEWER sees the task live but no action button", async () => {
    const id = await createTestTask({ rounds: 300, roundMs: 100 });
    const admin = await app.gql(`mutation { createApiToken(name: "boss", role: ADMIN) { secret } }`);
    expect(admin.errors).toBeUndefined();
    const adminToken: string = admin.data!.createApiToken.secret;
    const created = await app.gql(`mutation { createApiToken(name: "watcher", role: VIEWER) { secret } }`, {}, { token: adminToken });
    expect(created.errors).toBeUndefined();
    const secret: string = created.data!.createApiToken.secret;

    const watched = await open("/");
    const { page } = watched;
    const tokenBox = page.getByLabel("API token");
    await expect.poll(() => tokenBox.isVisible()).toBe(true);
    await tokenBox.fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Unknown or revoked API token");
    await tokenBox.fill(secret);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("header.top .who").textContent()).toMatch(/watcher\s*VIEWER/);
    expect(await page.getByRole("link", { name: "Create test task" }).count()).toBe(0);

    // The token is kept for the tab: a reload goes straight to the list.
    await page.reload();
    await expect.poll(() => rowNames(page), { timeout: 10_000 }).toContain("Count 300 round(s)");
    await page.getByRole("link", { name: "Count 300 round(s)" }).click();
    await page.waitForURL(`${origin}/tasks/${id}`);
    await expect.poll(() => taskState(page), { timeout: 10_000 }).toBe("RUNNING");
    // Live over graphql-ws with the token: the bar moves.
    const bar = page.getByRole("progressbar", { name: "Task progress" });
    const before = await bar.evaluate((el) => (el as HTMLProgressElement).value);
    await expect.poll(() => bar.evaluate((el) => (el as HTMLProgressElement).value), { timeout: 10_000 }).toBeGreaterThan(before);
    expect(await page.getByRole("button").allTextContents()).not.toEqual(expect.arrayContaining(["Abort", "Force delete", "Retry", "Delete"]));
    expect(await page.getByRole("group", { name: "Actions" }).count()).toBe(0);
    await shot(page, "viewer-task");

    // Revoked: the server closes the live connection, and the page asks for a token again.
    expect((await app.gql(`mutation { revokeApiToken(name: "watcher") { revokedAt } }`, {}, { token: adminToken })).errors).toBeUndefined();
    await expect.poll(() => tokenBox.isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await page.getByRole("alert").textContent()).toContain("no longer accepts this token");
    await app.gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id }, { token: adminToken });
    // The refused attempts (401) are logged by the browser as failed loads; nothing else.
    expectClean(watched, /status of 401/);
    await page.context().close();
  }, 120_000);
});
