// Ids: UUIDv7 everywhere (time-ordered, so id order is creation order within a process).
import { v7 as uuidv7, validate as uuidValidate } from "uuid";
import { badInput } from "./errors";

export const newId = (): string => uuidv7();

export function isUuid(value: string): boolean {
  return uuidValidate(value);
}

/** Validates a client-supplied UUID; a malformed one is BAD_USER_INPUT, never a database error. */
export function parseUuid(value: string, what = "id"): string {
  if (!isUuid(value)) throw badInput(`${what} must be a UUID, got "${value.length > 60 ? `${value.slice(0, 60)}…` : value}"`, { [what]: value });
  return value.toLowerCase();
}
