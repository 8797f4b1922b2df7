// The GraphQL schema: every schema file registers its types on the one builder.
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

export const schema = builder.toSchema({ sortSchema: false });
export type { Context } from "./builder";
