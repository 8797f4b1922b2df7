// The library surface (the package's only entry point): embed taskgraph in a program, define its
// own modules and task types, start tasks programmatically, and serve the GraphQL API. The store,
// the change bus and the registry behind a manager stay inside: embedders get the calls below.
import type { Config } from "./config";
import { badInput } from "./domain/errors";
import type { Task } from "./generated/prisma/client";
import type { ModuleDefinition, TaskDefinition } from "./runtime/registry";
import { TaskManager as ManagerRuntime, type StartTaskRequest, type TaskManagerOptions } from "./runtime/manager";
import { buildApp } from "./server";

export type { TaskManagerOptions, StartTaskRequest } from "./runtime/manager";
export type { ModuleDefinition, StepDefinition, TaskDefinition } from "./runtime/registry";
export type { TaskContext, StepContext, ChildOutcome, SpawnOptions } from "./runtime/context";
export type { WorkerOptions } from "./runtime/worker";
/** What a task definition's `input` takes (zod 4, valibot, arktype, … implement it). */
export type { StandardSchemaV1 } from "@standard-schema/spec";
/** One entry of a BAD_USER_INPUT refusal's `extensions.issues`. */
export type { InputIssue } from "./runtime/input-schema";
export type { Task } from "./generated/prisma/client";
export { loadConfig, type Config } from "./config";
export type { Logger } from "./logger";
export { TaskgraphError, badInput } from "./domain/errors";
/** Automatic retries: a definition's or startTask's `retry`, and the error a task marks retryable. */
export { RetryableError, type RetryPolicy } from "./domain/retry";
export { defineTestModule } from "./modules/test";

/** A task manager as an embedding program uses it. */
export interface TaskManager {
  readonly config: Config;
  /** Declares a module (a group of task types) with its description. */
  defineModule(definition: ModuleDefinition): void;
  /** Registers a task type (its module is declared if it is not yet); returns the definition. */
  defineTask<Input>(definition: TaskDefinition<Input>): TaskDefinition<Input>;
  /** Opens (and migrates) the store, listens for changes and starts this process's worker. */
  start(): Promise<void>;
  /** Stops the worker (running tasks get a grace period) and closes what start() opened. */
  stop(): Promise<void>;
  /** Creates a task of a defined type and returns it at once (QUEUED, or SCHEDULED with runAt). */
  startTask(request: StartTaskRequest): Promise<Task>;
  /** Creates many tasks in one transaction. */
  startTasks(requests: StartTaskRequest[]): Promise<Task[]>;
  /** Resolves with the task once it has ended; a TaskgraphError with code TIMEOUT after timeoutSeconds. */
  waitForTask(id: string, timeoutSeconds: number): Promise<Task>;
}

/** The GraphQL API over a manager's tasks. */
export interface Server {
  /** Listens on `port` (0 = any free port) and the configured host; resolves with the URL of /graphql. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /** Closes open connections and stops listening; the manager keeps running. */
  stop(): Promise<void>;
  /** Answers one request in-process, as if it came over HTTP (a request from this machine). */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

/** A task manager; configuration from the environment (as `npm start`) unless given. */
export function createTaskManager(options: TaskManagerOptions = {}): TaskManager {
  return new ManagerRuntime(options);
}

/** Types a task definition in a file of its own; register it with manager.defineTask(definition). */
export function defineTask<Input>(definition: TaskDefinition<Input>): TaskDefinition<Input> {
  return definition;
}

/** Serves the manager's tasks over GraphQL (starting the manager if needed): `await (await createServer(m)).start(4000)`. */
export async function createServer(manager: TaskManager): Promise<Server> {
  if (!(manager instanceof ManagerRuntime)) throw badInput("createServer takes a manager made by createTaskManager");
  const app = await buildApp({ manager, config: manager.config });
  return {
    start: (port) => app.start(port),
    stop: () => app.stop(),
    fetch: async (input, init) => app.yoga.fetch(new Request(input, init)),
  };
}
