// Run-time settings kept in the store (ScyllaDB's task_ttl / user_task_ttl), with config defaults.
import { badInput } from "../domain/errors";
import type { PrismaClient } from "../generated/prisma/client";

export interface Settings {
  /** Seconds a finished task started by the system is kept; 0 = removed at once. */
  taskTtlSeconds: number;
  /** Seconds a finished task started by a user is kept; 0 = removed at once. */
  userTaskTtlSeconds: number;
}

const KEYS = ["taskTtlSeconds", "userTaskTtlSeconds"] as const satisfies readonly (keyof Settings)[];
const MAX_TTL = 315_360_000; // ten years

export async function readSettings(prisma: PrismaClient, defaults: Settings): Promise<Settings> {
  const rows = await prisma.setting.findMany({ where: { key: { in: [...KEYS] } } });
  const stored = Object.fromEntries(rows.map((r) => [r.key, r.value]));
  const settings = { ...defaults };
  for (const key of KEYS) if (typeof stored[key] === "number") settings[key] = stored[key];
  return settings;
}

export async function writeSettings(prisma: PrismaClient, changes: Partial<Settings>, defaults: Settings): Promise<Settings> {
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > MAX_TTL) throw badInput(`${key} must be a whole number of seconds from 0 to ${MAX_TTL}`);
  }
  await prisma.$transaction(
    Object.entries(changes)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => prisma.setting.upsert({ where: { key }, create: { key, value: value! }, update: { value: value! } })),
  );
  return readSettings(prisma, defaults);
}
