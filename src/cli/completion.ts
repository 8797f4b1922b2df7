// `taskgraph completion bash|zsh`: a completion script built from the command tree, so it never
// falls behind the commands. zsh uses the bash one through bashcompinit.
import { Command } from "commander";
import { parseChoice } from "./args";

/** "" → top-level words, "tasks" → its subcommands, "tasks list" → its options; deepest first. */
function wordsByPath(program: Command): [string, string[]][] {
  const entries: [string, string[]][] = [];
  const walk = (command: Command, path: string[]) => {
    const words = [...command.commands.map((c) => c.name()), ...command.options.map((o) => o.long!).filter(Boolean), "--help"];
    entries.push([path.join(" "), words]);
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return entries.sort((a, b) => b[0].length - a[0].length);
}

function bashScript(program: Command): string {
  const globals = program.options.map((o) => o.long!).join(" ");
  const cases = wordsByPath(program)
    .map(([path, words]) => {
      const pattern = path ? `"${path}"|"${path} "*` : "*";
      return `    ${pattern}) words="${words.join(" ")}${path ? ` ${globals}` : ""}" ;;`;
    })
    .join("\n");
  return `# taskgraph completion (bash; zsh: autoload -U +X bashcompinit && bashcompinit first)
_taskgraph() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) key="\${key:+$key }\${COMP_WORDS[i]}" ;; esac
  done
  case "$key" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _taskgraph taskgraph
`;
}

export function completionCommand(program: Command): Command {
  return new Command("completion")
    .description("print a shell completion script")
    .argument("<shell>", "bash or zsh", parseChoice(["BASH", "ZSH"]))
    .addHelpText("after", "\nExamples:\n  $ source <(taskgraph completion bash)\n  $ taskgraph completion zsh > ~/.zsh/taskgraph.zsh")
    .action((shell: string) => {
      const script = bashScript(program);
      process.stdout.write(shell === "ZSH" ? `autoload -U +X bashcompinit && bashcompinit\n${script}` : script);
    });
}
