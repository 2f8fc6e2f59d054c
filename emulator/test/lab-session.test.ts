/**
 * The device lab's model (emulator/src/lab/session.ts) without a page: loading, the button's
 * edges, the time controls, and the determinism contract with `kodeviser press FILE --at T`.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TYPICAL_BOUNCE } from '../src/button.js';
import { YEAR_US } from '../src/crystal.js';
import { parseDeviceFile } from '../src/device-file.js';
import { Machine } from '../src/machine.js';
import { DAY_US, HOUR_US, LabError, LabSession, PRESS_US, TRACE_KEEP, shiftHistory } from '../src/lab/session.js';
import { shiftHistory as cliShiftHistory } from '../src/cli/device.js';
import { cli, tempDir } from './cli-helpers.js';
import { readVcd, valueAt } from './vcd-helpers.js';

const KEY = new TextEncoder().encode('12345678901234567890');
const MADE = Date.UTC(2026, 0, 1);

/** A page's clocks under the test's control. */
function fakeClocks(wallStartMs: number) {
  let mono = 1000;
  return {
    wallMs: () => wallStartMs + (mono - 1000),
    monoMs: () => mono,
    tick(ms: number) {
      mono += ms;
    },
  };
}

function deviceJson(profile: 'hotp-sha1' | 'totp-sha1', more: { bounce?: typeof TYPICAL_BOUNCE } = {}): string {
  const m = Machine.manufacture({ profile, key: KEY, manufacturedAt: MADE, seed: 7, serial: '12-3456789-7', ...more });
  return `${JSON.stringify(m.toDeviceFile(), null, 2)}\n`;
}

t.test('load: starts at the real now at x1, running; the file’s own time when that is later', (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 2, 1, 12));
  const lab = new LabSession(clocks);
  t.equal(lab.loaded, false);
  t.throws(() => lab.step(), LabError, 'controls need a device');
  lab.load(deviceJson('hotp-sha1'));
  t.equal(lab.machine!.now(), Date.UTC(2026, 2, 1, 12) * 1000);
  t.equal(lab.paused, false);
  t.equal(lab.speed, 1);
  t.equal(lab.fileName(), '1234567897.json');

  clocks.tick(200);
  t.equal(lab.frame(), true);
  t.equal(lab.machine!.now(), (Date.UTC(2026, 2, 1, 12) + 200) * 1000, 'x1: 200 ms of real time are 200 ms');
  clocks.tick(250);
  lab.frame();
  lab.setSpeed(1000);
  clocks.tick(100);
  lab.frame();
  t.equal(lab.machine!.now(), (Date.UTC(2026, 2, 1, 12) + 450 + 100_000) * 1000, 'x1000');
  clocks.tick(60_000);
  lab.frame();
  t.equal(lab.machine!.now(), (Date.UTC(2026, 2, 1, 12) + 450 + 100_000 + 250_000) * 1000, 'a stalled page owes at most 250 ms');

  const later = new LabSession(fakeClocks(Date.UTC(2025, 0, 1)));
  later.load(deviceJson('hotp-sha1'));
  t.equal(later.machine!.now(), JSON.parse(deviceJson('hotp-sha1')).trueTimeUs, 'a file from the future starts at its own time');
  t.end();
});

t.test('load refuses bad files with a message and keeps the device it had', (t) => {
  const lab = new LabSession(fakeClocks(Date.UTC(2026, 2, 1)));
  t.throws(() => lab.load('{nope'), { name: 'LabError', message: /not JSON/ });
  t.throws(() => lab.load('{"format":"x"}'), { name: 'LabError', message: /format/ });
  lab.load(deviceJson('hotp-sha1'));
  const bad = JSON.parse(deviceJson('hotp-sha1')) as Record<string, unknown>;
  bad.serial = '1234567890';
  t.throws(() => lab.load(bad), { name: 'LabError', message: /serial/ });
  t.equal(lab.fileName(), '1234567897.json');
  t.end();
});

t.test('a click on a paused lab is Machine.press(); a same-frame click while running is still a press', (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 2, 1));
  const lab = new LabSession(clocks);
  const json = deviceJson('hotp-sha1', { bounce: TYPICAL_BOUNCE });
  lab.load(json);
  const twin = Machine.fromDeviceFile(parseDeviceFile(json));
  twin.advanceTo(lab.machine!.now());
  lab.pause();
  t.equal(lab.buttonDown(), true);
  t.equal(lab.buttonDown(), false, 'already down');
  t.equal(lab.buttonHeld, true);
  t.equal(lab.buttonUp(), true);
  t.equal(lab.buttonUp(), false, 'already up');
  twin.press();
  t.equal(lab.machine!.lcd(), twin.lcd());
  t.match(lab.machine!.lcd(), /^ \d{6} $/, 'a code');
  t.same(parseDeviceFile(lab.deviceJson()), twin.toDeviceFile(), 'the same device, to the µs and the bounce generator');

  lab.resume();
  lab.jump(HOUR_US);
  const start = lab.machine!.now();
  lab.buttonDown();
  lab.buttonUp();
  t.equal(lab.machine!.now(), start + PRESS_US, 'the release waits out the 120 ms press');
  t.equal(lab.machine!.state().screen, 'off', 'running: the firmware settles as time runs on');
  for (let i = 0; i < 10; i++) {
    clocks.tick(16);
    lab.frame();
  }
  t.equal(lab.machine!.state().screen, 'code');
  t.equal(lab.machine!.state().codesShown, 2);
  t.end();
});

