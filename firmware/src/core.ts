/**
 * The token firmware as a pure state machine, after docs/token.md: `step(state, event)` returns a
 * new state and the effects the runtime carries out, in the style of xstate's pure transitions.
 * There is no clock here: every event carries the device time it happened at, and everything the
 * firmware waits for (debounce, compute, display time, NVM writes) is a timer or an NVM write it
 * asks for and an event that comes back. Expected device conditions (a flat battery, a failed
 * write, an unsealed token, a refused factory command) are state and effects, never exceptions;
 * only a malformed call (a bad config or event) throws.
 *
 * Two rules carry the safety of the hotp counter (docs/token.md, "Non-volatile memory"):
 * - the code for counter n is shown only after the record "next counter = n + 1" has been
 *   written and verified (nvm-done ok), so the stored counter is above every code ever shown;
 * - the RAM counter moves only when such a write succeeds, so after a failed write, or after a
 *   reset that lost one in flight, the next press reuses n, whose code nobody has seen.
 */
import { bytesToHex, createOtp, hexToBytes, KodeviserError, profileInfo, type Otp } from '@kodeviser/shared';
import { cyclesPerCode } from './cost.js';
import { YEAR_US } from './config.js';
import { BLANK, codeSegments, MENU_ITEMS, menuSegments, TEXT_BATTERY_EMPTY, TEXT_FACTORY, TEXT_NVM_ERROR } from './display.js';
import { checkPersonalisation } from './factory.js';
import { segmentsFor } from './font.js';
import {
  decodeCounter,
  decodePersonalisation,
  decodeUsage,
  encodeCounter,
  encodePersonalisation,
  encodeUsage,
  type PersonalisationRecord,
  readRecord,
  type RecordKind,
  recordWrite,
  slotBytes,
  type SlotCursor,
} from './nvm.js';
import {
  type DeviceMicros,
  type FirmwareConfig,
  type FirmwareEffect,
  type FirmwareEvent,
  type FirmwareStateView,
  type Screen,
  TIMER_NAMES,
  type TimerName,
} from './types.js';

/** MCU cycles to take an interrupt, handle one event and go back to sleep (MSP430 class: a few hundred). */
export const HANDLER_CYCLES = 300;
/** MCU cycles per byte to build an NVM record and its table-driven CRC-32. */
export const RECORD_CYCLES_PER_BYTE = 20;

interface ButtonState {
  /** the raw line level and when it last changed */
  readonly raw: boolean;
  readonly rawAt: DeviceMicros;
  /** the debounced level */
  readonly down: boolean;
  /** this press has already become a long press */
  readonly long: boolean;
}

/** A code on its way to the display: it waits for the MAC (compute-done) and, for hotp, the counter write. */
interface PendingCode {
  readonly code: string;
  readonly movingFactor: number;
  readonly computed: boolean;
  readonly persisted: boolean;
}

interface NvmJob {
  readonly kind: RecordKind;
  /** counter jobs: the value stored, the next counter */
  readonly next?: number;
  /** the counter write a pending code waits for */
  readonly forCode?: boolean;
  /** counts towards the factory command's reply */
  readonly forFactory?: boolean;
}

const isUsage = (job: NvmJob): boolean => job.kind === 'usage';

interface NvmWrite extends NvmJob {
  readonly address: number;
  readonly cursor: SlotCursor;
}

/** The personalisation as RAM keeps it: plain data, the key as hex, so that a state is a JSON value. */
export type TokenInRam = Readonly<Omit<PersonalisationRecord, 'key'> & { keyHex: string }>;

/**
 * Everything the firmware holds in RAM, as plain data: JSON.parse(JSON.stringify(state)) is the
 * same state, and stepping it goes on identically (the OTP engine is derived, otpOf).
 */
