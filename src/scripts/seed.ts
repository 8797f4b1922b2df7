// npm run seed — realistic demo data through the store (never raw SQL), so the API is explorable
// before any worker runs: modules, three-level trees, flows with a failed step, logs, progress.
import { loadConfig } from "../config";
import { openDatabase } from "../db/client";
import { Store } from "../store";

export async function seed(store: Store): Promise<{ roots: string[] }> {
  await store.ensureModule("kafka", "Kafka instance operations (brokers, partitions, topics)");
  await store.ensureModule("cluster", "Whole-cluster operations (rolling upgrades, restarts)");
  await store.ensureModule("storage", "Table maintenance (compaction, cleanup, repair)");
  await store.ensureModule("test", "Test tasks: count rounds, flows and trees");
  const roots: string[] = [];

  // 1. A rolling upgrade that finished: CLUSTER root → one child per node → internal per-node steps.
  const nodes = ["node-1", "node-2", "node-3"];
  const upgrade = await store.createTask({
    module: "cluster",
    type: "rolling-upgrade",
    name: "Upgrade cluster prod-eu to 7.2.1",
    kind: "CLUSTER",
    target: "prod-eu",
    labels: { env: "prod", region: "eu-west-1" },
    input: { version: "7.2.1" },
    isAbortable: false,
    createdBy: "alice",
    progressUnits: "nodes",
    progressTotal: nodes.length,
    children: nodes.map((node) => ({
      type: "upgrade-node",
      name: `Upgrade ${node}`,
      target: node,
      node,
      isAbortable: false,
      children: [
        { type: "drain", name: `Drain ${node}`, node, isInternal: true },
        { type: "restart", name: `Restart ${node}`, node, isInternal: true },
      ],
    })),
  });
  roots.push(upgrade.id);
  const tree = await store.taskTree(upgrade.id);
  for (const task of tree) await store.transitionTask(task.id, "RUNNING");
  for (const task of [...tree].reverse()) {
    if (task.depth === 0) continue;
    await store.appendLog(task.id, { message: `${task.name}: done` });
    await store.transitionTask(task.id, "SUCCEEDED", { result: { ok: true } });
  }
  await store.setProgress(upgrade.id, nodes.length);
  await store.transitionTask(upgrade.id, "SUCCEEDED", { result: { upgraded: nodes } });

  // 2. A partition reassignment whose flow failed at step 3 (OCP: rerun or set to successful).
  const reassign = await store.createTask({
    module: "kafka",
    type: "reassign-partitions",
    name: "Reassign partitions of topic orders",
    target: "kafka-prod/orders",
    labels: { env: "prod", team: "payments" },
    input: { topic: "orders", brokers: [1, 2, 4] },
    createdBy: "bob",
    steps: [
      { key: "plan", name: "Compute reassignment plan" },
      { key: "throttle", name: "Set replication throttle" },
      { key: "move", name: "Move replicas" },
      { key: "verify", name: "Verify ISR" },
      { key: "unthrottle", name: "Remove throttle" },
    ],
  });
  roots.push(reassign.id);
  await store.transitionTask(reassign.id, "RUNNING", { node: "broker-1" });
  for (const key of ["plan", "throttle"]) {
    await store.transitionStep(reassign.id, key, "RUNNING");
    await store.appendLog(reassign.id, { stepKey: key, message: `${key}: ok` });
    await store.transitionStep(reassign.id, key, "SUCCEEDED");
  }
  await store.transitionStep(reassign.id, "move", "RUNNING");
  await store.appendLog(reassign.id, { stepKey: "move", message: "Moving 24 replicas to brokers 1,2,4" });
  await store.appendLog(reassign.id, { stepKey: "move", level: "ERROR", message: "Broker 4 is offline: replica move stalled" });
  await store.transitionStep(reassign.id, "move", "FAILED", { error: "Broker 4 is offline" });
  await store.transitionTask(reassign.id, "FAILED", { error: 'Step "move" failed: Broker 4 is offline' });

  // 3. A broker restart in progress, with progress and a running step.
  const restart = await store.createTask({
    module: "kafka",
    type: "restart-broker",
    name: "Restart broker-3",
    target: "kafka-prod/broker-3",
    labels: { env: "prod" },
    node: "broker-3",
    createdBy: "carol",
    progressUnits: "steps",
    progressTotal: 3,
    steps: [
      { key: "controlled-shutdown", name: "Controlled shutdown" },
      { key: "start", name: "Start broker" },
      { key: "wait-isr", name: "Wait for in-sync replicas" },
    ],
  });
  roots.push(restart.id);
  await store.transitionTask(restart.id, "RUNNING");
  await store.transitionStep(restart.id, "controlled-shutdown", "RUNNING");
  await store.transitionStep(restart.id, "controlled-shutdown", "SUCCEEDED");
  await store.transitionStep(restart.id, "start", "RUNNING");
  await store.appendLog(restart.id, { stepKey: "start", message: "Waiting for the broker to register in ZooKeeper" });
  await store.setProgress(restart.id, 1);

  // 4. Compactions: one queued, one scheduled for tonight (Kafka's Scheduled tasks tab), one canceled.
  const compact = (table: string, runAt?: Date) =>
    store.createTask({
      module: "storage",
      type: "compact-table",
      name: `Compact ${table}`,
      target: table,
      labels: { env: "staging" },
      runAt,
      createdBy: "dave",
      progressUnits: "sstables",
      progressTotal: 120,
    });
  roots.push((await compact("shop.orders")).id);
  const tonight = new Date();
  tonight.setUTCHours(23, 0, 0, 0);
  if (tonight.getTime() < Date.now()) tonight.setUTCDate(tonight.getUTCDate() + 1);
  roots.push((await compact("shop.carts", tonight)).id);
  const canceled = await compact("shop.sessions");
  await store.transitionTask(canceled.id, "CANCELED", { error: "Aborted by dave" });
  roots.push(canceled.id);
  return { roots };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const config = loadConfig();
  const db = await openDatabase(config.store);
  try {
    const { roots } = await seed(new Store(db, config));
    console.log(`Seeded ${roots.length} task trees. Try: npm start, then open GraphiQL.`);
  } finally {
    await db.close();
  }
  process.exit(0);
}
