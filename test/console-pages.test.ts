// The console's Start, Modules, Workers and Settings pages in a real browser (Debian's chromium,
// headless, through playwright-core), on the embedded store: start an operation from the
// catalogue with a form generated from the type's input schema (the server's issues next to the
// field), modules' counts as the API gives them, the workers and what they run (live), and the
// ADMIN settings (TTLs, tokens) refused politely to a VIEWER. No page loads anything from another
// host. Screenshots go to test/artifacts/.
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { startTestApp, type TestApp } from "./support/app";
import { chromiumPath, launchChromium, watchedPage, type WatchedPage } from "./support/chromium";
import { buildConsoleOnce, expectClean } from "./support/console-browser";
import { storeKind } from "./support/db";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const hasChromium = chromiumPath() !== undefined;
const onPglite = storeKind === "pglite";
if (!hasChromium) console.warn("console page tests SKIPPED: no `chromium` on PATH (apt-get install -y chromium; .ci/run installs it)");

let app: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!onPglite || !hasChromium) return;
  await buildConsoleOnce();
  app = await startTestApp({ worker: { pollMs: 100, housekeepingMs: 200 } });
  // A type checked by a Standard Schema (zod): its refusals carry extensions.issues, and its JSON
  // Schema has an anyOf (rjsf then asks its validator which branch fits; ajv's generated code
  // would be refused by the console's Content-Security-Policy).
  app.manager.defineModule({ name: "deploy", description: "Roll out releases" });
  app.manager.defineTask({
    module: "deploy",
    type: "rollout",
    description: "Rolls a release out to replicas.",
    input: z.object({
      replicas: z.int().min(1).max(9),
      release: z.string().min(1),
      where: z.union([z.object({ host: z.string() }), z.object({ cluster: z.string() })]).optional(),
    }),
    async run() {
      return { ok: true };
    },
  });
  const { url } = await app.start(0);
  origin = new URL(url).origin;
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A new page at `path`; with a token, signed in with it (as the token prompt keeps it: this tab's sessionStorage). */
async function open(path: string, token?: string): Promise<WatchedPage> {
  const watched = await watchedPage(browser!, origin);
  watched.page.setDefaultTimeout(10_000);
  if (token) await watched.page.addInitScript((secret) => sessionStorage.setItem("taskgraph.token", secret), token);
  await watched.page.goto(`${origin}${path}`);
  return watched;
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`console-pages-${name}.png`, ARTIFACTS).pathname, fullPage: true });

