// A subscriber that stops reading: the server keeps at most an event or so for it (subscriptions
// are pulled from the journal), and closes it with the documented code once it has stalled.
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { CLOSE_SUBSCRIBER_TOO_SLOW } from "../src/server";
import { startTestApp, type TestApp } from "./support/app";
import { LEVEL, recordingLogger } from "./support/log";

let app: TestApp;
let url: string;
const log = recordingLogger("info");

beforeAll(async () => {
  app = await startTestApp({ config: { subscriberStallMs: 500 }, logger: log.logger });
  ({ url } = await app.start(0));
});
afterAll(() => app.stop());

test("a client that stops reading is closed with 4001 and was never sent more than a fraction of the backlog", { timeout: 60_000 }, async () => {
  await app.store.ensureModule("bulk");
  const task = await app.store.createTask({ module: "bulk", type: "chatty" });
  const EVENTS = 2_000;
  const big = "x".repeat(8_000);
  await app.store.prismaForTests.taskEvent.createMany({
    data: Array.from({ length: EVENTS }, (_, i) => ({
      taskId: task.id,
      rootId: task.id,
      module: "bulk",
      type: "LOG_APPENDED" as const,
      version: i + 2,
      payload: { level: "INFO", message: big, stepKey: null },
    })),
  });

  const subscribedBefore = app.manager.feed.size;
  const ws = new WebSocket(url.replace("http", "ws"), "graphql-transport-ws");
  let received = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve) => ws.on("open", () => resolve()));
  ws.send(JSON.stringify({ type: "connection_init" }));
  ws.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === "connection_ack") {
      ws.send(
        JSON.stringify({
          id: "1",
          type: "subscribe",
          payload: {
            query: `subscription ($id: ID!, $after: String) { taskEvents(filter: { taskId: $id }, after: $after) { cursor payload } }`,
            variables: { id: task.id, after: Buffer.from("0:0").toString("base64url") },
          },
        }),
      );
      // …and stop reading: the TCP socket is paused, so the server's writes back up.
      setTimeout(() => (ws as unknown as { _socket: { pause(): void } })._socket.pause(), 50);
    }
    if (message.type === "next") received++;
  });

  // The server ends the stalled subscription while this client still reads nothing (its close
  // frame waits behind the backlog): wait for that on the server's side, however loaded the machine
  // is, then read again to receive the close.
  const deadline = Date.now() + 25_000;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
  while (app.manager.feed.size === subscribedBefore && Date.now() < deadline) await pause();
  while (app.manager.feed.size > subscribedBefore && Date.now() < deadline) await pause();
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  const { code, reason } = await closed;
  expect(code).toBe(CLOSE_SUBSCRIBER_TOO_SLOW);
  expect(reason).toContain("after");
  // The 16 MB backlog stayed in the journal: only what fit in the socket buffers was sent.
  expect(received).toBeGreaterThan(0);
  expect(received).toBeLessThan(EVENTS / 2);
  // The operator sees why in the log: one warning from the server.
  const closedLines = log.lines.filter((line) => line.msg.includes("stopped taking events"));
  expect(closedLines).toEqual([expect.objectContaining({ level: LEVEL.warn, component: "server", stalledMs: 500 })]);
});
