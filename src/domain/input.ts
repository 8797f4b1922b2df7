// What every argument a client sends must satisfy before anything reaches the store. The schema
// applies these to every String, ID and JSON argument of every field (schema/arg-validation.ts);
// the formats of ids and cursors are checked where they are decoded (ids.ts, the cursor
// decoders), with parseInt64 for the numbers a cursor carries.
import { badInput, checkText } from "./errors";
import { LIMITS } from "./limits";

/** Longest string argument (tighter bounds for names, targets, search… are in LIMITS). */
export const MAX_STRING_LENGTH = 10_000;
/** Longest ID argument (a UUID, or `Type:uuid`). */
export const MAX_ID_LENGTH = 200;

const MAX_INT64 = 9_223_372_036_854_775_807n;

/** Where the value was (`module`, `input.name`, `filter.labels.env`), at most 80 characters of it. */
const shown = (where: string) => (where.length > 80 ? `${where.slice(0, 80)}…` : where);

/**
 * Text a client sends: bounded, and without NUL (PostgreSQL cannot store it in text or jsonb, and
 * would refuse the whole statement).
 */
export function checkString(where: string, value: string, max = MAX_STRING_LENGTH): void {
  checkText(shown(where), value, max, { argument: where });
}

/** A JSON value a client sends: no NUL in any key or string, at any depth. */
export function checkJson(where: string, value: unknown): void {
  if (typeof value === "string") {
    if (value.includes("\u0000")) throw badInput(`${shown(where)} contains a NUL character`, { argument: where });
  } else if (Array.isArray(value)) {
    for (const item of value) checkJson(where, item);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\u0000")) throw badInput(`${shown(where)} has a key with a NUL character`, { argument: where });
      checkJson(`${where}.${key}`, item);
    }
  }
}

/** Decimal digits that must fit PostgreSQL's bigint (a number inside a cursor). */
export function parseInt64(what: string, digits: string): bigint {
  if (!/^\d{1,19}$/.test(digits)) throw badInput(`${what} is not a whole number`);
  const value = BigInt(digits);
  if (value > MAX_INT64) throw badInput(`${what} is out of range`);
  return value;
}

/**
 * Labels, of a task or of a filter (`where`: "labels", "filter.labels"): at most LIMITS.labelCount,
 * keys and values strings of at most LIMITS.labelLength. Returns them typed.
 */
export function checkLabels(where: string, labels: Record<string, unknown> | null | undefined): Record<string, string> {
  const entries = Object.entries(labels ?? {});
  if (entries.length > LIMITS.labelCount) throw badInput(`${where} has more than ${LIMITS.labelCount} labels`);
  for (const [key, value] of entries) {
    const at = `${where}.${key.slice(0, 40)}`;
    if (typeof value !== "string") throw badInput(`${at} must be a string`);
    checkText(`${where} key`, key, LIMITS.labelLength);
    checkText(at, value, LIMITS.labelLength);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
