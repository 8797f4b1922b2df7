// taskgraph: the command line client of a taskgraph server (GraphQL over HTTP and graphql-ws).
import { Command } from "commander";
import { completionCommand } from "./completion";
import { DEFAULT_URL } from "./client";
import { EXIT_CODES_HELP } from "./exit";
import { logsCommand } from "./logs";
import { stepsCommand } from "./steps";
import { tasksCommand } from "./tasks";
import { schedulesCommand } from "./schedules";
import { tokensCommand } from "./tokens";

export function buildProgram(): Command {
  const program = new Command("taskgraph")
    .description("Operate a taskgraph server: list, start, follow and control tasks.")
    .option("--url <url>", `GraphQL endpoint (env TASKGRAPH_URL; default ${DEFAULT_URL})`)
    .option("--token-file <path>", "file holding an API token (else env TASKGRAPH_TOKEN)")
    .option("--json", "JSON for scripts: one document, or one line per item for streams")
    .option("--no-color", "no colour (also when NO_COLOR is set or stdout is not a terminal)")
    .showHelpAfterError()
    .addHelpText(
      "after",
      `
Examples:
  $ taskgraph tasks start test count --input '{"rounds":10}' --wait
  $ taskgraph tasks list --category failed --since 1d
  $ taskgraph tasks wait <id> --timeout 10m --quiet || echo "exit $?"
  $ taskgraph schedules create test count --every 1h --input '{"rounds":1}'
${EXIT_CODES_HELP}
`,
    );
  program.addCommand(tasksCommand());
  program.addCommand(stepsCommand());
  program.addCommand(logsCommand());
  program.addCommand(schedulesCommand());
  program.addCommand(tokensCommand());
  program.addCommand(completionCommand(program));
  // Every subcommand shows the exit codes too; global options may follow the subcommand.
  const visit = (command: Command) => {
    for (const sub of command.commands) {
      sub.showHelpAfterError().configureHelp({ showGlobalOptions: true });
      if (sub.commands.length === 0) sub.addHelpText("after", EXIT_CODES_HELP + "\n");
      visit(sub);
    }
  };
  visit(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
