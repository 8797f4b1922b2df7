// Who is making a change: every journal event records its actor (TaskEvent.actorKind/actorName).
// The actor travels with the async context (AsyncLocalStorage), so no writer passes it along:
// the API sets it around each operation (server/yoga.ts), the worker around its runs and claims
// (runtime/worker.ts), housekeeping says SYSTEM. The store hands it to the database as two
// transaction-local settings that the columns' defaults read (prisma/schema.prisma), so the
// journal writers name no actor column. No actor set: SYSTEM, "system".
import { AsyncLocalStorage } from "node:async_hooks";
import { Prisma } from "../generated/prisma/client";
import type { ActorKind } from "../generated/prisma/client";

export interface Actor {
  kind: ActorKind;
  /** The API token's name (or "local"), the worker's name, or "system". */
  name: string;
}

export const SYSTEM_ACTOR: Actor = Object.freeze({ kind: "SYSTEM", name: "system" });

const storage = new AsyncLocalStorage<Actor>();

/** Runs `fn` (and everything it starts) as `actor`. */
export function withActor<T>(actor: Actor, fn: () => T): T {
  return storage.run(actor, fn);
}

/** The actor of the current async context, if one was set. */
export function currentActor(): Actor | undefined {
  return storage.getStore();
}

/**
 * The statement that sets the current actor for the rest of the transaction, or null when none is
 * set (the columns' defaults then say SYSTEM).
 */
export function setActorSql(actor = currentActor()): Prisma.Sql | null {
  if (!actor) return null;
  return Prisma.sql`SELECT set_config('taskgraph.actor_kind', ${actor.kind}, true), set_config('taskgraph.actor_name', ${actor.name}, true)`;
}

/**
 * A CTE named `actor` for single-statement writes (claims, completions), which run outside any
 * transaction: it sets the settings (SYSTEM when no actor is set) for the statement's own implicit
 * transaction. The CTE whose rows the journal writer reads must join it (`FROM …, actor`), so the
 * settings are set before the first event row and its defaults are computed.
 */
export function actorCte(actor = currentActor() ?? SYSTEM_ACTOR): Prisma.Sql {
  return Prisma.sql`actor AS MATERIALIZED (
      SELECT set_config('taskgraph.actor_kind', ${actor.kind}, true) AS kind, set_config('taskgraph.actor_name', ${actor.name}, true) AS name
    )`;
}
