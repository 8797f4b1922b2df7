// Start an operation: a module, then one of its task types from the catalogue (its description
// and whether a worker serves it), a form generated from the type's input JSON Schema (rjsf; see
// schema-validator.ts for its validator), an optional target, labels and run time. The server
// checks the input; its BAD_USER_INPUT issues (extensions.issues with paths like "input.rounds",
// or extensions.field) are shown next to the fields. On success: the new task's page.
// The Form itself, not the package index: the index also exports a test helper that imports
// @rjsf/validator-ajv8, which the console does not install (schema-validator.ts).
import Form from "@rjsf/core/lib/components/Form.js";
import type { ErrorSchema, RJSFSchema } from "@rjsf/utils";
import { type FormEvent, useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { Link, useLocation } from "wouter";
import { ErrorNote } from "../components/bits";
import { CatalogueQuery, StartTaskMutation } from "./queries";
import { createSchemaValidator } from "./schema-validator";

interface Issue {
  path: string;
  message: string;
}

/** The server's issues as rjsf's extra errors: "input.a.b" → {a: {b: {__errors: [...]}}}; others stay general. */
function issuesToErrors(issues: Issue[]): { fields: ErrorSchema; general: string[]; outside: Record<string, string[]> } {
  const fields: Record<string, unknown> = {};
  const general: string[] = [];
  const outside: Record<string, string[]> = {};
  for (const issue of issues) {
    const match = /^input((?:\.[A-Za-z_$][\w$]*|\[\d+\])*)$/.exec(issue.path);
    if (!match) {
      (outside[issue.path] ??= []).push(issue.message);
      continue;
    }
    const segments = [...match[1]!.matchAll(/\.([A-Za-z_$][\w$]*)|\[(\d+)\]/g)].map((m) => m[1] ?? m[2]!);
    if (segments.length === 0) {
      general.push(issue.message);
      continue;
    }
    let node = fields as Record<string, unknown>;
    for (const segment of segments) node = (node[segment] ??= {}) as Record<string, unknown>;
    ((node.__errors ??= []) as string[]).push(issue.message);
  }
  return { fields: fields as ErrorSchema, general, outside };
}

/**
 * A refusal's issues: `extensions.issues` ([{path, message}], from the input's schema), or a type's
 * own check naming one input field (`extensions.field`, e.g. the test module's "rounds").
 */
function errorIssues(error: { message: string; extensions?: Record<string, unknown> }): Issue[] {
  if (error.extensions?.code !== "BAD_USER_INPUT") return [];
  if (Array.isArray(error.extensions.issues)) return error.extensions.issues as Issue[];
  const field = error.extensions.field;
  if (typeof field === "string" && field) return [{ path: `input.${field}`, message: error.message }];
  return [];
}

function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const line of text.split(/[\n,]/)) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at <= 0) return `"${line.trim()}" is not key=value`;
    labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return labels;
}