export interface FirmwareState {
  readonly config: Readonly<FirmwareConfig>;
  readonly token: TokenInRam | null;
  /** hotp: the next counter, as stored */
  readonly counter: number;
  /** totp: the last time step whose code was shown */
  readonly lastStep: number | null;
  readonly codesShown: number;
  /** where each record's newest valid copy is, so the next write goes to the other slot */
  readonly cursors: Readonly<Record<RecordKind, SlotCursor | null>>;
  /** the battery-life counter: charge spent, and the device time it is accounted up to */
  readonly spentNc: number;
  readonly accountedAt: DeviceMicros | null;
  readonly screen: Screen;
  readonly menuItem: number | null;
  readonly lcd: readonly number[];
  readonly lastCode: string | null;
  /** the moving factor of `lastCode` */
  readonly lastCodeMovingFactor: number | null;
  readonly button: ButtonState;
  readonly pending: PendingCode | null;
  readonly nvmInFlight: NvmWrite | null;
  readonly nvmQueue: readonly NvmJob[];
  /** writes left before the factory command in progress is answered */
  readonly factory: { readonly writesLeft: number; readonly failed: boolean } | null;
}

export interface StepResult {
  state: FirmwareState;
  effects: FirmwareEffect[];
}

type Draft = { -readonly [K in keyof FirmwareState]: FirmwareState[K] };

const RELEASED: ButtonState = Object.freeze({ raw: false, rawAt: 0, down: false, long: false });

// ---- boot ----------------------------------------------------------------------------------

const POSITIVE: readonly (keyof FirmwareConfig)[] = [
  'debounceMs',
  'displayOnMs',
  'longPressMs',
  'menuTimeoutMs',
  'rtcTickUs',
  'cpuHz',
  'capacityNc',
];
const NON_NEGATIVE: readonly (keyof FirmwareConfig)[] = [
  'lowBatteryPercent',
  'sleepCurrentNa',
  'displayCurrentNa',
  'activeCurrentNa',
  'nvmWriteNcPerByte',
  'selfDischargePerYear',
];

function checkConfig(config: FirmwareConfig): void {
  if (typeof config !== 'object' || config === null) throw new KodeviserError('ERR_ARGUMENT', 'config must be an object');
  for (const name of [...POSITIVE, ...NON_NEGATIVE]) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && POSITIVE.includes(name))) {
      throw new KodeviserError(
        'ERR_ARGUMENT',
        `config.${name} must be a ${POSITIVE.includes(name) ? 'positive' : 'non-negative'} number, got ${String(v)}`,
      );
    }
  }
  try {
    menuSegments('version', { movingFactor: 0, batteryPercent: 0, serial: '0000000000', firmwareVersion: config.firmwareVersion });
  } catch {
    throw new KodeviserError(
      'ERR_ARGUMENT',
      `config.firmwareVersion must fit the LCD after an F, got ${JSON.stringify(config.firmwareVersion)}`,
    );
  }
}

/**
 * The OTP engine (key schedule, HMAC pads) is derived from the personalisation rather than kept
 * in the state, which stays plain data. Deriving it is the costliest part of a press, so it is
 * memoised per personalisation object (frozen, never changed): a pure function's cache, so step
 * stays pure; a state read back from JSON derives it once more.
 */
const OTPS = new WeakMap<TokenInRam, Otp>();

function otpOf(token: TokenInRam): Otp {
  let otp = OTPS.get(token);
  if (otp === undefined) {
    otp = createOtp({ profile: token.profile, key: hexToBytes(token.keyHex), digits: token.digits, step: token.step });
    OTPS.set(token, otp);
  }
  return otp;
}

function tokenInRam(p: PersonalisationRecord, otp?: Otp): TokenInRam {
  const { key, ...facts } = p;
  const token = Object.freeze({ ...facts, keyHex: bytesToHex(key) });
  if (otp !== undefined) OTPS.set(token, otp);
  return token;
}

/** A stored personalisation this firmware can use, or null (a record of a profile or key it cannot run). */
function usableToken(p: PersonalisationRecord): TokenInRam | null {
  const token = tokenInRam(p);
  try {
    otpOf(token);
    return token;
  } catch {
    return null;
  }
}

/** The same personalisation, sealed or not; its engine goes with it. */
function withSealed(token: TokenInRam, sealed: boolean): TokenInRam {
  const changed = Object.freeze({ ...token, sealed });
  const otp = OTPS.get(token);
  if (otp !== undefined) OTPS.set(changed, otp);
  return changed;
}

const isTotp = (token: TokenInRam | null): boolean => token !== null && profileInfo(token.profile).mode === 'totp';

