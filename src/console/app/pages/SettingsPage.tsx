// ADMIN settings: how long finished tasks are kept (TTLs), draining a module's finished tasks,
// and API tokens (create: the secret is shown once; revoke). Other roles are told it needs ADMIN.
import { type FormEvent, useState } from "react";
import { useMutation, useQuery } from "urql";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorNote, Time } from "../components/bits";
import { useSession } from "../session";
import { CreateTokenMutation, DrainModuleMutation, RevokeTokenMutation, SetTtlMutation, SettingsQuery } from "./queries";

const ROLES = ["VIEWER", "TASK_MANAGER", "ADMIN"] as const;
type Role = (typeof ROLES)[number];

export function SettingsPage() {
  const { me } = useSession();
  if (me.role !== "ADMIN") {
    return (
      <main className="settings-page">
        <h1>Settings</h1>
        <p className="page-note" role="note">
          Settings need the ADMIN role; you are signed in as {me.role}. Ask an ADMIN for a token if you need them.
        </p>
      </main>
    );
  }
  return <AdminSettings />;
}

function AdminSettings() {
  const [result, refetch] = useQuery({ query: SettingsQuery, requestPolicy: "cache-and-network" });
  const reload = () => refetch({ requestPolicy: "network-only" });
  return (
    <main className="settings-page">
      <h1>Settings</h1>
      <ErrorNote error={result.error} />
      {result.data && (
        <>
          <TtlSection settings={result.data.settings} />
          <DrainSection modules={result.data.modules} onDrained={reload} />
          <TokensSection tokens={result.data.apiTokens} onChanged={reload} />
        </>
      )}
    </main>
  );
}

/** The fields start from the settings as first loaded (a refetch after saving does not reset them). */
function TtlSection({ settings }: { settings: { taskTtlSeconds: number; userTaskTtlSeconds: number } }) {
  const [system, setSystem] = useState(String(settings.taskTtlSeconds));
  const [user, setUser] = useState(String(settings.userTaskTtlSeconds));
  const [state, save] = useMutation(SetTtlMutation);
  const [saved, setSaved] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const result = await save({ ttlSeconds: Number(system), userTtlSeconds: Number(user) });
    if (result.data) setSaved(true);
  };
  return (
    <section aria-labelledby="ttl-title" className="settings-section">
      <h2 id="ttl-title">How long finished tasks are kept</h2>
      <form className="form" onSubmit={submit}>
        <label htmlFor="ttl-system">Tasks started by the system (seconds)</label>
        <input id="ttl-system" type="number" min={0} step={1} required value={system} onChange={(e) => setSystem(e.target.value)} />
        <label htmlFor="ttl-user">Tasks started by a user (seconds)</label>
        <input id="ttl-user" type="number" min={0} step={1} required value={user} onChange={(e) => setUser(e.target.value)} />
        <small>0 removes a finished task at once.</small>
        <ErrorNote error={state.error} />
        <div className="form-buttons">
          <button type="submit" className="primary" disabled={state.fetching}>
            Save TTLs
          </button>
          {saved && <span role="status">Saved.</span>}
        </div>
      </form>
    </section>
  );
}

function DrainSection({ modules, onDrained }: { modules: { id: string; name: string }[]; onDrained(): void }) {
  const [module, setModule] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [state, drain] = useMutation(DrainModuleMutation);
  const [done, setDone] = useState<string | null>(null);
  const run = async () => {
    const result = await drain({ module });
    setConfirming(false);
    if (result.data) {
      setDone(`${result.data.drainModule.deletedCount} finished task(s) of ${module} removed.`);
      onDrained();
    }
  };
  return (
    <section aria-labelledby="drain-title" className="settings-section">
      <h2 id="drain-title">Drain a module</h2>
      <form
        className="form"
        onSubmit={(event) => {
          event.preventDefault();
          setDone(null);
          if (module) setConfirming(true);
        }}
      >
        <label htmlFor="drain-module">Module</label>
        <select id="drain-module" value={module} onChange={(e) => setModule(e.target.value)}>
          <option value="">Choose a module…</option>
          {modules.map((m) => (
            <option key={m.id} value={m.name}>
              {m.name}
            </option>
          ))}
        </select>
        <ErrorNote error={state.error} />
        <div className="form-buttons">
          <button type="submit" className="danger" disabled={!module || state.fetching}>
            Drain…
          </button>
          {done && <span role="status">{done}</span>}
        </div>
      </form>
      {confirming && (
        <ConfirmDialog title={`Drain ${module}?`} confirmLabel="Drain" danger busy={state.fetching} onConfirm={() => void run()} onCancel={() => setConfirming(false)}>
          <p>Every finished task of {module} is removed now, whatever its TTL. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

interface TokenRow {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function TokensSection({ tokens, onChanged }: { tokens: TokenRow[]; onChanged(): void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("VIEWER");
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [createState, create] = useMutation(CreateTokenMutation);
  const [revokeState, revoke] = useMutation(RevokeTokenMutation);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setCopied(false);
    const result = await create({ name: name.trim(), role });
    if (result.data) {
      setCreated({ name: result.data.createApiToken.token.name, secret: result.data.createApiToken.secret });
      setName("");
      onChanged();
    }
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  const doRevoke = async () => {
    if (!revoking) return;
    const result = await revoke({ name: revoking });
    setRevoking(null);
    if (result.data) onChanged();
  };

  return (
    <section aria-labelledby="tokens-title" className="settings-section">
      <h2 id="tokens-title">API tokens</h2>
      {created && (
        <div className="secret" role="alert" aria-label="New token secret">
          <p>
            <strong>Copy the secret of {created.name} now: it is shown only this once.</strong> Anyone who has it acts with its role.
          </p>
          <code className="secret-value">{created.secret}</code>{" "}
          <button type="button" onClick={() => void copy()}>
            {copied ? "Copied" : "Copy"}
          </button>{" "}
          <button type="button" className="link" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      <table className="tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <th scope="row">{t.name}</th>
              <td>{t.role}</td>
              <td>
                <Time value={t.createdAt} /> {t.createdBy && <span className="muted small">by {t.createdBy}</span>}
              </td>
              <td>
                <Time value={t.lastUsedAt} />
              </td>
              <td>{t.revokedAt ? <span className="muted">revoked</span> : "valid"}</td>
              <td>
                {!t.revokedAt && (
                  <button type="button" className="danger" onClick={() => setRevoking(t.name)} aria-label={`Revoke ${t.name}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorNote error={revokeState.error} />
      <form className="form token-form" onSubmit={submit}>
        <label htmlFor="token-name">New token name</label>
        <input id="token-name" required value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        <label htmlFor="token-role">Role</label>
        <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <ErrorNote error={createState.error} />
        <div className="form-buttons">
          <button type="submit" className="primary" disabled={createState.fetching}>
            Create token
          </button>
        </div>
      </form>
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking}?`}
          confirmLabel="Revoke"
          danger
          busy={revokeState.fetching}
          onConfirm={() => void doRevoke()}
          onCancel={() => setRevoking(null)}
        >
          <p>Requests with this token are refused from now on, and its live connections are closed. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
