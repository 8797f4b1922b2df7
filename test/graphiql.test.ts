// GraphiQL works on a closed network: the page at /graphql and everything it loads come from
// taskgraph itself (no CDN, no fonts from elsewhere), it opens with the example query, and it runs
// a subscription over graphql-ws — in a real browser (Debian's chromium, headless).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { launchChromium, watchedPage, type WatchedPage } from "./support/chromium";
import type { Browser } from "playwright-core";

/** What a Monaco editor in `section` shows, one string (its rendered lines, joined). */
async function editorText(watched: WatchedPage, section: string): Promise<string> {
  const lines = await watched.page.locator(`${section} .view-lines .view-line`).allTextContents();
  return lines.join("\n").replace(/\u00a0/g, " ");
}

describe("GraphiQL served offline", () => {
  let app: TestApp;
  let url: string;
  let origin: string;
  let browser: Browser;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
    origin = new URL(url).origin;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app.stop();
  });

  test("the HTML page names no script, stylesheet, icon or font on another host", async () => {
    const response = await fetch(url, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const page = await response.text();
    expect(page).toContain("<title>taskgraph</title>");
    const tags = page.match(/<(script|link)\b[^>]*>/gi) ?? [];
    expect(tags.length).toBeGreaterThan(0);
    for (const tag of tags) expect(tag).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    // No stylesheet pulls anything in by URL either (fonts and images are data: URLs).
    expect(page).not.toMatch(/@import\s+(url\()?["']?(https?:)?\/\//i);
    expect(page).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(page).not.toContain("unpkg.com");
  });

  test("in Chromium it loads with no request leaving the server, shows the example query, and runs a typed subscription", async () => {
    const watched = await watchedPage(browser, origin);
    const { page } = watched;
    await page.goto(url);
    await expect.poll(() => page.title()).toBe("taskgraph");

    // The first (and only) tab holds the example query.
    const tabs = page.getByRole("tab");
    await expect.poll(() => tabs.count(), { timeout: 20_000 }).toBe(1);
    expect(await tabs.first().textContent()).toContain("RecentTasks");
    const query = "section.graphiql-query-editor";
    await expect.poll(() => editorText(watched, query), { timeout: 20_000 }).toContain("query RecentTasks {");
    expect(await editorText(watched, query)).toContain("tasks(first: 10, filter: { rootsOnly: true }) {");

    // Type a subscription over it and run it (GraphiQL subscribes over graphql-ws).
    await page.locator(`${query} .monaco-editor`).click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.type("subscription Watch { taskEvents { type taskId } }");
    await page.keyboard.press("Escape"); // close any completion popup
    await expect.poll(() => editorText(watched, query)).toBe("subscription Watch { taskEvents { type taskId } }");
    const wsSeen = () => watched.requests.some((u) => u.startsWith(origin.replace(/^http/, "ws")));
    // On a loaded machine GraphiQL may take the click before it has taken in the typed text, and run
    // the example query instead: run it again until the subscription starts (over graphql-ws).
    for (let attempt = 0; attempt < 3 && !wsSeen(); attempt++) {
      await page.getByRole("button", { name: /execute query/i }).click({ timeout: 5_000 }).catch(() => {});
      await expect.poll(wsSeen, { timeout: 10_000 }).toBe(true).catch(() => {});
    }
    expect(wsSeen()).toBe(true);

    // A task created by HTTP shows up in the result pane as a CREATED event. (The subscription
    // may still be starting: create tasks until one is seen.)
    const created: string[] = [];
    await expect
      .poll(
        async () => {
          const result = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0 }) { id } }`);
          created.push(result.data!.createTestTask.id);
          const shown = await editorText(watched, "section.result-window");
          return created.some((id) => shown.includes(id)) && shown.includes('"CREATED"');
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(true);

    expect(watched.foreign()).toEqual([]);
    expect(watched.requests.length).toBeGreaterThan(0);
    expect(watched.errors).toEqual([]);
    await page.context().close();
  }, 60_000);
});
