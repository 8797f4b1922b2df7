// The server log's few shared rules: a client's mistakes are its own business (one line at debug
// level, never a stack), and an outage is one line every few seconds, not one per request.
import { RETRY_AFTER_SECONDS } from "./domain/errors";

const debugEnabled = () => Boolean(process.env.DEBUG);

/** A client's mistake (a malformed message, a refused operation): one line at debug level, no stack. */
export function logClientMistake(what: string, error?: unknown): void {
  if (!debugEnabled()) return;
  const detail = error instanceof Error ? `: ${error.message.split("\n")[0]}` : "";
  console.debug(`[taskgraph] client: ${what}${detail}`);
}

let lastOutageNote = 0;
/** The database is unreachable: one line every few seconds, however many requests fail. */
export function noteOutage(error: unknown): void {
  const now = Date.now();
  if (now - lastOutageNote < RETRY_AFTER_SECONDS * 1000) return;
  lastOutageNote = now;
  const message = error instanceof Error ? error.message.trim().split("\n").at(-1) : String(error);
  console.warn(`[taskgraph] database unavailable, answering UNAVAILABLE: ${message}`);
}

export const logDebug = (...args: unknown[]) => (debugEnabled() ? console.debug(...args) : undefined);
