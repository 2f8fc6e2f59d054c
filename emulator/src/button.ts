/**
 * The button: one line, high while pressed. A real dome switch bounces for a few milliseconds
 * on every transition; the bounce pattern here comes from a seeded generator (prng.ts, seeded
 * from the device file), so a run is reproducible and a snapshot continues it exactly. The
 * firmware must debounce (docs/token.md: 20 ms by default); bounces are kept well inside that.
 *
 * Every edge, the first one included, goes through the scheduler, so it carries a true time and
 * lands in the trace in order with everything else.
 */
import { KodeviserError } from '@kodeviser/shared';
import type { Prng } from './prng.js';
import type { ScheduledEvent, Scheduler } from './scheduler.js';
import { tracing, type HwTrace } from './trace.js';

export interface BounceOptions {
  /** at most this many extra bounce pairs per transition (0: a clean switch) */
  maxBounces: number;
  /** the bounce burst lasts at most this long, µs (typical tactile switch: < 5 ms) */
  maxBounceUs: number;
}

export const NO_BOUNCE: BounceOptions = { maxBounces: 0, maxBounceUs: 0 };
export const TYPICAL_BOUNCE: BounceOptions = { maxBounces: 4, maxBounceUs: 5_000 };

export class Button {
  /** the raw line level now (true: pressed) */
  level = false;
  /** the level the line settles at once the current bounce burst is over */
  target = false;
  /** raw edges seen (bounces included) */
  edges = 0;
  private listener: ((pressed: boolean) => void) | null = null;
  private pending: ScheduledEvent[] = [];

  constructor(
    private readonly scheduler: Scheduler,
    private readonly prng: Prng,
    public bounce: BounceOptions = NO_BOUNCE,
    private readonly trace: HwTrace = () => {},
  ) {}

  /** The line's raw edges, bounces included: one listener (the machine, for the firmware); a later call replaces it. */
  onEdge(edge: (pressed: boolean) => void): void {
    this.listener = edge;
  }

  /** Power is gone: nobody listens until the next runtime attaches. */
  detach(): void {
    this.listener = null;
  }

  /** Moves the line to `pressed`, starting now, bouncing per `bounce`. */
  set(pressed: boolean): void {
    if (pressed === this.target) return;
    for (const e of this.pending) this.scheduler.cancel(e);
    this.pending = [];
    this.target = pressed;
    const now = this.scheduler.now;
    const { maxBounces, maxBounceUs } = this.bounce;
    const pairs = maxBounces > 0 && maxBounceUs > 1 ? this.prng.int(0, maxBounces) : 0;
    const times = [now];
    for (let i = 0; i < 2 * pairs; i++) times.push(now + this.prng.int(1, maxBounceUs));
    times.sort((a, b) => a - b);
    // edges alternate: target, !target, target, ... ending at target (odd count)
    times.forEach((at, i) => this.scheduleEdge(at, i % 2 === 0 ? pressed : !pressed));
  }

  /** Edges still to come (for snapshots). */
  pendingEdges(): Array<{ event: ScheduledEvent; level: boolean }> {
    const first = this.pending.length;
    // the burst alternates and ends at target: the last pending edge is the target level
    return this.pending.map((event, i) => ({ event, level: (first - 1 - i) % 2 === 0 ? this.target : !this.target }));
  }

  /** Puts the line back as a snapshot had it; edges are re-scheduled with `scheduleEdge`. */
  restore(level: boolean, target: boolean): void {
    this.level = level;
    this.target = target;
  }

  scheduleEdge(at: number, level: boolean): void {
    this.pending.push(this.scheduler.schedule(at, () => this.edge(level), 'button'));
  }

  private edge(level: boolean): void {
    this.pending.shift();
    if (level === this.level) return;
    this.level = level;
    this.edges++;
    if (tracing(this.trace)) this.trace('button', { level });
    this.listener?.(level);
  }
}

export function checkBounce(b: BounceOptions): BounceOptions {
  if (!Number.isSafeInteger(b.maxBounces) || b.maxBounces < 0) {
    throw new KodeviserError('ERR_ARGUMENT', 'bounce.maxBounces must be a non-negative integer');
  }
  if (!Number.isSafeInteger(b.maxBounceUs) || b.maxBounceUs < 0) {
    throw new KodeviserError('ERR_ARGUMENT', 'bounce.maxBounceUs must be a non-negative integer of µs');
  }
  return b;
}
