// The library surface: embed taskgraph in a program, define its own modules and task types,
// start tasks programmatically, and serve the GraphQL API.
import type { TaskDefinition } from "./runtime/registry";
import type { TaskManager } from "./runtime/manager";
import { buildApp, type App } from "./server";

export { createTaskManager, TaskManager } from "./runtime/manager";
export type { TaskManagerOptions, StartTaskRequest } from "./runtime/manager";
export type { ModuleDefinition, StepDefinition, TaskDefinition } from "./runtime/registry";
export type { TaskContext, StepContext, ChildOutcome, SpawnOptions } from "./runtime/context";
export type { WorkerOptions } from "./runtime/worker";
export { loadConfig, type Config } from "./config";
export { TaskgraphError, badInput } from "./domain/errors";
export type { App } from "./server";

/** Types a task definition in a file of its own; register it with manager.defineTask(definition). */
export function defineTask<Input>(definition: TaskDefinition<Input>): TaskDefinition<Input> {
  return definition;
}

/** Serves the manager's tasks over GraphQL (starting the manager if needed): `await (await createServer(m)).start(4000)`. */
export function createServer(manager: TaskManager): Promise<App> {
  return buildApp({ manager, config: manager.config });
}
