/**
 * `kodeviser lifetime --sweep`: a grid of lives on worker threads. Every cell is exactly the life
 * the single command simulates for it (the same function, the same outcome to the microsecond);
 * the table and the heat map say the same; bad axes are one usage line.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { simulateLifetime } from '../src/lifetime.js';
import { sweepLifetimes, toCell, type SweepCell } from '../src/lifetime-sweep.js';
import { cli, HOST_NOW_MS, tempDir } from './cli-helpers.js';

const PRESSES = [2, 6];
const TEMPS = [25, 45];

t.test('a 2 × 2 sweep: each cell is what `kodeviser lifetime` gives for it; CSV, JSON and SVG agree', async (t) => {
  const dir = tempDir(t);
  const [csv, json, svg] = ['grid.csv', 'grid.json', 'grid.svg'].map((f) => join(dir, f)) as [string, string, string];
  const r = await cli([
    'lifetime',
    '--sweep',
    '--profile',
    'totp-sha1',
    '--presses-per-day',
    PRESSES.join(','),
    '--temp',
    TEMPS.join(','),
    '--csv',
    csv,
    '--json',
    json,
    '--svg',
    svg,
    '--workers',
    '2',
    '--target',
    '9.5',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^totp-sha1: years to death, from 2026-01-01 \(rows: °C; columns: presses a day\)\n/);
  t.match(r.stdout, /\nlasting 9\.5 years or more: 2 of 4 cells\n/, 'the 45 °C lives fall short of 9.5 years, the 25 °C ones do not');

  const grid = JSON.parse(readFileSync(json, 'utf8')) as { cells: SweepCell[]; pressesPerDay: number[]; temperaturesC: number[] };
  t.same([grid.pressesPerDay, grid.temperaturesC], [PRESSES, TEMPS]);
  t.equal(grid.cells.length, 4);
  for (const cell of grid.cells) {
    const life = {
      profile: 'totp-sha1' as const,
      pressesPerDay: cell.pressesPerDay,
      temperatureC: cell.temperatureC,
      startMs: HOST_NOW_MS,
      maxYears: 30,
    };
    t.same(cell, toCell(life, simulateLifetime(life)), `${cell.pressesPerDay}/day at ${cell.temperatureC} °C: the same life, exactly`);
    if (cell !== grid.cells[0] && cell !== grid.cells[3]) continue; // the command itself, for the two corners
    const single = await cli([
      'lifetime',
      '--profile',
      'totp-sha1',
      '--presses-per-day',
      String(cell.pressesPerDay),
      '--temp',
      String(cell.temperatureC),
    ]);
    const m = /\ndied after (\d+\.\d\d) years .*\ncodes shown: (\d+)\n/s.exec(single.stdout);
    t.ok(m, single.stdout);
    t.equal(cell.diedAfterYears!.toFixed(2), m![1], 'the single command prints the same death');
    t.equal(cell.codes, Number(m![2]), 'and the same number of codes');
  }
  t.ok(
    grid.cells[2]!.cause === 'cell-flat' && grid.cells[0]!.cause === 'firmware-empty',
    'at 45 °C the cell goes flat before the firmware counts it empty',
  );

  const rows = readFileSync(csv, 'utf8').trimEnd().split('\r\n');
  t.equal(rows[0], 'presses_per_day,temperature_c,died_after_years,cause,codes,low_battery_after_years');
  t.same(
    rows.slice(1).map((row) => row.split(',').slice(0, 5)),
    grid.cells.map((c) => [String(c.pressesPerDay), String(c.temperatureC), c.diedAfterYears!.toFixed(3), c.cause, String(c.codes)]),
  );

  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(svg, 'utf8'), true) as {
    svg: { g: Array<{ class: string; rect?: Array<Record<string, string>> }>; path: { class: string; 'data-years': string; d: string } };
  };
  const rects = doc.svg.g.find((g) => g.class === 'cells')!.rect!;
  t.same(
    rects.map((x) => [Number(x['data-presses']), Number(x['data-temperature']), Number(x['data-years']).toFixed(3)]),
    grid.cells.map((c) => [c.pressesPerDay, c.temperatureC, c.diedAfterYears!.toFixed(3)]),
    'a cell in the map for each life',
  );
  t.equal(doc.svg.path.class, 'contour');
  t.equal(doc.svg.path['data-years'], '9.5');
  t.equal(doc.svg.path.d.split('M').filter(Boolean).length, 2, 'the 9.5-year line runs between the rows, over both columns');
});

t.test('usage errors are one line, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--presses-per-day', '20..1:3'], /--presses-per-day: a range A\.\.B:N needs A < B/],
    [['--temp', '0..45:1'], /--temp \(the count after :\) must be an integer from 2 to 100/],
    [['--temp', '5,5'], /--temp: each value once/],
    [['--temp', 'warm'], /--temp must be a number from -60 to 125/],
    [['--workers', '0'], /--workers must be an integer from 1 to 64/],
    [['--plot', 'x.svg'], /--plot draws one life; with --sweep use --svg/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(['lifetime', '--sweep', '--profile', 'totp-sha1', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const single = await cli(['lifetime', '--profile', 'totp-sha1', '--presses-per-day', '3', '--csv', 'x.csv']);
  t.equal(single.code, 2);
  t.match(single.stderr, /--csv goes with --sweep/);
});

t.test('negative temperatures as an axis; a failing cell rejects the whole sweep', async (t) => {
  const r = await cli([
    'lifetime',
    '--sweep',
    '--profile',
    'hotp-sha1',
    '--presses-per-day',
    '1',
    '--temp',
    '-10..10:3',
    '--max-years',
    '0.05',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\n\s+-10\s+>0\.05\n/, 'alive after the few days simulated');
  await t.rejects(
    sweepLifetimes({
      profile: 'hotp-md5' as never,
      pressesPerDay: [1],
      temperaturesC: [25],
      startMs: HOST_NOW_MS,
      maxYears: 1,
      workers: 1,
    }),
    { code: 'ERR_ARGUMENT', message: /^lifetime sweep: cell 1 failed: .*profile/ },
  );
  // A cell that fails at once (a temperature that is no number) while the other worker is in
  // the middle of a life: the sweep stops that worker and fails as a whole.
  await t.rejects(
    sweepLifetimes({
      profile: 'hotp-sha1',
      pressesPerDay: [3],
      temperaturesC: [25, Number.NaN],
      startMs: HOST_NOW_MS,
      maxYears: 30,
      workers: 2,
    }),
    { code: 'ERR_ARGUMENT', message: /^lifetime sweep: cell 2 failed: / },
  );
});
