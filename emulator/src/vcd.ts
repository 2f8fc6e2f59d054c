/**
 * Value change dumps (IEEE Std 1364-2005 §18, "Value change dump (VCD) files") of the virtual
 * hardware, for GTKWave or any waveform viewer: the raw button line, the LCD's eight segment
 * bytes and whether any is lit, the coin cell's true charge, and the NVM's busy line.
 *
 * VcdWriter is the format alone (declarations, identifier codes, one line per change, scalar
 * `0!`, vector `b1010 "`, real `r1.5 #`); VcdRecorder feeds it from the emulator's trace records
 * (Machine.onTrace), so the dump shows exactly what the trace says happened, at true time.
 * Times are microseconds from the start of the recording (`$timescale 1us`); the absolute start
 * is in a `$comment`, since viewers draw a time axis from 0 best.
 */
import type { TraceRecord } from './trace.js';

export type VcdVarType = 'wire' | 'reg' | 'real' | 'integer';
export type VcdValue = boolean | number;

export interface VcdVar {
  type: VcdVarType;
  /** bits (1 for a wire line, 8 for a segment byte, 64 for a real) */
  width: number;
  name: string;
}

/** Short identifier codes from the printable ASCII range `!`..`~` (§18.2.1), base 94. */
export function vcdIdentifier(index: number): string {
  let id = '';
  let n = index;
  do {
    id += String.fromCharCode(33 + (n % 94));
    n = Math.floor(n / 94);
  } while (n > 0);
  return id;
}

/** A real in plain decimal: readers differ in whether they take exponents, all take this. */
function formatReal(x: number): string {
  return x.toFixed(3).replace(/\.?0+$/, '') || '0';
}

export class VcdWriter {
  private readonly ids = new Map<string, { id: string; v: VcdVar }>();
  private readonly last = new Map<string, string>();
  private readonly body: string[] = [];
  private time = 0;

  constructor(
    private readonly vars: readonly VcdVar[],
    private readonly header: { scope: string; comment?: string; date?: string; version?: string },
    initial: Readonly<Record<string, VcdValue>>,
  ) {
    vars.forEach((v, i) => this.ids.set(v.name, { id: vcdIdentifier(i), v }));
    const dump: string[] = [];
    for (const v of vars) {
      const value = initial[v.name];
      if (value === undefined) throw new Error(`vcd: no initial value for ${v.name}`);
      const text = this.encode(v.name, value);
      this.last.set(v.name, text);
      dump.push(text);
    }
    this.body.push('#0', '$dumpvars', ...dump, '$end');
  }

  /** Records `value` for `name` at `time` (µs from the start, non-decreasing); unchanged values are skipped. */
  set(time: number, name: string, value: VcdValue): void {
    const text = this.encode(name, value);
    if (this.last.get(name) === text) return;
    const t = Math.max(this.time, Math.round(time));
    if (t !== this.time) {
      this.body.push(`#${t}`);
      this.time = t;
    }
    this.last.set(name, text);
    this.body.push(text);
  }

  /** Marks the end of the recording at `time`, so a viewer shows the quiet stretch after the last change. */
  end(time: number): void {
    const t = Math.round(time);
    if (t > this.time) {
      this.body.push(`#${t}`);
      this.time = t;
    }
  }

  private encode(name: string, value: VcdValue): string {
    const entry = this.ids.get(name);
    if (entry === undefined) throw new Error(`vcd: unknown variable ${name}`);
    const { id, v } = entry;
    const n = typeof value === 'boolean' ? Number(value) : value;
    if (v.type === 'real') return `r${formatReal(n)} ${id}`;
    if (v.width === 1) return `${n ? 1 : 0}${id}`;
    return `b${Math.trunc(n).toString(2).padStart(v.width, '0')} ${id}`;
  }

  toString(): string {
    const h = this.header;
    const decl = [
      ...(h.date === undefined ? [] : ['$date', `  ${h.date}`, '$end']),
      ...(h.version === undefined ? [] : ['$version', `  ${h.version}`, '$end']),
      ...(h.comment === undefined ? [] : ['$comment', `  ${h.comment}`, '$end']),
      '$timescale 1us $end',
      `$scope module ${h.scope} $end`,
      ...this.vars.map((v) => `$var ${v.type} ${v.width} ${this.ids.get(v.name)?.id} ${v.name} $end`),
      '$upscope $end',
      '$enddefinitions $end',
    ];
    return `${decl.join('\n')}\n${this.body.join('\n')}\n`;
  }
}

const SEGMENT_VARS: VcdVar[] = Array.from({ length: 8 }, (_, i) => ({ type: 'reg' as const, width: 8, name: `seg${i}` }));

/** The token's signals, in the order a viewer lists them. */
export const TOKEN_VARS: readonly VcdVar[] = [
  { type: 'wire', width: 1, name: 'button' },
  { type: 'wire', width: 1, name: 'lcd_on' },
  ...SEGMENT_VARS,
  { type: 'real', width: 64, name: 'battery_charge' },
  { type: 'wire', width: 1, name: 'nvm_busy' },
];

/** The state of the signals when recording starts. */
export interface TokenSignals {
  button: boolean;
  segments: ArrayLike<number>;
  /** the cell's true charge, µC */
  batteryChargeUc: number;
  nvmBusy: boolean;
}

/**
 * Turns trace records into value changes: `hw` records carry the signals (button {level},
 * lcd {segments}, battery {chargeNc}, nvm {busy}); events and effects change no wire.
 */
export class VcdRecorder {
  readonly writer: VcdWriter;
  private readonly startUs: number;

  constructor(startUs: number, initial: TokenSignals, version = 'kodeviser emulator') {
    this.startUs = startUs;
    const values: Record<string, VcdValue> = {
      button: initial.button,
      lcd_on: Array.from(initial.segments).some((s) => s !== 0),
      battery_charge: initial.batteryChargeUc,
      nvm_busy: initial.nvmBusy,
    };
    Array.from(initial.segments).forEach((s, i) => (values[`seg${i}`] = s));
    this.writer = new VcdWriter(
      TOKEN_VARS,
      {
        scope: 'kodeviser',
        version,
        comment: `time 0 is ${new Date(Math.floor(startUs / 1000)).toISOString()} true time (${startUs} us since the epoch); battery_charge in microcoulombs`,
      },
      values,
    );
  }

  record(r: TraceRecord): void {
    if (r.kind !== 'hw') return;
    const t = r.trueUs - this.startUs;
    const d = r.detail;
    if (r.what === 'button' && typeof d.level === 'boolean') {
      this.writer.set(t, 'button', d.level);
    } else if (r.what === 'lcd' && Array.isArray(d.segments)) {
      const segments = d.segments as number[];
      segments.forEach((s, i) => this.writer.set(t, `seg${i}`, s));
      this.writer.set(
        t,
        'lcd_on',
        segments.some((s) => s !== 0),
      );
    } else if (r.what === 'battery' && typeof d.chargeNc === 'number') {
      this.writer.set(t, 'battery_charge', d.chargeNc / 1000);
    } else if (r.what === 'nvm' && typeof d.busy === 'boolean') {
      this.writer.set(t, 'nvm_busy', d.busy);
    }
  }

  /** The recording ends at true time `trueUs`. */
  end(trueUs: number): void {
    this.writer.end(trueUs - this.startUs);
  }

  toString(): string {
    return this.writer.toString();
  }
}
