/**
 * Command-line parsing for every `kodeviser` command, on node:util parseArgs (strict mode:
 * unknown flags and missing values are errors). Node's own parser is enough for flat
 * `command FILE --flag value` lines, so the CLI carries no argument-parsing dependency and
 * starts fast. The value parsers below turn text into checked numbers and name the flag in
 * every error, so each bad input becomes one usage line (exit 2).
 */
import { parseArgs } from 'node:util';
import { hexToBytes, isProfileName, PROFILES, type ProfileName } from '@kodeviser/shared';
import { usageError } from './errors.js';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: false };

export interface CommandSpec<O extends Record<string, OptionSpec>> {
  name: string;
  /** The synopsis line after `usage: kodeviser `. */
  usage: string;
  /** The rest of the help text: what it does, then one line per option. */
  help: string;
  options: O;
  /** Names of the positional arguments, all required. */
  positionals: readonly string[];
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

export type Parsed<O extends Record<string, OptionSpec>> = { help: true } | { help: false; values: Values<O>; positionals: string[] };

export function helpText(spec: CommandSpec<Record<string, OptionSpec>>): string {
  return `usage: kodeviser ${spec.usage}\n\n${spec.help.trim()}\n  -h, --help   show this help\n`;
}

/** Parses argv (after the command name); `--help` anywhere wins over every other check. */
export function parseCommand<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(spec.options, argv), options: spec.options, strict: true, allowPositionals: true });
  } catch (e) {
    // parseArgs' messages are one sentence followed by advice; the sentence is what the user needs.
    const message = e instanceof Error ? (e.message.split('. ')[0] ?? e.message) : String(e);
    throw usageError(`${spec.name}: ${message}`);
  }
  const { positionals } = parsed;
  if (positionals.length !== spec.positionals.length) {
    const want = spec.positionals.length === 0 ? 'no arguments' : spec.positionals.join(' ');
    throw usageError(
      `${spec.name}: expected ${want}, got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}`,
    );
  }
  return { help: false, values: parsed.values as Values<O>, positionals };
}

// a negative number, or a list or range that starts with one (-10..40:6, -5,0,5)
const NEGATIVE_NUMBER = /^-\d+(?:\.\d+)?(?:(?:\.\.|,)[-\d.:,]*)?$/;

/**
 * parseArgs refuses `--drift-ppm -20` ("argument is ambiguous": a value that looks like an
 * option), yet that is how a user writes a negative ppm or a sub-zero temperature. A negative
 * number right after a string option is its value, so it is joined as `--drift-ppm=-20`.
 */
function joinNegativeValues(options: Record<string, OptionSpec>, argv: readonly string[]): string[] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (takesValue.has(arg) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

const DURATION = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d|y)$/;
const US_PER_UNIT: Record<string, number> = {
  us: 1,
  ms: 1e3,
  s: 1e6,
  m: 60e6,
  h: 3600e6,
  d: 86_400e6,
  y: 365.25 * 86_400e6, // the Julian year: the mean length of a calendar year
};

/** `90s`, `250ms`, `15m`, `2h`, `3d`, `1y`, `1.5h` → whole microseconds. */
export function parseDurationUs(text: string, argName: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw usageError(`${argName} must be a duration like 250ms, 90s, 15m, 2h, 3d or 1y, got ${JSON.stringify(text)}`);
  const us = Math.round(Number(m[1]) * (US_PER_UNIT[m[2] as string] as number));
  if (!Number.isSafeInteger(us)) throw usageError(`${argName} is too long: ${JSON.stringify(text)}`);
  return us;
}

// ISO 8601 / RFC 3339 date-time with an explicit zone: a press time without one would silently
// depend on the host's time zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** An ISO 8601 time with a zone (`2009-02-13T23:31:30Z`) → Unix milliseconds. */
export function parseIsoTimeMs(text: string, argName: string): number {
  const ms = ISO_TIME.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (!Number.isFinite(ms)) {
    throw usageError(`${argName} must be an ISO 8601 time with a zone, like 2009-02-13T23:31:30Z, got ${JSON.stringify(text)}`);
  }
  return ms;
}

export function parseIntArg(text: string, argName: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`${argName} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

export function parseNumberArg(text: string, argName: string, min: number, max: number): number {
  const n = /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw usageError(`${argName} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * The values of a sweep axis: `A..B:N` (N values from A to B, evenly spaced, both included),
 * `a,b,c`, or one number; each within [min, max], at most `maxValues` of them.
 */
export function parseAxisArg(text: string, argName: string, min: number, max: number, maxValues = 100): number[] {
  const range = /^(.+)\.\.(.+):(\d+)$/.exec(text.trim());
  let values: number[];
  if (range !== null) {
    const from = parseNumberArg(range[1] as string, argName, min, max);
    const to = parseNumberArg(range[2] as string, argName, min, max);
    const n = parseIntArg(range[3] as string, `${argName} (the count after :)`, 2, maxValues);
    if (to <= from) throw usageError(`${argName}: a range A..B:N needs A < B, got ${JSON.stringify(text)}`);
    values = Array.from({ length: n }, (_, i) => Math.round((from + ((to - from) * i) / (n - 1)) * 1000) / 1000);
  } else {
    values = text.split(',').map((part) => parseNumberArg(part, argName, min, max));
    if (values.length > maxValues) throw usageError(`${argName}: at most ${maxValues} values, got ${values.length}`);
  }
  if (new Set(values).size !== values.length) throw usageError(`${argName}: each value once, got ${JSON.stringify(text)}`);
  return values;
}

export function parseKeyArg(text: string, argName: string): Uint8Array {
  let key: Uint8Array;
  try {
    key = hexToBytes(text, argName);
  } catch (e) {
    throw usageError(e instanceof Error ? e.message : String(e));
  }
  if (key.length === 0) throw usageError(`${argName} must not be empty`);
  return key;
}

export function parseProfileArg(text: string, argName: string): ProfileName {
  if (!isProfileName(text)) throw usageError(`${argName}: unknown profile ${JSON.stringify(text)} (one of ${PROFILES.join(', ')})`);
  return text;
}
