// The GraphQL schema: every schema file registers its types on the one builder.
import { builder } from "./builder";
import "./task";
import "./step";
import "./module";
import "./settings";
import "./query";
import "./mutation";
import "./worker";
import "./subscription";
import "./tokens";

export const schema = builder.toSchema({ sortSchema: false });
export type { Context } from "./builder";
