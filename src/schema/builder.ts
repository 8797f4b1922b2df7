// The one Pothos builder (Pothos examples: one builder.ts, one schema file per domain).
import SchemaBuilder from "@pothos/core";
import type DataLoader from "dataloader";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from "graphql-scalars";
import type { Config } from "../config";
import { isUuid } from "../domain/ids";
import type PrismaTypes from "../generated/pothos-types";
import { getDatamodel } from "../generated/pothos-types";
import type { TaskManager } from "../runtime/manager";
import type { Store } from "../store";

export interface Context {
  store: Store;
  config: Config;
  manager: TaskManager;
  /** Per request: does a task have a pending descendant? (batched into one query) */
  pendingBelow: DataLoader<string, boolean>;
}

/** The types `node(id)` can return. */
const NODE_TYPES = new Set(["Task", "Step", "StepAttempt"]);

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
}>({
  plugins: [PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  prisma: {
    // Per request, so several apps (tests, embedding programs) can share one process.
    client: (ctx) => ctx.store.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    cursorType: "String",
    // Task ids are the plain UUIDs used everywhere else (CLI, logs); other nodes are "Type:uuid".
    encodeGlobalID: (typename, id) => (typename === "Task" ? String(id) : `${typename}:${id}`),
    decodeGlobalID: (globalID) => {
      if (isUuid(globalID)) return { typename: "Task", id: globalID.toLowerCase() };
      const colon = globalID.indexOf(":");
      const typename = globalID.slice(0, colon);
      const id = globalID.slice(colon + 1);
      if (colon < 1 || !NODE_TYPES.has(typename) || !isUuid(id)) {
        throw new GraphQLError(`"${globalID.slice(0, 80)}" is not an id returned by this API`, { extensions: { code: "BAD_USER_INPUT" } });
      }
      return { typename, id: id.toLowerCase() };
    },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSON", JSONResolver);
builder.addScalarType("JSONObject", JSONObjectResolver);

builder.queryType({ description: "Read tasks, modules and settings." });
builder.mutationType({ description: "Start and control tasks." });
