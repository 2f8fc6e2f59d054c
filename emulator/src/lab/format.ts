/**
 * Text the lab shows: clocks, the crystal's offset, percentages, the NVM as a hex dump, trace
 * lines (with the key and any NVM data masked: a secret never reaches the page's text), and the
 * "Go to time" input, read by the same rule as `kodeviser press --at`.
 * Pure: no DOM, no Node.
 */
import { hexDump as hexDumpOf } from '../hex-dump.js';
import type { TraceRecord } from '../trace.js';

/** µs since the epoch → `2026-01-01T12:00:00.000Z` (ISO 8601 UTC, millisecond resolution). */
export function isoTime(us: number): string {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString();
}

/** A signed duration, `+1.234 s`, switching to minutes, hours and days as it grows. */
export function signedDuration(us: number): string {
  const sign = us < 0 ? '−' : '+';
  const s = Math.abs(us) / 1e6;
  if (s < 120) return `${sign}${s.toFixed(3)} s`;
  if (s < 7200) return `${sign}${(s / 60).toFixed(2)} min`;
  if (s < 172_800) return `${sign}${(s / 3600).toFixed(2)} h`;
  return `${sign}${(s / 86_400).toFixed(2)} d`;
}

/** `+12.345 ppm` (the sign always shown: fast or slow is the point). */
export function formatPpm(ppm: number): string {
  const fixed = Math.abs(ppm).toFixed(3);
  return `${ppm < 0 && fixed !== '0.000' ? '−' : '+'}${fixed} ppm`;
}

/** 1234567897 → 12-3456789-7, as printed on the case. */
export function formatSerial(serial: string): string {
  return /^\d{10}$/.test(serial) ? `${serial.slice(0, 2)}-${serial.slice(2, 9)}-${serial.slice(9)}` : serial;
}

export function formatPercent(p: number, decimals = 1): string {
  return `${p.toFixed(decimals)} %`;
}

/** `25 °C`, `−5.5 °C`. */
export function formatCelsius(c: number): string {
  const text = Number.isInteger(c) ? String(Math.abs(c)) : Math.abs(c).toFixed(1);
  return `${c < 0 ? '−' : ''}${text} °C`;
}

/** The token's operating range (emulator/src/rtc.ts). */
export const OPERATING_RANGE_C = { min: 0, max: 45 } as const;

export function outOfOperatingRange(c: number): boolean {
  return c < OPERATING_RANGE_C.min || c > OPERATING_RANGE_C.max;
}

/** The NVM as hexdump -C would show it, with 4-digit offsets (it is small) and no closing length. */
export const hexDump = (bytes: Uint8Array): string => hexDumpOf(bytes, { offsetDigits: 4, total: false });

const SECRET_KEYS = new Set(['key', 'secret', 'data']);

/** A trace record's detail as JSON, secrets masked. */
export function maskedDetail(detail: Record<string, unknown>): string {
  return JSON.stringify(detail, (k, v: unknown) => {
    if (SECRET_KEYS.has(k)) return '<hidden>';
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    return v;
  });
}

/** One line of the live trace: true time, kind, what, detail. */
export function traceLine(r: TraceRecord): string {
  const detail = maskedDetail(r.detail);
  return `${isoTime(r.trueUs)} ${r.kind.padEnd(6)} ${r.what}${detail === '{}' ? '' : ` ${detail}`}`;
}

// The rule of `kodeviser press --at` (emulator/src/cli/args.ts): an ISO 8601 date-time with an
// explicit zone, so a time never silently depends on the browser's time zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** The "Go to time" text → µs since the epoch (whole ms, as the CLI's --at), or an error message. */
export function parseTimeInput(text: string): { us: number } | { error: string } {
  const t = text.trim();
  const ms = ISO_TIME.test(t) ? Date.parse(t.replace(' ', 'T')) : NaN;
  if (!Number.isFinite(ms)) return { error: `Give an ISO 8601 time with a zone, like 2026-01-01T12:00:00Z (got ${JSON.stringify(t)})` };
  return { us: ms * 1000 };
}
