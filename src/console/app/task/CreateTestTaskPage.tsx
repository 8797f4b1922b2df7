// openATTIC's test task, started from the console: counts `rounds` rounds of `roundMs` each,
// optionally as a flow of steps, optionally failing once at a round. Lands on the new task's page.
import { type FormEvent, useState } from "react";
import { useMutation } from "urql";
import { Link, useLocation } from "wouter";
import { ErrorNote } from "../components/bits";
import { listUrl, useKeys } from "../keys";
import { CreateTestTaskMutation } from "./queries";

export function CreateTestTaskPage() {
  const [, navigate] = useLocation();
  const [state, create] = useMutation(CreateTestTaskMutation);
  useKeys({ Escape: () => navigate(listUrl()) });
  const [form, setForm] = useState({ rounds: "10", roundMs: "1000", steps: "", failAtRound: "" });
  const set = (key: keyof typeof form) => (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value });
  const optional = (value: string) => (value.trim() === "" ? null : Number(value));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await create({
      input: {
        rounds: Number(form.rounds),
        roundMs: Number(form.roundMs),
        steps: optional(form.steps),
        failAtRound: optional(form.failAtRound),
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
        <small id="fail-help">Counted over the whole flow; fails once, on the first attempt.</small>
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
