// Open sessions (graphql-ws connections, SSE subscriptions) were authenticated when they opened;
// SessionWatch checks their credentials again every half second, so a token revoked in any process
// (tokens live in the shared database) ends them within a second, as does the first token created
// for sessions of protected mode. The check reuses the shared token lookups: one query per token per
// check, however many sessions use it. An unreachable database ends nothing.
import { TaskgraphError } from "../domain/errors";
import type { Authenticator, Credentials } from "./principal";

/** How often open sessions are checked again (and how old a lookup the check accepts). */
export const SESSION_CHECK_MS = 500;

interface Session {
  credentials: Credentials;
  end(error: TaskgraphError): void;
}

export class SessionWatch {
  private readonly sessions = new Set<Session>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly authenticator: Authenticator) {}

  /** Calls `end` once the credentials are refused; returns a function that stops watching. */
  watch(credentials: Credentials, end: (error: TaskgraphError) => void): () => void {
    const session: Session = { credentials, end };
    this.sessions.add(session);
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), SESSION_CHECK_MS);
      this.timer.unref();
    }
    return () => {
      this.sessions.delete(session);
      if (this.sessions.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all(
        [...this.sessions].map(async (session) => {
          try {
            await this.authenticator.authenticate(session.credentials, { maxAgeMs: SESSION_CHECK_MS });
          } catch (error) {
            if (!(error instanceof TaskgraphError) || error.code !== "UNAUTHENTICATED" || !this.sessions.has(session)) return;
            this.sessions.delete(session);
            session.end(error);
          }
        }),
      );
    } finally {
      this.checking = false;
      if (this.sessions.size === 0) this.stop();
    }
  }
}
