// The connection to a taskgraph server: GraphQL over HTTP for queries and mutations, graphql-ws for
// subscriptions. Every failure becomes a CliError with the exit code it deserves.
import { readFileSync } from "node:fs";
import type { GraphQLFormattedError } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { CliError, EXIT, badArguments } from "./exit";

export const DEFAULT_URL = "http://127.0.0.1:4000/graphql";

export interface ConnectionOptions {
  url?: string;
  tokenFile?: string;
}

/** Close codes the server uses for a missing/bad token (4401) and for protected mode (4403). */
const AUTH_CLOSE_CODES = new Set([4401, 4403]);

/** Reconnects after a dropped WebSocket before a follower gives up ("connection lost"). */
const RECONNECT_ATTEMPTS = 3;

export interface Sink<T> {
  next(data: T): void;
  error(error: CliError): void;
  complete?(): void;
}

function errorFromGraphQL(errors: readonly GraphQLFormattedError[]): CliError {
  const first = errors[0]!;
  const code = typeof first.extensions?.code === "string" ? first.extensions.code : "ERROR";
  const message = errors.map((e) => e.message).join("; ");
  if (code === "UNAUTHENTICATED") return new CliError(`${code}: ${message}`, EXIT.UNAUTHENTICATED, code);
  return new CliError(`${code}: ${message}`, EXIT.REFUSED, code);
}

export class Api {
  readonly url: string;
  private readonly token: string | undefined;
  private ws: Client | undefined;

  constructor(options: ConnectionOptions) {
    this.url = options.url ?? process.env.TASKGRAPH_URL ?? DEFAULT_URL;
    try {
      new URL(this.url);
    } catch {
      throw badArguments(`--url: not a URL: ${this.url}`);
    }
    this.token = readToken(options.tokenFile);
  }

  private unreachable(detail: string) {
    return new CliError(
      `cannot reach taskgraph at ${this.url} (${detail}). Is the server running? Start it with npm start, or set --url / TASKGRAPH_URL.`,
      EXIT.UNREACHABLE,
    );
  }

  /** Runs a query or mutation; resolves with `data`, or throws a CliError. */
  async request<T>(document: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: JSON.stringify({ query: document, variables }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw this.unreachable(cause?.code ?? cause?.message ?? String(error));
    }
    let body: { data?: T | null; errors?: GraphQLFormattedError[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw this.unreachable(`HTTP ${response.status}, not a GraphQL response`);
    }
    if (body.errors?.length) throw errorFromGraphQL(body.errors);
    if (response.status === 401) throw new CliError("UNAUTHENTICATED", EXIT.UNAUTHENTICATED, "UNAUTHENTICATED");
    if (!body.data) throw this.unreachable(`HTTP ${response.status} without data`);
    return body.data;
  }

  /** Subscribes over graphql-ws; returns the unsubscribe function. */
  subscribe<T>(document: string, variables: Record<string, unknown>, sink: Sink<T>): () => void {
    const ws = (this.ws ??= createClient({
      url: this.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: this.token ? { authorization: `Bearer ${this.token}` } : {},
      retryAttempts: RECONNECT_ATTEMPTS,
      // 0.5 s, 1 s, 2 s: a follower re-subscribes and gets a fresh snapshot when it is back.
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, 500 * 2 ** retries)),
      shouldRetry: (event) => !(isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)),
    }));
    return ws.subscribe<T>(
      { query: document, variables },
      {
        next: (result) => {
          if (result.errors?.length) sink.error(errorFromGraphQL(result.errors));
          else sink.next(result.data as T);
        },
        error: (error) => sink.error(this.subscriptionError(error)),
        complete: () => sink.complete?.(),
      },
    );
  }

  private subscriptionError(error: unknown): CliError {
    if (Array.isArray(error)) return errorFromGraphQL(error as GraphQLFormattedError[]);
    if (isCloseEvent(error)) {
      if (AUTH_CLOSE_CODES.has(error.code)) {
        return new CliError(`UNAUTHENTICATED: ${error.reason || "the server refused the token"}`, EXIT.UNAUTHENTICATED, "UNAUTHENTICATED");
      }
      return this.unreachable(`connection closed, code ${error.code}${error.reason ? `: ${error.reason}` : ""}`);
    }
    const message = (error as { message?: string })?.message;
    return this.unreachable(message || "connection lost");
  }

  async close(): Promise<void> {
    await this.ws?.dispose();
  }
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && typeof (value as { code?: unknown }).code === "number";
}

function readToken(tokenFile: string | undefined): string | undefined {
  if (tokenFile) {
    try {
      return readFileSync(tokenFile, "utf8").trim();
    } catch (error) {
      throw badArguments(`--token-file: cannot read ${tokenFile}: ${(error as Error).message}`);
    }
  }
  return process.env.TASKGRAPH_TOKEN?.trim() || undefined;
}
