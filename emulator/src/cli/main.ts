/**
 * `kodeviser`: the command-line face of the emulator. One command per file beside this one;
 * each is loaded only when used, so `kodeviser press` does not pay for the YAML parser or the
 * lifetime plot and one process starts in well under the 300 ms budget.
 *
 * Every failure ends as one line `kodeviser: <message>` on stderr and exit code 2 (the command
 * line is wrong) or 1 (it failed while running); a stack trace is never shown. Secrets (keys,
 * codes of other presses) are never written to stderr.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { isKodeviserError } from '@kodeviser/shared';
import { CliError, EXIT_RUNTIME, EXIT_USAGE } from './errors.js';
import { processIo, type CliIo } from './io.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  manufacture: {
    summary: 'personalise and seal a device image (or a batch), optionally with a PSKC seed file',
    load: async () => (await import('./manufacture.js')).manufacture,
  },
  press: { summary: 'press the button once and print the LCD', load: async () => (await import('./press.js')).press },
  hold: { summary: 'hold the button (a long press opens the information menu)', load: async () => (await import('./press.js')).hold },
  info: { summary: 'show the device state without pressing', load: async () => (await import('./info.js')).info },
  step: {
    summary: 'interactive stepper over the virtual hardware (reads commands from stdin)',
    load: async () => (await import('./step.js')).step,
  },
  run: { summary: 'run a YAML scenario of presses, waits and expectations', load: async () => (await import('./run.js')).run },
  lifetime: {
    summary: 'simulate the whole battery life and report when the token dies',
    load: async () => (await import('./lifetime.js')).lifetime,
  },
  login: {
    summary: 'log in through an OpenID Connect authorization URL without a browser: prints the redirect to the app',
    load: async () => (await import('./login.js')).login,
  },
  fulfil: {
    summary: 'the factory: make a device for each placed order of a server, import its seed, mark it fulfilled',
    load: async () => (await import('./fulfil.js')).fulfil,
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: kodeviser <command> [options]\n\nEmulates a one-button OTP code display token in virtual time.\n\ncommands:\n${lines.join('\n')}\n\nRun \`kodeviser <command> --help\` for a command's options.\n`;
}

/** Runs one command line; returns the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout(mainHelp());
      return 0;
    }
    const command = COMMANDS[name];
    if (command === undefined) throw new CliError(`unknown command ${JSON.stringify(name)} (run kodeviser --help)`, EXIT_USAGE);
    return await (
      await command.load()
    )(rest, io);
  } catch (e) {
    const [message, code] = describe(e);
    io.stderr(`kodeviser: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return code;
  }
}

function describe(e: unknown): [string, number] {
  if (e instanceof CliError) return [e.message, e.exitCode];
  // The core checks every argument and names it; reaching here means a flag's value got past
  // the CLI's own checks, which is still the user's input.
  if (isKodeviserError(e)) return [e.message, EXIT_USAGE];
  return [e instanceof Error ? e.message : String(e), EXIT_RUNTIME];
}

// Run as a program (`node emulator/dist/cli/main.js …`, `npm run kodeviser -- …`, or on the
// sources with tsx); the installed bin imports main() instead.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2), processIo());
}
