// Worker processes and their heartbeats.
import { builder } from "./builder";

/** A worker whose heartbeat is older than this is shown as not alive (it renews every ~10 s). */
const ALIVE_WITHIN_MS = 60_000;

builder.prismaObject("Worker", {
  description: "A process that runs tasks.",
  fields: (t) => ({
    name: t.exposeString("name"),
    host: t.exposeString("host"),
    pid: t.exposeInt("pid"),
    concurrency: t.exposeInt("concurrency", { description: "Tasks it runs at once." }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    heartbeatAt: t.expose("heartbeatAt", { type: "DateTime" }),
    alive: t.boolean({ resolve: (w) => Date.now() - w.heartbeatAt.getTime() < ALIVE_WITHIN_MS }),
  }),
});

builder.queryFields((t) => ({
  workers: t.prismaField({
    type: ["Worker"],
    description: "Worker processes, most recent heartbeat first.",
    resolve: (query, _root, _args, ctx) => ctx.store.listWorkers(query),
  }),
}));
