/**
 * `kodeviser press` and `kodeviser hold`: one use of the button at a true time, then the device
 * file is written back (counter, battery, clocks), atomically. The true time is --at, or the
 * device's last true time plus --advance, or the host clock; the device's RTC reads that plus
 * its own drift since manufacture, which is what the firmware computes a TOTP step from. A true
 * time before the file's moves the device's whole history back (device.ts, shiftHistory), so
 * a token made today can be pressed at RFC 6238's 2009 test time; stderr notes when it happens.
 */
import type { Machine } from '../machine.js';
import { helpText, parseCommand, parseDurationUs, parseIsoTimeMs, parseNumberArg, type CommandSpec } from './args.js';
import { loadDeviceAt, loadDeviceFile, saveDevice } from './device.js';
import { usageError } from './errors.js';
import type { CliIo } from './io.js';

const timeOptions = {
  at: { type: 'string' },
  advance: { type: 'string' },
  temp: { type: 'string' },
  json: { type: 'boolean' },
  lcd: { type: 'boolean' },
} as const;

const timeHelp = `
  --at ISO-TIME      the true time of the press, e.g. 2009-02-13T23:31:30Z
  --advance DURATION the true time is the device's last known time plus this (90s, 15m, 2h, 3d, 1y)
                     (neither: the host clock)
  --temp C           the temperature from this press on, °C (operating range 0..45)
  --json             print {serial, lcd, code, movingFactor, batteryPercent, deviceTime}
                     (movingFactor: the hotp counter or totp step of the code shown)
  --lcd              draw the LCD's segments (with --json: as an "art" field)`;

const pressSpec = {
  name: 'press',
  usage: 'press FILE [--at ISO-TIME | --advance DURATION] [--temp C] [--json] [--lcd]',
  help: `Presses the button once (120 ms), prints the 8-character LCD and writes the device back.\n${timeHelp}`,
  options: timeOptions,
  positionals: ['FILE'],
} satisfies CommandSpec<typeof timeOptions>;

const holdOptions = { ...timeOptions, for: { type: 'string' } } as const;
const holdSpec = {
  name: 'hold',
  usage: 'hold FILE --for DURATION [--at ISO-TIME | --advance DURATION] [--temp C] [--json] [--lcd]',
  help: `Holds the button for DURATION (6s or more opens the information menu on its first item),
releases it, prints the LCD and writes the device back.
  --for DURATION     how long the button is held, e.g. 6s${timeHelp}`,
  options: holdOptions,
  positionals: ['FILE'],
} satisfies CommandSpec<typeof holdOptions>;

export async function press(argv: readonly string[], io: CliIo): Promise<number> {
  return use(pressSpec, argv, io, (m) => m.press());
}

export async function hold(argv: readonly string[], io: CliIo): Promise<number> {
  return use(holdSpec, argv, io, (m, holdUs) => m.hold(Math.round(holdUs / 1000)));
}

type UseValues = { at?: string; advance?: string; temp?: string; json?: boolean; lcd?: boolean; for?: string };

async function use<O extends typeof timeOptions>(
  spec: CommandSpec<O>,
  argv: readonly string[],
  io: CliIo,
  act: (m: Machine, holdUs: number) => void,
): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const v = parsed.values as UseValues;
  const [file] = parsed.positionals as [string];
  if (v.at !== undefined && v.advance !== undefined) throw usageError(`${spec.name}: give --at or --advance, not both`);
  const atMs = v.at === undefined ? undefined : parseIsoTimeMs(v.at, '--at');
  const advanceUs = v.advance === undefined ? undefined : parseDurationUs(v.advance, '--advance');
  const temp = v.temp === undefined ? undefined : parseNumberArg(v.temp, '--temp', -60, 125);
  let holdUs = 0;
  if (spec.name === 'hold') {
    if (v.for === undefined) throw usageError('hold: --for DURATION is required');
    holdUs = parseDurationUs(v.for, '--for');
  }

  const path = io.path(file);
  const target =
    atMs !== undefined ? atMs * 1000 : advanceUs !== undefined ? loadDeviceFile(path).trueTimeUs + advanceUs : io.nowMs() * 1000;
  const machine = loadDeviceAt(path, target, io.stderr);
  if (temp !== undefined) machine.setTemperature(temp);
  const pressedAt = machine.deviceTime(); // the RTC reading the code is computed from
  act(machine, holdUs);
  saveDevice(path, machine);

  const s = machine.state();
  if (v.json === true) {
    io.stdout(
      `${JSON.stringify({
        serial: s.serial,
        lcd: machine.lcd(),
        code: s.lastCode,
        movingFactor: s.codeMovingFactor,
        batteryPercent: s.batteryPercent,
        deviceTime: new Date(Math.floor(pressedAt / 1000)).toISOString(),
        ...(v.lcd === true ? { art: machine.lcdArt() } : {}),
      })}\n`,
    );
  } else {
    io.stdout(`${machine.lcd()}\n`);
    if (v.lcd === true) io.stdout(`${machine.lcdArt()}\n`);
  }
  return 0;
}
