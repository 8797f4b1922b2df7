// Queries: 100,000 tasks in trees (one rolling upgrade of 10,000 nodes, the rest in trees of 1 to
// ~80 tasks over 30 days, five modules, every state, targets, labels, internal helpers); then
// `tasks(first: 50)` with each TaskFilter field, and `taskTree` of the 10,000-node tree, over
// HTTP to a server in its own process: p50/p99 of sequential executions after a warm-up.
// The rows are written with direct SQL (json_populate_recordset over the "Task" table, every
// column of prisma/schema.prisma given); no events or steps (the queries do not read them).
// A count over 1,000 is PostgreSQL's estimate (totalCountIsExact false): the table shows it as ~N.
// Usage: npm run bench -- queries [tasks] [executions] [stores, e.g. postgresql,pglite]
//        npm run bench -- queries-1m [executions]   (1,000,000 tasks, PostgreSQL only)
import { v7 as uuidv7 } from "uuid";
import type { StoreConfig } from "../../src/config";
import type { Task } from "../../src/generated/prisma/client";
import type { App } from "../../src/server";
import { fmt, graphql, parseStores, percentile, progress, type ServerHandle, withServer, STORE_LABEL } from "./common";
import { recordTarget, type Section } from "./results";
import { renderSection } from "./results";

export interface StorePlan {
  kind: StoreConfig["kind"];
  /** Timed executions of each `tasks` query, and of the big taskTree (each returns every node). */
  executions: number;
  treeExecutions: number;
}

export interface QueryOptions {
  tasks: number;
  bigTree: number;
  warmup: number;
  stores: StorePlan[];
  /** The section's title (the default part's when not given). */
  title?: string;
}

/** PostgreSQL primarily; PGlite with fewer executions, to stay within the time budget. */
export const QUERY_DEFAULTS: QueryOptions = {
  tasks: 100_000,
  bigTree: 10_000,
  warmup: 5,
  stores: [
    { kind: "postgresql", executions: 50, treeExecutions: 20 },
    { kind: "pglite", executions: 20, treeExecutions: 10 },
  ],
};

// ── the data (in the server process) ───────────────────────────────────────

type State = Task["state"];
/** A "Task" row: every column, as the table has them. */
type TaskRow = Omit<Task, "labels" | "input" | "result" | "retryPolicy"> & { labels: Record<string, string>; input: unknown; result: unknown; retryPolicy: unknown };

interface ModuleShape {
  name: string;
  roots: string[];
  children: string[];
  grandchildren: string[];
  cluster: (r: Random) => string;
  member: (cluster: string, r: Random) => string;
}

const MODULES: ModuleShape[] = [
  { name: "upgrade", roots: ["rolling-upgrade"], children: ["node-upgrade"], grandchildren: ["drain", "restart"], cluster: (r) => `dc${r.int(4) + 1}`, member: (c, r) => `${c}/node-${r.int(200) + 1}` },
  { name: "repair", roots: ["repair"], children: ["node-repair"], grandchildren: ["range-repair"], cluster: (r) => `ks${r.int(20)}`, member: (c, r) => `${c}.table_${r.int(50)}` },
  { name: "compaction", roots: ["major-compaction"], children: ["node-compaction"], grandchildren: ["sstable-merge"], cluster: (r) => `ks${r.int(20)}`, member: (c, r) => `${c}.table_${r.int(50)}` },
  { name: "kafka", roots: ["reassign-partitions", "restart-brokers"], children: ["move-partition", "restart-broker"], grandchildren: ["sync-replica"], cluster: (r) => `kafka-${r.int(6) + 1}`, member: (c, r) => `${c}/broker-${r.int(12) + 1}` },
  { name: "backup", roots: ["snapshot", "restore"], children: ["upload", "download"], grandchildren: ["verify-chunk"], cluster: (r) => `cluster-${r.int(8) + 1}`, member: (c, r) => `${c}/node-${r.int(30) + 1}` },
];

