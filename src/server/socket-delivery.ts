// A graphql-ws subscription's events, written straight to its WebSocket. graphql-ws would send each
// result itself (its loop awaits our iterator, then its hook, then serializes the whole message and
// awaits the send), which costs per subscriber what sharing the execution saved (shared-execution.ts).
// Here the result's JSON is made once, whoever shares it, and each subscriber's message is that
// JSON behind its own id. graphql-ws still runs everything else: the subscribe, the client's
// `complete`, the socket's close, and the `error` or `complete` message at the end, because the
// iterator it is handed yields nothing and settles only when the subscription ends.
import { type ExecutionResult, GraphQLError } from "graphql";
import type { WebSocket } from "ws";
import type { Logger } from "../logger";
import type { TaskMetrics } from "../runtime/metrics";
import { eventWrittenAt } from "./shared-execution";

/** Unsent bytes past which a subscription waits until its socket has written its last message. */
export const SEND_HIGH_WATER_BYTES = 64 * 1024;

/** Close code for a WebSocket subscriber that stopped taking events (README: resume with `after`). */
export const CLOSE_SUBSCRIBER_TOO_SLOW = 4001;

export interface DeliveryParts {
  /** How long a subscriber may leave a message unwritten before it is closed. */
  stallMs: number;
  log: Logger;
  /** Where each event handed to a subscriber is timed (taskgraph_event_delivery_seconds). */
  metrics: TaskMetrics;
}

/**
 * What graphql-ws iterates for a subscription: a SocketDelivery when the operation gave a stream
 * of results, else the operation's result itself (an error) for graphql-ws to send.
 */
export async function deliverToSocket(result: unknown, socket: WebSocket, id: string, parts: DeliveryParts): Promise<unknown> {
  const resolved = await result;
  if (!resolved || typeof resolved !== "object" || !(Symbol.asyncIterator in resolved)) return resolved;
  return new SocketDelivery((resolved as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator](), socket, id, parts);
}

/**
 * Pulls a subscription's results and sends each as a graphql-ws `next` message. Subscriptions are
 * pulled: while its socket holds less than SEND_HIGH_WATER_BYTES unsent, the next result is taken
 * at once; beyond that, only once the last message is written, so a client that stops reading
 * stalls only its own subscription and the server holds a bounded amount for it (the rest waits in
 * the journal). A subscriber stalled longer than `stallMs` is closed with CLOSE_SUBSCRIBER_TOO_SLOW;
 * it can reconnect and resume with `after`. A class, not closures: idle subscriptions should cost little.
 */
class SocketDelivery implements AsyncIterableIterator<never> {
  /** What graphql-ws awaits: settles when the subscription ends (done), or fails (rejects). */
  private ended: Promise<IteratorResult<never>> | undefined;
  private end!: (step: IteratorResult<never>) => void;
  private fail!: (error: unknown) => void;
  private stopped = false;
  /** The start of each of this subscription's messages: `{"id":…,"type":"next","payload":`. */
  private readonly head: string;

  constructor(
    private readonly inner: AsyncIterator<ExecutionResult>,
    private readonly socket: WebSocket,
    id: string,
    private readonly parts: DeliveryParts,
  ) {
    this.head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** graphql-ws's first (and only) pull starts the delivery. */
  next(): Promise<IteratorResult<never>> {
    if (!this.ended) {
      this.ended = new Promise((resolve, reject) => {
        this.end = resolve;
        this.fail = reject;
      });
      void this.pump();
    }
    return this.ended;
  }

  /** The client completed the subscription, or its socket closed. */
  async return(): Promise<IteratorResult<never>> {
    this.stop();
    await this.inner.return?.();
    return DONE;
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    this.stop();
    await this.inner.return?.();
    throw error;
  }

  private stop(): void {
    this.stopped = true;
    this.end?.(DONE);
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const step = await this.inner.next();
        if (step.done || this.stopped || this.socket.readyState !== this.socket.OPEN) break;
        const message = this.head + payloadJson(step.value) + "}";
        const writtenAt = eventWrittenAt(step.value);
        if (writtenAt) this.parts.metrics.eventDelivered((Date.now() - writtenAt.getTime()) / 1000);
        if (this.socket.bufferedAmount < SEND_HIGH_WATER_BYTES) this.socket.send(message);
        else await this.sendWhenWritten(message);
      }
      this.stop();
    } catch (error) {
      if (this.stopped) return;
      this.stopped = true;
      this.fail(error);
    }
  }

  /** Sends `message` and resolves once it is written, or closes the socket if that takes over stallMs. */
  private sendWhenWritten(message: string): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.closeStalled(), this.parts.stallMs);
      timer.unref();
      this.socket.send(message, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private closeStalled(): void {
    this.parts.log.warn({ stalledMs: this.parts.stallMs }, "a subscriber stopped taking events: its connection is closed (it may resume with after)");
    this.socket.close(CLOSE_SUBSCRIBER_TOO_SLOW, "Subscriber too slow: reconnect and resume with after");
  }
}

const DONE: IteratorResult<never> = Object.freeze({ done: true, value: undefined as never });

/** Each result's `payload` JSON, made once for every subscriber that shares the result. */
const payloadJsonByResult = new WeakMap<ExecutionResult, string>();

function payloadJson(result: ExecutionResult): string {
  let json = payloadJsonByResult.get(result);
  if (json === undefined) {
    json = JSON.stringify(withoutHttpExtensions(result));
    payloadJsonByResult.set(result, json);
  }
  return json;
}

/** `extensions.http` tells Yoga the HTTP status of an error; it means nothing on a WebSocket. */
export function withoutHttpExtension(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions });
}

export function withoutHttpExtensions<T extends { errors?: readonly GraphQLError[] }>(result: T): T {
  if (!result.errors?.some((error) => error.extensions?.http)) return result;
  return { ...result, errors: result.errors.map(withoutHttpExtension) };
}
