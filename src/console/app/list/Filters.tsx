// The list's filters: search, modules, a time range on created / started / ended (presets or a
// custom from–to), states, kind and internal tasks. Each change becomes the URL (see view.ts).
import { type FormEvent, type ReactNode, useEffect, useRef, useState } from "react";
import {
  fromLocalInput,
  KINDS,
  type Kind,
  type ListView,
  RANGES,
  type RangeKey,
  STATES,
  TIME_FIELDS,
  type TimeField,
  toLocalInput,
} from "./view";

export function Filters({
  view,
  modules,
  searchBox,
  onChange,
}: {
  view: ListView;
  modules: string[];
  searchBox: React.RefObject<HTMLInputElement | null>;
  onChange(patch: Partial<ListView>): void;
}) {
  const [text, setText] = useState(view.search);
  useEffect(() => setText(view.search), [view.search]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() !== view.search) onChange({ search: text.trim() });
  };
  const fieldLabel = TIME_FIELDS.find((f) => f.key === view.time)?.label ?? "Created";
  const allModules = [...new Set([...modules, ...view.modules])].sort();
  return (
    <form className="filters" role="search" onSubmit={submit}>
      <label className="search">
        <span className="visually-hidden">Search tasks</span>
        <input
          ref={searchBox}
          id="task-search"
          type="search"
          placeholder="Search name, type, module, target, error or id  ( / )"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onBlur={() => text.trim() !== view.search && onChange({ search: text.trim() })}
        />
      </label>
      <MultiSelect
        legend="Modules"
        summary={view.modules.length ? view.modules.join(", ") : "All modules"}
        options={allModules.map((name) => ({ value: name, label: name }))}
        chosen={view.modules}
        onChange={(chosen) => onChange({ modules: chosen })}
      />
      <span className="time-range">
        <select aria-label="Time field" value={view.time} onChange={(e) => onChange({ time: e.target.value as TimeField })}>
          {TIME_FIELDS.map((f) => (
            <option key={f.key} value={f.key}>
              {f.label}
            </option>
          ))}
        </select>
        <select aria-label={fieldLabel} value={view.range} onChange={(e) => onChange({ range: e.target.value as RangeKey })}>
          {RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
        </select>
        {view.range === "custom" && (
          <>
            <DateInput label="From" value={view.from} onChange={(from) => onChange({ from })} />
            <DateInput label="To" value={view.to} onChange={(to) => onChange({ to })} />
          </>
        )}
      </span>
      <MultiSelect
        legend="States"
        summary={view.states.length ? view.states.join(", ") : "All states"}
        options={STATES.map((state) => ({ value: state, label: state }))}
        chosen={view.states}
        onChange={(chosen) => onChange({ states: STATES.filter((s) => chosen.includes(s)) })}
      />
      <label>
        Kind{" "}
        <select value={view.kind ?? ""} onChange={(e) => onChange({ kind: (e.target.value || null) as Kind | null })}>
          <option value="">Any</option>
          {KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {kind}
            </option>
          ))}
        </select>
      </label>
      <label className="inline-check">
        <input type="checkbox" checked={view.internal} onChange={(e) => onChange({ internal: e.target.checked })} />
        Include internal
      </label>
    </form>
  );
}

/** A datetime-local field holding an ISO time (shown in local time). */
function DateInput({ label, value, onChange }: { label: string; value: string | null; onChange(value: string | null): void }) {
  const [text, setText] = useState(toLocalInput(value));
  useEffect(() => setText(toLocalInput(value)), [value]);
  const apply = (next: string) => {
    const iso = fromLocalInput(next);
    if ((next === "" || iso !== null) && iso !== value) onChange(iso);
  };
  return (
    <label>
      {label}{" "}
      <input
        type="datetime-local"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          apply(e.target.value);
        }}
      />
    </label>
  );
}

/** A drop-down of checkboxes (native <details>): any of the chosen values; none chosen: all. */
function MultiSelect<T extends string>({
  legend,
  summary,
  options,
  chosen,
  onChange,
}: {
  legend: string;
  summary: ReactNode;
  options: { value: T; label: string }[];
  chosen: readonly T[];
  onChange(chosen: T[]): void;
}) {
  // Closes on a click elsewhere and on Escape, like a native select.
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const close = (event: Event) => {
      const details = ref.current;
      if (!details?.open) return;
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !details.contains(event.target as Node)) details.open = false;
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, []);
  return (
    <details className="multi" ref={ref}>
      <summary>
        <span className="multi-legend">{legend}:</span> {summary}
      </summary>
      <fieldset>
        <legend className="visually-hidden">{legend}</legend>
        {options.length === 0 && <span className="muted">None</span>}
        {options.map((option) => (
          <label key={option.value}>
            <input
              type="checkbox"
              checked={chosen.includes(option.value)}
              onChange={(e) => onChange(e.target.checked ? [...chosen, option.value] : chosen.filter((v) => v !== option.value))}
            />
            {option.label}
          </label>
        ))}
        {chosen.length > 0 && (
          <button type="button" className="link" onClick={() => onChange([])}>
            Clear
          </button>
        )}
      </fieldset>
    </details>
  );
}
