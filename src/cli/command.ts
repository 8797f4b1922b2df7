// How every command runs: global options → a connection and an output, errors → exit codes.
import type { Command } from "commander";
import { Api } from "./client";
import { CliError, EXIT } from "./exit";
import { Output } from "./output";

export interface Context {
  api: Api;
  out: Output;
}

interface GlobalOptions {
  url?: string;
  tokenFile?: string;
  json?: boolean;
  color?: boolean;
}

/**
 * Wraps a command's action: builds its context, runs it, and exits with the code it returns
 * (0 when it returns nothing) or with the code of the CliError it throws.
 */
export function action<A extends unknown[]>(run: (ctx: Context, ...args: A) => Promise<number | void>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    const out = new Output({ json: globals.json, color: globals.color });
    let api: Api | undefined;
    let code: number;
    try {
      api = new Api({ url: globals.url, tokenFile: globals.tokenFile });
      code = (await run({ api, out }, ...(args.slice(0, -1) as A))) ?? EXIT.OK;
    } catch (error) {
      code = report(error);
    }
    await api?.close().catch(() => {});
    process.exit(code);
  };
}

/** Prints an error on stderr; returns its exit code. */
export function report(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`taskgraph: ${error.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`taskgraph: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT.BAD_ARGUMENTS;
}
