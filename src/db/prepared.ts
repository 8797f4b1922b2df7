// Prepared statements for the hot path. A statement whose SQL starts with PREPARED (claims,
// batched completions) is, on PostgreSQL, a named prepared statement: parsed and planned once per
// connection instead of on every call (planning the claim took ~1 ms, as long as running it).
// Only fixed texts belong here: each distinct text stays prepared on every pooled connection for
// the connection's life. PGlite has no statement cache to use; there the marker is just a comment.
import { createHash } from "node:crypto";
import { Prisma } from "../generated/prisma/client";

export const PREPARED_MARKER = "/* taskgraph:prepared */";
/** Starts a tagged raw query: Prisma.sql`${PREPARED} SELECT …`. */
export const PREPARED = Prisma.raw(PREPARED_MARKER);

const names = new Map<string, string>();

/** adapter-pg's statementNameGenerator: a stable name for marked statements, none (unnamed) for the rest. */
export function statementName(query: { sql: string }): string {
  if (!query.sql.startsWith(PREPARED_MARKER)) return undefined as unknown as string;
  let name = names.get(query.sql);
  if (!name) {
    name = `tg_${createHash("sha1").update(query.sql).digest("hex").slice(0, 20)}`;
    names.set(query.sql, name);
  }
  return name;
}
