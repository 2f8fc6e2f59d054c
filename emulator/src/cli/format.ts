/**
 * Text the commands share: times to the microsecond, the LCD in quotes (its leading blanks
 * matter), state diffs, NVM hex dumps and trace lines. Trace details are printed with secret
 * fields masked: a personalisation event carries the key, and secrets never reach a log.
 */
import type { TraceRecord } from '../trace.js';

/** µs since the epoch → `2026-01-01T00:00:00.123456Z`. */
export function isoUs(us: number): string {
  const whole = Math.floor(us);
  const ms = Math.floor(whole / 1000);
  const micros = String(((whole % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}

/** A signed duration in seconds with millisecond resolution: `+1.234 s`. */
export function signedSeconds(us: number): string {
  return `${us < 0 ? '-' : '+'}${(Math.abs(us) / 1e6).toFixed(3)} s`;
}

export function quoted(lcd: string): string {
  return JSON.stringify(lcd);
}

export type StateLike = Readonly<Record<string, unknown>>;

/** `field: before -> after` for every field whose value changed (the segment buffer excluded: the LCD line shows it). */
export function stateDiff(before: StateLike, after: StateLike): string[] {
  const out: string[] = [];
  for (const key of Object.keys(after)) {
    if (key === 'lcd') continue;
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) out.push(`${key}: ${a} -> ${b}`);
  }
  return out;
}

export { hexDump } from '../hex-dump.js';

const SECRET_KEYS = new Set(['key', 'secret', 'data']);

function masked(value: unknown): string {
  return JSON.stringify(value, (k, v: unknown) => {
    if (SECRET_KEYS.has(k)) return '<hidden>';
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    return v;
  });
}

export function traceLine(r: TraceRecord): string {
  return `${isoUs(r.trueUs)} ${r.kind.padEnd(6)} ${r.what} ${masked(r.detail)}`;
}
