/**
 * The CLI's two kinds of failure, told apart by exit code as BSD sysexits and most Unix tools do:
 * 2 when the command line itself is wrong (usage), 1 when a well-formed command failed while
 * running (a missing file, a device file of an unknown format, a failed scenario step).
 * main.ts turns either into one line `kodeviser: <message>` on stderr, never a stack trace.
 */
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line is wrong: a bad flag, value or argument count. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** The command was well formed but could not be carried out. */
export function runtimeError(message: string): CliError {
  return new CliError(message, EXIT_RUNTIME);
}
