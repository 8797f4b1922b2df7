// API tokens (issue 5): created by an ADMIN (or `npm run token`), shown once, stored as a sha256
// hash. A revoked token keeps its row (and its name), so `createdBy` on old tasks stays meaningful.
import { createHash, randomBytes } from "node:crypto";
import { badInput, checkText, notFound, TaskgraphError } from "../domain/errors";
import { newId } from "../domain/ids";
import type { ApiToken, PrismaClient, Role } from "../generated/prisma/client";

export type { ApiToken, Role };

/** Token names: what `createdBy` shows, so short and printable. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/;
/** Secrets look like `tg_<43 base64url chars>` (256 random bits). */
const PREFIX = "tg_";

export const hashToken = (secret: string): string => createHash("sha256").update(secret).digest("hex");

export async function createApiToken(
  prisma: PrismaClient,
  input: { name: string; role: Role; createdBy: string | null },
): Promise<{ token: ApiToken; secret: string }> {
  checkText("name", input.name, 100);
  if (!NAME.test(input.name)) {
    throw badInput(`Token name "${input.name}" must start with a letter or digit and use only letters, digits and . _ @ : -`);
  }
  const existing = await prisma.apiToken.findUnique({ where: { name: input.name } });
  if (existing) {
    const why = existing.revokedAt ? "a revoked token had it (names stay with their tasks' createdBy)" : "a token has it";
    throw new TaskgraphError("CONFLICT", `Token name "${input.name}" is taken: ${why}`, { name: input.name });
  }
  const secret = PREFIX + randomBytes(32).toString("base64url");
  const token = await prisma.apiToken.create({
    data: { id: newId(), name: input.name, role: input.role, tokenHash: hashToken(secret), createdBy: input.createdBy },
  });
  return { token, secret };
}

/** Revokes by name; revoking a revoked token is a no-op that returns it. */
export async function revokeApiToken(prisma: PrismaClient, name: string): Promise<ApiToken> {
  const token = await prisma.apiToken.findUnique({ where: { name } });
  if (!token) throw notFound("API token", name);
  if (token.revokedAt) return token;
  return prisma.apiToken.update({ where: { id: token.id }, data: { revokedAt: new Date() } });
}

export const listApiTokens = (prisma: PrismaClient): Promise<ApiToken[]> =>
  prisma.apiToken.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });

/** The live token a secret belongs to, or null (unknown or revoked). */
export async function findLiveToken(prisma: PrismaClient, secret: string): Promise<ApiToken | null> {
  if (!secret.startsWith(PREFIX) || secret.length > 200) return null;
  const token = await prisma.apiToken.findUnique({ where: { tokenHash: hashToken(secret) } });
  return token && !token.revokedAt ? token : null;
}

/** Protected mode is on while no live token exists. */
export async function liveTokensExist(prisma: PrismaClient): Promise<boolean> {
  return (await prisma.apiToken.count({ where: { revokedAt: null }, take: 1 })) > 0;
}

export async function touchToken(prisma: PrismaClient, id: string, at: Date): Promise<void> {
  await prisma.apiToken.update({ where: { id }, data: { lastUsedAt: at } });
}