async function gql(query: string, variables?: Record<string, unknown>, token?: string) {
  const result = await app.gql(query, variables, token ? { token } : {});
  expect(result.errors).toBeUndefined();
  return result.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const totalTasks = async () => (await gql(`{ taskCounts(filter: { includeInternal: true }) { total } }`)).taskCounts.total as number;

describe.skipIf(!onPglite || !hasChromium)("the console's pages", () => {
  test("Start: a catalogue type with a form from its input schema; a bad value shows the server's issue next to the field and starts nothing; then the task runs to SUCCEEDED", async () => {
    const watched = await open("/");
    const { page } = watched;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Start", exact: true }).click();
    await page.waitForURL(`${origin}/start`);
    await expect.poll(() => page.getByRole("link", { name: "Create a test task" }).count()).toBe(1);
    await page.getByLabel("Module").selectOption("test");
    const count = page.getByRole("row", { name: /count/ }).first();
    await expect.poll(() => count.textContent()).toContain("Counts rounds of roundMs each");
    expect(await count.textContent()).toContain("yes"); // served by the app's worker
    await page.getByRole("radio", { name: "count", exact: true }).check();

    const rounds = page.locator("#input_rounds");
    const roundMs = page.locator("#input_roundMs");
    await expect.poll(() => rounds.isVisible()).toBe(true);
    expect(await roundMs.inputValue()).toBe("1000"); // the schema's default

    const before = await totalTasks();
    await rounds.fill("0");
    await page.getByRole("button", { name: "Start", exact: true }).click();
    const roundsField = page.locator(".form-group", { has: page.locator("#input_rounds") }).last();
    await expect.poll(() => roundsField.locator(".error-detail").textContent()).toMatch(/rounds must be a whole number from 1/);
    expect(await page.getByRole("alert").count()).toBe(0); // shown at the field, not as a general error
    expect(await totalTasks()).toBe(before);
    expect(page.url()).toBe(`${origin}/start`);
    await shot(page, "start-issue");

    await rounds.fill("3");
    await roundMs.fill("50");
    await page.getByLabel("Target (optional)").fill("broker-3");
    await page.getByLabel("Labels (optional)").fill("team=storage");
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const id = page.url().split("/").pop()!;
    await expect.poll(() => page.locator("header.task-head .state").textContent(), { timeout: 15_000 }).toBe("SUCCEEDED");
    const task = (await gql(`query ($id: ID!) { task(id: $id) { type module { name } target labels input } }`, { id })).task;
    expect(task).toMatchObject({ type: "count", module: { name: "test" }, target: "broker-3", labels: { team: "storage" } });
    expect(task.input).toMatchObject({ rounds: 3, roundMs: 50 });
    await shot(page, "start-succeeded");
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("Start: a Standard Schema type (an anyOf in its JSON Schema) — its issues (extensions.issues) next to the field, no page error", async () => {
    const watched = await open("/start");
    const { page } = watched;
    await page.getByLabel("Module").selectOption("deploy");
    await page.getByRole("radio", { name: "rollout", exact: true }).check();
    const replicas = page.locator("#input_replicas");
    await expect.poll(() => replicas.isVisible()).toBe(true);
    // The anyOf's selector looks like the form's other controls, in light and in dark.
    const selector = page.locator('select[name$="__anyof_select"]');
    await expect.poll(() => selector.count()).toBe(1);
    const looks = (locator: typeof selector) =>
      locator.evaluate((el) => {
        const s = getComputedStyle(el);
        return { background: s.backgroundColor, color: s.color, border: s.borderTopColor, radius: s.borderTopLeftRadius, font: s.fontFamily, height: Math.round(el.getBoundingClientRect().height) };
      });
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      await shot(page, `start-anyof-${colorScheme}`);
      expect(await looks(selector)).toEqual(await looks(page.locator("#input_release")));
    }
    await page.emulateMedia({ colorScheme: "light" });
    await replicas.fill("12");
    await page.locator("#input_release").fill("v2");
    const before = await totalTasks();
    await page.getByRole("button", { name: "Start", exact: true }).click();
    const field = page.locator(".form-group", { has: replicas }).last();
    await expect.poll(() => field.locator(".error-detail").textContent()).toMatch(/9/);
    expect(await totalTasks()).toBe(before);
    await shot(page, "start-zod-issue");
    await replicas.fill("3");
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const id = page.url().split("/").pop()!;
    expect((await gql(`query ($id: ID!) { task(id: $id) { type input } }`, { id })).task).toMatchObject({ type: "rollout", input: { replicas: 3, release: "v2" } });
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("Modules: each module's counts per state are the API's, with a link to its list", async () => {
    // A task waiting for its time and one that failed, whatever the earlier tests left.
    await gql(`mutation { startTask(input: { module: "test", type: "count", input: { rounds: 1 }, runAt: "2099-01-01T00:00:00Z" }) { id } }`);
    const failed = await gql(`mutation { startTask(input: { module: "test", type: "count", input: { rounds: 1, roundMs: 0, failAtRound: 1 } }) { id } }`);
    await expect
      .poll(async () => (await gql(`query ($id: ID!) { task(id: $id) { state } }`, { id: failed.startTask.id })).task.state, { timeout: 10_000 })
      .toBe("FAILED");
    const watched = await open("/modules");
    const { page } = watched;
    const card = page.getByRole("region", { name: "test", exact: true });
    await expect.poll(() => card.isVisible()).toBe(true);
    const api = (await gql(`{ module(name: "test") { totalTasks taskCounts { state count } } }`)).module;
    const expected = Object.fromEntries((api.taskCounts as { state: string; count: number }[]).filter((c) => c.count > 0).map((c) => [c.state, String(c.count)]));
    expect(Object.keys(expected).length).toBeGreaterThan(0);
    const rows = card.locator("table.counts tr");
    const shown: Record<string, string> = {};
    for (const row of await rows.all()) shown[(await row.getAttribute("data-state"))!] = (await row.locator("td").textContent())!;
    expect(shown).toEqual(expected);
    expect(await card.textContent()).toContain("count");
    await card.getByRole("link", { name: new RegExp(`^${api.totalTasks} tasks? in the list`) }).click();
    await page.waitForURL((url) => url.pathname === "/" && url.searchParams.getAll("module").includes("test"));
    await shot(page, "modules-list");
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  test("Workers: the app's worker, alive, and the task it runs, shown live when it starts", async () => {
    const watched = await open("/workers");
    const { page } = watched;
    const [worker] = (await gql(`{ workers { name host pid } }`)).workers;
    const row = page.locator(`tr[data-worker="${worker.name}"]`);
    await expect.poll(() => row.textContent()).toContain("alive");
    expect(await row.textContent()).toContain(String(worker.pid));
    expect(await row.textContent()).toContain("test/count");
    await expect.poll(() => row.locator("td.running").textContent()).toContain("idle");

    const started = await gql(`mutation { startTask(input: { module: "test", type: "count", input: { rounds: 300, roundMs: 100 } }) { id name } }`);
    const { id, name } = started.startTask;
    await expect.poll(() => row.locator("td.running").textContent(), { timeout: 10_000 }).toContain(name);
    expect(await row.getByRole("link", { name }).getAttribute("href")).toBe(`/tasks/${id}`);
    await shot(page, "workers");
    await gql(`mutation ($id: ID!) { abortTask(id: $id) { id } }`, { id });
    await expect.poll(() => row.locator("td.running").textContent(), { timeout: 10_000 }).toContain("idle");
    expectClean(watched);
    await page.context().close();
  }, 60_000);

  // Last: creating a token ends protected mode for the whole app.
  test("Settings: an ADMIN creates a token (its secret shown once), revokes it, changes a TTL and drains a module; a VIEWER gets no Settings", async () => {
    const adminToken: string = (await gql(`mutation { createApiToken(name: "chief", role: ADMIN) { secret } }`)).createApiToken.secret;
    const viewerToken: string = (await gql(`mutation { createApiToken(name: "onlooker", role: VIEWER) { secret } }`, {}, adminToken)).createApiToken.secret;

    const watched = await open("/", adminToken);
    const { page } = watched;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
    await page.waitForURL(`${origin}/settings`);
    await expect.poll(() => page.locator('tr[data-token="chief"]').textContent()).toContain("ADMIN");

    await page.getByLabel("New token name").fill("deployer");
    await page.getByLabel("Role").selectOption("TASK_MANAGER");
    await page.getByRole("button", { name: "Create token" }).click();
    const secretBox = page.getByRole("alert", { name: "New token secret" });
    await expect.poll(() => secretBox.textContent()).toContain("shown only this once");
    const secret = (await secretBox.locator(".secret-value").textContent())!;
    expect(secret.length).toBeGreaterThan(20);
    expect((await gql(`{ me { name role } }`, {}, secret)).me).toEqual({ name: "deployer", role: "TASK_MANAGER" });
    await expect.poll(() => page.locator('tr[data-token="deployer"]').textContent()).toContain("valid");
    await shot(page, "settings-secret");

    await page.getByRole("button", { name: "Revoke deployer" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke deployer?" });
    await dialog.getByRole("button", { name: "Revoke", exact: true }).click();
    await expect.poll(() => page.locator('tr[data-token="deployer"]').textContent()).toContain("revoked");
    expect((await app.gql(`{ me { name } }`, {}, { token: secret })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    await page.getByLabel("Tasks started by a user (seconds)").fill("7200");
    await page.getByRole("button", { name: "Save TTLs" }).click();
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    expect((await gql(`{ settings { userTaskTtlSeconds } }`, {}, adminToken)).settings.userTaskTtlSeconds).toBe(7200);

    // Drain: a confirmation says finished tasks are removed now; then none is left.
    const finishedBefore = (await gql(`{ taskCounts(filter: { module: "test", category: FINISHED }) { total } }`, {}, adminToken)).taskCounts.total;
    expect(finishedBefore).toBeGreaterThan(0);
    await page.getByLabel("Module", { exact: true }).selectOption("test");
    await page.getByRole("button", { name: "Drain…" }).click();
    const drain = page.getByRole("dialog", { name: "Drain test?" });
    expect(await drain.textContent()).toContain("Every finished task of test is removed now");
    await drain.getByRole("button", { name: "Drain", exact: true }).click();
    await expect.poll(() => page.getByRole("status").filter({ hasText: "finished task(s) of test removed" }).textContent()).toMatch(/^\d+ finished/);
    expect((await gql(`{ taskCounts(filter: { module: "test", category: FINISHED }) { total } }`, {}, adminToken)).taskCounts.total).toBe(0);

    // Shown once: after a reload the secret is gone.
    await page.reload();
    await expect.poll(() => page.locator('tr[data-token="deployer"]').textContent()).toContain("revoked");
    expect(await page.getByText(secret).count()).toBe(0);
    expectClean(watched);
    await page.context().close();

    const viewer = await open("/", viewerToken);
    await expect.poll(() => viewer.page.locator("header.top .who").textContent()).toMatch(/onlooker\s*VIEWER/);
    const nav = viewer.page.getByRole("navigation", { name: "Main" });
    expect(await nav.getByRole("link", { name: "Settings" }).count()).toBe(0);
    expect(await nav.getByRole("link", { name: "Modules" }).count()).toBe(1);
    await viewer.page.goto(`${origin}/settings`);
    await expect.poll(() => viewer.page.getByRole("note").textContent()).toContain("need the ADMIN role");
    expect(await viewer.page.getByRole("button", { name: "Create token" }).count()).toBe(0);
    await shot(viewer.page, "settings-viewer");
    expectClean(viewer);
    await viewer.page.context().close();
  }, 60_000);
});
