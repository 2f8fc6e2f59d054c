/**
 * A test bench for the firmware: its own effect loop (createRuntime) on a fake HAL with a virtual
 * device clock, the timers the firmware arms, an NVM image whose writes complete `nvmWriteUs`
 * later (or fail, or are cut), and a record of every code the LCD ever showed. Tests step it event
 * by event and can stop between any two. Not a test itself (no .test.ts).
 */
import { makeSerial, type ProfileName } from '@kodeviser/shared';
import {
  createRuntime,
  DEFAULT_CONFIG,
  type EventPayload,
  type FirmwareConfig,
  type FirmwareEffect,
  type FirmwareEvent,
  type FirmwareRuntime,
  type FirmwareState,
  type FirmwareStateView,
  NVM_SIZE,
  type Personalisation,
  textFor,
  type TimerName,
} from '@kodeviser/firmware';

export const T0 = 1_750_000_000_000_000; // device µs: June 2025
export const SERIAL = makeSerial('123456789');
export const RFC_KEY = new TextEncoder().encode('12345678901234567890'); // RFC 4226 Appendix D

export type { EventPayload };

export type WriteOutcome = 'ok' | 'fail' | { cutAfter: number };

export interface DriverOptions {
  config?: Partial<FirmwareConfig>;
  nvm?: Uint8Array;
  at?: number;
  nvmWriteUs?: number;
  /** deliver rtc-ticks every config.rtcTickUs */
  ticks?: boolean;
}

interface PendingWrite {
  address: number;
  data: Uint8Array;
  doneAt: number;
}

export class CoreDriver {
  readonly runtime: FirmwareRuntime;
  readonly config: FirmwareConfig;
  nvm: Uint8Array;
  now: number;
  readonly timers = new Map<TimerName, number>();
  write: PendingWrite | null = null;
  readonly nvmWriteUs: number;
  nextTick: number | null;
  /** decides each write's fate; a cut leaves the first k bytes written and powers the device off */
  writeOutcome: (w: { address: number; data: Uint8Array }) => WriteOutcome = () => 'ok';
  /** every code that appeared on the LCD, in order */
  readonly codesShown: string[] = [];
  readonly replies: { ok: boolean; reason?: string }[] = [];
  readonly log: { event: FirmwareEvent; effects: FirmwareEffect[] }[] = [];
  keepLog = true;
  /** the RAM as it was when power went (the runtime has none then) */
  private lastState: FirmwareState | null = null;
  /** the effects of the send in progress */
  private collecting: FirmwareEffect[] | null = null;

  constructor(opts: DriverOptions = {}) {
    this.config = { ...DEFAULT_CONFIG, ...opts.config };
    this.nvm = opts.nvm?.slice() ?? new Uint8Array(NVM_SIZE).fill(0xff);
    this.now = opts.at ?? T0;
    this.nvmWriteUs = opts.nvmWriteUs ?? 2_000;
    this.nextTick = opts.ticks === true ? this.now + this.config.rtcTickUs : null;
    const hal = {
      lcd: { write: () => {} },
      rtc: { now: () => this.now },
      timers: {
        arm: (timer: TimerName, at: number) => void this.timers.set(timer, at),
        cancel: (timer: TimerName) => void this.timers.delete(timer),
      },
      nvm: {
        read: () => this.nvm.slice(),
        write: (address: number, data: Uint8Array) => {
          if (this.write !== null) throw new Error('the firmware issued a write while one was in flight');
          this.write = { address, data, doneAt: this.now + this.nvmWriteUs };
        },
      },
      cpu: { run: () => {}, sleep: () => {} },
    };
    let shown: string | null = null;
    this.runtime = createRuntime(hal, this.config, {
      onStep: (event, effects, state) => {
        if (this.keepLog) this.log.push({ event, effects: [...effects] });
        this.collecting?.push(...effects);
        if (state.lastCode !== null && state.lastCode !== shown) this.codesShown.push(state.lastCode);
        shown = state.lastCode;
      },
      onFactoryReply: (reply) => this.replies.push(reply),
    });
  }

