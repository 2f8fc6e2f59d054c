/**
 * The Machine's controls and keeping: bouncing presses, the long-press menu, temperature and
 * out-of-spec, power cuts, device files and snapshots, traces, and argument errors.
 */
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import { TYPICAL_BOUNCE } from '../src/button.js';
import { parseDeviceFile } from '../src/device-file.js';
import * as emulator from '../src/index.js';
import { Machine, type ManufactureOptions } from '../src/machine.js';
import type { TraceRecord } from '../src/trace.js';

const KEY = new TextEncoder().encode('12345678901234567890');
const MADE = Date.UTC(2024, 0, 1);
const hotp = createOtp({ profile: 'hotp-sha1', key: KEY });

function make(more: Partial<ManufactureOptions> = {}): Machine {
  return Machine.manufacture({ profile: 'hotp-sha1', key: KEY, manufacturedAt: MADE, driftPpm: 0, agingPpm: 0, seed: 11, ...more });
}

t.test('manufacture: personalised, sealed, asleep; defaults from the seeded generator', (t) => {
  const m = make({ serial: '12-3456789-7' });
  const s = m.state();
  t.match(s, {
    sealed: true,
    screen: 'off',
    profile: 'hotp-sha1',
    serial: '1234567897',
    movingFactor: 0,
    codesShown: 0,
    powered: true,
    batteryPercent: 100,
  });
  t.equal(m.lcd(), '        ');
  t.equal(emulator.Machine, Machine, 'the package index exports the Machine');
  t.type(emulator.parseDeviceFile, 'function');
  const a = Machine.manufacture({ profile: 'totp-aes128', manufacturedAt: MADE, seed: 99 });
  const b = Machine.manufacture({ profile: 'totp-aes128', manufacturedAt: MADE, seed: 99 });
  t.equal(a.state().serial, b.state().serial, 'same seed, same serial');
  const fa = a.toDeviceFile();
  t.equal(fa.crystal.offsetPpm, b.toDeviceFile().crystal.offsetPpm, 'and the same drift');
  t.ok(Math.abs(fa.crystal.offsetPpm) <= 20);
  t.equal(fa.crystal.agingPpm, 3, '+3 ppm first-year aging by default');
  t.not(fa.nvm, b.toDeviceFile().nvm, 'keys come from the CSPRNG, so the images differ');
  t.end();
});

t.test('manufacture rejects bad options, naming them', (t) => {
  t.throws(() => make({ profile: 'hotp-md5' as never }), { code: 'ERR_UNKNOWN_PROFILE', message: /profile/ });
  t.throws(() => make({ manufacturedAt: NaN }), { code: 'ERR_ARGUMENT', message: /manufacturedAt/ });
  t.throws(() => make({ seed: -1 }), { code: 'ERR_ARGUMENT', message: /seed/ });
  t.throws(() => make({ serial: '1234567890' }), { code: 'ERR_SERIAL' });
  t.throws(() => make({ traceLimit: -1 }), { code: 'ERR_ARGUMENT', message: /traceLimit/ });
  t.throws(() => make({ key: new Uint8Array(65) }), { code: 'ERR_ARGUMENT', message: /refused factory-personalise: key/ });
  t.throws(
    () => make({ profile: 'hotp-aes128' }),
    { code: 'ERR_ARGUMENT', message: /refused factory-personalise: key/ },
    'a 20-byte key for AES-128',
  );
  t.throws(() => Machine.manufacture(null as never), { code: 'ERR_ARGUMENT', message: /opts/ });
  t.end();
});

t.test('bounces never count as extra presses', (t) => {
  for (const bounce of [TYPICAL_BOUNCE, { maxBounces: 12, maxBounceUs: 15_000 }]) {
    const m = make({ bounce });
    const codes: string[] = [];
    let edges = 0;
    m.onTrace((r) => {
      if (r.what === 'button' && r.kind === 'hw') edges++;
    });
    for (let i = 0; i < 40; i++) {
      m.press();
      codes.push(m.lcd().trim());
      m.advance(31e6);
    }
    t.ok(edges > 80, `${edges} raw edges for 40 presses`);
    t.same(
      codes,
      Array.from({ length: 40 }, (_, i) => hotp.generate(i)),
      `max ${bounce.maxBounces} bounces in ${bounce.maxBounceUs} µs`,
    );
    t.equal(m.state().codesShown, 40);
  }
  t.end();
});

