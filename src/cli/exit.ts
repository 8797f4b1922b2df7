// Exit codes of the CLI: they never lie, with or without --quiet.
export const EXIT = {
  OK: 0,
  BAD_ARGUMENTS: 1,
  REFUSED: 2,
  UNREACHABLE: 3,
  UNAUTHENTICATED: 4,
  TASK_FAILED: 123,
  TIMED_OUT: 124,
  UNDETERMINED: 125,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0    success (wait: the task succeeded)
  1    bad arguments
  2    refused by the server (its code is printed: NOT_ABORTABLE, FORBIDDEN, NOT_FOUND, …)
  3    server unreachable
  4    unauthenticated (no token, or a bad or revoked one)
  123  wait: the task failed
  124  wait: timed out (the task is still running)
  125  wait: undetermined (canceled, deleted, or the connection was lost)
  130  wait: interrupted (Ctrl-C); the task goes on`;

/** An error the CLI reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** The server's error code (extensions.code), when it refused. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const badArguments = (message: string) => new CliError(message, EXIT.BAD_ARGUMENTS);

/** A task the server does not have (task(id) answered null): refused, as the server's own refusals are. */
export const taskNotFound = (id: string) => new CliError(`NOT_FOUND: Task ${id} does not exist`, EXIT.REFUSED, "NOT_FOUND");
