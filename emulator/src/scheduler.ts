/**
 * A discrete-event scheduler in virtual TRUE time, as avr8js keeps its clock events: the
 * emulator is passive and only moves when something is due, so ten simulated years cost only as
 * many steps as there are events in them, not one per second.
 *
 * Time is an integer number of microseconds since the Unix epoch (a JS number: exact up to
 * 2^53 µs, i.e. until the year 2255). Events sit in a binary min-heap ordered by (time,
 * insertion sequence): two events due at the same microsecond fire in the order they were
 * scheduled, so a run is fully deterministic. Cancelling marks the entry dead (lazy deletion);
 * the heap is compacted when dead entries outnumber live ones, so re-arming a timer many times
 * does not grow it without bound.
 */
import { KodeviserError } from '@kodeviser/shared';

/** A scheduled event; opaque to callers except for reading when and what. */
export interface ScheduledEvent {
  readonly at: number;
  /** insertion sequence: orders events due at the same microsecond */
  readonly seq: number;
  readonly label: string;
}

class Entry implements ScheduledEvent {
  constructor(
    readonly at: number,
    readonly seq: number,
    public fn: (() => void) | null,
    readonly label: string,
  ) {}
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class Scheduler {
  private heap: Entry[] = [];
  private seq = 0;
  private dead = 0;
  private time: number;
  /** How many events have fired since construction (for benchmarks and traces). */
  fired = 0;

  constructor(startUs = 0) {
    requireTime(startUs, 'startUs');
    this.time = startUs;
  }

  /** Virtual true time in µs since the epoch. */
  get now(): number {
    return this.time;
  }

  /** Live events waiting to fire. */
  get pending(): number {
    return this.heap.length - this.dead;
  }

  /** Calls `fn` when virtual time reaches `at` (µs; not before now). */
  schedule(at: number, fn: () => void, label = ''): ScheduledEvent {
    requireTime(at, 'at');
    if (at < this.time) {
      throw new KodeviserError('ERR_ARGUMENT', `at (${at}) is before the scheduler's now (${this.time})`);
    }
    const entry = new Entry(at, this.seq++, fn, label);
    this.push(entry);
    return entry;
  }

  /** Calls `fn` `us` microseconds from now. */
  after(us: number, fn: () => void, label = ''): ScheduledEvent {
    return this.schedule(this.time + us, fn, label);
  }

  /** Removes an event that has not fired yet; returns false when it already fired or was cancelled. */
  cancel(event: ScheduledEvent): boolean {
    if (!(event instanceof Entry) || event.fn === null) return false;
    event.fn = null;
    this.dead++;
    if (this.dead > 64 && this.dead * 2 > this.heap.length) this.compact();
    return true;
  }

  /** The time of the next live event, or undefined when none is pending. */
  nextAt(): number | undefined {
    this.dropDeadTop();
    return this.heap[0]?.at;
  }

  /** Fires the next event (advancing now to its time); false when none is pending. */
  runNext(): boolean {
    this.dropDeadTop();
    const top = this.heap[0];
    if (top === undefined) return false;
    this.pop();
    const fn = top.fn as () => void;
    top.fn = null;
    this.time = top.at;
    this.fired++;
    fn();
    return true;
  }

  /** Fires every event due at or before `t`, then sets now to `t`. Returns how many fired. */
  runUntil(t: number): number {
    requireTime(t, 't');
    if (t < this.time) throw new KodeviserError('ERR_ARGUMENT', `t (${t}) is before the scheduler's now (${this.time})`);
    const start = this.fired;
    for (;;) {
      this.dropDeadTop();
      const top = this.heap[0];
      if (top === undefined || top.at > t) break;
      this.runNext();
    }
    this.time = t;
    return this.fired - start;
  }

  /** Every live event in firing order (for traces and tests; O(n log n)). */
  list(): ScheduledEvent[] {
    return this.heap.filter((e) => e.fn !== null).sort((a, b) => (before(a, b) ? -1 : 1));
  }

  private dropDeadTop(): void {
    while (this.heap.length > 0 && (this.heap[0] as Entry).fn === null) {
      this.pop();
      this.dead--;
    }
  }

  private compact(): void {
    this.heap = this.heap.filter((e) => e.fn !== null);
    this.dead = 0;
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Entry;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[start] as Entry;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(heap[r] as Entry, heap[l] as Entry)) child = r;
      const c = heap[child] as Entry;
      if (!before(c, entry)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = entry;
  }
}

function requireTime(value: number, argName: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a non-negative safe integer of µs, got ${String(value)}`);
  }
}
