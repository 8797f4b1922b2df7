// Worker processes and their heartbeats.
import { ALIVE_WITHIN_MS } from "../store";
import { builder } from "./builder";


export const WorkerNode = builder.prismaNode("Worker", {
  id: { field: "name" },
  nullable: true, // node(id) of a well-formed id of nothing is null (Relay)
  description: "A process that runs tasks. Its id is `Worker:<name>`; a worker removes its row when it stops.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Unique per process: host, pid and a random suffix." }),
    host: t.exposeString("host", { description: "The machine it runs on." }),
    pid: t.exposeInt("pid", { description: "Its operating-system process id." }),
    concurrency: t.exposeInt("concurrency", { description: "Tasks it runs at once." }),
    startedAt: t.expose("startedAt", { type: "DateTime", description: "When it started." }),
    heartbeatAt: t.expose("heartbeatAt", { type: "DateTime", description: "Its latest heartbeat (renewed about every 10 s)." }),
    alive: t.boolean({
      description: `Whether its heartbeat is recent (within ${ALIVE_WITHIN_MS / 1000} s).`,
      resolve: (w) => Date.now() - w.heartbeatAt.getTime() < ALIVE_WITHIN_MS,
    }),
  }),
});

builder.queryFields((t) => ({
  workers: t.prismaField({
    type: ["Worker"],
    description: "Worker processes, most recent heartbeat first.",
    resolve: (query, _root, _args, ctx) => ctx.store.listWorkers(query),
  }),
}));