/** The firmware after a reset: RAM rebuilt from the NVM image, display off, nothing in flight. */
export function init(config: FirmwareConfig, nvmImage: Uint8Array): FirmwareState {
  checkConfig(config);
  if (!(nvmImage instanceof Uint8Array)) throw new KodeviserError('ERR_ARGUMENT', 'nvmImage must be a Uint8Array');
  const pers = readRecord(nvmImage, 'personalisation');
  const counter = readRecord(nvmImage, 'counter');
  const usage = readRecord(nvmImage, 'usage');
  const stored = pers === null ? null : decodePersonalisation(pers.payload);
  const token = stored === null ? null : usableToken(stored);
  const used = usage === null ? null : decodeUsage(usage.payload);
  return Object.freeze({
    config: Object.freeze({ ...config }),
    token,
    counter: counter === null ? 0 : decodeCounter(counter.payload),
    lastStep: null,
    codesShown: used?.codesShown ?? 0,
    cursors: Object.freeze({
      personalisation: pers?.cursor ?? null,
      counter: counter?.cursor ?? null,
      usage: usage?.cursor ?? null,
    }),
    spentNc: used?.spentNc ?? 0,
    accountedAt: used?.accountedAt ?? null,
    screen: 'off',
    menuItem: null,
    lcd: BLANK,
    lastCode: null,
    lastCodeMovingFactor: null,
    button: RELEASED,
    pending: null,
    nvmInFlight: null,
    nvmQueue: Object.freeze([]),
    factory: null,
  } satisfies FirmwareState);
}

// ---- the battery-life counter --------------------------------------------------------------

export function batteryPercent(state: Pick<FirmwareState, 'config' | 'spentNc'>): number {
  const left = (state.config.capacityNc - state.spentNc) / state.config.capacityNc;
  return Math.min(100, Math.max(0, Math.ceil(left * 100)));
}

function lowBattery(state: FirmwareState): boolean {
  return batteryPercent(state) < state.config.lowBatteryPercent;
}

/** Charges the time since the last event: standby, the LCD if anything is lit, and self-discharge. */
function accountUntil(s: Draft, at: DeviceMicros): void {
  if (s.accountedAt !== null && at > s.accountedAt) {
    const c = s.config;
    const dtUs = at - s.accountedAt;
    let lit = false;
    for (let i = 0; i < s.lcd.length && !lit; i++) lit = s.lcd[i] !== 0;
    const currentNa = c.sleepCurrentNa + (lit ? c.displayCurrentNa : 0);
    s.spentNc += (currentNa * dtUs) / 1e6 + (c.capacityNc * c.selfDischargePerYear * dtUs) / YEAR_US;
  }
  // a clock set back (never by this firmware) restarts the account rather than charging negative time
  s.accountedAt = at;
}

// ---- the step ------------------------------------------------------------------------------

class Stepper {
  readonly fx: FirmwareEffect[] = [];
  constructor(
    readonly s: Draft,
    readonly at: DeviceMicros,
  ) {}

  cpu(cycles: number, what: string): void {
    this.fx.push({ type: 'cpu', cycles, what });
    this.s.spentNc += (cycles / this.s.config.cpuHz) * this.s.config.activeCurrentNa;
  }
  lcd(segments: readonly number[]): void {
    this.s.lcd = Object.freeze([...segments]);
    this.fx.push({ type: 'lcd', segments: this.s.lcd });
  }
  arm(timer: TimerName, at: DeviceMicros): void {
    this.fx.push({ type: 'timer-arm', timer, at });
  }
  cancel(timer: TimerName): void {
    this.fx.push({ type: 'timer-cancel', timer });
  }
  reply(ok: boolean, reason?: string): void {
    this.fx.push(reason === undefined ? { type: 'factory-reply', ok } : { type: 'factory-reply', ok, reason });
  }

  // -- NVM: one write at a time, in order

