import { simulateLifetime } from '../emulator/src/lifetime.js';
const t0 = performance.now();
const r = simulateLifetime({
  profile: 'totp-sha1',
  pressesPerDay: 20,
  temperatureC: 25,
  startMs: Date.UTC(2026, 0, 1),
  maxYears: 30,
  sampleDays: 1e9,
});
console.log((performance.now() - t0).toFixed(0), 'ms', r.codes);
