import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { SCHEMA_FILE, printedSchema } from "../src/scripts/print-schema";

test("schema.graphql is what the Pothos schema prints (run `npm run schema:print` after changing the API)", () => {
  expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(printedSchema());
});
