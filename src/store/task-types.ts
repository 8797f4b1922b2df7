// The task-type catalogue: every task type some process defines (TaskType rows), which live
// workers serve it (Worker.taskTypes), and the set-up a worker does on a task created from the
// catalogue by a process that does not define its type (its input parsed, its steps created).
import { ALIVE_WITHIN_MS } from "./workers";
import { TaskgraphError } from "../domain/errors";
import type { ResolvedStep } from "../domain/flow";
import type { FullRetryPolicy } from "../domain/retry";
import { newId, parseUuid } from "../domain/ids";
import type { Prisma, PrismaClient, Task, TaskKind, TaskType, Worker } from "../generated/prisma/client";
import type { Tx } from "./journal-writer";
import { appendEvents } from "./journal-writer";
import { lockWithoutChange } from "./task-writes";


/** One step of a fixed flow, as the catalogue shows it. */
export interface FlowStep {
  key: string;
  name: string;
  dependsOn: string[];
}

/** What a process that defines a type writes into the catalogue. */
export interface TaskTypeEntry {
  module: string;
  type: string;
  description: string;
  kind: TaskKind;
  /** null: depends on the input. */
  abortable: boolean | null;
  progressUnits: string | null;
  hasSteps: boolean;
  /** The fixed steps; null for a single run or steps that depend on the input. */
  flow: FlowStep[] | null;
  inputSchema: Record<string, unknown> | null;
  /** One task per key at a time: the key is the target or computed from the input; WAIT or REFUSE. */
  exclusive: { by: "target" | "input"; mode: "WAIT" | "REFUSE" } | null;
  /** Its tasks' default priority. */
  priority: number;
  /** The automatic-retry policy of its runs and of its steps without their own (null: none). */
  retry: FullRetryPolicy | null;
  /** At most this many of its tasks run at once (null: no limit; undefined: the stored limit stays). */
  concurrency?: number | null;
}

/** The concurrency-limit scope of a task type, and of a module (ConcurrencySlot.scope). */
export const typeScope = (module: string, type: string) => `type:${module}/${type}`;
export const moduleScope = (module: string) => `module:${module}`;

/**
 * Makes a scope's slots match `limit`: one row per slot (null: none, no limit). A lowered limit
 * drops the slots above it, held or not: what runs goes on, and new starts wait for the count to fall.
 */
export async function setConcurrencyLimit(prisma: PrismaClient, scope: string, limit: number | null): Promise<void> {
  await prisma.$executeRaw`DELETE FROM "ConcurrencySlot" WHERE scope = ${scope} AND slot > ${limit ?? 0}::int`;
  if (limit !== null) {
    await prisma.$executeRaw`INSERT INTO "ConcurrencySlot" (scope, slot) SELECT ${scope}, generate_series(1, ${limit}::int) ON CONFLICT DO NOTHING`;
  }
}

/** The limits of these scopes (a scope without slots has none). */
export async function concurrencyLimits(prisma: PrismaClient, scopes: readonly string[]): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<{ scope: string; n: number }[]>`
    SELECT scope, count(*)::int AS n FROM "ConcurrencySlot" WHERE scope = ANY(${[...new Set(scopes)]}::text[]) GROUP BY scope`;
  return new Map(rows.map((r) => [r.scope, r.n]));
}

export const taskTypeKey = (module: string, type: string) => `${module}/${type}`;

const json = (value: unknown) => (value == null ? ("DbNull" as const) : (value as Prisma.InputJsonValue));

/**
 * Writes (upserts) catalogue entries; their modules must exist. One INSERT … ON CONFLICT per entry:
 * processes starting at once that define the same type do not trip over each other.
 */
export async function upsertTaskTypes(prisma: PrismaClient, entries: TaskTypeEntry[]): Promise<void> {
  const jsonText = (value: unknown) => (value == null ? null : JSON.stringify(value));
  for (const e of entries) {
    await prisma.$executeRaw`
      INSERT INTO "TaskType" ("key", "moduleName", "name", "description", "kind", "abortable", "progressUnits", "hasSteps", "flow", "inputSchema",
        "exclusive", "priority", "retry", "updatedAt")
      VALUES (${taskTypeKey(e.module, e.type)}, ${e.module}, ${e.type}, ${e.description}, ${e.kind}::text::"TaskKind", ${e.abortable}::boolean,
        ${e.progressUnits}::text, ${e.hasSteps}, ${jsonText(e.flow)}::jsonb, ${jsonText(e.inputSchema)}::jsonb, ${jsonText(e.exclusive)}::jsonb,
        ${e.priority}::int, ${jsonText(e.retry)}::jsonb, now())
      ON CONFLICT ("key") DO UPDATE SET "description" = EXCLUDED."description", "kind" = EXCLUDED."kind",
        "abortable" = EXCLUDED."abortable", "progressUnits" = EXCLUDED."progressUnits", "hasSteps" = EXCLUDED."hasSteps",
        "flow" = EXCLUDED."flow", "inputSchema" = EXCLUDED."inputSchema", "exclusive" = EXCLUDED."exclusive",
        "priority" = EXCLUDED."priority", "retry" = EXCLUDED."retry", "updatedAt" = now()`;
    if (e.concurrency !== undefined) await setConcurrencyLimit(prisma, typeScope(e.module, e.type), e.concurrency);
  }
}

