/**
 * Non-volatile memory with write latency and byte-by-byte landing, so that power cuts can be
 * injected at any byte of any write (docs/token.md: every record must survive a cut).
 *
 * Timing model, serial EEPROM style: a write takes `writeUs` of programming plus `byteUs` per
 * byte transferred. Defaults: 2 ms programming (docs/token.md's default; a serial EEPROM such as
 * Microchip 24AA02/24LC02B specifies a 5 ms maximum write cycle, typically 2–3 ms) and 23 µs per
 * byte (9 bits per byte on I²C at 400 kHz). FRAM would be nearly instant (MSP430FR: one write
 * per bus cycle, ~125 ns at 8 MHz) and on-chip flash slower (MSP430 flash: ~25–35 µs per byte
 * plus a ~23 ms segment erase); choose the figures with `NvmTiming`.
 *
 * Within one write, bytes land in address order, evenly spread over its duration: a power cut at
 * time t leaves the first floor((t − start)·n / duration) bytes written and the rest as they were.
 * `armCut` cuts power exactly when k bytes of the chosen write have landed. A write issued while
 * another is in flight waits for it (one controller, FIFO).
 */
import { KodeviserError } from '@kodeviser/shared';
import type { ScheduledEvent, Scheduler } from './scheduler.js';
import { tracing, type HwTrace } from './trace.js';

export interface NvmTiming {
  /** programming time of one write, µs */
  writeUs: number;
  /** transfer time per byte, µs */
  byteUs: number;
}

export const EEPROM_TIMING: NvmTiming = { writeUs: 2_000, byteUs: 23 };

interface Write {
  address: number;
  data: Uint8Array;
  done: (ok: boolean) => void;
}

interface InFlight extends Write {
  startUs: number;
  durationUs: number;
  /** this write is cut when this many bytes have landed (null: it completes) */
  cutAtByte: number | null;
  event: ScheduledEvent;
}

/** The controller's work in progress, as data (for snapshots; `done` callbacks are re-made). */
export interface NvmWork {
  current: {
    address: number;
    data: Uint8Array;
    startUs: number;
    durationUs: number;
    cutAtByte: number | null;
    event: ScheduledEvent;
  } | null;
  queue: Array<{ address: number; data: Uint8Array }>;
  cut: CutPlan | null;
}

/** Cut power when `atWriteByte` bytes of the write `atWrite` writes from now (0: the next) have landed. */
export interface CutPlan {
  atWrite: number;
  atWriteByte: number;
}

export class Nvm {
  readonly size: number;
  private readonly bytes: Uint8Array;
  private current: InFlight | null = null;
  private readonly queue: Write[] = [];
  private cut: CutPlan | null = null;
  private cutListener: () => void = () => {};
  /** writes completed, and bytes programmed, since construction */
  writes = 0;
  bytesWritten = 0;

