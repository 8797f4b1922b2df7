// The web console at `/`: the files Vite built from src/console into dist/console, served by sirv
// (content types, ETags, no path outside the folder). Hashed files under /assets/ are cached for a
// year; index.html is revalidated every time, and stands in for the console's own routes
// (/tasks/<id>, /new, …) so a link or a reload lands on the right page. Without a build, `/` says
// so and how to make one. The page may load and connect to nothing but this server (CSP).
import { statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import sirv from "sirv";

export const CONSOLE_DIR = fileURLToPath(new URL("../../dist/console", import.meta.url));

const SECURITY_HEADERS: Record<string, string> = {
  // 'self' covers ws:/wss: to this host and port in current browsers; data: only for the empty favicon.
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const missingPage = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>taskgraph: console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>The console is not built</h1>
<p>This taskgraph serves its web console from <code>${dir}</code>, which has no <code>index.html</code>.
Build it with <code>npm run console:build</code> (<code>npm install</code> does it too), then reload this page.</p>
<p>The API and GraphiQL are at <a href="/graphql">/graphql</a>.</p>
</body></html>
`;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Serves GET and HEAD requests for the console from `dir`. The folder is read again when its
 * index.html changes (a new build while the server runs).
 */
export function consoleHandler(dir: string = CONSOLE_DIR): Handler {
  let served: { version: number; handle: Handler } | undefined;
  return (req, res) => {
    let version: number;
    try {
      version = statSync(`${dir}/index.html`).mtimeMs;
    } catch {
      served = undefined;
      res.writeHead(503, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...SECURITY_HEADERS });
      res.end(req.method === "HEAD" ? undefined : missingPage(dir));
      return;
    }
    if (served?.version !== version) {
      const handle = sirv(dir, {
        etag: true,
        single: true,
        dotfiles: false,
        setHeaders: (response, pathname) => {
          for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
          response.setHeader("cache-control", pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
        },
        onNoMatch: (_req, response) => {
          response.writeHead(404, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS }).end("Not found\n");
        },
      }) as Handler;
      served = { version, handle };
    }
    served.handle(req, res);
  };
}
