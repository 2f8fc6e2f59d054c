/**
 * A test bench for the pure core: a virtual device clock, the timers the core arms, an NVM image
 * whose writes complete `nvmWriteUs` later (or fail, or are cut), and a record of every code the
 * LCD ever showed. It carries out effects the way the runtime does, but by hand, so tests can
 * stop between any two events. Not a test itself (no .test.ts).
 */
import { makeSerial, type ProfileName } from '@kodeviser/shared';
import {
  DEFAULT_CONFIG,
  type FirmwareConfig,
  type FirmwareEffect,
  type FirmwareEvent,
  type FirmwareState,
  type FirmwareStateView,
  init,
  inspect,
  NVM_SIZE,
  type Personalisation,
  step,
  textFor,
  type TimerName,
} from '@kodeviser/firmware';

export const T0 = 1_750_000_000_000_000; // device µs: June 2025
export const SERIAL = makeSerial('123456789');
export const RFC_KEY = new TextEncoder().encode('12345678901234567890'); // RFC 4226 Appendix D

type Payload<E> = E extends FirmwareEvent ? Omit<E, 'at'> : never;
export type EventPayload = Payload<FirmwareEvent>;

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
  state: FirmwareState;
  readonly config: FirmwareConfig;
  nvm: Uint8Array;
  now: number;
  readonly timers = new Map<TimerName, number>();
  write: PendingWrite | null = null;
  readonly nvmWriteUs: number;
  nextTick: number | null;
  /** decides each write's fate; a cut leaves the first k bytes written and powers the device off */
  writeOutcome: (w: { address: number; data: Uint8Array }) => WriteOutcome = () => 'ok';
  powered = true;
  /** every code that appeared on the LCD, in order */
  readonly codesShown: string[] = [];
  readonly replies: { ok: boolean; reason?: string }[] = [];
  readonly log: { event: FirmwareEvent; effects: FirmwareEffect[] }[] = [];
  keepLog = true;

  constructor(opts: DriverOptions = {}) {
    this.config = { ...DEFAULT_CONFIG, ...opts.config };
    this.nvm = opts.nvm?.slice() ?? new Uint8Array(NVM_SIZE).fill(0xff);
    this.now = opts.at ?? T0;
    this.nvmWriteUs = opts.nvmWriteUs ?? 2_000;
    this.nextTick = opts.ticks === true ? this.now + this.config.rtcTickUs : null;
    this.state = init(this.config, this.nvm);
    this.send({ type: 'power-on' });
  }

  view(): FirmwareStateView {
    return inspect(this.state);
  }
  lcd(): string {
    return textFor(this.state.lcd);
  }

  send(payload: EventPayload): FirmwareEffect[] {
    if (!this.powered) return [];
    const event = { ...payload, at: this.now } as FirmwareEvent;
    const before = this.state;
    const { state, effects } = step(this.state, event);
    this.state = state;
    if (this.keepLog) this.log.push({ event, effects });
    for (const e of effects) this.carryOut(e);
    if (state.lastCode !== null && state.lastCode !== before.lastCode) this.codesShown.push(state.lastCode);
    return effects;
  }

  private carryOut(e: FirmwareEffect): void {
    switch (e.type) {
      case 'timer-arm':
        this.timers.set(e.timer, e.at);
        break;
      case 'timer-cancel':
        this.timers.delete(e.timer);
        break;
      case 'nvm-write':
        if (this.write !== null) throw new Error('the firmware issued a write while one was in flight');
        this.write = { address: e.address, data: e.data, doneAt: this.now + this.nvmWriteUs };
        break;
      case 'factory-reply':
        this.replies.push(e.reason === undefined ? { ok: e.ok } : { ok: e.ok, reason: e.reason });
        break;
      default:
        break;
    }
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
      this.powered = false;
      this.timers.clear();
    }
  }

  /** Power returns: a new life from the NVM as it is. */
  reboot(): void {
    this.powered = true;
    this.timers.clear();
    this.write = null;
    this.state = init(this.config, this.nvm);
    this.send({ type: 'power-on' });
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
