// The GraphQL schema: every schema file registers its types on the one builder.
import type { GraphQLObjectType } from "graphql";
import { builder } from "./builder";
import "./task";
import "./task-counts";
import "./step";
import "./module";
import "./settings";
import "./worker";
import "./task-event";
import "./tokens";
import "./task-type";
import "./schedule";

export const schema = builder.toSchema({ sortSchema: false });

// plugin-relay resolves every node's id through an async function, so a 10,000-task tree paid
// 10,000 promises (and the executor's per-object promise handling) for a field that is the row's
// own column: a task's global id is its plain UUID (builder.ts encodeGlobalID).
(schema.getType("Task") as GraphQLObjectType).getFields().id!.resolve = (task: { id: string }) => task.id;
export type { Context } from "./builder";
