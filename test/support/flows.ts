// Flows brought to a state through the store, with no worker (as a worker would have recorded it),
// for tests of what the API offers and accepts in that state.
import { expect } from "vitest";
import type { TestApp } from "./app";

/**
 * A two-step test flow, RUNNING with step-1 RUNNING; with `failed`, step-1 then failed ("boom")
 * and the task with it. Returns the task id.
 */
export async function twoStepFlowAtStep1(app: TestApp, outcome: "running" | "failed"): Promise<string> {
  const created = await app.gql(`mutation { createTestTask(input: { rounds: 1, roundMs: 0, steps: 2 }) { id } }`);
  expect(created.errors).toBeUndefined();
  const id: string = created.data!.createTestTask.id;
  await app.store.transitionTask(id, "RUNNING");
  await app.store.transitionStep(id, "step-1", "RUNNING");
  if (outcome === "failed") {
    await app.store.transitionStep(id, "step-1", "FAILED", { error: "boom" });
    await app.store.transitionTask(id, "FAILED", { error: 'Step "step-1" failed: boom' });
  }
  return id;
}