  constructor(
    private readonly scheduler: Scheduler,
    image: Uint8Array,
    readonly timing: NvmTiming = EEPROM_TIMING,
    private readonly trace: HwTrace = () => {},
    /** each programmed byte is reported here (battery accounting) */
    private readonly programmed: (bytes: number) => void = () => {},
  ) {
    if (!(image instanceof Uint8Array) || image.length === 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'nvm image must be a non-empty Uint8Array');
    }
    for (const [name, v] of Object.entries(timing)) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new KodeviserError('ERR_ARGUMENT', `nvm timing ${name} must be a non-negative integer of µs`);
    }
    this.bytes = Uint8Array.from(image);
    this.size = image.length;
  }

  /** A write is in flight (or queued). */
  get busy(): boolean {
    return this.current !== null;
  }

  /** The whole memory as it is now (NvmHal.read), bytes of a write in flight included as far as they landed. */
  read(): Uint8Array {
    if (this.current) return this.withLanded(this.current, this.landedAt(this.current, this.scheduler.now));
    return Uint8Array.from(this.bytes);
  }

  /** Starts a write (NvmHal.write); `done(ok)` when it ends. */
  write(address: number, data: Uint8Array, done: (ok: boolean) => void): void {
    if (!(data instanceof Uint8Array)) throw new KodeviserError('ERR_ARGUMENT', 'nvm write data must be a Uint8Array');
    if (!Number.isSafeInteger(address) || address < 0 || address + data.length > this.size) {
      throw new KodeviserError('ERR_ARGUMENT', `nvm write address ${address}+${data.length} is outside 0..${this.size}`);
    }
    this.queue.push({ address, data: Uint8Array.from(data), done });
    if (!this.current) this.startNext();
  }

  /** Arms a power cut at byte `atWriteByte` of a later write (see CutPlan). */
  armCut(plan: CutPlan, onCut: () => void): void {
    if (!Number.isSafeInteger(plan.atWrite) || plan.atWrite < 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'atWrite must be a non-negative integer');
    }
    if (!Number.isSafeInteger(plan.atWriteByte) || plan.atWriteByte < 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'atWriteByte must be a non-negative integer');
    }
    this.cut = { ...plan };
    this.cutListener = onCut;
  }

  /** A cut is armed and has not happened yet. */
  get cutArmed(): boolean {
    return this.cut !== null;
  }

  disarmCut(): void {
    this.cut = null;
  }

  /**
   * Power is gone now: the write in flight keeps the bytes that landed, queued writes are lost,
   * nobody hears back. Returns how many bytes of the interrupted write landed (or null).
   */
  powerLost(): number | null {
    const w = this.current;
    this.queue.length = 0;
    if (!w) return null;
    this.scheduler.cancel(w.event);
    this.current = null;
    return this.abort(w, this.landedAt(w, this.scheduler.now));
  }

  /** The work in progress (the image from `read()` already holds the bytes that landed). */
  save(): NvmWork {
    const c = this.current;
    return {
      current: c && {
        address: c.address,
        data: c.data,
        startUs: c.startUs,
        durationUs: c.durationUs,
        cutAtByte: c.cutAtByte,
        event: c.event,
      },
      queue: this.queue.map(({ address, data }) => ({ address, data })),
      cut: this.cut && { ...this.cut },
    };
  }

  /** Puts back the queue and the armed cut of a snapshot. */
  restoreQueue(work: NvmWork, doneFor: (address: number) => (ok: boolean) => void, onCut: () => void): void {
    for (const w of work.queue) this.queue.push({ address: w.address, data: w.data, done: doneFor(w.address) });
    this.cut = work.cut && { ...work.cut };
    this.cutListener = onCut;
  }

  /** Puts back the write that was in flight (scheduled in the snapshot's order of events). */
  resume(c: NonNullable<NvmWork['current']>, done: (ok: boolean) => void, onCut: () => void): void {
    this.cutListener = onCut;
    const w: Write = { address: c.address, data: c.data, done };
    this.current = {
      ...w,
      startUs: c.startUs,
      durationUs: c.durationUs,
      cutAtByte: c.cutAtByte,
      event: this.scheduleEnd(w, c.event.at, c.cutAtByte),
    };
  }

  private startNext(): void {
    const w = this.queue.shift();
    if (!w) return;
    const now = this.scheduler.now;
    const durationUs = this.timing.writeUs + this.timing.byteUs * w.data.length;
    const plan = this.cut;
    let cutAtByte: number | null = null;
    let at = now + durationUs;
    if (plan && plan.atWrite === 0) {
      // This write is the one to be cut: when k bytes have landed, power goes.
      cutAtByte = Math.min(plan.atWriteByte, w.data.length);
      at = now + (w.data.length === 0 ? 0 : Math.floor((cutAtByte * durationUs) / w.data.length));
      this.cut = null;
    } else if (plan) {
      plan.atWrite--;
    }
    const { address, data, done } = w;
    this.current = { address, data, done, startUs: now, durationUs, cutAtByte, event: this.scheduleEnd(w, at, cutAtByte) };
    if (tracing(this.trace)) this.trace('nvm', { busy: true, address: w.address, length: w.data.length });
  }

  private scheduleEnd(w: Write, at: number, cutAtByte: number | null): ScheduledEvent {
    if (cutAtByte === null) return this.scheduler.schedule(at, () => this.finish(), 'nvm:done');
    return this.scheduler.schedule(
      at,
      () => {
        this.current = null;
        this.queue.length = 0;
        this.abort(w, cutAtByte);
        this.cutListener();
      },
      'nvm:cut',
    );
  }

  private finish(): void {
    const w = this.current as InFlight;
    this.bytes.set(w.data, w.address);
    this.programmed(w.data.length);
    this.writes++;
    this.bytesWritten += w.data.length;
    this.current = null;
    if (tracing(this.trace)) this.trace('nvm', { busy: false, address: w.address, length: w.data.length, landed: w.data.length, ok: true });
    this.startNext();
    w.done(true);
  }

  private abort(w: Write, landed: number): number {
    this.bytes.set(w.data.subarray(0, landed), w.address);
    this.programmed(landed);
    this.bytesWritten += landed;
    if (tracing(this.trace)) this.trace('nvm', { busy: false, address: w.address, length: w.data.length, landed, ok: false });
    return landed;
  }

  private landedAt(w: InFlight, t: number): number {
    if (w.durationUs === 0) return 0;
    return Math.min(w.data.length, Math.floor(((t - w.startUs) * w.data.length) / w.durationUs));
  }

  private withLanded(w: Write, landed: number): Uint8Array {
    const copy = Uint8Array.from(this.bytes);
    copy.set(w.data.subarray(0, landed), w.address);
    return copy;
  }
}
