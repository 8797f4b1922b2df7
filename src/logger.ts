// The process's structured log (pino): JSON lines by default, pino-pretty's readable lines when
// stdout is a terminal, at the level of config.logLevel (LOG_LEVEL). One logger is made per manager
// or server (or handed in by an embedding program or a test) and injected downwards, each part
// taking a child with its bindings: { component: "worker" }, { taskId } for a task's lines.
// Two shared rules: a client's mistake is its own business (one line at debug level, never a
// stack), and an outage is one line every few seconds, not one per request.
import { createRequire } from "node:module";
import pino, { type DestinationStream, type Level, type Logger } from "pino";
import { RETRY_AFTER_SECONDS } from "./domain/errors";

export type { Logger } from "pino";

export type LogLevel = Level | "silent";

/** A logger at `level` writing to `destination` (default: stdout, readable when it is a terminal). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ name: "taskgraph", level }, destination ?? (process.stdout.isTTY ? readableStdout() : pino.destination({ sync: true })));
}

/** One line per entry, its fields in grey; only `err` is printed as an error (with its stack). */
function readableStdout(): DestinationStream {
  // Loaded only for a terminal: a server's log (a file, a pipe) never needs it, and it costs start-up time.
  const pretty = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
  return pretty({ colorize: true, sync: true, singleLine: true, ignore: "pid,hostname,name", errorLikeObjectKeys: ["err"] });
}

/** A client's mistake (a malformed message, a refused operation): one line at debug level, no stack. */
export function logClientMistake(log: Logger, what: string, error?: unknown): void {
  if (!log.isLevelEnabled("debug")) return;
  const detail = error instanceof Error ? `: ${error.message.split("\n")[0]}` : "";
  log.debug(`client: ${what}${detail}`);
}

let lastOutageNote = 0;
/** The database is unreachable: one line every few seconds in this process, however many requests fail. */
export function noteOutage(log: Logger, error: unknown): void {
  const now = Date.now();
  if (now - lastOutageNote < RETRY_AFTER_SECONDS * 1000) return;
  lastOutageNote = now;
  const message = error instanceof Error ? error.message.trim().split("\n").at(-1) : String(error);
  log.warn(`database unavailable, answering UNAVAILABLE: ${message}`);
}
