// npm run schema:print — writes schema.graphql from the Pothos schema (reviewers see API changes).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lexicographicSortSchema, printSchema } from "graphql";
import { PROJECT_ROOT } from "../db/migrator";
import { schema } from "../schema";

export const SCHEMA_FILE = join(PROJECT_ROOT, "schema.graphql");
/**
 * Sorted by name (types, fields, arguments), so the file does not depend on which schema file
 * registers what, nor in which order: a diff of it shows API changes only.
 */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, printedSchema());
  console.log(`Wrote ${SCHEMA_FILE}`);
}
