/**
 * `kodeviser lifetime`: the whole life of one token's coin cell in virtual time. The token is
 * pressed N times a day, evenly spaced, each code left up until the display times out (the
 * firmware's "normal use" is 3 a day at 25 °C), until a press no longer shows a code: either
 * the firmware's own charge counter reached 0 % (it shows bAtt) or the real cell browned out
 * first. Between presses the machine sleeps through its daily RTC wakes, so decades cost
 * seconds. It prints when the token died and how many codes it showed; --plot draws both
 * discharge curves, the firmware's estimate and the true charge.
 */
import { makeSerial, type ProfileName } from '@kodeviser/shared';
import { YEAR_US } from '../crystal.js';
import { Machine } from '../machine.js';
import { lineChartSvg } from '../plot.js';
import { helpText, parseCommand, parseNumberArg, parseProfileArg, type CommandSpec } from './args.js';
import { usageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import type { CliIo } from './io.js';

const DAY_US = 86_400e6;

const options = {
  profile: { type: 'string' },
  'presses-per-day': { type: 'string' },
  temp: { type: 'string' },
  plot: { type: 'string' },
  'max-years': { type: 'string' },
} as const;

const spec = {
  name: 'lifetime',
  usage: 'lifetime --profile P --presses-per-day N [--temp C] [--plot OUT.svg] [--max-years Y]',
  help: `Simulates the token's whole battery life in virtual time and prints when it dies (the first
press that shows no code) and how many codes it showed. Normal use is 3 presses a day at 25 °C.
  --profile P            the OTP profile, e.g. totp-sha1
  --presses-per-day N    presses a day, evenly spaced (fractions allowed: 0.5 = every other day)
  --temp C               the temperature all life long, °C (default 25)
  --plot OUT.svg         draw battery % against years: the firmware's estimate and the true charge
  --max-years Y          give up after this many years (default 30)`,
  options,
  positionals: [],
} satisfies CommandSpec<typeof options>;

export interface LifetimeOptions {
  profile: ProfileName;
  pressesPerDay: number;
  temperatureC?: number;
  /** true time of manufacture, Unix ms */
  startMs: number;
  maxYears?: number;
  /** a sample for the plot every this many days (default 7) */
  sampleDays?: number;
}

export interface LifetimeResult {
  /** true µs from manufacture to the first press without a code; null: alive at maxYears */
  diedAfterUs: number | null;
  cause: 'firmware-empty' | 'cell-flat' | null;
  codes: number;
  /** true µs from manufacture to the first press that showed the low-battery mark */
  lowBatteryAfterUs: number | null;
  /** [years, firmware estimate %, true charge %] */
  samples: Array<[number, number, number]>;
}

export function simulateLifetime(opts: LifetimeOptions): LifetimeResult {
  const { profile, pressesPerDay, temperatureC = 25, startMs, maxYears = 30, sampleDays = 7 } = opts;
  const machine = Machine.manufacture({
    profile,
    serial: makeSerial('000000001'),
    driftPpm: 0,
    manufacturedAt: startMs,
    temperatureC,
    traceLimit: 0, // decades of presses: keep no trace
  });
  const start = machine.now();
  const capacityNc = machine.toDeviceFile().battery.capacityNc;
  const samples: LifetimeResult['samples'] = [];
  const sample = (): void => {
    const s = machine.state();
    samples.push([(machine.now() - start) / YEAR_US, s.batteryPercent, (100 * s.batteryTrueCharge) / capacityNc]);
  };
  sample();
  const intervalUs = Math.round(DAY_US / pressesPerDay);
  const endUs = start + maxYears * YEAR_US;
  let nextSample = start + sampleDays * DAY_US;
  let lowBatteryAfterUs: number | null = null;
  for (let t = start + intervalUs; t <= endUs; t += intervalUs) {
    machine.advanceTo(t);
    if (t >= nextSample) {
      sample();
      nextSample += sampleDays * DAY_US;
    }
    machine.press();
    const s = machine.state();
    if (s.screen !== 'code') {
      sample();
      return { diedAfterUs: t - start, cause: s.powered ? 'firmware-empty' : 'cell-flat', codes: s.codesShown, lowBatteryAfterUs, samples };
    }
    if (s.lowBattery && lowBatteryAfterUs === null) lowBatteryAfterUs = t - start;
  }
  sample();
  return { diedAfterUs: null, cause: null, codes: machine.state().codesShown, lowBatteryAfterUs, samples };
}

function years(us: number): string {
  return `${(us / YEAR_US).toFixed(2)} years (${Math.floor(us / DAY_US)} days)`;
}

export async function lifetime(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const v = parsed.values;
  if (v.profile === undefined) throw usageError('lifetime: --profile is required');
  if (v['presses-per-day'] === undefined) throw usageError('lifetime: --presses-per-day is required');
  const profile = parseProfileArg(v.profile, '--profile');
  const pressesPerDay = parseNumberArg(v['presses-per-day'], '--presses-per-day', 0.01, 2000);
  const temperatureC = v.temp === undefined ? 25 : parseNumberArg(v.temp, '--temp', -60, 125);
  const maxYears = v['max-years'] === undefined ? 30 : parseNumberArg(v['max-years'], '--max-years', 0.01, 100);
  const startMs = io.nowMs();
  const r = simulateLifetime({ profile, pressesPerDay, temperatureC, startMs, maxYears });

  io.stdout(
    `${profile}, ${pressesPerDay} press${pressesPerDay === 1 ? '' : 'es'} a day at ${temperatureC} °C, from ${new Date(startMs).toISOString().slice(0, 10)}\n`,
  );
  if (r.diedAfterUs === null) {
    const [, estimate, real] = r.samples[r.samples.length - 1] as [number, number, number];
    io.stdout(
      `still alive after ${years(maxYears * YEAR_US)}: battery ${estimate} % by the firmware's counter, ${real.toFixed(2)} % true charge\n`,
    );
  } else {
    const date = new Date(startMs + r.diedAfterUs / 1000).toISOString().slice(0, 10);
    const why =
      r.cause === 'firmware-empty' ? "the firmware's charge counter reached 0 % (it shows bAtt)" : 'the coin cell went flat (brown-out)';
    io.stdout(`died after ${years(r.diedAfterUs)}, on ${date}: ${why}\n`);
  }
  if (r.lowBatteryAfterUs !== null) io.stdout(`low-battery mark from ${years(r.lowBatteryAfterUs)}\n`);
  io.stdout(`codes shown: ${r.codes}\n`);

  if (v.plot !== undefined) {
    writeFileAtomic(
      io.path(v.plot),
      lineChartSvg({
        title: `kodeviser ${profile}: ${pressesPerDay} presses/day at ${temperatureC} °C`,
        xLabel: 'years since manufacture',
        yLabel: 'battery %',
        series: [
          { label: "firmware's estimate", color: '#c0392b', points: r.samples.map(([y, est]) => [y, est] as const) },
          { label: 'true charge', color: '#2c6fbb', dashed: true, points: r.samples.map(([y, , real]) => [y, real] as const) },
        ],
      }),
    );
    io.stdout(`plot written to ${v.plot}\n`);
  }
  return 0;
}