t.test('a long press opens the information menu; short presses step through it; it times out', (t) => {
  const m = make({ serial: '1234567897', counter: 42 });
  m.hold(6_500);
  t.match(m.state(), { screen: 'menu', menuItem: 0 });
  t.equal(m.lcd(), '      42', 'the next counter');
  const items = [m.lcd()];
  for (let i = 0; i < 4; i++) {
    m.press();
    items.push(m.lcd());
  }
  t.same(items, ['      42', 'bAt  100', '12-34567', '    89-7', 'F    1.0.0']);
  m.advance(31e6);
  t.match(m.state(), { screen: 'off' });
  m.buttonDown();
  m.advance(100_000);
  t.equal(m.state().buttonDown, true, 'buttonDown/buttonUp move the line; the firmware debounces');
  m.buttonUp();
  m.advance(100_000);
  t.equal(m.lcd().trim(), hotp.generate(42));
  t.end();
});

t.test('temperature: the crystal slows, out of range is recorded in state and trace', (t) => {
  const m = make();
  const records: TraceRecord[] = [];
  m.onTrace((r) => records.push(r));
  m.setTemperature(5);
  m.advance(86_400e6);
  t.ok(Math.abs(m.now() - m.deviceTime() - 1_175_040) <= 1, 'a day at 5 °C: 13.6 ppm slow');
  t.notOk(m.state().outOfSpec);
  m.setTemperature(-10);
  t.ok(m.state().outOfSpec);
  t.ok(records.some((r) => r.what === 'out-of-spec' && r.detail['outOfSpec'] === true));
  t.match(records.at(-1), { kind: 'hw', what: 'temperature', detail: { temperatureC: -10, outOfSpec: true } });
  t.equal(m.toDeviceFile().outOfSpecEpisodes, 1);
  const cold = make({ temperatureC: 50 });
  t.ok(cold.state().outOfSpec, 'made out of range');
  t.equal(cold.toDeviceFile().outOfSpecEpisodes, 1);
  t.end();
});

t.test('cutting power blanks the glass and stops the firmware; powerOn resets it', (t) => {
  const m = make();
  m.press();
  t.equal(m.lcd().trim(), hotp.generate(0));
  t.same(Array.from(m.lcdSegments()), [0x00, 0x07, 0x6d, 0x6d, 0x5b, 0x5b, 0x66, 0x00], ' 755224 ');
  t.equal(m.lcdArt().split('\n')[1], '      | |_  |_   _|  _| |_|', 'the middle row of the art');
  m.cutPower();
  t.equal(m.lcd(), '        ');
  t.match(m.state(), { powered: false, screen: 'off', lastCode: null, movingFactor: 1, sealed: true }, 'the view comes from the NVM');
  m.press();
  t.equal(m.lcd(), '        ', 'no power, no code');
  m.cutPower(); // already off
  m.powerOn();
  m.powerOn(); // already on
  t.ok(m.state().powered);
  m.press();
  t.equal(m.lcd().trim(), hotp.generate(1));
  t.throws(() => m.cutPower({ atWrite: 1 }), { code: 'ERR_ARGUMENT', message: /atWrite needs atWriteByte/ });
  t.end();
});

t.test('clock and run controls check their arguments', (t) => {
  const m = make();
  t.throws(() => m.advance(-1), { code: 'ERR_ARGUMENT', message: /^us/ });
  t.throws(() => m.advanceTo(m.now() - 1), { code: 'ERR_ARGUMENT', message: /trueUs/ });
  t.throws(() => m.runUntil(() => true, 1.5), { code: 'ERR_ARGUMENT', message: /limitUs/ });
  t.throws(() => m.press(NaN), { code: 'ERR_ARGUMENT', message: /^ms/ });
  t.notOk(
    m.runUntil(() => false, 1e6),
    'false when the limit passes',
  );
  t.ok(
    m.runUntil((x) => x.now() > MADE * 1000 + 86_400e6, 2 * 86_400e6),
    'true once the predicate holds (the daily tick)',
  );
  t.end();
});

