// The journal's horizon (src/store/journal-reader.ts): an event is delivered only once every older write
// transaction of this database has ended — and a transaction of another database on the same
// server does not hold anything back. PostgreSQL only: PGlite has one connection, so no
// transaction can be open while another reads.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Store } from "../src/store";
import { journalHead, readJournal } from "../src/store/journal-reader";
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
});