  /** The RAM: the runtime's, or what it was when power went. Setting it replaces the RAM (a restore). */
  get state(): FirmwareState {
    return (this.runtime.state ?? this.lastState) as FirmwareState;
  }
  set state(ram: FirmwareState) {
    this.runtime.restore(ram, this.runtime.pending());
  }
  get powered(): boolean {
    return this.runtime.powered;
  }

  view(): FirmwareStateView {
    return this.runtime.view();
  }
  lcd(): string {
    return textFor(this.state.lcd);
  }

  /** An event now; returns the effects it produced. */
  send(payload: EventPayload): FirmwareEffect[] {
    if (!this.powered) return [];
    const effects: FirmwareEffect[] = [];
    this.collecting = effects;
    try {
      this.runtime.send(payload);
    } finally {
      this.collecting = null;
    }
    return effects;
  }

  /** Runs every timer, write completion and tick due up to now + us, in time order. */
  advance(us: number): void {
    const until = this.now + us;
    for (;;) {
      let when = Infinity;
      let what: (() => void) | null = null;
      for (const [timer, at] of this.timers) {
        if (at < when) {
          when = at;
          what = () => {
            this.timers.delete(timer);
            this.send({ type: 'timer', timer });
          };
        }
      }
      const w = this.write;
      if (w !== null && w.doneAt < when) {
        when = w.doneAt;
        what = () => this.completeWrite(w);
      }
      if (this.nextTick !== null && this.nextTick < when) {
        when = this.nextTick;
        what = () => {
          this.nextTick = (this.nextTick as number) + this.config.rtcTickUs;
          this.send({ type: 'rtc-tick' });
        };
      }
      if (what === null || when > until || !this.powered) break;
      this.now = Math.max(this.now, when);
      what();
    }
    this.now = Math.max(this.now, until);
  }

  private completeWrite(w: PendingWrite): void {
    this.write = null;
    const outcome = this.writeOutcome(w);
    if (outcome === 'ok') {
      this.nvm.set(w.data, w.address);
      this.send({ type: 'nvm-done', address: w.address, ok: true });
    } else if (outcome === 'fail') {
      this.send({ type: 'nvm-done', address: w.address, ok: false });
    } else {
      this.nvm.set(w.data.subarray(0, outcome.cutAfter), w.address);
      this.lastState = this.runtime.state;
      this.runtime.powerLost();
      this.timers.clear();
    }
  }

  /** Power returns: a new life from the NVM as it is. */
  reboot(): void {
    this.timers.clear();
    this.write = null;
    this.runtime.powerOn();
  }

  down(): void {
    this.send({ type: 'button', pressed: true });
  }
  up(): void {
    this.send({ type: 'button', pressed: false });
  }
  /** A clean press: down, held `ms`, up, then everything due in the next 50 ms (the code appears). */
  press(ms = 120): void {
    this.down();
    this.advance(ms * 1000);
    this.up();
    this.advance(50_000);
  }

  personalise(data: Partial<Personalisation> = {}): void {
    this.send({ type: 'factory-personalise', data: personalisation(data) });
    this.advance(3 * this.nvmWriteUs + 10_000); // three records
  }
  seal(): void {
    this.send({ type: 'factory-seal' });
    this.advance(this.nvmWriteUs + 10_000);
  }
}

export function personalisation(p: Partial<Personalisation> = {}): Personalisation {
  return { profile: 'hotp-sha1', key: RFC_KEY, serial: SERIAL, digits: 6, step: 30, counter: 0, ...p };
}

/** A personalised, sealed token, display off. */
export function sealedToken(profile: ProfileName = 'hotp-sha1', opts: DriverOptions & Partial<Personalisation> = {}): CoreDriver {
  const d = new CoreDriver(opts);
  const { config: _c, nvm: _n, at: _a, nvmWriteUs: _w, ticks: _t, ...data } = opts;
  d.personalise({ profile, ...data });
  d.seal();
  if (d.replies.length !== 2 || !d.replies.every((r) => r.ok)) throw new Error(`factory failed: ${JSON.stringify(d.replies)}`);
  return d;
}

/** Object.freeze all the way down, so a step that mutated its input would throw. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
