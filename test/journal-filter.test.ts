// The journal filter exists twice: as SQL (readJournal, for replays) and in TypeScript
// (matchesFilter, for the live feed). Both must give the same answer for every filter.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { JournalFilter, Store } from "../src/store";
import { matchesFilter } from "../src/store/journal-reader";
import { openTestStore } from "./support/db";

let opened: Awaited<ReturnType<typeof openTestStore>>;
let store: Store;
const START = { txid: 0n, id: 0n };

beforeAll(async () => {
  opened = await openTestStore();
  store = opened.store;
});

afterAll(async () => {
  (opened.db.adapterFactory as { pool?: { on(event: "error", listener: () => void): unknown } }).pool?.on("error", () => {});
  await opened.db.close();
});

test("readJournal (SQL) and matchesFilter (TypeScript) keep exactly the same events", async () => {
  await store.ensureModule("alpha");
  await store.ensureModule("beta");
  const root = await store.createTask({ module: "alpha", type: "job", children: [{ type: "part" }, { type: "part" }] });
  const [child] = await store.children(root.id);
  const other = await store.createTask({ module: "beta", type: "job", runAt: new Date(Date.now() + 3_600_000) });
  await store.setProgress(root.id, 1, 2);
  await store.appendLog(child!.id, { message: "hello" });
  await store.abortTask(other.id);
  await store.transitionTask(child!.id, "RUNNING");
  await store.transitionTask(child!.id, "FAILED", { error: "boom" });

  const all = await store.readJournal(START, {}, 10_000);
  expect(all.length).toBeGreaterThan(8);
  const cases: JournalFilter[] = [
    {},
    { module: "alpha" },
    { module: "beta" },
    { module: "gamma" },
    { taskId: child!.id },
    { rootId: root.id },
    { rootId: other.id, module: "beta" },
    { types: ["CREATED"] },
    { types: ["STATE_CHANGED", "LOG_APPENDED"] },
    { types: [] },
    { states: ["QUEUED"] },
    { states: ["SCHEDULED", "CANCELED"] },
    { states: ["FAILED"], types: ["STATE_CHANGED"] },
    { states: ["RUNNING"], types: ["PROGRESSED"] },
    { states: [], module: "alpha" },
    { taskId: root.id, types: ["PROGRESSED"] },
  ];
  const sizes = new Set<number>();
  for (const filter of cases) {
    const bySql = (await store.readJournal(START, filter, 10_000)).map((e) => e.id);
    const byTs = all.filter((e) => matchesFilter(e, filter)).map((e) => e.id);
    expect({ filter, ids: bySql }).toEqual({ filter, ids: byTs });
    sizes.add(byTs.length);
  }
  expect(sizes.size).toBeGreaterThan(5); // the cases tell events apart, not all-or-nothing
});
