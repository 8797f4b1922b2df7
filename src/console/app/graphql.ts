// Typed GraphQL documents, checked against schema.graphql by gql.tada (the introspection types in
// graphql-env.d.ts are made by `npm run console:types`; `npm run typecheck` fails on any document
// that does not fit the schema). Fragments are not masked: a row component reads what it selects.
import { initGraphQLTada, type ResultOf, type VariablesOf } from "gql.tada";
import type { introspection } from "./graphql-env.d.ts";

export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: {
    DateTime: string;
    JSON: unknown;
    JSONObject: Record<string, unknown>;
  };
}>();

export type { ResultOf, VariablesOf };

/** What the list shows of a task (a row); live events select the same fields. */
export const TaskRowFields = graphql(`
  fragment TaskRowFields on Task {
    id
    name
    type
    target
    state
    category
    isInternal
    version
    module { id name }
    progress { id units total completed fraction }
    createdAt
    startedAt
    endedAt
    scheduledFor
  }
`);

export type TaskRow = ResultOf<typeof TaskRowFields>;

export type TaskState = TaskRow["state"];
export type TaskCategory = TaskRow["category"];
