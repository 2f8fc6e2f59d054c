/** A clock the test moves by hand, so every time rule is checked without waiting. */
import type { Clock } from '../../src/domain/types.js';

export class FakeClock implements Clock {
  constructor(private ms: number = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}
