// Modules: registered by code (the runtime's registry, the seed script) and kept in the store.
import type { Module, PrismaClient } from "../generated/prisma/client";

export async function ensureModule(prisma: PrismaClient, name: string, description = ""): Promise<Module> {
  return prisma.module.upsert({ where: { name }, create: { name, description }, update: description ? { description } : {} });
}