/** mulberry32: the same data on every run. */
class Random {
  constructor(private seed: number) {}
  next(): number {
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Picks by weight: [[value, weight], …]. */
  weighted<T>(choices: [T, number][]): T {
    let x = this.next() * choices.reduce((s, [, w]) => s + w, 0);
    for (const [value, weight] of choices) if ((x -= weight) < 0) return value;
    return choices[choices.length - 1]![0];
  }
}

const DAY = 86_400_000;
const ENDED = new Set<State>(["SUCCEEDED", "FAILED", "CANCELED"]);

function childState(parent: State, r: Random): State {
  switch (parent) {
    case "SUCCEEDED":
    case "CANCELED":
    case "QUEUED":
      return parent;
    case "FAILED":
      return r.weighted<State>([["SUCCEEDED", 6], ["FAILED", 3], ["CANCELED", 1]]);
    case "RUNNING":
      return r.weighted<State>([["SUCCEEDED", 5], ["RUNNING", 2], ["QUEUED", 3]]);
    default:
      return "SCHEDULED";
  }
}

export interface SeedInfo {
  bigRootId: string;
  /** A root with several children (for parentId). */
  parentId: string;
  /** An existing target, and a prefix of several. */
  target: string;
  targetPrefix: string;
  /** A one-day window ten days ago. */
  createdAfter: string;
  createdBefore: string;
  tasks: number;
}

/** Writes `total` tasks (one tree of `bigTree` nodes, the rest in smaller trees) into the server's store. */
export async function seedQueryData(app: App, total: number, bigTree: number): Promise<SeedInfo> {
  const r = new Random(42);
  const now = Date.now();
  const prisma = app.db.prisma;
  for (const module of MODULES) await app.store.ensureModule(module.name, `Benchmark data: ${module.name}`);
  // Written 5,000 rows a statement as they are made (a million rows at once would not fit in memory);
  // a JSON key per column, so no column falls back to NULL.
  let rows: TaskRow[] = [];
  let written = 0;
  const made = () => written + rows.length;
  const flush = async () => {
    if (rows.length === 0) return;
    await prisma.$executeRawUnsafe(`INSERT INTO "Task" SELECT * FROM json_populate_recordset(NULL::"Task", $1::json)`, JSON.stringify(rows));
    written += rows.length;
    rows = [];
  };
  const flushEvery = async () => {
    if (rows.length >= 5_000) await flush();
  };
  const sequence = new Map<string, number>();
  let parentId = "";
  let target = "";

  const add = (fields: {
    module: ModuleShape;
    type: string;
    kind: "NODE" | "CLUSTER";
    target: string;
    state: State;
    createdAt: number;
    parent: TaskRow | null;
    sequenceNumber: number;
    labels: Record<string, string>;
    internal: boolean;
    scheduledFor?: number;
  }): TaskRow => {
    const { state, createdAt, parent } = fields;
    const id = uuidv7({ msecs: createdAt });
    const started = state === "RUNNING" || ENDED.has(state) ? createdAt + 1_000 : null;
    const total = 10 + r.int(90);
    const row: TaskRow = {
      id,
      moduleName: fields.module.name,
      type: fields.type,
      name: `${fields.type} ${fields.target}`,
      kind: fields.kind,
      scope: fields.kind === "CLUSTER" ? "cluster" : "node",
      target: fields.target,
      labels: fields.labels,
      state,
      isAbortable: true,
      isInternal: fields.internal,
      isUserTask: parent === null,
      sequenceNumber: fields.sequenceNumber,
      parentId: parent?.id ?? null,
      rootId: parent ? parent.rootId : id,
      depth: parent ? parent.depth + 1 : 0,
      input: { target: fields.target },
      result: state === "SUCCEEDED" ? { ok: true } : null,
      error: state === "FAILED" ? `${fields.type} failed on ${fields.target}: connection reset by peer` : null,
      progressUnits: "units",
      progressTotal: total,
      progressCompleted: state === "SUCCEEDED" ? total : state === "RUNNING" || state === "FAILED" ? r.int(total) : 0,
      createdAt: new Date(createdAt),
      scheduledFor: fields.scheduledFor ? new Date(fields.scheduledFor) : null,
      scheduleId: null,
      scheduleDueAt: null,
      startedAt: started ? new Date(started) : null,
      endedAt: started && ENDED.has(state) ? new Date(started + 1_000 + r.int(600_000)) : null,
      createdBy: parent ? null : r.pick(["alice", "bob", "ops-bot", null]),
      node: fields.kind === "NODE" ? fields.target : null,
      abortRequestedAt: null,
      rollbackOnAbort: false,
      leaseOwner: state === "RUNNING" ? "bench-worker" : null,
      leaseExpiresAt: state === "RUNNING" ? new Date(now + DAY) : null,
      spawnKey: null,
      needsSetup: false,
      traceparent: null,
      version: ENDED.has(state) ? 3 : state === "RUNNING" ? 2 : 1,
      priority: 0,
      exclusiveKey: null,
      errorCode: null,
      timeoutMs: null,
      retryPolicy: null,
      automaticRetries: 0,
      holdsSlots: false,
    };
    rows.push(row);
    return row;
  };
  const nextSequence = (module: string) => {
    const n = (sequence.get(module) ?? 0) + 1;
    sequence.set(module, n);
    return n;
  };
  const labels = () => ({ env: r.pick(["prod", "staging", "dev"]), region: r.pick(["eu-west", "us-east", "ap-south"]), team: r.pick(["storage", "streaming", "platform"]) });

  // The rolling upgrade: a root, ~1% of the nodes as children (one per node), the rest as their steps.
  const upgrade = MODULES[0]!;
  const bigStart = now - 2 * 3_600_000;
  const bigRoot = add({ module: upgrade, type: "rolling-upgrade", kind: "CLUSTER", target: "dc1", state: "RUNNING", createdAt: bigStart, parent: null, sequenceNumber: nextSequence("upgrade"), labels: { env: "prod", region: "eu-west", team: "platform" }, internal: false });
  const nodes = Math.max(1, Math.round(Math.sqrt(bigTree)) - 1);
  const perNode = Math.floor((bigTree - 1 - nodes) / nodes);
  let bigCount = 1;
  for (let i = 0; i < nodes; i++) {
    const state: State = i < nodes * 0.6 ? "SUCCEEDED" : i < nodes * 0.62 ? "RUNNING" : "QUEUED";
    const node = add({ module: upgrade, type: "node-upgrade", kind: "NODE", target: `dc1/node-${i + 1}`, state, createdAt: bigStart + i, parent: bigRoot, sequenceNumber: bigRoot.sequenceNumber, labels: bigRoot.labels as Record<string, string>, internal: false });
    bigCount++;
    const steps = i === nodes - 1 ? bigTree - bigCount : perNode; // exactly bigTree in all
    for (let j = 0; j < steps; j++, bigCount++) {
      add({ module: upgrade, type: j % 2 ? "restart" : "drain", kind: "NODE", target: node.target!, state: childState(state, r), createdAt: bigStart + i, parent: node, sequenceNumber: bigRoot.sequenceNumber, labels: bigRoot.labels as Record<string, string>, internal: false });
    }
    await flushEvery();
  }

  // Everything else: roots over 30 days; singletons, small trees, and trees with internal grandchildren.
  while (made() < total) {
    await flushEvery();
    const module = r.pick(MODULES);
    const createdAt = now - r.int(30 * DAY);
    const recent = now - createdAt < DAY;
    const scheduled = r.next() < 0.02;
    const state: State = scheduled
      ? "SCHEDULED"
      : recent
        ? r.weighted<State>([["RUNNING", 3], ["QUEUED", 2], ["SUCCEEDED", 4], ["FAILED", 1]])
        : r.weighted<State>([["SUCCEEDED", 85], ["FAILED", 10], ["CANCELED", 5]]);
    const cluster = module.cluster(r);
    const shape = scheduled ? "single" : r.weighted([["single", 4], ["children", 4], ["grandchildren", 2]] as ["single" | "children" | "grandchildren", number][]);
    const kind = shape === "single" ? "NODE" : "CLUSTER";
    const rootTarget = kind === "NODE" ? module.member(cluster, r) : cluster;
    const root = add({
      module, type: r.pick(module.roots), kind, target: rootTarget, state, createdAt, parent: null, sequenceNumber: nextSequence(module.name), labels: labels(), internal: false,
      scheduledFor: scheduled ? now + r.int(7 * DAY) : r.next() < 0.05 ? createdAt + 3_600_000 : undefined,
    });
    if (shape === "single") continue;
    const children = shape === "children" ? 1 + r.int(10) : 5 + r.int(16);
    const internal = r.next() < 0.5;
    for (let c = 0; c < children && made() < total; c++) {
      const child = add({ module, type: r.pick(module.children), kind: "NODE", target: module.member(cluster, r), state: childState(state, r), createdAt: createdAt + c + 1, parent: root, sequenceNumber: root.sequenceNumber, labels: root.labels as Record<string, string>, internal: false });
        if (!parentId && children >= 10) {
        parentId = root.id;
        target = child.target!;
      }
      if (shape !== "grandchildren") continue;
      for (let g = 1 + r.int(3); g > 0 && made() < total; g--) {
        add({ module, type: r.pick(module.grandchildren), kind: "NODE", target: child.target!, state: childState(child.state as State, r), createdAt: createdAt + c + 1, parent: child, sequenceNumber: root.sequenceNumber, labels: root.labels as Record<string, string>, internal });
      }
    }
  }

  await flush();
  for (const [name, last] of sequence) await prisma.module.update({ where: { name }, data: { lastSequenceNumber: last } });
  await prisma.$executeRawUnsafe(`ANALYZE "Task"`);
  const tenDaysAgo = new Date(now - 10 * DAY);
  tenDaysAgo.setUTCHours(0, 0, 0, 0);
  return {
    bigRootId: bigRoot.id,
    parentId,
    target,
    targetPrefix: "kafka-2/",
    createdAfter: tenDaysAgo.toISOString(),
    createdBefore: new Date(tenDaysAgo.getTime() + DAY).toISOString(),
    tasks: written,
  };
}

// ── the queries (here) ──────────────────────────────────────────────────────

const LIST = `query ($filter: TaskFilter) {
  tasks(first: 50, filter: $filter) {
    totalCount
    totalCountIsExact
    edges { node { id module { name } type name state target createdAt progress { fraction } availableActions } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const TREE = `query ($id: ID!) { taskTree(id: $id) { id depth name node state progress { units completed total fraction } } }`;

interface QueryCase {
  name: string;
  query: string;
  variables: (seed: SeedInfo) => Record<string, unknown>;
  executions: (plan: StorePlan) => number;
  /** What one execution returns (checked once, so a query that matches nothing is noticed); `exact` false for an estimated count. */
  size: (data: any) => { count: number; exact: boolean };
}

const listCase = (name: string, filter: (seed: SeedInfo) => Record<string, unknown>): QueryCase => ({
  name,
  query: LIST,
  variables: (seed) => ({ filter: filter(seed) }),
  executions: (plan) => plan.executions,
  size: (data) => ({ count: data.tasks.totalCount, exact: data.tasks.totalCountIsExact }),
});

const CASES: QueryCase[] = [
  listCase("no filter", () => ({})),
  listCase("module", () => ({ module: "kafka" })),
  listCase("types", () => ({ types: ["node-repair", "restart-broker"] })),
  listCase("states", () => ({ states: ["FAILED"] })),
  listCase("category", () => ({ category: "PENDING" })),
  listCase("kind", () => ({ kind: "CLUSTER" })),
  listCase("includeInternal", () => ({ includeInternal: true })),
  listCase("target", (s) => ({ target: s.target })),
  listCase("targetPrefix", (s) => ({ targetPrefix: s.targetPrefix })),
  listCase("labels", () => ({ labels: { env: "prod", region: "eu-west" } })),
  listCase("search", () => ({ search: "broker-3" })),
  listCase("createdAfter + createdBefore", (s) => ({ createdAfter: s.createdAfter, createdBefore: s.createdBefore })),
  listCase("parentId", (s) => ({ parentId: s.parentId })),
  listCase("rootsOnly", () => ({ rootsOnly: true })),
  listCase("createdWithRunAt", () => ({ createdWithRunAt: true })),
  listCase("modules", () => ({ modules: ["kafka", "repair"] })),
  listCase("failed in the last day (endedAfter)", () => ({ category: "FAILED", endedAfter: new Date(Date.now() - DAY).toISOString() })),
  listCase("search by id prefix", (s) => ({ search: s.parentId.slice(0, 13) })),
  {
    name: "taskCounts (tab badges), search",
    query: `query ($filter: TaskFilter) { taskCounts(filter: $filter) { total isExact byCategory { category count } byState { state count } } }`,
    variables: () => ({ filter: { search: "broker-3" } }),
    executions: (plan) => plan.executions,
    size: (data) => ({ count: data.taskCounts.total, exact: data.taskCounts.isExact }),
  },
  {
    name: "taskTree of the big tree",
    query: TREE,
    variables: (seed) => ({ id: seed.bigRootId }),
    executions: (plan) => plan.treeExecutions,
    size: (data) => ({ count: data.taskTree.length, exact: true }),
  },
];

async function timeQuery(server: ServerHandle, c: QueryCase, seed: SeedInfo, warmup: number, plan: StorePlan) {
  const variables = c.variables(seed);
  let size = { count: 0, exact: true };
  for (let i = 0; i < warmup; i++) size = c.size(await graphql(server.url, c.query, variables));
  const times: number[] = [];
  for (let i = 0; i < c.executions(plan); i++) {
    const started = performance.now();
    await graphql(server.url, c.query, variables);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { size, p50: percentile(times, 50), p99: percentile(times, 99), executions: times.length };
}


/** A count as the table shows it: "~" before an estimate (totalCountIsExact false). */
const matching = (size: { count: number; exact: boolean }) => `${size.exact ? "" : "~"}${fmt(size.count)}`;

export async function querySection(options: QueryOptions): Promise<Section> {
  const results = new Map<string, Map<StoreConfig["kind"], Awaited<ReturnType<typeof timeQuery>>>>(CASES.map((c) => [c.name, new Map()]));
  const seeded: string[] = [];
  for (const plan of options.stores) {
    const { kind } = plan;
    await withServer(kind, async (server) => {
      progress(`queries on ${STORE_LABEL[kind]}: writing ${options.tasks.toLocaleString("en-US")} tasks`);
      const started = performance.now();
      const seed = await server.call<SeedInfo>("queries.ts", "seedQueryData", options.tasks, options.bigTree);
      seeded.push(`${STORE_LABEL[kind]} ${((performance.now() - started) / 1000).toFixed(0)} s`);
      for (const c of CASES) {
        const result = await timeQuery(server, c, seed, options.warmup, plan);
        progress(`  ${c.name}: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (${matching(result.size)} matching)`);
        results.get(c.name)!.set(kind, result);
      }
    });
  }
  const ms = (v: number | undefined) => (v === undefined ? "–" : v < 10 ? v.toFixed(1) : fmt(v));
  recordQueryTargets(options, results);
  const rows = CASES.map((c) => {
    const byStore = results.get(c.name)!;
    const first = byStore.values().next().value;
    return [
      c.name === CASES.at(-1)!.name ? "`taskTree`" : `\`tasks\`: ${c.name}`,
      first ? matching(first.size) : "–",
      ...options.stores.flatMap(({ kind }) => [ms(byStore.get(kind)?.p50), ms(byStore.get(kind)?.p99)]),
    ];
  });
  return {
    title: options.title ?? "3. Queries",
    caption:
      `${options.tasks.toLocaleString("en-US")} tasks in trees (one of ${options.bigTree.toLocaleString("en-US")} nodes; the rest 1 to ~80 tasks each, five modules, every state, ` +
      `targets, labels, internal helpers, 30 days). \`tasks(first: 50, filter)\` selecting \`totalCount\`, id, module, type, name, state, target, createdAt, ` +
      `progress, availableActions and pageInfo; \`taskTree\` of the big tree selecting id, depth, name, node, state, progress. Over HTTP to a server in its own process, ` +
      `sequential, after ${options.warmup} warm-up executions: p50/p99 of ` +
      options.stores.map((p) => `${p.executions} executions on ${STORE_LABEL[p.kind]} (${p.treeExecutions} for taskTree)`).join(", ") +
      ". " +
      `Writing the data took ${seeded.join(", ")}.`,
    header: ["query", "matching (totalCount / nodes)", ...options.stores.flatMap(({ kind }) => [`${STORE_LABEL[kind]} p50 ms`, `${STORE_LABEL[kind]} p99 ms`])],
    rows,
  };
}