export function findTaskType(prisma: PrismaClient, key: string, query: { select?: Prisma.TaskTypeSelect; include?: Prisma.TaskTypeInclude } = {}) {
  return prisma.taskType.findUnique({ ...query, where: { key } });
}

/** By module, then name; of one module, or of these keys; `query`: plugin-prisma's selection. */
export function listTaskTypes(
  prisma: PrismaClient,
  options: { module?: string | null; keys?: readonly string[]; query?: { select?: Prisma.TaskTypeSelect; include?: Prisma.TaskTypeInclude } } = {},
) {
  return prisma.taskType.findMany({
    ...options.query,
    where: { ...(options.module != null ? { moduleName: options.module } : {}), ...(options.keys ? { key: { in: [...options.keys] } } : {}) },
    orderBy: [{ moduleName: "asc" }, { name: "asc" }],
  });
}

/** The catalogue entries of these keys (a missing key has none). */
export async function taskTypesByKey(prisma: PrismaClient, keys: readonly string[]): Promise<Map<string, TaskType>> {
  const rows = await prisma.taskType.findMany({ where: { key: { in: [...new Set(keys)] } } });
  return new Map(rows.map((r) => [r.key, r]));
}

/** Live workers (heartbeat within ALIVE_WITHIN_MS) serving the type, most recent heartbeat first. */
export function workersServing(prisma: PrismaClient, key: string, query: { select?: Prisma.WorkerSelect } = {}): Promise<Worker[]> {
  return prisma.worker.findMany({
    ...(query as object),
    where: { taskTypes: { has: key }, heartbeatAt: { gte: new Date(Date.now() - ALIVE_WITHIN_MS) } },
    orderBy: { heartbeatAt: "desc" },
  });
}

/** Which of these keys a live worker serves. */
export async function servedKeys(prisma: PrismaClient, keys: readonly string[]): Promise<Set<string>> {
  const workers = await prisma.worker.findMany({
    where: { taskTypes: { hasSome: [...keys] }, heartbeatAt: { gte: new Date(Date.now() - ALIVE_WITHIN_MS) } },
    select: { taskTypes: true },
  });
  return new Set(workers.flatMap((w) => w.taskTypes).filter((k) => keys.includes(k)));
}

/**
 * The set-up of a task created from the catalogue (needsSetup), by the run that holds its lease:
 * the input as the definition parsed it, abortability when it depends on the input, and the steps
 * when the task has none yet — all in the caller's transaction with the flag cleared, so a crash
 * leaves either all of it or none, and a second run never adds steps twice. A task already set up
 * is returned as it is.
 */
export async function setupTask(
  tx: Tx,
  taskId: string,
  leaseOwner: string,
  setup: { input: Prisma.InputJsonValue | null; isAbortable?: boolean; steps: ResolvedStep[] },
): Promise<Task> {
  const id = parseUuid(taskId, "taskId");
  const task = await lockWithoutChange(tx, id);
  if (task.leaseOwner !== leaseOwner) throw new TaskgraphError("CONFLICT", `Task ${taskId} is no longer held by ${leaseOwner}`, { taskId });
  if (!task.needsSetup) return task;
  const add = (await tx.step.count({ where: { taskId: id } })) === 0 ? setup.steps : [];
  if (add.length) {
    await tx.step.createMany({
      data: add.map((s) => ({ id: newId(), taskId: id, key: s.key, name: s.name, index: s.index, dependsOn: s.dependsOn })),
      skipDuplicates: true,
    });
  }
  const updated = await tx.task.update({
    where: { id },
    data: {
      input: json(setup.input),
      needsSetup: false,
      ...(setup.isAbortable !== undefined ? { isAbortable: setup.isAbortable } : {}),
      // One journal event (and version) per step that appeared.
      version: task.version + add.length,
    },
  });
  await appendEvents(
    tx,
    add.map((s, i) => ({
      task: { id, rootId: task.rootId, moduleName: task.moduleName, version: task.version + i + 1 },
      type: "STEP_CHANGED" as const,
      payload: { stepKey: s.key, from: null, to: "WAITING", error: null, attempt: null, attemptKind: null },
    })),
  );
  return updated;
}