t.test('the trace: events, effects and hardware with both clocks, bounded, and never the key', (t) => {
  const m = make({ traceLimit: 50 });
  m.press();
  const kinds = new Set(m.trace.map((r) => r.kind));
  t.same([...kinds].sort(), ['effect', 'event', 'hw']);
  t.ok(m.trace.length <= 100);
  for (let i = 0; i < 5; i++) m.press();
  t.ok(m.trace.length >= 50 && m.trace.length < 100, `kept ${m.trace.length}`);
  t.ok(
    m.trace.every((r, i) => i === 0 || r.trueUs >= m.trace[i - 1]!.trueUs),
    'in time order',
  );
  const keyHex = Buffer.from(KEY).toString('hex');
  const fresh = make({ traceLimit: 1_000 });
  const text = JSON.stringify(fresh.trace);
  t.notOk(text.includes(keyHex) || text.includes('12345678901234567890'), 'the key is not in the trace');
  t.match(
    fresh.trace.find((r) => r.what === 'factory-personalise'),
    { kind: 'event', detail: { keyBytes: 20 } },
  );
  t.match(
    fresh.trace.find((r) => r.what === 'nvm-write'),
    { kind: 'effect', detail: { address: Number, length: Number } },
  );
  const silent = make({ traceLimit: 0 });
  silent.press();
  t.equal(silent.trace.length, 0, 'traceLimit 0 keeps nothing');
  t.end();
});

t.test('device file: round trip, a later press drifts and continues the counter', (t) => {
  const m = make({ driftPpm: 15, bounce: TYPICAL_BOUNCE });
  m.press();
  m.advance(40e6);
  const file = m.toDeviceFile();
  const json = JSON.stringify(file);
  t.notOk(json.includes(Buffer.from(KEY).toString('base64')) || json.includes('key'), 'no key field');
  const loaded = Machine.fromDeviceFile(parseDeviceFile(json));
  t.same(loaded.toDeviceFile(), file, 'load + save is the identity');
  t.equal(loaded.deviceTime(), m.deviceTime());
  // both go on in step: a press 100 days later
  const later = m.now() + 100 * 86_400e6;
  for (const x of [m, loaded]) {
    x.advanceTo(later);
    x.press();
  }
  t.equal(loaded.lcd(), m.lcd());
  t.equal(loaded.lcd().trim(), hotp.generate(1));
  t.equal(loaded.deviceTime(), m.deviceTime());
  t.ok(loaded.deviceTime() - loaded.now() > 100 * 86_400 * 15 - 1e6, 'the drift was applied while asleep');
  t.equal(loaded.state().batteryPercent, m.state().batteryPercent, 'sleep was accounted');
  // a device saved without power stays without power
  m.cutPower();
  const off = Machine.fromDeviceFile(parseDeviceFile(JSON.stringify(m.toDeviceFile())));
  t.notOk(off.state().powered);
  off.powerOn();
  off.press();
  t.equal(off.lcd().trim(), hotp.generate(2));
  t.end();
});

t.test('snapshot/restore: the copy runs exactly as the original, from any instant', (t) => {
  const m = make({ bounce: TYPICAL_BOUNCE, driftPpm: -7.5, agingPpm: 3, traceLimit: 10_000 });
  m.press();
  m.setTemperature(12);
  const script = (x: Machine): void => {
    x.advance(3_000); // finish the bounce burst and the debounce
    x.buttonUp();
    x.runUntil(() => false, 40_000_000);
    x.press();
    x.advance(86_400e6 * 2);
    x.press(7_000);
    x.press();
    x.advance(60e6);
  };
  // mid-press: bounce edges pending, the debounce timer armed; then mid-NVM-write
  m.buttonDown();
  const snaps = [m.snapshot()];
  const copies = [Machine.restore(snaps[0]!)];
  const from = m.trace.length;
  m.advance(1_000);
  script(m);
  copies[0]!.advance(1_000);
  script(copies[0]!);
  const tail = (x: Machine, n: number): string => JSON.stringify(x.trace.slice(-n));
  const n = m.trace.length - from;
  t.ok(n > 50, `${n} records compared`);
  t.equal(tail(copies[0]!, n), tail(m, n), 'the same trace');
  t.same(copies[0]!.state(), m.state());
  t.same(copies[0]!.nvm(), m.nvm());
  t.same(copies[0]!.toDeviceFile(), m.toDeviceFile());

  m.press();
  m.advance(31e6);
  m.buttonDown();
  m.advance(100_000);
  m.buttonUp();
  m.runUntil((x) => x.state().nvmBusy, 1e6);
  t.ok(m.state().nvmBusy, 'snapshot with a write in flight');
  m.cutPower({ atWrite: 2, atWriteByte: 3 });
  const snap = m.snapshot();
  const a = Machine.restore(snap);
  const b = Machine.restore(snap);
  for (const x of [m, a, b]) {
    x.advance(60e6);
    x.powerOn();
    x.press();
    x.advance(60e6);
    x.press();
  }
  t.equal(a.lcd(), m.lcd());
  t.equal(b.lcd(), m.lcd());
  t.same(a.nvm(), m.nvm());
  t.same(b.state(), m.state());
  t.end();
});
