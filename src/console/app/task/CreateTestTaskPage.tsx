// openATTIC's test task, started from the console: counts `rounds` rounds of `roundMs` each,
// optionally as a flow of steps, optionally failing at a round; with the operation policies
// (priority, exclusive key, time limit, automatic retries) so each can be tried from here.
// Lands on the new task's page.
import { type FormEvent, useState } from "react";
import { useMutation } from "urql";
import { Link, useLocation } from "wouter";
import { ErrorNote } from "../components/bits";
import { listUrl, useKeys } from "../keys";
import { CreateTestTaskMutation } from "./queries";

const EMPTY = {
  rounds: "10",
  roundMs: "1000",
  steps: "",
  failAtRound: "",
  failAttempts: "",
  priority: "",
  exclusiveKey: "",
  refuse: false,
  timeoutMs: "",
  attempts: "",
  backoffMs: "",
  fixedBackoff: false,
};

export function CreateTestTaskPage() {
  const [, navigate] = useLocation();
  const [state, create] = useMutation(CreateTestTaskMutation);
  useKeys({ Escape: () => navigate(listUrl()) });
  const [form, setForm] = useState(EMPTY);
  type Text = { [K in keyof typeof EMPTY]: (typeof EMPTY)[K] extends string ? K : never }[keyof typeof EMPTY];
  type Flag = Exclude<keyof typeof EMPTY, Text>;
  const set = (key: Text) => (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value });
  const toggle = (key: Flag) => (event: { target: { checked: boolean } }) => setForm({ ...form, [key]: event.target.checked });
  const optional = (value: string) => (value.trim() === "" ? null : Number(value));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const attempts = optional(form.attempts);
    const result = await create({
      input: {
        rounds: Number(form.rounds),
        roundMs: Number(form.roundMs),
        steps: optional(form.steps),
        failAtRound: optional(form.failAtRound),
        failAttempts: optional(form.failAttempts),
        priority: optional(form.priority),
        exclusiveKey: form.exclusiveKey.trim() === "" ? null : form.exclusiveKey,
        exclusiveMode: form.exclusiveKey.trim() !== "" && form.refuse ? "REFUSE" : null,
        timeoutMs: optional(form.timeoutMs),
        retry: attempts === null ? null : { attempts, backoffMs: optional(form.backoffMs), backoff: form.fixedBackoff ? "FIXED" : "EXPONENTIAL" },
      },
    });
    const id = result.data?.createTestTask.id;
    if (id) navigate(`/tasks/${id}`);
  };

  return (
    <main className="create-page">
      <nav className="crumbs" aria-label="Breadcrumbs">
        <Link href={listUrl()}>Tasks</Link> <span aria-hidden="true">›</span> Create test task
      </nav>
      <h1>Create test task</h1>
      <p className="muted">It counts rounds, one every round length; with steps it is a flow whose every step counts them, each with a rollback.</p>
      <form className="form" onSubmit={submit}>
        <label htmlFor="rounds">Rounds</label>
        <input id="rounds" type="number" min={1} max={100000} required value={form.rounds} onChange={set("rounds")} />
        <label htmlFor="roundMs">Round length (ms)</label>
        <input id="roundMs" type="number" min={0} max={60000} required value={form.roundMs} onChange={set("roundMs")} />
        <label htmlFor="steps">Steps (optional)</label>
        <input id="steps" type="number" min={1} max={50} value={form.steps} onChange={set("steps")} aria-describedby="steps-help" />
        <small id="steps-help">Makes it a flow of this many steps.</small>
        <label htmlFor="failAtRound">Fail at round (optional)</label>
        <input id="failAtRound" type="number" min={1} value={form.failAtRound} onChange={set("failAtRound")} aria-describedby="fail-help" />
        <small id="fail-help">Counted over the whole flow; fails on the first attempt only, unless more are given below.</small>
        <label htmlFor="failAttempts">Failing attempts (optional)</label>
        <input id="failAttempts" type="number" min={1} max={100} value={form.failAttempts} onChange={set("failAttempts")} aria-describedby="fail-attempts-help" />
        <small id="fail-attempts-help">How many attempts fail at that round (default 1): watch automatic retries.</small>

        <label htmlFor="priority">Priority (optional)</label>
        <input id="priority" type="number" min={-1000} max={1000} value={form.priority} onChange={set("priority")} aria-describedby="priority-help" />
        <small id="priority-help">-1,000 to 1,000: higher is started first.</small>
        <label htmlFor="exclusiveKey">Exclusive key (optional)</label>
        <input id="exclusiveKey" value={form.exclusiveKey} onChange={set("exclusiveKey")} aria-describedby="key-help" />
        <small id="key-help">Tasks with the same key never run at once (e.g. a broker).</small>
        <label htmlFor="refuse">Refuse while the key is held</label>
        <input id="refuse" type="checkbox" checked={form.refuse} onChange={toggle("refuse")} disabled={form.exclusiveKey.trim() === ""} />
        <label htmlFor="timeoutMs">Time limit (ms, optional)</label>
        <input id="timeoutMs" type="number" min={1} value={form.timeoutMs} onChange={set("timeoutMs")} aria-describedby="timeout-help" />
        <small id="timeout-help">Past it the run is stopped and fails with TIMEOUT.</small>
        <label htmlFor="attempts">Attempts with automatic retries (optional)</label>
        <input id="attempts" type="number" min={1} max={100} value={form.attempts} onChange={set("attempts")} aria-describedby="attempts-help" />
        <small id="attempts-help">In all, the first included: a failed run (or step) is tried again after a pause.</small>
        <label htmlFor="backoffMs">First pause (ms)</label>
        <input id="backoffMs" type="number" min={0} value={form.backoffMs} onChange={set("backoffMs")} disabled={form.attempts.trim() === ""} aria-describedby="backoff-help" />
        <small id="backoff-help">Default 1,000; doubled before each next retry unless fixed.</small>
        <label htmlFor="fixedBackoff">Same pause every time</label>
        <input id="fixedBackoff" type="checkbox" checked={form.fixedBackoff} onChange={toggle("fixedBackoff")} disabled={form.attempts.trim() === ""} />
        <ErrorNote error={state.error} />
        <div className="form-buttons">
          <button type="submit" className="primary" disabled={state.fetching}>
            Create
          </button>
        </div>
      </form>
    </main>
  );
}