  enqueue(job: NvmJob): void {
    // one usage write waiting is enough: its payload is taken when it is issued
    if (job.kind === 'usage' && this.s.nvmQueue.some(isUsage)) return;
    this.s.nvmQueue = Object.freeze([...this.s.nvmQueue, job]);
    this.pump();
  }
  private pump(): void {
    const s = this.s;
    const job = s.nvmQueue[0];
    if (s.nvmInFlight !== null || job === undefined) return;
    s.nvmQueue = Object.freeze(s.nvmQueue.slice(1));
    // charged before the payload is taken, so that a stored usage record includes its own write
    const bytes = slotBytes(job.kind);
    this.cpu(bytes * RECORD_CYCLES_PER_BYTE, `nvm ${job.kind}`);
    s.spentNc += bytes * s.config.nvmWriteNcPerByte;
    const write = recordWrite(job.kind, this.payload(job), s.cursors[job.kind]);
    // field by field: a spread copy with fields added is V8's slow path, once per write
    const inFlight: { -readonly [K in keyof NvmWrite]: NvmWrite[K] } = { kind: job.kind, address: write.address, cursor: write.cursor };
    if (job.next !== undefined) inFlight.next = job.next;
    if (job.forCode !== undefined) inFlight.forCode = job.forCode;
    if (job.forFactory !== undefined) inFlight.forFactory = job.forFactory;
    s.nvmInFlight = Object.freeze(inFlight);
    this.fx.push({ type: 'nvm-write', address: write.address, data: write.data });
  }
  private payload(job: NvmJob): Uint8Array {
    const s = this.s;
    switch (job.kind) {
      case 'personalisation':
        return encodePersonalisation({ ...(s.token as TokenInRam), key: hexToBytes((s.token as TokenInRam).keyHex) });
      case 'counter':
        return encodeCounter(job.next as number);
      case 'usage':
        return encodeUsage({ spentNc: s.spentNc, accountedAt: s.accountedAt as number, codesShown: s.codesShown });
    }
  }
  nvmDone(address: number, ok: boolean): void {
    const s = this.s;
    const job = s.nvmInFlight;
    if (job === null || job.address !== address) return; // not ours: a write from before a reset
    s.nvmInFlight = null;
    if (ok) {
      s.cursors = Object.freeze({ ...s.cursors, [job.kind]: job.cursor });
      if (job.kind === 'counter') s.counter = job.next as number;
    }
    if (job.forCode === true && s.pending !== null && !s.pending.persisted) {
      if (ok) {
        s.pending = { ...s.pending, persisted: true };
        this.showWhenReady();
      } else {
        this.showMessage('error', TEXT_NVM_ERROR);
      }
    }
    if (job.kind === 'personalisation' && !ok && s.token?.sealed === true) {
      // a seal that did not land is no seal: the factory must be able to send it again
      s.token = withSealed(s.token, false);
    }
    if (job.forFactory === true && s.factory !== null) {
      const f = { writesLeft: s.factory.writesLeft - 1, failed: s.factory.failed || !ok };
      s.factory = f.writesLeft > 0 ? f : null;
      if (f.writesLeft === 0) {
        if (f.failed) this.reply(false, 'nvm: a write failed verify; send the command again');
        else this.reply(true);
      }
    }
    this.pump();
  }

  // -- screens

