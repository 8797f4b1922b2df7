// An app on a fresh test database, queried in-process through yoga.fetch (no port needed).
import { ERROR_CODES, type ErrorCode } from "../../src/domain/errors";
import type { ExecutionResult } from "graphql";
import type { Config } from "../../src/config";
import type { Logger } from "../../src/logger";
import type { WorkerOptions } from "../../src/runtime/worker";
import { buildApp, type App } from "../../src/server";
import { openTestDatabase, testConfig } from "./db";

export interface TestApp extends App {
  /** Runs one GraphQL operation (as `token` if given); returns the parsed result, errors included (it throws only for an error code missing from ErrorCode). */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string },
  ): Promise<ExecutionResult<T> & { status: number }>;
}

/**
 * An app on a fresh database. No worker unless asked for: tests that build task states by hand
 * must not have a worker run those tasks meanwhile. Ask for one with fast timings to run tasks.
 */
export async function startTestApp(
  options: { onQuery?: (sql: string) => void; worker?: Partial<WorkerOptions> | false; config?: Partial<Config>; logger?: Logger } = {},
): Promise<TestApp> {
  const db = await openTestDatabase({ onQuery: options.onQuery });
  const app = await buildApp({ config: { ...testConfig(), ...options.config }, db, worker: options.worker ?? false, logger: options.logger });
  const stopApp = app.stop.bind(app);
  let stopped: Promise<void> | undefined;
  return Object.assign(app, {
    /** Stops the app, then closes (on PostgreSQL: drops) its test database. Idempotent. */
    stop() {
      stopped ??= stopApp().then(() => db.close());
      return stopped;
    },
    async gql(query: string, variables?: Record<string, unknown>, options: { token?: string } = {}) {
      const response = await app.yoga.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const result = (await response.json()) as ExecutionResult;
      // Every code the API sends is one of the schema's ErrorCode values: checked on every answer of every test.
      const undocumented = codes(result).filter((code) => !ERROR_CODES.includes(code as ErrorCode));
      if (undocumented.length) throw new Error(`error codes missing from the ErrorCode enum: ${undocumented.join(", ")}`);
      return { ...result, status: response.status };
    },
  }) as TestApp;
}

/** The `extensions.code` of each error, in order. */
export const codes = (result: ExecutionResult) => (result.errors ?? []).map((e) => e.extensions?.code);
