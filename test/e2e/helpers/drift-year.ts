/**
 * The year-of-use scenario behind totp-drift-*.test.ts (one crystal per file, so tap runs them
 * in parallel): the real server process under libfaketime, its wall clock moved to each use; the
 * real `kodeviser` CLI pressing the device `--at` that same true time while its emulated crystal
 * drifts. The user activates the token, then uses it every two weeks for a year (26 uses) at a
 * different time of day each time; the server tracks the token's drift from each accepted code.
 *
 * Each use after the activation goes through POST /v1/validate, as a back end checks a login's
 * code: the same check as /v1/authenticate without the password hash (0.1 s of CPU per use that
 * tests nothing here), and it names the outcome "resync-started" where a user would only see a
 * reject. Should a use land two steps from the step the server expects, the user's next code,
 * in the next step, completes the resync; so every use must end accepted, at once or with the
 * next code, and how many needed the next code is counted. The server tracks the token's clock
 * as an offset measured at the middle of each accepted step and a rate learnt between accepts
 * (server/src/domain/policy.ts), so every use must be accepted with its first code: with the
 * drift in whole steps, as before, 2, 1 and 1 of the 26 uses of the three crystals needed a
 * second code, because a whole-step drift is off by up to a step.
 */
import type { Test } from 'tap';
import type { ProfileName } from '@kodeviser/shared';
import { activate, importDevice, newUser, validate } from './flows.js';
import { DAY, MINUTE, manufacture, press } from './kodeviser.js';
import { assertNoSecrets, findLibfaketime, scratchDir, startServer } from './server.js';

export const T0 = Date.parse('2027-01-04T09:00:00Z');
export const USES = 26;
export const EVERY = 14 * DAY;

/** mulberry32: the times of day come from a fixed seed, so a run can be repeated exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface DriftYear {
  name: string;
  profile: ProfileName;
  /** the crystal's offset at 25 °C (the emulator adds its +3 ppm first-year ageing) */
  driftPpm: number;
  /** the temperature from use i on; absent: 25 °C all year */
  temperature?: (use: number) => number;
  /** what the server's recorded drift must reach after the year, in steps (sign and size) */
  expectDrift: (steps: number) => boolean;
  expectDriftText: string;
  seed: number;
}

export function driftYear(t: Test, o: DriftYear): void {
  if (!findLibfaketime()) {
    t.plan(0, "skipped: libfaketime not found (install Debian's faketime), so a year cannot pass for the server");
    return;
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  t.before(async () => {
    server = await startServer(t, { fakeStartMs: T0 });
  });

  t.test(`${o.name}: a year of uses every two weeks stays accepted through drift tracking`, async (t) => {
    const dir = scratchDir(t);
    const device = await manufacture(server, dir, { profile: o.profile, at: T0 - DAY, driftPpm: o.driftPpm, name: o.name });
    t.equal((await importDevice(server, device)).status, 201, 'imported');
    const user = newUser(server, o.name);
    const tempAt = (i: number) => (o.temperature ? { temp: o.temperature(i) } : {});
    server.setTime(T0);
    const first = await press(server, device, T0, tempAt(0));
    t.equal((await activate(server, user, device, first.code as string)).status, 200, 'activated');

    const random = prng(o.seed);
    const nextCodeNeeded: number[] = [];
    for (let i = 1; i <= USES; i++) {
      // any second of 08:00–18:00, so the codes meet the step boundaries at every phase
      const at = T0 + i * EVERY + Math.floor(random() * 36_000) * 1000 - 3_600_000;
      server.setTime(at);
      const shown = await press(server, device, at, tempAt(i));
      const result = (await validate(server, device, shown.code as string)).body.result;
      if (result === 'accept') continue;
      t.equal(result, 'resync-started', `use ${i}: accepted, or the resync started`);
      nextCodeNeeded.push(i);
      server.setTime(at + 30_000);
      const next = await press(server, device, at + 30_000);
      t.equal((await validate(server, device, next.code as string)).body.result, 'accept', `use ${i}: the next code completes the resync`);
    }
    t.pass(`${USES} uses: every one ended accepted`);

    const info = (await server.get(`/v1/tokens/${device.serial}`, { admin: true })).body;
    const end = server.now() + MINUTE;
    const last = await press(server, device, end);
    const aheadSteps = (Date.parse(last.deviceTime) - end) / 30_000;
    t.ok(
      Math.abs(info.drift - aheadSteps) <= 1.5,
      `the server's drift (${info.drift} steps) follows the device (${aheadSteps.toFixed(2)} steps off after a year)`,
    );
    // The offset measured at the last use is the middle of the step the code came from: within
    // half a step of the device's, plus the few ms the firmware takes from the press (the time
    // the CLI prints) to the code, and what the rate adds in the minute since.
    t.ok(
      Math.abs(info.driftSeconds - aheadSteps * 30) <= 17,
      `the predicted offset (${info.driftSeconds} s) is within half a step of the device's (${(aheadSteps * 30).toFixed(1)} s); rate learnt ${info.driftPpm} ppm`,
    );
    t.ok(o.expectDrift(info.drift), `${o.expectDriftText}: ${info.drift} steps`);
    t.equal(info.failures, 0, 'no failure counted');
    t.comment(
      `${o.name}: ${USES - nextCodeNeeded.length} of ${USES} uses accepted with the first code; the next code was needed at uses [${nextCodeNeeded.join(', ')}]`,
    );
    t.same(nextCodeNeeded, [], 'every use accepted with its first code');
  });

  t.test("no secret in the server's output (admin token, keys, passwords, codes)", async (t) => assertNoSecrets(t, server));
}
