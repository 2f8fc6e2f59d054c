/**
 * A tiny line chart as hand-written SVG 1.1 (W3C SVG 1.1 §9 basic shapes, §10 text, §8 paths):
 * a frame, labelled axes with ticks, a title, a legend and one polyline per series. That is all
 * the lifetime plot needs, so no chart library: a few dozen lines of markup are easier to check
 * than a dependency, and the output opens in any browser.
 */

export interface Series {
  label: string;
  /** [x, y] points in data units, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** The x axis runs from 0 to at least this (default: the largest x). */
  xMax?: number;
  /** The y axis range (default 0..100, a percentage). */
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}

const MARGIN = { left: 70, right: 24, top: 48, bottom: 56 };

/** A "nice" tick spacing (1, 2 or 5 × 10^k) that puts at most `maxTicks` intervals on a span. */
export function tickStep(span: number, maxTicks: number): number {
  const raw = span / maxTicks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5].find((f) => f * magnitude >= raw) ?? 10) * magnitude;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Coordinates to a tenth of a pixel; tick labels without floating-point noise (0.30000000000000004). */
const fmt = (n: number): string => String(Math.round(n * 10) / 10);
const label = (n: number): string => String(Number(n.toPrecision(10)));

export function lineChartSvg(opts: ChartOptions): string {
  const width = opts.width ?? 720;
  const height = opts.height ?? 440;
  const yMin = opts.yMin ?? 0;
  const yMax = opts.yMax ?? 100;
  const dataXMax = Math.max(0, ...opts.series.flatMap((s) => s.points.map((p) => p[0])));
  const xSpan = Math.max(opts.xMax ?? 0, dataXMax) || 1;
  const xStep = tickStep(xSpan, 10);
  const xMax = Math.ceil(xSpan / xStep) * xStep;
  const yStep = tickStep(yMax - yMin, 10);

  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + (x / xMax) * plotW;
  const sy = (y: number): number => MARGIN.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const bottom = MARGIN.top + plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text class="title" x="${width / 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`,
  );
  // Grid and ticks first, so the curves are drawn over them.
  out.push('<g class="x-axis">');
  for (let i = 0; i * xStep <= xMax + xStep / 1e6; i++) {
    const x = sx(i * xStep);
    out.push(
      `<line x1="${fmt(x)}" y1="${MARGIN.top}" x2="${fmt(x)}" y2="${bottom}" stroke="#e4e4e4"/>`,
      `<line x1="${fmt(x)}" y1="${bottom}" x2="${fmt(x)}" y2="${bottom + 5}" stroke="black"/>`,
      `<text class="tick" x="${fmt(x)}" y="${bottom + 18}" text-anchor="middle">${label(i * xStep)}</text>`,
    );
  }
  out.push(
    `<text class="label" x="${fmt(MARGIN.left + plotW / 2)}" y="${height - 12}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    '</g>',
  );
  out.push('<g class="y-axis">');
  for (let i = 0; yMin + i * yStep <= yMax + yStep / 1e6; i++) {
    const y = sy(yMin + i * yStep);
    out.push(
      `<line x1="${MARGIN.left}" y1="${fmt(y)}" x2="${MARGIN.left + plotW}" y2="${fmt(y)}" stroke="#e4e4e4"/>`,
      `<line x1="${MARGIN.left - 5}" y1="${fmt(y)}" x2="${MARGIN.left}" y2="${fmt(y)}" stroke="black"/>`,
      `<text class="tick" x="${MARGIN.left - 8}" y="${fmt(y + 4)}" text-anchor="end">${label(yMin + i * yStep)}</text>`,
    );
  }
  const yLabelX = 18;
  const yLabelY = MARGIN.top + plotH / 2;
  out.push(
    `<text class="label" x="${yLabelX}" y="${fmt(yLabelY)}" text-anchor="middle" transform="rotate(-90 ${yLabelX} ${fmt(yLabelY)})">${escapeXml(opts.yLabel)}</text>`,
    '</g>',
  );
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`);

  opts.series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${fmt(sx(p[0]))} ${fmt(sy(p[1]))}`).join(' ');
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path class="series" data-label="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    const ly = MARGIN.top + 18 + i * 18;
    const lx = MARGIN.left + plotW - 230;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text class="legend" x="${lx + 30}" y="${ly}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
