/**
 * Emulator core figures (not a test: wall-clock numbers vary with the machine and its load, so
 * the CPU time of this process is printed next to the wall time):
 *   - scheduler throughput: events scheduled + fired per second, with a queue 64 deep;
 *   - ten years of a token left asleep (the RTC waking it daily), and ten years of normal use
 *     (3 presses a day, 25 °C) until the firmware shows bAtt.
 * Run: npx tsx --conditions=kodeviser-src bench/emulator-core.ts [scheduler|asleep|ten-years]
 */
import { performance } from 'node:perf_hooks';
import { YEAR_US } from '../emulator/src/crystal.js';
import { Machine } from '../emulator/src/machine.js';
import { Scheduler } from '../emulator/src/scheduler.js';
import { tenYearRun } from '../emulator/test/helpers/ten-years.js';

export interface Timing {
  wallS: number;
  cpuS: number;
}

function timed<T>(fn: () => T): T & Timing {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = fn();
  const cpu = process.cpuUsage(cpu0);
  return { ...r, wallS: (performance.now() - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6 };
}

/** `seconds`: wall time of the event loop alone (bench/emulator.ts prints it). */
export function benchScheduler(events = 2_000_000, depth = 64): { events: number; perSecond: number; seconds: number } & Timing {
  return timed(() => {
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
    while (s.runNext()) {
      /* run dry */
    }
    const seconds = (performance.now() - t0) / 1000;
    return { events: fired, perSecond: fired / seconds, seconds };
  });
}

export function benchAsleep(): { wakes: number } & Timing {
  const m = Machine.manufacture({ profile: 'totp-sha1', manufacturedAt: Date.UTC(2024, 0, 1), seed: 3, traceLimit: 0 });
  const fired = m.scheduler.fired;
  return timed(() => {
    m.advance(10 * YEAR_US);
    return { wakes: m.scheduler.fired - fired };
  });
}

export function benchTenYears(): { codes: number; diedAfterYears: number | null } & Timing {
  return timed(() => {
    const r = tenYearRun({ pressesPerDay: 3, years: 10.5 });
    return { codes: r.codes, diedAfterYears: r.diedAfterYears };
  });
}

const fmt = (r: Timing): string => `${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] ?? 'all';
  if (which === 'all' || which === 'scheduler') {
    benchScheduler(200_000); // warm-up
    const r = benchScheduler();
    console.log(`scheduler: ${r.events} events scheduled+fired, ${(r.perSecond / 1e6).toFixed(2)} M events/s (${fmt(r)})`);
  }
  if (which === 'all' || which === 'asleep') {
    const r = benchAsleep();
    console.log(`ten years asleep (daily RTC wakes): ${r.wakes} events, ${fmt(r)}`);
  }
  if (which === 'all' || which === 'ten-years') {
    const r = benchTenYears();
    console.log(
      `ten years of normal use (3 presses/day, 25 °C): ${r.codes} codes, bAtt after ${r.diedAfterYears?.toFixed(3) ?? 'never'} years, ${fmt(r)}`,
    );
  }
}