t.test('a long press opens the information menu; the trace keeps the last records', (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 2, 1));
  const lab = new LabSession(clocks);
  lab.load(deviceJson('hotp-sha1'));
  lab.setSpeed(10);
  lab.buttonDown();
  for (let i = 0; i < 40; i++) {
    clocks.tick(16);
    lab.frame();
  }
  lab.buttonUp();
  t.equal(lab.machine!.state().screen, 'menu', '6.4 s of virtual time held');
  t.ok(lab.traceCount > 0);
  t.ok(lab.traceTail().length <= TRACE_KEEP);
  t.end();
});

t.test('time controls: step, jumps, go to time, run until the display changes', (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 2, 1));
  const lab = new LabSession(clocks);
  lab.load(deviceJson('hotp-sha1'));
  const t0 = lab.machine!.now();
  const next = lab.nextEvent();
  t.ok(next !== null && next.at > t0);
  const label = lab.step();
  t.equal(lab.paused, true, 'a step pauses');
  t.equal(label, next!.label || 'an event');
  t.equal(lab.machine!.now(), next!.at);

  lab.resume();
  const t1 = lab.machine!.now();
  lab.jump(DAY_US);
  t.equal(lab.machine!.now(), t1 + DAY_US);
  t.equal(lab.paused, false, 'a jump keeps the lab running');
  lab.jump(YEAR_US);
  t.equal(lab.machine!.now(), t1 + DAY_US + YEAR_US);
  t.throws(() => lab.jump(-1), LabError);

  t.throws(() => lab.goTo('2026-01-01'), { name: 'LabError', message: /ISO 8601/ });
  t.throws(() => lab.goTo('1969-12-31T23:59:59Z'), { name: 'LabError', message: /starts at 1970/ });
  t.throws(() => lab.goTo('2300-01-01T00:00:00Z'), { name: 'LabError', message: /2255/ });
  t.same(lab.goTo('2030-01-01T12:00:00Z'), { us: Date.UTC(2030, 0, 1, 12) * 1000, reloaded: false });
  t.equal(lab.machine!.now(), Date.UTC(2030, 0, 1, 12) * 1000);
  t.equal(lab.paused, true, 'go to time pauses');
  clocks.tick(1000);
  t.equal(lab.frame(), false, 'paused: time stands still');

  lab.buttonDown();
  lab.buttonUp();
  const shown = lab.machine!.lcd();
  t.not(shown.trim(), '');
  t.equal(lab.untilChange(), true);
  t.equal(lab.machine!.lcd(), '        ', 'the display timed out');
  t.equal(lab.untilChange(), false, 'a dark, idle token does not change within the limit');

  lab.setTemperature(60);
  t.equal(lab.temperatureC, 60);
  t.equal(lab.machine!.state().outOfSpec, true);
  t.ok(lab.ppm() < -40, 'hot: the tuning fork runs slow');
  const s = lab.machine!.state();
  t.equal(lab.trueBatteryPercent(s), (100 * s.batteryTrueCharge) / (225 * 3.6e9), 'of a CR2032’s 225 mAh');
  t.end();
});

t.test('max speed with normal use: five years of presses drain half the firmware’s counter', (t) => {
  const lab = new LabSession({ wallMs: () => Date.UTC(2026, 2, 1), monoMs: () => performance.now() });
  lab.load(deviceJson('totp-sha1'));
  lab.setNormalUse(true);
  lab.setSpeed('max');
  const start = lab.machine!.now();
  const began = performance.now();
  while (lab.machine!.now() < start + 5 * YEAR_US) lab.maxSlice(20);
  const spent = performance.now() - began;
  const s = lab.machine!.state();
  t.ok(s.codesShown > 5 * 365 * 3 - 5, `${s.codesShown} codes in five years`);
  t.ok(s.batteryPercent < 60 && s.batteryPercent > 40, `firmware estimate ${s.batteryPercent} %`);
  t.comment(`five years of normal use at max: ${spent.toFixed(0)} ms in Node`);
  const vcd = lab.vcd();
  t.match(vcd, /\$enddefinitions \$end/);
  t.end();
});