  off(): void {
    const s = this.s;
    s.screen = 'off';
    s.menuItem = null;
    s.lastCode = null;
    s.lastCodeMovingFactor = null;
    s.pending = null;
    this.lcd(BLANK);
    this.cancel('display-off');
    this.cancel('menu-timeout');
  }
  /** A screen that stays up for displayOnMs, and the press recorded in the usage record. */
  showMessage(screen: Screen, text: string): void {
    const s = this.s;
    s.screen = screen;
    s.pending = null;
    s.lastCode = null;
    s.lastCodeMovingFactor = null;
    this.lcd(segmentsFor(text));
    this.arm('display-off', this.at + s.config.displayOnMs * 1000);
    this.enqueue({ kind: 'usage' });
  }
  showWhenReady(): void {
    const s = this.s;
    const p = s.pending;
    if (p === null || !p.computed || !p.persisted) return;
    s.screen = 'code';
    s.pending = null;
    s.lastCode = p.code;
    s.lastCodeMovingFactor = p.movingFactor;
    s.codesShown += 1;
    if (isTotp(s.token)) s.lastStep = p.movingFactor;
    this.lcd(codeSegments(p.code, lowBattery(s)));
    this.arm('display-off', this.at + s.config.displayOnMs * 1000);
    this.enqueue({ kind: 'usage' });
  }
  /** Wake from off: a code, or why there is none. */
  wake(): void {
    const s = this.s;
    if (s.token === null || !s.token.sealed) return this.showMessage('factory', TEXT_FACTORY);
    if (batteryPercent(s) === 0) return this.showMessage('battery-empty', TEXT_BATTERY_EMPTY);
    const otp = otpOf(s.token);
    const hotp = otp.mode === 'hotp';
    const movingFactor = hotp ? s.counter : otp.stepAt(Math.max(0, Math.floor(this.at / 1e6)));
    const cycles = cyclesPerCode(otp.primitive);
    this.cpu(cycles, `otp ${otp.profile}`);
    s.screen = 'computing';
    s.pending = { code: otp.generate(movingFactor), movingFactor, computed: false, persisted: !hotp };
    this.arm('compute-done', this.at + Math.ceil((cycles * 1e6) / s.config.cpuHz));
    if (hotp) this.enqueue({ kind: 'counter', next: movingFactor + 1, forCode: true });
  }
  enterMenu(): void {
    const s = this.s;
    if (s.token === null || !s.token.sealed) return this.showMessage('factory', TEXT_FACTORY);
    // a code still on its way is dropped; its counter write, if any, may still land (harmless)
    s.pending = null;
    s.lastCode = null;
    s.lastCodeMovingFactor = null;
    this.cancel('compute-done');
    this.cancel('display-off');
    s.screen = 'menu';
    this.showMenuItem(0);
  }
  showMenuItem(index: number): void {
    const s = this.s;
    const otp = otpOf(s.token as TokenInRam);
    s.menuItem = index;
    this.lcd(
      menuSegments(MENU_ITEMS[index] as (typeof MENU_ITEMS)[number], {
        movingFactor: otp.mode === 'hotp' ? s.counter : otp.stepAt(Math.max(0, Math.floor(this.at / 1e6))),
        batteryPercent: batteryPercent(s),
        serial: (s.token as TokenInRam).serial,
        firmwareVersion: s.config.firmwareVersion,
      }),
    );
    this.arm('menu-timeout', this.at + s.config.menuTimeoutMs * 1000);
  }
  shortPress(): void {
    switch (this.s.screen) {
      case 'off':
        return this.wake();
      case 'computing':
        return; // the code is on its way
      case 'menu':
        return this.showMenuItem(((this.s.menuItem as number) + 1) % MENU_ITEMS.length);
      default:
        return this.off(); // a press while something is shown turns it off at once
    }
  }

  // -- events

