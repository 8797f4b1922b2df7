// A logger that records its lines (pino with a destination stream), for tests that look at what
// the server logged instead of spying on the console.
import { createLogger, type Logger, type LogLevel } from "../../src/logger";

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface RecordingLogger {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines: LogLine[];
  /** The same lines as pino wrote them (JSON text). */
  texts: string[];
}

export function recordingLogger(level: LogLevel = "debug"): RecordingLogger {
  const lines: LogLine[] = [];
  const texts: string[] = [];
  const logger = createLogger(level, {
    write(text: string) {
      texts.push(text);
      lines.push(JSON.parse(text) as LogLine);
    },
  });
  return { logger, lines, texts };
}

/** pino's number for a level name. */
export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
