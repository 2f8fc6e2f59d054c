/**
 * `kodeviser step`: an interactive stepper over the virtual hardware, in the spirit of a
 * debugger's single-step: one command a line, and after each the virtual true and device time
 * and what changed (the LCD before -> after, every state field that moved). It reads lines from
 * stdin whether or not that is a terminal, so a pipe scripts it; it prompts only on a terminal.
 * The device file is left alone unless --save; --vcd records every signal for a waveform viewer.
 */
import { isKodeviserError } from '@kodeviser/shared';
import type { Machine } from '../machine.js';
import { helpText, parseCommand, parseDurationUs, parseIntArg, parseNumberArg, type CommandSpec } from './args.js';
import { loadDevice, saveDevice } from './device.js';
import { CliError, usageError } from './errors.js';
import { hexDump, isoUs, quoted, signedSeconds, stateDiff, traceLine } from './format.js';
import type { CliIo } from './io.js';
import { startVcd } from './vcd-file.js';

const options = { save: { type: 'boolean' }, vcd: { type: 'string' } } as const;

export const STEP_COMMANDS = `commands:
  press [ms]             press and release (default 120 ms), run until the LCD settles
  down | release         move the button line (then run what is due now)
  tick                   fire the next scheduled event
  advance DURATION       run every event for DURATION of true time (250ms, 30s, 2h, 3d)
  run-until lcd|off|code LIMIT
                         run until the LCD changes / the display is off / a code is shown,
                         for at most LIMIT of true time
  lcd                    draw the segments
  state                  every state field
  nvm                    hex dump of the non-volatile memory
  power-cut [byte]       brown-out now, or at that byte of the next NVM write
  power-on               power up again
  temp C                 set the temperature, °C
  trace [n]              the last n trace records (default 10)
  help                   this list
  quit                   leave (also end of input)`;

const spec = {
  name: 'step',
  usage: 'step FILE [--save] [--vcd OUT.vcd]',
  help: `Steps the device one command at a time, reading commands from stdin (a terminal or a pipe:
  printf 'press\\nlcd\\nquit\\n' | kodeviser step d.json).
The device file is left unchanged unless --save is given.
  --save             write the device back to FILE on quit
  --vcd OUT.vcd      record a value change dump of the session

${STEP_COMMANDS}`,
  options,
  positionals: ['FILE'],
} satisfies CommandSpec<typeof options>;

export async function step(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const [file] = parsed.positionals as [string];
  const path = io.path(file);
  const machine = loadDevice(path);
  const vcd = parsed.values.vcd === undefined ? null : startVcd(machine, io.path(parsed.values.vcd));
  const prompt = (): void => {
    if (io.interactive) io.stdout('kodeviser> ');
  };

  io.stdout(`${clocks(machine)}\nlcd   ${quoted(machine.lcd())}\n`);
  let failures = 0;
  let lineNo = 0;
  prompt();
  for await (const raw of io.lines()) {
    lineNo++;
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') {
      prompt();
      continue;
    }
    const [word = '', ...args] = line.split(/\s+/);
    if (word === 'quit' || word === 'exit') break;
    try {
      execute(machine, word, args, io);
    } catch (e) {
      if (!(e instanceof CliError) && !isKodeviserError(e)) throw e;
      failures++;
      io.stderr(`kodeviser: step: line ${lineNo}: ${e.message}\n`);
    }
    prompt();
  }
  vcd?.finish();
  if (parsed.values.save === true) {
    saveDevice(path, machine);
    io.stdout(`saved ${file}\n`);
  }
  // A script whose commands failed should fail; at a terminal the user saw each error as it came.
  return failures > 0 && !io.interactive ? 1 : 0;
}

function clocks(m: Machine): string {
  return `true  ${isoUs(m.now())}  device ${isoUs(m.deviceTime())} (${signedSeconds(m.deviceTime() - m.now())})`;
}

function arity(word: string, args: string[], max: number): void {
  if (args.length > max) throw usageError(`${word} takes ${max === 0 ? 'no arguments' : `at most ${max} argument${max > 1 ? 's' : ''}`}`);
}

