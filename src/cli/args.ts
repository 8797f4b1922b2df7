// Parsers for option values; each rejects a bad value with commander's InvalidArgumentError (exit 1).
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90" or "90s", "15m", "2h", "7d" → seconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected a duration such as 30, 30s, 15m, 2h or 7d");
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"]!;
}

export function parseWholeSeconds(value: string): number {
  const seconds = parseDuration(value);
  if (!Number.isInteger(seconds)) throw new InvalidArgumentError("expected whole seconds");
  return seconds;
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("expected a whole number, 1 or more");
  return Number(value);
}

/** A whole number, negative allowed (the server checks its range). */
export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError("expected a whole number");
  return Number(value);
}

/** A time: ISO 8601, or a duration meaning that long ago (`past`) or from now (`future`). */
export function parseTime(direction: "past" | "future") {
  return (value: string): Date => {
    if (/^\d/.test(value) && !/^\d+(?:\.\d+)?[smhd]?$/.test(value)) {
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) return date;
    }
    let seconds: number;
    try {
      seconds = parseDuration(value.replace(/^\+/, ""));
    } catch {
      throw new InvalidArgumentError("expected an ISO time (2026-01-31T12:00:00Z) or a duration (15m, 2h, 7d)");
    }
    return new Date(Date.now() + (direction === "past" ? -1 : 1) * seconds * 1000);
  };
}

/** Repeatable `--label k=v` into an object. */
export function collectLabel(value: string, labels: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("expected key=value");
  return { ...labels, [value.slice(0, at)]: value.slice(at + 1) };
}

/** Comma-separated and/or repeated values, upper-cased and checked against `allowed`. */
export function collectChoice(allowed: readonly string[]) {
  return (value: string, previous: string[] = []): string[] => {
    const values = value.split(",").map((v) => v.trim().toUpperCase()).filter(Boolean);
    const bad = values.find((v) => !allowed.includes(v));
    if (bad) throw new InvalidArgumentError(`${bad.toLowerCase()} is not one of ${allowed.join(", ").toLowerCase()}`);
    return [...previous, ...values];
  };
}

export function parseChoice(allowed: readonly string[]) {
  return (value: string): string => collectChoice(allowed)(value)[0]!;
}

/** `--input '{"rounds":3}'` or `--input @file.json`. */
export function parseJsonInput(value: string): unknown {
  let text = value;
  if (value.startsWith("@")) {
    try {
      text = readFileSync(value.slice(1), "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`not JSON: ${(error as Error).message}`);
  }
}
