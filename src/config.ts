// Environment → typed configuration. The one place that reads process.env, and the one place
// that holds defaults: everything else takes its settings from a Config.
import { resolve } from "node:path";
import type { LogLevel } from "./logger";

export type StoreConfig =
  | { kind: "pglite"; dataDir: string } // dataDir ":memory:" keeps everything in memory
  | { kind: "postgresql"; url: string };

/** What one process does (TASKGRAPH_ROLE); not to be confused with an API token's access role. */
export type ProcessRole = "all" | "serve" | "work";

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/** LOG_LEVEL unset; also the level of a part used without a logger (a script opening the database). */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export interface Config {
  /** all: API and worker in one process; serve: API only; work: worker only (no HTTP). */
  processRole: ProcessRole;
  /** Lowest level of log line written (LOG_LEVEL). */
  logLevel: LogLevel;
  /** Tasks a worker runs at once. */
  concurrency: number;
  /** A worker's fallback poll for tasks of dead workers (the store's notifications wake it otherwise). */
  workerPollMs: number;
  /** How often a worker removes finished tasks past their TTL and promotes due SCHEDULED ones. */
  housekeepingMs: number;
  /** How long a worker's claim on a task holds without renewal (it renews every third of it). */
  leaseMs: number;
  /** On SIGTERM/stop, how long running tasks may go on before they are handed back to other workers. */
  stopGraceMs: number;
  /** How long a run or step attempt past its time limit may take to stop before it fails with TIMEOUT anyway. */
  timeoutGraceMs: number;
  /**
   * Fault injection for tests only (TASKGRAPH_TEST_KILL_AFTER_LOST_ATTEMPT): the worker SIGKILLs
   * itself right after recording a lost step attempt. Never set it in production.
   */
  testKillAfterLostAttempt: boolean;
  host: string;
  port: number;
  store: StoreConfig;
  /** Apply pending migrations on start-up. */
  migrateOnStart: boolean;
  /** Largest `first`/`last` a connection accepts. */
  maxPageSize: number;
  /** Default TTLs for finished tasks, until changed at run time with setTaskTtl. */
  taskTtlSeconds: number;
  userTaskTtlSeconds: number;
  /** How long the event journal keeps events for replay (subscriptions' `after`). */
  eventRetentionHours: number;
  /** A WebSocket subscriber that has not taken an event for this long is closed (code 4001). */
  subscriberStallMs: number;
  /** With Redis, change notifications fan out through it instead of PostgreSQL LISTEN/NOTIFY. */
  redisUrl: string | null;
  /** GraphiQL at /graphql, and schema introspection (explorers are users: on by default). */
  graphiql: boolean;
  introspection: boolean;
  /** Deepest query accepted (trees and nested connections are the danger). */
  maxQueryDepth: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Mutation root fields one API token may run per minute (0 = no limit). */
  mutationsPerMinute: number;
  /** Operations (subscriptions mostly) one graphql-ws connection may have open at once. */
  maxOperationsPerConnection: number;
  /**
   * Other origins whose browser pages may call the API (TASKGRAPH_CORS_ORIGINS), as
   * `scheme://host[:port]`, with credentials; "*" = any origin, without credentials and only with
   * an API token. Empty (the default): same origin only, no CORS headers (server/origin.ts).
   */
  corsOrigins: "*" | readonly string[];
  /** Serve Prometheus metrics at /metrics (TASKGRAPH_METRICS). */
  metrics: boolean;
  /** A bearer token that may read /metrics and nothing else (TASKGRAPH_METRICS_TOKEN); null: none. */
  metricsToken: string | null;
  /** A worker-only process (TASKGRAPH_ROLE=work) serves /metrics on this port (TASKGRAPH_METRICS_PORT; 0 = any free one); null: it serves nothing. */
  metricsPort: number | null;
  /** How old the store-wide gauges (tasks per state, oldest queued task, …) may be when scraped. */
  metricsRefreshSeconds: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

export function storeConfigFrom(env: Env): StoreConfig {
  const url = env.DATABASE_URL;
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got "${url.replace(/:[^:@/]*@/, ":***@")}"`);
    }
    return { kind: "postgresql", url };
  }
  const dir = env.TASKGRAPH_DATA_DIR || "./data";
  return { kind: "pglite", dataDir: dir === ":memory:" ? dir : resolve(dir) };
}

function redisUrl(env: Env): string | null {
  const url = env.REDIS_URL;
  if (!url) return null;
  if (!/^rediss?:\/\//.test(url)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${url}"`);
  return url;
}

function logLevel(env: Env): LogLevel {
  const raw = (env.LOG_LEVEL || DEFAULT_LOG_LEVEL).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${env.LOG_LEVEL}"`);
  return raw as LogLevel;
}

