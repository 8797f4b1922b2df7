// Headless Chromium for browser tests: Debian's `chromium` (installed by .ci/run) driven by
// playwright-core, which downloads no browser. See the recipe in the shared notes: launched by
// path, with background networking off (it would keep trying hosts a closed network cannot reach).
import { execSync } from "node:child_process";
import { type Browser, chromium, type Page } from "playwright-core";

/** The path of the `chromium` executable, or undefined when it is not installed. */
export function chromiumPath(): string | undefined {
  try {
    return execSync("command -v chromium", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("chromium is not installed (apt-get install -y chromium; .ci/run does it)");
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export interface WatchedPage {
  page: Page;
  /** Every URL the page requested (documents, scripts, styles, fonts, images, fetches, sockets, workers). */
  requests: string[];
  /** The requests that left `origin` (data: and blob: URLs stay in the page, so they are not foreign). */
  foreign(): string[];
  /** console.error messages and uncaught page errors. */
  errors: string[];
}

/** A new page in its own context that records what it requests and the errors it reports. */
export async function watchedPage(browser: Browser, origin: string): Promise<WatchedPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  context.on("request", (request) => requests.push(request.url()));
  page.on("websocket", (socket) => requests.push(socket.url()));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  const wsOrigin = origin.replace(/^http/, "ws");
  const local = (url: string) =>
    url.startsWith(`${origin}/`) || url === origin || url.startsWith(`${wsOrigin}/`) || url.startsWith("data:") || url.startsWith("blob:");
  return { page, requests, errors, foreign: () => requests.filter((url) => !local(url)) };
}
