// SQL pieces built from the domain's state tables (domain/states.ts), so the set-based statements
// (claims, completions, retention, reads) cannot drift from them: a state list is written once,
// there. test/state-machine.test.ts checks every transition the statements record against the table.
import type { TaskState } from "../domain/states";
import { Prisma } from "../generated/prisma/client";

const literal = (state: TaskState) => {
  if (!/^[A-Z_]+$/.test(state)) throw new Error(`Not a state: ${state}`);
  return `'${state}'`;
};

/** `'A', 'B'` for `state IN (…)`: literals, not parameters, so the planner sees them. */
export const taskStateList = (states: readonly TaskState[]): Prisma.Sql => Prisma.raw(states.map(literal).join(", "));

/**
 * The payload of a STATE_CHANGED event a statement writes for a row that went from `previous` (an
 * SQL expression: the state the row had before the UPDATE, never a literal, so that the journal
 * tells what the statement really did) to `to`.
 */
export function stateChangedPayload(previous: Prisma.Sql, to: TaskState, error: Prisma.Sql = Prisma.sql`NULL`): Prisma.Sql {
  return Prisma.sql`jsonb_build_object('from', ${previous}::text, 'to', ${Prisma.raw(literal(to))}, 'error', ${error})`;
}
