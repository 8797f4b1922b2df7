// API tokens: created by an ADMIN (or `npm run token`), shown once, stored as a sha256
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
  cacheOf(prisma).clear(); // protected mode may have ended
  return { token, secret };
}

/** Revokes by name; revoking a revoked token is a no-op that returns it. */
export async function revokeApiToken(prisma: PrismaClient, name: string): Promise<ApiToken> {
  const token = await prisma.apiToken.findUnique({ where: { name } });
  if (!token) throw notFound("API token", name);
  if (token.revokedAt) return token;
  const revoked = await prisma.apiToken.update({ where: { id: token.id }, data: { revokedAt: new Date() } });
  cacheOf(prisma).clear(); // refused from now on in this process
  return revoked;
}

export const listApiTokens = (prisma: PrismaClient): Promise<ApiToken[]> =>
  prisma.apiToken.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });

/**
 * Token lookups happen on every request and connection, so they are shared and remembered for a
 * moment: concurrent lookups of the same thing make one query (a burst of 1,000 reconnecting
 * consoles is one query, not 1,000 queued on the pool), and a result is reused for LOOKUP_TTL_MS.
 * Creating or revoking a token forgets everything in this process at once; other processes see the
 * change within LOOKUP_TTL_MS.
 */
const LOOKUP_TTL_MS = 1_000;
const MAX_REMEMBERED = 10_000;

class LookupCache {
  private readonly entries = new Map<string, { value: Promise<unknown>; at: number }>();

  get<T>(key: string, load: () => Promise<T>, maxAgeMs = LOOKUP_TTL_MS): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < maxAgeMs) return hit.value as Promise<T>;
    if (this.entries.size >= MAX_REMEMBERED) this.entries.clear();
    const value = load();
    this.entries.set(key, { value, at: now });
    value.catch(() => this.entries.delete(key)); // a failed lookup is not remembered
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}

const caches = new WeakMap<PrismaClient, LookupCache>();
function cacheOf(prisma: PrismaClient): LookupCache {
  let cache = caches.get(prisma);
  if (!cache) caches.set(prisma, (cache = new LookupCache()));
  return cache;
}

/**
 * Options of the lookups below: `maxAgeMs` is how old a remembered result may be (re-checking
 * open connections asks for fresher ones than LOOKUP_TTL_MS).
 */
export interface LookupOptions {
  maxAgeMs?: number;
}

/** The live token a secret belongs to, or null (unknown or revoked). */
export async function findLiveToken(prisma: PrismaClient, secret: string, options: LookupOptions = {}): Promise<ApiToken | null> {
  if (!secret.startsWith(PREFIX) || secret.length > 200) return null;
  const tokenHash = hashToken(secret);
  const token = await cacheOf(prisma).get(`token:${tokenHash}`, () => prisma.apiToken.findUnique({ where: { tokenHash } }), options.maxAgeMs);
  return token && !token.revokedAt ? token : null;
}

/** Protected mode is on while no live token exists. */
export function liveTokensExist(prisma: PrismaClient, options: LookupOptions = {}): Promise<boolean> {
  return cacheOf(prisma).get("exist", async () => (await prisma.apiToken.count({ where: { revokedAt: null }, take: 1 })) > 0, options.maxAgeMs);
}

export async function touchToken(prisma: PrismaClient, id: string, at: Date): Promise<void> {
  await prisma.apiToken.update({ where: { id }, data: { lastUsedAt: at } });
}