/** Issue 16's targets: every `tasks` filter's p99 at a million tasks, and the big taskTree's p50 (PostgreSQL). */
function recordQueryTargets(options: QueryOptions, results: Map<string, Map<StoreConfig["kind"], { p50: number; p99: number }>>): void {
  const tree = CASES.at(-1)!.name;
  const onPostgres = (name: string) => results.get(name)!.get("postgresql");
  if (options.tasks >= 1_000_000) {
    const lists = CASES.filter((c) => c.name !== tree && onPostgres(c.name)).map((c) => ({ name: c.name, p99: onPostgres(c.name)!.p99 }));
    if (lists.length === 0) return;
    const worst = lists.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const over = lists.filter((l) => l.p99 > 20).map((l) => l.name);
    recordTarget({
      figure: "`tasks` first page + totalCount, every filter, p99 at 1,000,000 tasks (PostgreSQL)",
      now: `worst ${fmt(worst.p99)} ms (${worst.name}); over 20 ms: ${over.length ? over.join(", ") : "none"}`,
      target: "≤ 20 ms",
      met: over.length === 0,
    });
  } else if (onPostgres(tree)) {
    const p50 = onPostgres(tree)!.p50;
    recordTarget({ figure: `\`taskTree\` of a ${options.bigTree.toLocaleString("en-US")}-node tree, p50 (PostgreSQL)`, now: `${fmt(p50)} ms`, target: "≤ 60 ms", met: p50 <= 60 });
  }
}

