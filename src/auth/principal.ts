// Who is asking, and with which access role. Every request — HTTP, SSE or a graphql-ws connection — is
// authenticated once, before anything is parsed or run, into a Principal with a role:
// - `Authorization: Bearer <token>` (graphql-ws: `connectionParams.authorization`) → the token's
//   name and role;
// - protected mode (like Redis): while no live token exists, clients on this machine (loopback
//   addressing it as localhost/127.0.0.1/[::1], or in-process calls) are served as ADMIN and
//   everyone else is refused with how to create one;
// - once a token exists, every request needs one.
// Roles are then enforced per field by Pothos scope-auth (schema/builder.ts).
import { BlockList, isIP } from "node:net";
import { TaskgraphError } from "../domain/errors";
import type { Role } from "../generated/prisma/client";
import type { LookupOptions, Store } from "../store";

/** The store's token lookups (the Store itself). */
export type TokenLookups = Pick<Store, "findLiveToken" | "liveTokensExist" | "touchToken">;

export interface Principal {
  /** The token's name (what `createdBy` records), or "local" in protected mode. */
  name: string;
  role: Role;
  /** null for the protected-mode local ADMIN. */
  tokenId: string | null;
}

export const LOCAL_ADMIN: Principal = Object.freeze({ name: "local", role: "ADMIN", tokenId: null });

export interface Credentials {
  /** The Authorization header (or graphql-ws connectionParams.authorization), if any. */
  authorization: string | null;
  /** The peer's address; undefined for an in-process call (yoga.fetch from the embedding program). */
  remoteAddress: string | undefined;
  /** The request came through a proxy (any of RELAY_HEADERS in auth/transport.ts): its real client is not local. */
  forwarded: boolean;
  /** The Host header (null when none was sent, or for an in-process call). */
  host: string | null;
}

export const PROTECTED_MODE_MESSAGE =
  "taskgraph is in protected mode: no API token exists yet, so only clients on the server's own machine are served. " +
  "Create an ADMIN token there (`npm run token -- create <name> --role ADMIN`, or the createApiToken mutation from " +
  "the machine itself) and send it as `Authorization: Bearer <token>`.";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");
loopback.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

export function isLoopback(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && loopback.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Whether a Host header names this machine's loopback: localhost (or a name under .localhost),
 * 127.x.x.x or [::1], any port. A page that re-points its own domain to 127.0.0.1 (DNS rebinding)
 * reaches the server from loopback, but its requests name that domain.
 */
export function isLoopbackHost(host: string): boolean {
  const value = host.trim().toLowerCase();
  const name = value.startsWith("[") ? value.slice(1, value.indexOf("]")) : value.replace(/:\d*$/, "");
  return name === "localhost" || name.endsWith(".localhost") || isLoopback(name);
}

/** The token of an `Authorization: Bearer <token>` header, or null when the header is not of that form. */
export function bearerToken(authorization: string): string | null {
  return /^Bearer +(\S+) *$/i.exec(authorization)?.[1] ?? null;
}

const unauthenticated = (message: string) => new TaskgraphError("UNAUTHENTICATED", message);

/** How often a token's lastUsedAt is written (not on every request). */
const TOUCH_EVERY_MS = 60_000;

export class Authenticator {
  private readonly touched = new Map<string, number>();

  constructor(private readonly tokens: TokenLookups) {}

  /**
   * The principal, or a TaskgraphError UNAUTHENTICATED saying what is wrong. Token lookups are
   * shared and remembered for a second (store/tokens.ts); `lookup.maxAgeMs` asks for fresher ones.
   */
  async authenticate(credentials: Credentials, lookup: LookupOptions = {}): Promise<Principal> {
    if (credentials.authorization !== null) {
      const secret = bearerToken(credentials.authorization);
      if (!secret) throw unauthenticated("The Authorization header must be `Bearer <token>`");
      const token = await this.tokens.findLiveToken(secret, lookup);
      if (!token) throw unauthenticated("Unknown or revoked API token");
      this.touch(token.id);
      return { name: token.name, role: token.role, tokenId: token.id };
    }
    if (await this.tokens.liveTokensExist(lookup)) {
      throw unauthenticated("An API token is required: send it as `Authorization: Bearer <token>`");
    }
    const local = credentials.remoteAddress === undefined || isLoopback(credentials.remoteAddress);
    if (local && !credentials.forwarded) {
      if (credentials.host === null || isLoopbackHost(credentials.host)) return LOCAL_ADMIN;
      throw new TaskgraphError(
        "UNAUTHENTICATED",
        `${PROTECTED_MODE_MESSAGE} A local client must address the server as localhost, 127.0.0.1 or [::1]; this request named ${JSON.stringify(credentials.host.slice(0, 100))}.`,
        { protectedMode: true },
      );
    }
    throw new TaskgraphError("UNAUTHENTICATED", PROTECTED_MODE_MESSAGE, { protectedMode: true });
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    // Bookkeeping only: a failed write must not fail the request.
    this.tokens.touchToken(id, new Date(now)).catch(() => this.touched.delete(id));
  }
}