  button(pressed: boolean): void {
    const s = this.s;
    if (pressed === s.button.raw) return;
    s.button = { ...s.button, raw: pressed, rawAt: this.at };
    // every edge moves the debounce timer: only a level that holds debounceMs counts
    this.arm('debounce', this.at + s.config.debounceMs * 1000);
  }
  timer(timer: TimerName): void {
    const s = this.s;
    switch (timer) {
      case 'debounce': {
        const b = s.button;
        if (b.raw === b.down) return; // a bounce that came back
        s.button = { ...b, down: b.raw, long: false };
        if (b.raw) {
          this.arm('long-press', b.rawAt + s.config.longPressMs * 1000);
        } else {
          this.cancel('long-press');
          if (!b.long) this.shortPress();
        }
        return;
      }
      case 'long-press':
        if (s.button.down && !s.button.long) {
          s.button = { ...s.button, long: true };
          this.enterMenu();
        }
        return;
      case 'compute-done':
        if (s.pending !== null && s.screen === 'computing') {
          s.pending = { ...s.pending, computed: true };
          this.showWhenReady();
        }
        return;
      case 'display-off':
        if (s.screen !== 'off' && s.screen !== 'menu' && s.screen !== 'computing') this.off();
        return;
      case 'menu-timeout':
        if (s.screen === 'menu') this.off();
        return;
    }
  }
  powerOn(): void {
    const s = this.s;
    s.screen = 'off';
    s.menuItem = null;
    s.lastCode = null;
    s.lastCodeMovingFactor = null;
    s.pending = null;
    s.button = { ...RELEASED, rawAt: this.at };
    s.nvmInFlight = null;
    s.nvmQueue = Object.freeze([]);
    s.factory = null;
    for (const t of TIMER_NAMES) this.cancel(t);
    // written even if RAM thinks it is blank: after a reset the glass is not known
    s.lcd = BLANK;
    this.fx.push({ type: 'lcd', segments: BLANK });
  }
  personalise(data: unknown): void {
    const s = this.s;
    if (s.token?.sealed === true) return this.reply(false, 'sealed: factory commands are refused after sealing');
    if (s.factory !== null) return this.reply(false, 'busy: the previous factory command is still being written');
    const checked = checkPersonalisation(data);
    if (!checked.ok) return this.reply(false, checked.reason);
    const d = data as { key: Uint8Array; serial: string; counter: number };
    const { profile, digits, step } = checked.otp;
    s.token = tokenInRam({ profile, digits, step, sealed: false, key: d.key, serial: d.serial }, checked.otp);
    s.counter = d.counter;
    s.lastStep = null;
    s.codesShown = 0;
    s.factory = { writesLeft: 2, failed: false };
    this.enqueue({ kind: 'personalisation', forFactory: true });
    this.enqueue({ kind: 'counter', next: d.counter, forFactory: true });
    this.enqueue({ kind: 'usage' });
  }
  seal(): void {
    const s = this.s;
    if (s.token === null) return this.reply(false, 'not personalised: send factory-personalise first');
    if (s.token.sealed) return this.reply(false, 'sealed: factory commands are refused after sealing');
    if (s.factory !== null) return this.reply(false, 'busy: the previous factory command is still being written');
    s.token = withSealed(s.token, true);
    s.factory = { writesLeft: 1, failed: false };
    this.enqueue({ kind: 'personalisation', forFactory: true });
  }
}

function checkEvent(event: FirmwareEvent): void {
  if (typeof event !== 'object' || event === null) throw new KodeviserError('ERR_ARGUMENT', 'event must be an object');
  if (typeof event.at !== 'number' || !Number.isFinite(event.at)) {
    throw new KodeviserError('ERR_ARGUMENT', `event.at must be a finite device time in µs, got ${String(event.at)}`);
  }
}

/** One event in, the next state and the effects out. Pure: `state` is never modified. */
export function step(state: FirmwareState, event: FirmwareEvent): StepResult {
  checkEvent(event);
  const s: Draft = { ...state };
  const st = new Stepper(s, event.at);
  accountUntil(s, event.at);
  st.cpu(HANDLER_CYCLES, event.type);
  switch (event.type) {
    case 'power-on':
      st.powerOn();
      break;
    case 'button':
      st.button(event.pressed);
      break;
    case 'timer':
      st.timer(event.timer);
      break;
    case 'rtc-tick':
      st.enqueue({ kind: 'usage' });
      break;
    case 'nvm-done':
      st.nvmDone(event.address, event.ok);
      break;
    case 'factory-personalise':
      st.personalise(event.data);
      break;
    case 'factory-seal':
      st.seal();
      break;
    default:
      throw new KodeviserError('ERR_ARGUMENT', `event.type is not a firmware event: ${String((event as { type: unknown }).type)}`);
  }
  st.fx.push({ type: 'sleep' });
  return { state: Object.freeze(s), effects: st.fx };
}

export function inspect(state: FirmwareState): FirmwareStateView {
  const hotp = state.token !== null && !isTotp(state.token);
  return {
    sealed: state.token?.sealed ?? false,
    screen: state.screen,
    menuItem: state.menuItem,
    profile: state.token?.profile ?? null,
    serial: state.token?.serial ?? null,
    digits: state.token?.digits ?? 6,
    movingFactor: state.token === null ? null : hotp ? state.counter : state.lastStep,
    lastCode: state.lastCode,
    codeMovingFactor: state.lastCodeMovingFactor,
    codesShown: state.codesShown,
    batteryPercent: batteryPercent(state),
    lowBattery: lowBattery(state),
    lcd: state.lcd,
    buttonDown: state.button.down,
    nvmBusy: state.nvmInFlight !== null,
  };
}
