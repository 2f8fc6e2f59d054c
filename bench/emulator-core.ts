/**
 * Emulator core figures (not a test: wall-clock numbers vary with the machine):
 *   - scheduler throughput: events scheduled + fired per second, with a realistic queue depth;
 *   - ten years of a token in virtual time (3 presses a day, daily RTC wakes), wall time.
 * Run: npx tsx --conditions=kodeviser-src bench/emulator-core.ts [scheduler|ten-years]
 */
import { performance } from 'node:perf_hooks';
import { Scheduler } from '../emulator/src/scheduler.js';

export function benchScheduler(events = 2_000_000, depth = 64): { events: number; seconds: number; perSecond: number } {
  const s = new Scheduler(0);
  let fired = 0;
  let x = 1;
  const tick = (): void => {
    fired++;
    if (fired + depth <= events) {
      x = (x * 1103515245 + 12345) >>> 0;
      s.schedule(s.now + 1 + (x % 1000), tick);
    }
  };
  for (let i = 0; i < depth; i++) s.schedule(i, tick);
  const t0 = performance.now();
  while (s.runNext()) { /* run dry */ }
  const seconds = (performance.now() - t0) / 1000;
  return { events: fired, seconds, perSecond: fired / seconds };
}

export async function benchTenYears(): Promise<{ seconds: number; codes: number; diedAfterYears: number | null }> {
  const { tenYearRun } = await import('../emulator/test/helpers/ten-years.js');
  const t0 = performance.now();
  const r = tenYearRun({ pressesPerDay: 3, years: 10.5 });
  return { seconds: (performance.now() - t0) / 1000, codes: r.codes, diedAfterYears: r.diedAfterYears };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] ?? 'all';
  if (which === 'all' || which === 'scheduler') {
    benchScheduler(200_000); // warm-up
    const r = benchScheduler();
    console.log(`scheduler: ${r.events} events scheduled+fired in ${r.seconds.toFixed(3)} s = ${(r.perSecond / 1e6).toFixed(2)} M events/s`);
  }
  if (which === 'all' || which === 'ten-years') {
    const r = await benchTenYears();
    console.log(`ten years (3 presses/day, 25 °C): ${r.seconds.toFixed(2)} s wall, ${r.codes} codes, died after ${r.diedAfterYears?.toFixed(3) ?? 'never'} years`);
  }
}