function need(word: string, args: string[], n: number, what: string): void {
  if (args.length !== n) throw usageError(`${word} needs ${what}`);
}

/** Carries out one stepper command; prints what changed for the commands that run the machine. */
export function execute(m: Machine, word: string, args: string[], io: CliIo): void {
  const view = (): void => {
    io.stdout(`${m.lcdArt()}\n`);
  };
  switch (word) {
    case 'help':
      io.stdout(`${STEP_COMMANDS}\n`);
      return;
    case 'lcd':
      arity(word, args, 0);
      view();
      return;
    case 'state': {
      arity(word, args, 0);
      const s = m.state();
      for (const [k, v] of Object.entries(s)) io.stdout(`${k.padEnd(18)} ${JSON.stringify(v)}\n`);
      return;
    }
    case 'nvm':
      arity(word, args, 0);
      io.stdout(`${hexDump(m.nvm())}\n`);
      return;
    case 'trace': {
      arity(word, args, 1);
      const n = args[0] === undefined ? 10 : parseIntArg(args[0], 'trace n', 1, 1_000_000);
      for (const r of m.trace.slice(-n)) io.stdout(`${traceLine(r)}\n`);
      return;
    }
  }
  const before = { lcd: m.lcd(), state: m.state() };
  let note = '';
  switch (word) {
    case 'press':
      arity(word, args, 1);
      m.press(args[0] === undefined ? 120 : parseIntArg(args[0], 'press ms', 1, 3_600_000));
      break;
    case 'down':
      arity(word, args, 0);
      m.buttonDown();
      m.advance(0);
      break;
    case 'release':
      arity(word, args, 0);
      m.buttonUp();
      m.advance(0);
      break;
    case 'tick': {
      arity(word, args, 0);
      const next = m.scheduler.list()[0];
      if (next === undefined) {
        note = 'nothing is scheduled';
      } else {
        m.scheduler.runNext();
        note = `fired ${next.label || 'an event'}`;
      }
      break;
    }
    case 'advance':
      need(word, args, 1, 'a DURATION, e.g. advance 30s');
      m.advance(parseDurationUs(args[0] as string, 'advance'));
      break;
    case 'run-until': {
      need(word, args, 2, 'lcd|off|code and a LIMIT, e.g. run-until off 1m');
      const what = args[0] as string;
      const limitUs = parseDurationUs(args[1] as string, 'run-until LIMIT');
      const startLcd = m.lcd();
      const until: Record<string, (x: Machine) => boolean> = {
        lcd: (x) => x.lcd() !== startLcd,
        off: (x) => x.state().screen === 'off',
        code: (x) => x.state().screen === 'code',
      };
      const pred = until[what];
      if (pred === undefined) throw usageError(`run-until: expected lcd, off or code, got ${JSON.stringify(what)}`);
      note = m.runUntil(pred, limitUs) ? `reached ${what}` : `limit reached, no ${what}`;
      break;
    }
    case 'power-cut':
      arity(word, args, 1);
      if (args[0] === undefined) m.cutPower();
      else m.cutPower({ atWriteByte: parseIntArg(args[0], 'power-cut byte', 0, 1_000_000) });
      break;
    case 'power-on':
      arity(word, args, 0);
      m.powerOn();
      break;
    case 'temp':
      need(word, args, 1, 'a temperature in °C, e.g. temp 40');
      m.setTemperature(parseNumberArg(args[0] as string, 'temp', -60, 125));
      break;
    default:
      throw usageError(`unknown command ${JSON.stringify(word)} (help lists them)`);
  }
  const after = m.lcd();
  io.stdout(`${clocks(m)}${note === '' ? '' : `  ${note}`}\n`);
  io.stdout(before.lcd === after ? `lcd   ${quoted(after)}\n` : `lcd   ${quoted(before.lcd)} -> ${quoted(after)}\n`);
  for (const d of stateDiff(before.state, m.state())) io.stdout(`      ${d}\n`);
}