t.test('the VCD of the session: from the load, the button and the segments as the firmware drove them', async (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 2, 1));
  const lab = new LabSession(clocks);
  t.throws(() => lab.vcd(), LabError);
  lab.load(deviceJson('hotp-sha1'));
  const start = lab.machine!.now();
  lab.goTo('2026-03-02T00:00:00Z');
  const pressAt = lab.machine!.now() - start;
  lab.buttonDown();
  lab.buttonUp();
  const code = lab.machine!.lcdSegments();
  lab.untilChange();
  const vcd = await readVcd(lab.vcd());
  t.equal(vcd.timescale, '1us');
  t.match(vcd.comment, /time 0 is 2026-03-01T00:00:00.000Z true time/);
  t.equal(valueAt(vcd, 'button', pressAt - 1), '0');
  t.equal(valueAt(vcd, 'button', pressAt), '1', 'down at the press');
  t.equal(valueAt(vcd, 'button', pressAt + PRESS_US), '0', 'up 120 ms later');
  t.equal(valueAt(vcd, 'lcd_on', pressAt - 1), '0');
  t.equal(valueAt(vcd, 'lcd_on', pressAt + PRESS_US + 1_000_000), '1', 'the code is up');
  t.equal(Number.parseInt(valueAt(vcd, 'seg1', pressAt + PRESS_US + 1_000_000)!, 2), code[1], 'segment bytes as the LCD shows them');
  t.equal(valueAt(vcd, 'lcd_on', lab.machine!.now() - start), '0', 'and off again after the display timeout');
  t.equal(Number(vcd.endtime), lab.machine!.now() - start, 'the dump ends now');
  t.equal(lab.vcdTruncated, false);
});

/**
 * The determinism: the same device file and the same presses give in the lab exactly
 * the codes `kodeviser press FILE --at T` gives, for an hotp and a totp device, 20 presses each.
 * The lab loads the file at a real now, runs a few frames at x1, then goes to each T and clicks.
 */
const scenarios = [
  { name: 'times after the real now', wall: Date.UTC(2026, 1, 3, 4, 5, 6), first: Date.UTC(2026, 5, 1) },
  { name: 'times between the file’s and the real now (Go to time reloads)', wall: Date.UTC(2027, 5, 1), first: Date.UTC(2026, 5, 1) },
  { name: 'times before the file’s (its history moves back)', wall: Date.UTC(2027, 5, 1), first: Date.UTC(2025, 2, 1) },
  { name: 'presses 47 s apart, in the past', wall: Date.UTC(2026, 11, 6), first: Date.UTC(2026, 0, 5, 9, 1), gapMs: 47_000 },
];
for (const profile of ['hotp-sha1', 'totp-sha1'] as const) {
  for (const scenario of scenarios) {
    t.test(`${profile}, ${scenario.name}: 20 presses in the lab give the codes kodeviser press --at gives`, async (t) => {
      const dir = tempDir(t);
      const path = join(dir, 'd.json');
      writeFileSync(path, deviceJson(profile, { bounce: TYPICAL_BOUNCE }));
      const clocks = fakeClocks(scenario.wall);
      const lab = new LabSession(clocks);
      lab.load(readFileSync(path, 'utf8'));
      for (let i = 0; i < 7; i++) {
        clocks.tick(17);
        lab.frame();
      }
      const gap = (i: number): number => (scenario.gapMs === undefined ? i * 3 * 3_600_000 + i * i * 7_919_000 : i * scenario.gapMs);
      const times = Array.from({ length: 20 }, (_, i) => new Date(scenario.first + gap(i)).toISOString());
      const fromCli: string[] = [];
      const fromLab: string[] = [];
      for (const at of times) {
        const r = await cli(['press', path, '--at', at]);
        t.equal(r.code, 0, r.stderr);
        fromCli.push(r.stdout.replace(/\n$/, ''));
        lab.goTo(at);
        lab.buttonDown();
        lab.buttonUp();
        fromLab.push(lab.machine!.lcd());
      }
      t.same(fromLab, fromCli);
      t.equal(new Set(fromCli).size, 20, 'twenty different codes');
    });
  }
}

t.test('Go to an earlier time reloads the device as loaded; shiftHistory is the CLI’s', (t) => {
  const clocks = fakeClocks(Date.UTC(2026, 11, 6));
  const lab = new LabSession(clocks);
  const json = deviceJson('hotp-sha1');
  lab.load(json);
  lab.buttonDown();
  lab.buttonUp();
  clocks.tick(100);
  lab.frame();
  t.equal(lab.machine!.state().codesShown, 1);
  const before = lab.revision;
  t.same(lab.goTo('2026-06-01T00:00:00Z'), { us: Date.UTC(2026, 5, 1) * 1000, reloaded: true });
  t.equal(lab.machine!.now(), Date.UTC(2026, 5, 1) * 1000);
  t.equal(lab.machine!.state().codesShown, 0, 'the press since the load is undone');
  t.equal(lab.paused, true);
  t.ok(lab.revision > before);
  t.same(lab.goTo('2026-06-01T00:00:01Z'), { us: Date.UTC(2026, 5, 1) * 1000 + 1e6, reloaded: false }, 'forward again: no reload');
  const file = parseDeviceFile(json);
  for (const delta of [-1, -86_400_000, -500_000_000_000]) t.same(shiftHistory(file, delta), cliShiftHistory(file, delta));
  t.end();
});
