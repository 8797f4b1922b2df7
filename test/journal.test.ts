// The journal's horizon (src/store/journal-reader.ts): an event is delivered only once every older write
// transaction of this database has ended — and a transaction of another database on the same
// server does not hold anything back. PostgreSQL only: PGlite has one connection, so no
// transaction can be open while another reads.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Store } from "../src/store";
import { journalHead, readJournal, widenXid } from "../src/store/journal-reader";
import { adminUrl } from "./support/global-setup";
import { openTestStore, storeKind } from "./support/db";

describe.skipIf(storeKind !== "postgresql")("the journal's horizon", () => {
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let store: Store;
  beforeAll(async () => {
    opened = await openTestStore();
    store = opened.store;
    await store.ensureModule("horizon");
  });
  afterAll(() => opened.db.close());

  const typesAfter = async (cursor: Awaited<ReturnType<typeof journalHead>>) =>
    (await readJournal(store.prismaForTests, cursor, { module: "horizon" }, 100)).map((e) => `${e.type}:${e.version}`);

  test("an open write transaction of this database holds back later events until it ends; then all arrive in order", async () => {
    const task = await store.createTask({ module: "horizon", type: "job" });
    const head = await journalHead(store.prismaForTests);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    // An older transaction: writes an event, then stays open.
    const older = store.prismaForTests.$transaction(
      async (tx) => {
        await tx.$executeRaw`INSERT INTO "TaskEvent" ("taskId", "rootId", module, type, version, payload)
          VALUES (${task.id}::uuid, ${task.id}::uuid, 'horizon', 'LOG_APPENDED', 100, '{}')`;
        wrote();
        await held;
      },
      { timeout: 20_000 },
    );
    await written;
    await store.setProgress(task.id, 1); // a younger transaction, committed at once
    expect(await typesAfter(head)).toEqual([]); // held back: delivering it would skip the older one
    release();
    await older;
    expect(await typesAfter(head)).toEqual(["LOG_APPENDED:100", "PROGRESSED:2"]);
  });

  test("an open transaction of another database on the same server holds nothing back", async () => {
    const other = new pg.Client({ connectionString: adminUrl(process.env.TEST_DATABASE_URL!) });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT pg_current_xact_id()"); // it has a transaction id, like a writer
      const task = await store.createTask({ module: "horizon", type: "other" });
      const head = await journalHead(store.prismaForTests);
      await store.setProgress(task.id, 5);
      expect(await typesAfter(head)).toEqual(["PROGRESSED:2"]);
    } finally {
      await other.query("ROLLBACK");
      await other.end();
    }
  });

  test("transactions beginning while the horizon is read never send a new subscriber back to old events", async () => {
    const before = await journalHead(store.prismaForTests);
    const [{ name }] = await store.prismaForTests.$queryRaw<[{ name: string }]>`SELECT current_database() AS name`;
    // Writers on this database taking transaction ids as fast as they can: some begin between the horizon
    // statement's snapshot and its read of pg_stat_activity.
    const writers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const client = new pg.Client({ connectionString: adminUrl(process.env.TEST_DATABASE_URL!, name) });
        await client.connect();
        return client;
      }),
    );
    let writing = true;
    const loops = writers.map(async (client) => {
      while (writing) {
        await client.query("BEGIN");
        await client.query("SELECT pg_current_xact_id()");
        await client.query("COMMIT");
      }
    });
    try {
      const heads: bigint[] = [];
      for (let i = 0; i < 300; i++) heads.push((await journalHead(store.prismaForTests)).txid);
      expect(heads.filter((txid) => txid < before.txid)).toEqual([]);
    } finally {
      writing = false;
      await Promise.all(loops);
      await Promise.all(writers.map((client) => client.end()));
    }
  });
});

describe("transaction ids from pg_stat_activity (32 bits) placed next to the snapshot's", () => {
  const epoch = 1n << 32n;
  test("an id below xmax in the same epoch, one that began after the snapshot, one from the epoch before", () => {
    expect(widenXid(900n, 1_000n)).toBe(900n);
    expect(widenXid(1_005n, 1_000n)).toBe(1_005n); // above xmax: never older than the snapshot
    expect(widenXid(epoch - 2n, epoch + 3n)).toBe(epoch - 2n);
    expect(widenXid(2n, epoch - 3n)).toBe(epoch + 2n);
    expect(widenXid(1_000n, 5n * epoch + 1_200n)).toBe(5n * epoch + 1_000n);
  });
});