function processRole(env: Env): ProcessRole {
  const raw = env.TASKGRAPH_ROLE || "all";
  if (raw !== "all" && raw !== "serve" && raw !== "work") throw new ConfigError(`TASKGRAPH_ROLE must be all, serve or work, got "${raw}"`);
  return raw;
}

/** TASKGRAPH_CORS_ORIGINS: "*", or origins (scheme://host[:port]) normalized as browsers send them. */
function metricsToken(env: Env): string | null {
  const token = env.TASKGRAPH_METRICS_TOKEN;
  if (token === undefined || token === "") return null;
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError("TASKGRAPH_METRICS_TOKEN must be at least 16 characters, without spaces");
  return token;
}

function corsOrigins(env: Env): "*" | readonly string[] {
  const entries = (env.TASKGRAPH_CORS_ORIGINS ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 1 && entries[0] === "*") return "*";
  return [
    ...new Set(
      entries.map((entry) => {
        const problem = (why: string) =>
          new ConfigError(`TASKGRAPH_CORS_ORIGINS must be * or a comma-separated list of origins like https://console.example.com (scheme://host[:port], no path): "${entry}" ${why}`);
        if (entry === "*") throw problem("cannot be combined with other origins");
        if (!/^https?:\/\/[^/?#@\s\\]+$/i.test(entry)) throw problem("is not http(s)://host[:port] without path, query or user");
        let url: URL;
        try {
          url = new URL(entry);
        } catch {
          throw problem("is not a valid origin");
        }
        return url.origin; // lower case, default port dropped: what a browser's Origin header holds
      }),
    ),
  ];
}

export function loadConfig(env: Env = process.env): Config {
  return {
    processRole: processRole(env),
    logLevel: logLevel(env),
    concurrency: integer(env, "TASKGRAPH_CONCURRENCY", 16, 1, 10_000),
    workerPollMs: 5_000,
    housekeepingMs: 1_000,
    leaseMs: integer(env, "TASKGRAPH_LEASE_MS", 30_000, 1_000, 3_600_000),
    stopGraceMs: integer(env, "TASKGRAPH_STOP_GRACE_MS", 10_000, 0, 3_600_000),
    timeoutGraceMs: integer(env, "TASKGRAPH_TIMEOUT_GRACE_MS", 5_000, 0, 3_600_000),
    testKillAfterLostAttempt: boolean(env, "TASKGRAPH_TEST_KILL_AFTER_LOST_ATTEMPT", false),
    host: env.HOST || "127.0.0.1",
    port: integer(env, "PORT", 4000, 0, 65535),
    store: storeConfigFrom(env),
    migrateOnStart: boolean(env, "TASKGRAPH_MIGRATE_ON_START", true),
    maxPageSize: integer(env, "TASKGRAPH_MAX_PAGE_SIZE", 500, 1, 10_000),
    taskTtlSeconds: integer(env, "TASKGRAPH_TASK_TTL", 86_400, 0, 315_360_000),
    userTaskTtlSeconds: integer(env, "TASKGRAPH_USER_TASK_TTL", 604_800, 0, 315_360_000),
    eventRetentionHours: integer(env, "TASKGRAPH_EVENT_RETENTION_HOURS", 168, 1, 87_600),
    subscriberStallMs: integer(env, "TASKGRAPH_SUBSCRIBER_STALL_MS", 30_000, 100, 3_600_000),
    redisUrl: redisUrl(env),
    graphiql: boolean(env, "TASKGRAPH_GRAPHIQL", true),
    introspection: boolean(env, "TASKGRAPH_INTROSPECTION", true),
    maxQueryDepth: integer(env, "TASKGRAPH_MAX_QUERY_DEPTH", 15, 2, 100),
    maxBodyBytes: integer(env, "TASKGRAPH_MAX_BODY_BYTES", 1_048_576, 1_024, 104_857_600),
    mutationsPerMinute: integer(env, "TASKGRAPH_MUTATIONS_PER_MINUTE", 600, 0, 1_000_000),
    maxOperationsPerConnection: integer(env, "TASKGRAPH_MAX_OPERATIONS_PER_CONNECTION", 100, 1, 100_000),
    corsOrigins: corsOrigins(env),
    metrics: boolean(env, "TASKGRAPH_METRICS", true),
    metricsToken: metricsToken(env),
    metricsPort: env.TASKGRAPH_METRICS_PORT ? integer(env, "TASKGRAPH_METRICS_PORT", 0, 0, 65535) : null,
    metricsRefreshSeconds: integer(env, "TASKGRAPH_METRICS_REFRESH_SECONDS", 15, 1, 3_600),
  };
}
