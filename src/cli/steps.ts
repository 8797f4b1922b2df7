// `taskgraph steps rerun|mark-succeeded|terminate <task> <step>`: OCP's step actions.
import { Command } from "commander";
import { action, type Context } from "./command";
import { STEP_MUTATIONS, stepMutation, type StepRow, type TaskRow } from "./operations";

const DESCRIPTIONS: Record<keyof typeof STEP_MUTATIONS, string> = {
  rerun: "a FAILED step: roll it back, run it again, continue the flow",
  "mark-succeeded": "a FAILED step becomes SKIPPED (set to successful) and the flow continues",
  terminate: "a RUNNING step becomes FAILED, and so does the task",
};

async function run(ctx: Context, name: keyof typeof STEP_MUTATIONS, taskId: string, stepKey: string) {
  const { result: task } = await ctx.api.request<{ result: TaskRow & { steps: StepRow[] } }>(stepMutation(STEP_MUTATIONS[name]), {
    taskId,
    stepKey,
  });
  if (ctx.out.json) return ctx.out.printJson(task);
  const step = task.steps.find((s) => s.key === stepKey);
  ctx.out.print(`${task.id} ${ctx.out.state(task.state)}${step ? `, step ${step.key} ${ctx.out.state(step.state)}` : ""}`);
}

export function stepsCommand(): Command {
  const steps = new Command("steps").description("act on one step of a task's flow");
  for (const name of Object.keys(STEP_MUTATIONS) as (keyof typeof STEP_MUTATIONS)[]) {
    steps
      .command(name)
      .description(DESCRIPTIONS[name])
      .argument("<task>", "task id")
      .argument("<step>", "step key (see `taskgraph tasks status <task>`)")
      .addHelpText("after", `\nExample:\n  $ taskgraph steps ${name} 0b9f4e1c-… step-2`)
      .action(action((ctx, taskId: string, stepKey: string) => run(ctx, name, taskId, stepKey)));
  }
  return steps;
}