/** npm run bench -- queries [tasks] [executions] [stores]: the same executions on every store given. */
export async function main(args: string[]): Promise<void> {
  const tasks = Number(args[0] ?? QUERY_DEFAULTS.tasks) || QUERY_DEFAULTS.tasks;
  const bigTree = Math.min(QUERY_DEFAULTS.bigTree, Math.floor(tasks / 10));
  const executions = Number(args[1]) || undefined;
  const kinds = args[2] ? parseStores(args[2]) : QUERY_DEFAULTS.stores.map((p) => p.kind);
  const stores = kinds.map((kind): StorePlan => {
    const plan = QUERY_DEFAULTS.stores.find((p) => p.kind === kind)!;
    return executions ? { kind, executions, treeExecutions: Math.max(5, Math.round(executions / 2)) } : plan;
  });
  console.log(renderSection(await querySection({ ...QUERY_DEFAULTS, tasks, bigTree, stores })));
}

/** The million-task run: PostgreSQL only (writing the data takes minutes; PGlite is sized for less). */
export const MILLION_DEFAULTS: QueryOptions = {
  ...QUERY_DEFAULTS,
  tasks: 1_000_000,
  stores: [{ kind: "postgresql", executions: 50, treeExecutions: 20 }],
  title: "3b. Queries at 1,000,000 tasks",
};

/** npm run bench -- queries-1m [executions]: the same queries over 1,000,000 tasks on PostgreSQL. */
export async function mainMillion(args: string[]): Promise<void> {
  const executions = Number(args[0]) || undefined;
  const stores = MILLION_DEFAULTS.stores.map((plan) => (executions ? { ...plan, executions, treeExecutions: Math.max(5, Math.round(executions / 2)) } : plan));
  console.log(renderSection(await querySection({ ...MILLION_DEFAULTS, stores })));
}
