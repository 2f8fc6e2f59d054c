/**
 * Battery life over a grid of presses a day × temperature: every cell is one simulateLifetime
 * (lifetime.ts), exactly what `kodeviser lifetime` runs for it, spread over worker threads (one
 * life is about half a second of one core, and the cells are independent). The answer is a
 * table (CSV or JSON) and an SVG heat map of years to death with the ten-year line drawn: the
 * battery must last ten years.
 */
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KodeviserError, type ProfileName } from '@kodeviser/shared';
import { YEAR_US } from './crystal.js';
import type { LifetimeOptions, LifetimeResult } from './lifetime.js';

/** One cell: a life's conditions and its outcome (years; null when alive at maxYears). */
export interface SweepCell {
  pressesPerDay: number;
  temperatureC: number;
  diedAfterYears: number | null;
  cause: LifetimeResult['cause'];
  codes: number;
  lowBatteryAfterYears: number | null;
}

export interface SweepOptions {
  profile: ProfileName;
  pressesPerDay: readonly number[];
  temperaturesC: readonly number[];
  /** true time of manufacture of every cell's token, Unix ms */
  startMs: number;
  maxYears: number;
  /** worker threads (default: one per cell up to the number given) */
  workers: number;
}

/** A job for the worker (lifetime-worker.ts): the index of its cell and the life to simulate. */
export interface SweepJob {
  index: number;
  life: LifetimeOptions;
}

export type SweepReply = { index: number; cell: SweepCell } | { index: number; error: string };

/** The ten-year mark: the battery life the token is built for ("up to 10 years"). */
export const TARGET_YEARS = 10;

/** A life's outcome as a sweep cell (years rather than µs, and no samples). */
export function toCell(life: LifetimeOptions, r: LifetimeResult): SweepCell {
  return {
    pressesPerDay: life.pressesPerDay,
    temperatureC: life.temperatureC ?? 25,
    diedAfterYears: r.diedAfterUs === null ? null : r.diedAfterUs / YEAR_US,
    cause: r.cause,
    codes: r.codes,
    lowBatteryAfterYears: r.lowBatteryAfterUs === null ? null : r.lowBatteryAfterUs / YEAR_US,
  };
}

/** The worker script beside this file: .ts when running from sources (tsx), .js when built. */
const FROM_SOURCES = extname(fileURLToPath(import.meta.url)) === '.ts';
const WORKER_URL = new URL(`./lifetime-worker${FROM_SOURCES ? '.ts' : '.js'}`, import.meta.url);

/**
 * A worker thread running lifetime-worker. A worker does not inherit the loader hooks that let
 * the main thread import TypeScript (tests, benches), so from sources it registers tsx first.
 */
function startWorker(): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true });
}

/**
 * Every cell, row by row (temperatures outer, presses inner). Cells go to the workers one at a
 * time, so a slow cell holds up one worker, not a share of the grid.
 */
export async function sweepLifetimes(opts: SweepOptions): Promise<SweepCell[]> {
  const jobs: SweepJob[] = opts.temperaturesC.flatMap((temperatureC, row) =>
    opts.pressesPerDay.map((pressesPerDay, col) => ({
      index: row * opts.pressesPerDay.length + col,
      life: { profile: opts.profile, pressesPerDay, temperatureC, startMs: opts.startMs, maxYears: opts.maxYears, sampleDays: 1e9 },
    })),
  );
  if (jobs.length === 0) return [];
  const cells = new Array<SweepCell>(jobs.length);
  let next = 0;
  const count = Math.max(1, Math.min(opts.workers, jobs.length));
  const workers: Worker[] = [];
  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = startWorker();
      workers.push(worker);
      const feed = (): void => {
        const job = jobs[next++];
        if (job === undefined) {
          void worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage(job);
      };
      worker.on('message', (reply: SweepReply) => {
        if ('error' in reply) {
          reject(new KodeviserError('ERR_ARGUMENT', `lifetime sweep: cell ${reply.index + 1} failed: ${reply.error}`));
          return;
        }
        cells[reply.index] = reply.cell;
        feed();
      });
      worker.on('error', reject);
      feed();
    });
  try {
    await Promise.all(Array.from({ length: count }, runWorker));
  } catch (e) {
    // one failed cell fails the sweep: the other workers stop rather than finish the grid
    next = jobs.length;
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  return cells;
}

const years = (y: number | null): string => (y === null ? '' : y.toFixed(3));

