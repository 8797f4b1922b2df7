// A task's flow: ordered steps whose `dependsOn` edges form a DAG (OCP's flow view). Pure.
import { badInput } from "./errors";
import { LIMITS } from "./limits";

export interface StepSpec {
  key: string;
  name?: string;
  /** Keys this step waits for. Omitted: the previous step (a sequential flow). [] : none. */
  dependsOn?: readonly string[];
}

export interface ResolvedStep {
  key: string;
  name: string;
  index: number;
  dependsOn: string[];
}

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** Fills defaults and refuses duplicate or malformed keys, unknown dependencies and cycles. */
export function resolveFlow(steps: readonly StepSpec[]): ResolvedStep[] {
  if (steps.length > LIMITS.stepsPerTask) throw badInput(`A task has at most ${LIMITS.stepsPerTask} steps, got ${steps.length}`);
  const keys = new Set<string>();
  const resolved = steps.map((step, index): ResolvedStep => {
    if (!KEY_PATTERN.test(step.key)) throw badInput(`Step key "${step.key}" must be 1–100 letters, digits or _.:- characters`);
    if (keys.has(step.key)) throw badInput(`Step key "${step.key}" is used twice`);
    keys.add(step.key);
    const previous = steps[index - 1];
    return {
      key: step.key,
      name: step.name ?? step.key,
      index,
      dependsOn: [...(step.dependsOn ?? (previous ? [previous.key] : []))],
    };
  });
  for (const step of resolved) {
    for (const dep of step.dependsOn) {
      if (!keys.has(dep)) throw badInput(`Step "${step.key}" depends on unknown step "${dep}"`);
      if (dep === step.key) throw badInput(`Step "${step.key}" depends on itself`);
    }
  }
  const cycle = findCycle(resolved);
  if (cycle) throw badInput(`Steps form a cycle: ${cycle.join(" → ")}`);
  return resolved;
}

function findCycle(steps: ResolvedStep[]): string[] | null {
  const deps = new Map(steps.map((s) => [s.key, s.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (key: string): string[] | null => {
    if (state.get(key) === "done") return null;
    if (state.get(key) === "visiting") return [...path.slice(path.indexOf(key)), key];
    state.set(key, "visiting");
    path.push(key);
    for (const dep of deps.get(key) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    path.pop();
    state.set(key, "done");
    return null;
  };
  for (const step of steps) {
    const found = visit(step.key);
    if (found) return found;
  }
  return null;
}

export interface FlowEdge {
  from: string;
  to: string;
}

/** Edges point from a dependency to the step that waits for it. */
export function flowEdges(steps: readonly { key: string; dependsOn: readonly string[] }[]): FlowEdge[] {
  return steps.flatMap((step) => step.dependsOn.map((from) => ({ from, to: step.key })));
}