export function StartPage() {
  const [, navigate] = useLocation();
  const [catalogue] = useQuery({ query: CatalogueQuery });
  const [started, start] = useMutation(StartTaskMutation);
  const modules = catalogue.data?.modules ?? [];
  const [moduleName, setModuleName] = useState("");
  const [typeName, setTypeName] = useState("");
  const [formData, setFormData] = useState<unknown>(undefined);
  const [target, setTarget] = useState("");
  const [labels, setLabels] = useState("");
  const [runAt, setRunAt] = useState("");
  const [issues, setIssues] = useState<Issue[]>([]);
  const [localError, setLocalError] = useState<string | null>(null);

  const module = modules.find((m) => m.name === moduleName);
  const type = module?.taskTypes.find((t) => t.name === typeName);
  const schema = useMemo<RJSFSchema>(() => {
    const published = type?.inputSchema as RJSFSchema | null | undefined;
    if (!published) return { type: "object", title: "", properties: {} };
    return { ...published, title: "" };
  }, [type]);
  const validator = useMemo(() => createSchemaValidator(schema), [schema]);
  const errors = issuesToErrors(issues);

  const chooseModule = (name: string) => {
    setModuleName(name);
    setTypeName("");
    setFormData(undefined);
    setIssues([]);
  };
  const chooseType = (name: string) => {
    setTypeName(name);
    setFormData(undefined);
    setIssues([]);
  };

  const submit = async (data: unknown) => {
    setIssues([]);
    setLocalError(null);
    const parsedLabels = parseLabels(labels);
    if (typeof parsedLabels === "string") return setLocalError(`Labels: ${parsedLabels}`);
    const result = await start({
      input: {
        module: moduleName,
        type: typeName,
        input: data ?? {},
        target: target.trim() || null,
        labels: Object.keys(parsedLabels).length ? parsedLabels : null,
        runAt: runAt ? new Date(runAt).toISOString() : null,
      },
    });
    const id = result.data?.startTask.id;
    if (id) return navigate(`/tasks/${id}`);
    setIssues(result.error?.graphQLErrors.flatMap(errorIssues) ?? []);
  };
  const submitOuter = (event: FormEvent) => event.preventDefault();

  return (
    <main className="start-page">
      <nav className="crumbs" aria-label="Breadcrumbs">
        <Link href="/">Tasks</Link> <span aria-hidden="true">›</span> Start an operation
      </nav>
      <h1>Start an operation</h1>
      <p className="muted">
        Pick a module and a task type from the catalogue; the form follows the type's input schema. <Link href="/new">Create a test task</Link> instead.
      </p>
      <ErrorNote error={catalogue.error} />
      <form className="form start-choose" onSubmit={submitOuter}>
        <label htmlFor="start-module">Module</label>
        <select id="start-module" value={moduleName} onChange={(e) => chooseModule(e.target.value)}>
          <option value="">Choose a module…</option>
          {modules.map((m) => (
            <option key={m.id} value={m.name}>
              {m.name}
            </option>
          ))}
        </select>
      </form>
      {module && (
        <section aria-labelledby="types-title">
          {module.description && <p className="muted">{module.description}</p>}
          <h2 id="types-title">Task types of {module.name}</h2>
          <table className="catalogue">
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
                <th scope="col">Served</th>
              </tr>
            </thead>
            <tbody>
              {module.taskTypes.map((t) => (
                <tr key={t.id} className={t.name === typeName ? "chosen" : undefined}>
                  <td>
                    <label className="type-choice">
                      <input type="radio" name="task-type" value={t.name} checked={t.name === typeName} onChange={() => chooseType(t.name)} />
                      {t.name}
                    </label>
                  </td>
                  <td>{t.description || <span className="muted">—</span>}</td>
                  <td>{t.served ? "yes" : <span className="warn" title="No live worker runs this type: its tasks wait QUEUED">no worker</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {type && (
        <section aria-labelledby="input-title" className="start-input">
          <h2 id="input-title">
            Start {module!.name} / {type.name}
          </h2>
          {!type.served && <p className="warn">No live worker serves this type: the task will wait QUEUED until one does.</p>}
          {!type.inputSchema && <p className="muted">This type publishes no input schema: it is started with an empty input.</p>}
          <Form
            key={type.id}
            schema={schema}
            validator={validator}
            formData={formData}
            onChange={(event) => setFormData(event.formData)}
            onSubmit={(event) => void submit(event.formData)}
            extraErrors={errors.fields}
            showErrorList={false}
            noHtml5Validate
            noValidate
            idPrefix="input"
          >
            <fieldset className="start-options">
              <legend>Options</legend>
              <label htmlFor="start-target">Target (optional)</label>
              <input id="start-target" value={target} onChange={(e) => setTarget(e.target.value)} placeholder="broker-3, keyspace.table, …" />
              {errors.outside["target"] && <p className="field-error">{errors.outside["target"].join("; ")}</p>}
              <label htmlFor="start-labels">Labels (optional)</label>
              <input id="start-labels" value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="team=storage, ticket=OPS-12" />
              <label htmlFor="start-runat">Run at (optional)</label>
              <input id="start-runat" type="datetime-local" value={runAt} onChange={(e) => setRunAt(e.target.value)} />
            </fieldset>
            {errors.general.map((message) => (
              <p key={message} className="field-error">
                {message}
              </p>
            ))}
            {Object.entries(errors.outside)
              .filter(([path]) => path !== "target")
              .map(([path, messages]) => (
                <p key={path} className="field-error">
                  {path}: {messages.join("; ")}
                </p>
              ))}
            <ErrorNote error={localError ?? (issues.length ? null : started.error)} />
            <div className="form-buttons">
              <button type="submit" className="primary" disabled={started.fetching}>
                Start
              </button>
            </div>
          </Form>
        </section>
      )}
    </main>
  );
}
