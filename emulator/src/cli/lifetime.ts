/**
 * `kodeviser lifetime`: one token's battery life in virtual time (../lifetime.ts). It prints when
 * the token died and how many codes it showed; --plot draws both discharge curves, the
 * firmware's estimate and the true charge. --sweep runs a grid of lives (../lifetime-sweep.ts).
 */
import { availableParallelism } from 'node:os';
import { YEAR_US } from '../crystal.js';
import { DAY_US, simulateLifetime } from '../lifetime.js';
import { heatMapSvg, sweepCsv, sweepLifetimes, TARGET_YEARS, type SweepCell } from '../lifetime-sweep.js';
import { lineChartSvg } from '../plot.js';
import { helpText, parseAxisArg, parseCommand, parseIntArg, parseNumberArg, parseProfileArg, type CommandSpec } from './args.js';
import { usageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import type { CliIo } from './io.js';

const options = {
  profile: { type: 'string' },
  'presses-per-day': { type: 'string' },
  temp: { type: 'string' },
  plot: { type: 'string' },
  'max-years': { type: 'string' },
  sweep: { type: 'boolean' },
  csv: { type: 'string' },
  json: { type: 'string' },
  svg: { type: 'string' },
  workers: { type: 'string' },
  target: { type: 'string' },
} as const;

/** Presses a day of a sweep unless told: light to heavy use, denser where most people are. */
const DEFAULT_PRESSES = '1,2,3,4,6,8,10,13,16,20';

const spec = {
  name: 'lifetime',
  usage:
    'lifetime --profile P --presses-per-day N [--temp C] [--plot OUT.svg] [--max-years Y]\n' +
    '       kodeviser lifetime --sweep --profile P [--presses-per-day AXIS] [--temp AXIS] [--csv F] [--json F] [--svg F] [--workers N]',
  help: `Simulates the token's whole battery life in virtual time and prints when it dies (the first
press that shows no code) and how many codes it showed. Normal use is 3 presses a day at 25 °C.
  --profile P            the OTP profile, e.g. totp-sha1
  --presses-per-day N    presses a day, evenly spaced (fractions allowed: 0.5 = every other day)
  --temp C               the temperature all life long, °C (default 25)
  --plot OUT.svg         draw battery % against years: the firmware's estimate and the true charge
  --max-years Y          give up after this many years (default 30)
With --sweep, one life for every pair of presses a day and temperature, on worker threads, as a
grid of years to death; each cell is exactly what the single command prints for it.
  --presses-per-day AXIS A..B:N (N values from A to B), a,b,c, or one number (default ${DEFAULT_PRESSES})
  --temp AXIS            the same for °C (default 0..45:10)
  --csv OUT.csv          the table, one row a cell (--json OUT.json: the same as JSON)
  --svg OUT.svg          a heat map of years to death with the target's line drawn
  --target Y             the battery life to mark, years (default ${TARGET_YEARS}: "up to 10 years")
  --workers N            worker threads (default: the cores, ${availableParallelism()} here)`,
  options,
  positionals: [],
} satisfies CommandSpec<typeof options>;

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
  if (v.sweep === true) return sweep(v, io);
  for (const flag of ['csv', 'json', 'svg', 'workers', 'target'] as const) {
    if (v[flag] !== undefined) throw usageError(`lifetime: --${flag} goes with --sweep`);
  }
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

type Values = Extract<ReturnType<typeof parseCommand<typeof options>>, { help: false }>['values'];

/** `lifetime --sweep`: the grid, printed as years to death, and the files asked for. */
async function sweep(v: Values, io: CliIo): Promise<number> {
  if (v.plot !== undefined) throw usageError('lifetime: --plot draws one life; with --sweep use --svg');
  const profile = parseProfileArg(v.profile as string, '--profile');
  const pressesPerDay = parseAxisArg(v['presses-per-day'] ?? DEFAULT_PRESSES, '--presses-per-day', 0.01, 2000);
  const temperaturesC = parseAxisArg(v.temp ?? '0..45:10', '--temp', -60, 125);
  const maxYears = v['max-years'] === undefined ? 30 : parseNumberArg(v['max-years'], '--max-years', 0.01, 100);
  const workers = v.workers === undefined ? availableParallelism() : parseIntArg(v.workers, '--workers', 1, 64);
  const targetYears = v.target === undefined ? TARGET_YEARS : parseNumberArg(v.target, '--target', 0.01, 100);
  const startMs = io.nowMs();
  const cells = await sweepLifetimes({ profile, pressesPerDay, temperaturesC, startMs, maxYears, workers });

  const cellText = (c: SweepCell): string => (c.diedAfterYears === null ? `>${maxYears}` : c.diedAfterYears.toFixed(2));
  const width = Math.max(7, ...cells.map((c) => cellText(c).length + 1));
  const lines = [
    `${profile}: years to death, from ${new Date(startMs).toISOString().slice(0, 10)} (rows: °C; columns: presses a day)`,
    `${'°C'.padStart(6)} ${pressesPerDay.map((p) => String(p).padStart(width)).join('')}`,
    ...[...temperaturesC].reverse().map((c) => {
      const row = temperaturesC.indexOf(c);
      const values = cells.slice(row * pressesPerDay.length, (row + 1) * pressesPerDay.length);
      return `${String(c).padStart(6)} ${values.map((cell) => cellText(cell).padStart(width)).join('')}`;
    }),
    `lasting ${targetYears} years or more: ${cells.filter((c) => c.diedAfterYears === null || c.diedAfterYears >= targetYears).length} of ${cells.length} cells`,
  ];
  io.stdout(`${lines.join('\n')}\n`);
  if (v.csv !== undefined) {
    writeFileAtomic(io.path(v.csv), sweepCsv(cells));
    io.stdout(`table written to ${v.csv}\n`);
  }
  if (v.json !== undefined) {
    writeFileAtomic(io.path(v.json), `${JSON.stringify({ profile, startMs, maxYears, pressesPerDay, temperaturesC, cells }, null, 2)}\n`);
    io.stdout(`table written to ${v.json}\n`);
  }
  if (v.svg !== undefined) {
    const title = `kodeviser ${profile}: years to death by presses a day and temperature`;
    writeFileAtomic(io.path(v.svg), heatMapSvg({ title, cells, pressesPerDay, temperaturesC, maxYears, targetYears }));
    io.stdout(`heat map written to ${v.svg}\n`);
  }
  return 0;
}
