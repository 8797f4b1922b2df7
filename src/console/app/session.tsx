// Who is using the console. The page asks `me` first: in protected mode (no token exists yet) the
// server answers for the local ADMIN without a token; once tokens exist it answers UNAUTHENTICATED
// and the page asks for one. The token is kept in sessionStorage (this tab only, gone when it
// closes) and sent with every request. `me.role` decides which actions are shown.
import { createContext, type FormEvent, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { Provider } from "urql";
import { createApiClients } from "./client";
import { ErrorNote } from "./components/bits";
import { graphql, type ResultOf } from "./graphql";

const TOKEN_KEY = "taskgraph.token";

const MeQuery = graphql(`
  query ConsoleMe {
    me { name role protectedMode }
  }
`);

export type Me = ResultOf<typeof MeQuery>["me"];

export interface Session {
  me: Me;
  /** Whether a token is in use (else: protected mode). */
  signedIn: boolean;
  /** TASK_MANAGER and ADMIN start and control tasks; a VIEWER only looks. */
  canControl: boolean;
  signOut(): void;
  /** Bumped each time the live connection comes back after a loss: live views refetch then. */
  reconnects: number;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

type Status = { kind: "loading" } | { kind: "ready"; me: Me } | { kind: "token"; message: string | null } | { kind: "down"; message: string };

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(storedToken);
  const [reconnects, setReconnects] = useState(0);
  // Bumped by every sign-in, so the same token entered again gets a fresh client and a fresh `me`.
  const [attempt, setAttempt] = useState(0);
  const [status, setStatus] = useState<Status>({ kind: "loading" });
  const clients = useMemo(
    () =>
      createApiClients(token, {
        reconnected: () => setReconnects((n) => n + 1),
        unauthorized: () => setStatus({ kind: "token", message: "The server no longer accepts this token (revoked?). Enter a valid one." }),
      }),
    [token, attempt], // eslint-disable-line react-hooks/exhaustive-deps
  );
  // Disposed a moment after its effect is cleaned up, unless the effect runs again for the same
  // clients at once (React's StrictMode in development cleans up and re-runs every effect).
  const disposal = useRef<{ clients: typeof clients; timer: ReturnType<typeof setTimeout> } | undefined>(undefined);
  useEffect(() => {
    if (disposal.current?.clients === clients) clearTimeout(disposal.current.timer);
    return () => {
      disposal.current = { clients, timer: setTimeout(() => clients.dispose(), 0) };
    };
  }, [clients]);

  useEffect(() => {
    let current = true;
    setStatus({ kind: "loading" });
    void clients.client
      .query(MeQuery, {}, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        if (!current) return;
        if (result.data) return setStatus({ kind: "ready", me: result.data.me });
        const unauthenticated = result.error?.graphQLErrors.find((e) => e.extensions?.code === "UNAUTHENTICATED");
        if (unauthenticated) return setStatus({ kind: "token", message: token ? unauthenticated.message : null });
        setStatus({ kind: "down", message: result.error?.message ?? "No answer from the server" });
      });
    return () => {
      current = false;
    };
  }, [clients, token]);

  const chooseToken = useCallback((value: string | null) => {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage refused (private mode): the token lives as long as the page.
    }
    setToken(value);
    setAttempt((n) => n + 1);
  }, []);

  if (status.kind === "loading") return <p className="page-note">Connecting…</p>;
  if (status.kind === "down") {
    return (
      <main>
        <ErrorNote error={`The server did not answer: ${status.message}`} />
        <button type="button" onClick={() => chooseToken(token)}>
          Try again
        </button>
      </main>
    );
  }
  if (status.kind === "token") return <TokenPrompt message={status.message} onToken={chooseToken} />;
  const session: Session = {
    me: status.me,
    signedIn: token !== null,
    canControl: status.me.role !== "VIEWER",
    signOut: () => chooseToken(null),
    reconnects,
  };
  return (
    <SessionContext.Provider value={session}>
      <Provider value={clients.client}>{children}</Provider>
    </SessionContext.Provider>
  );
}

function TokenPrompt({ message, onToken }: { message: string | null; onToken(token: string): void }) {
  const [value, setValue] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) onToken(value.trim());
  };
  return (
    <main className="token-prompt">
      <form onSubmit={submit} aria-labelledby="token-title">
        <h1 id="token-title">taskgraph</h1>
        <p>This server requires an API token. It is kept for this browser tab only.</p>
        <ErrorNote error={message} />
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="off" spellCheck={false} autoFocus value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="submit" className="primary">
          Sign in
        </button>
        <p className="muted small">
          An ADMIN creates tokens with <code>npm run token -- create &lt;name&gt; --role VIEWER</code> on the server.
        </p>
      </form>
    </main>
  );
}