/** RFC 4180 CSV, one row a cell; an empty died_after_years: still alive at max-years. */
export function sweepCsv(cells: readonly SweepCell[]): string {
  const rows = ['presses_per_day,temperature_c,died_after_years,cause,codes,low_battery_after_years'];
  for (const c of cells) {
    rows.push([c.pressesPerDay, c.temperatureC, years(c.diedAfterYears), c.cause ?? '', c.codes, years(c.lowBatteryAfterYears)].join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Short labels for axis values: at most two decimals, no trailing zeros. */
const axisLabel = (n: number): string => String(Math.round(n * 100) / 100);

/**
 * A colour scale that diverges at the target: green at or above it, from yellow just below it
 * to red at the shortest life in the grid. Lives differ by weeks across most grids, so the scale
 * spans the data, not 0 to maxYears, or every cell would look alike.
 */
function colourScale(target: number, shortest: number): (years: number) => string {
  const below = Math.max(target - shortest, 1e-9);
  return (years) => {
    if (years >= target) return 'hsl(120, 55%, 62%)';
    const f = Math.min(1, (target - years) / below); // 0 just below the target … 1 at the shortest
    return `hsl(${(55 - 55 * f).toFixed(0)}, 80%, ${(80 - 18 * f).toFixed(0)}%)`;
  };
}

export interface HeatMapOptions {
  title: string;
  cells: readonly SweepCell[];
  pressesPerDay: readonly number[];
  temperaturesC: readonly number[];
  maxYears: number;
  /** the line drawn, years (default TARGET_YEARS) */
  targetYears?: number;
}

/**
 * The grid as SVG 1.1: a cell per life, coloured and labelled with its years to death (presses a
 * day across, temperature up), and the ten-year line drawn along every cell border that
 * separates a life of at least ten years from a shorter one.
 */
export function heatMapSvg(opts: HeatMapOptions): string {
  const cols = opts.pressesPerDay.length;
  const rows = opts.temperaturesC.length;
  const cw = Math.max(44, Math.min(72, Math.floor(720 / Math.max(1, cols))));
  const ch = 32;
  const left = 80;
  const top = 56;
  const width = left + cols * cw + 200;
  const height = top + rows * ch + 64;
  // temperature rises upward: row 0 (the first temperature) at the bottom
  const x = (col: number): number => left + col * cw;
  const y = (row: number): number => top + (rows - 1 - row) * ch;
  const target = opts.targetYears ?? TARGET_YEARS;
  const yearsOf = (c: SweepCell): number => c.diedAfterYears ?? opts.maxYears;
  const lasts = (row: number, col: number): boolean => {
    const c = opts.cells[row * cols + col];
    return c !== undefined && yearsOf(c) >= target;
  };
  const shortest = Math.min(...opts.cells.map(yearsOf));
  const longest = Math.max(...opts.cells.map(yearsOf));
  const colour = colourScale(target, shortest);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text class="title" x="${left + (cols * cw) / 2}" y="26" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(opts.title)}</text>`,
    '<g class="cells">',
  ];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const c = opts.cells[row * cols + col];
      if (c === undefined) continue;
      const yrs = yearsOf(c);
      const text = c.diedAfterYears === null ? `>${axisLabel(opts.maxYears)}` : yrs.toFixed(2);
      out.push(
        `<rect class="cell" data-presses="${c.pressesPerDay}" data-temperature="${c.temperatureC}" data-years="${c.diedAfterYears === null ? '' : yrs.toFixed(3)}" x="${x(col)}" y="${y(row)}" width="${cw}" height="${ch}" fill="${colour(yrs)}" stroke="white"/>`,
        `<text x="${x(col) + cw / 2}" y="${y(row) + ch / 2 + 4}" text-anchor="middle">${text}</text>`,
      );
    }
  }
  out.push('</g>');

  // The ten-year line: the borders between a cell that lasts and a neighbour that does not.
  const segments: string[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      if (col + 1 < cols && lasts(row, col) !== lasts(row, col + 1)) segments.push(`M${x(col + 1)} ${y(row)}v${ch}`);
      if (row + 1 < rows && lasts(row, col) !== lasts(row + 1, col)) segments.push(`M${x(col)} ${y(row)}h${cw}`);
    }
  }
  if (segments.length > 0) {
    out.push(`<path class="contour" data-years="${target}" d="${segments.join(' ')}" fill="none" stroke="black" stroke-width="3"/>`);
  }

  out.push('<g class="x-axis">');
  opts.pressesPerDay.forEach((p, col) => {
    out.push(`<text class="tick" x="${x(col) + cw / 2}" y="${top + rows * ch + 16}" text-anchor="middle">${axisLabel(p)}</text>`);
  });
  out.push(
    `<text class="label" x="${left + (cols * cw) / 2}" y="${top + rows * ch + 40}" text-anchor="middle">presses a day</text>`,
    '</g>',
    '<g class="y-axis">',
  );
  opts.temperaturesC.forEach((c, row) => {
    out.push(`<text class="tick" x="${left - 8}" y="${y(row) + ch / 2 + 4}" text-anchor="end">${axisLabel(c)}</text>`);
  });
  const ly = top + (rows * ch) / 2;
  out.push(`<text class="label" x="20" y="${ly}" text-anchor="middle" transform="rotate(-90 20 ${ly})">temperature °C</text>`, '</g>');

  const lx = left + cols * cw + 20;
  const reached = opts.cells.filter((c) => yearsOf(c) >= target).length;
  const swatch = (i: number, fill: string, text: string): string =>
    `<rect x="${lx}" y="${top + 20 + i * 20}" width="16" height="16" fill="${fill}"/><text x="${lx + 22}" y="${top + 32 + i * 20}">${escapeXml(text)}</text>`;
  out.push(
    '<g class="legend">',
    `<text x="${lx}" y="${top + 10}">years to death</text>`,
    swatch(0, colour(shortest), `${shortest.toFixed(2)} (shortest)`),
    swatch(1, colour(target - (target - shortest) / 2), `${(target - (target - shortest) / 2).toFixed(2)}`),
    swatch(2, colour(target), `${axisLabel(target)} or more`),
    `<path d="M${lx} ${top + 94}h16" stroke="black" stroke-width="3"/><text x="${lx + 22}" y="${top + 98}">${axisLabel(target)} years</text>`,
    `<text class="reached" x="${lx}" y="${top + 122}">${reached} of ${opts.cells.length} cells reach it</text>`,
    `<text x="${lx}" y="${top + 140}">longest: ${longest >= opts.maxYears ? `>${axisLabel(opts.maxYears)}` : longest.toFixed(2)}</text>`,
    '</g>',
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
