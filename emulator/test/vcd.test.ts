import t from 'tap';
import { TOKEN_VARS, VcdRecorder, VcdWriter, vcdIdentifier } from '../src/vcd.js';
import type { TraceRecord } from '../src/trace.js';
import { readVcd, valueAt } from './vcd-helpers.js';

const START = Date.UTC(2026, 0, 1) * 1000;
const hw = (dt: number, what: string, detail: Record<string, unknown>): TraceRecord => ({
  trueUs: START + dt,
  deviceUs: START + dt,
  kind: 'hw',
  what,
  detail,
});

t.test('identifier codes are printable, distinct and grow past one character', async (t) => {
  const ids = Array.from({ length: 200 }, (_, i) => vcdIdentifier(i));
  t.equal(new Set(ids).size, 200);
  t.ok(ids.every((id) => /^[!-~]+$/.test(id)));
  t.equal(vcdIdentifier(0), '!');
  t.equal(vcdIdentifier(93), '~');
  t.equal(vcdIdentifier(94).length, 2);
});

t.test('the header declares every token signal as the viewer will see it', async (t) => {
  const rec = new VcdRecorder(START, { button: false, segments: [0, 0, 0, 0, 0, 0, 0, 0], batteryChargeUc: 810_000_000, nvmBusy: false });
  const text = rec.toString();
  t.match(text, /^\$version\n {2}kodeviser emulator\n\$end\n/);
  t.match(text, /\$timescale 1us \$end/);
  t.match(text, /\$scope module kodeviser \$end/);
  t.match(text, /\$var wire 1 \S+ button \$end/);
  t.match(text, /\$var reg 8 \S+ seg7 \$end/);
  t.match(text, /\$var real 64 \S+ battery_charge \$end/);
  t.match(text, /\$enddefinitions \$end\n#0\n\$dumpvars\n/);
  const vcd = await readVcd(text);
  t.equal(vcd.timescale?.trim(), '1us');
  t.same(
    vcd.signal.map((s) => s.signalName),
    TOKEN_VARS.map((v) => v.name),
  );
  t.ok(vcd.signal.every((s) => s.module === 'kodeviser'));
  t.equal(valueAt(vcd, 'battery_charge', 0), '810000000');
});

t.test('trace records become value changes an independent reader agrees with', async (t) => {
  const rec = new VcdRecorder(START, { button: false, segments: [0, 0, 0, 0, 0, 0, 0, 0], batteryChargeUc: 1000, nvmBusy: false });
  const code = [0x00, 0x00, 0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d];
  const records: TraceRecord[] = [
    hw(0, 'button', { level: true }),
    hw(1_200, 'button', { level: false }), // a bounce
    hw(1_900, 'button', { level: true }),
    { trueUs: START + 20_000, deviceUs: START + 20_000, kind: 'event', what: 'timer', detail: { timer: 'debounce' } },
    hw(21_000, 'nvm', { busy: true, address: 0, length: 16 }),
    hw(23_000, 'nvm', { busy: false, address: 0, length: 16, ok: true }),
    hw(23_500, 'battery', { chargeNc: 999_123.4, currentNa: 2_000_000 }),
    hw(24_000, 'lcd', { segments: code }),
    hw(120_000, 'button', { level: false }),
    hw(30_024_000, 'lcd', { segments: [0, 0, 0, 0, 0, 0, 0, 0] }),
    hw(30_024_000, 'out-of-spec', { outOfSpec: true }), // not a VCD signal
  ];
  for (const r of records) rec.record(r);
  rec.end(START + 30_024_000); // no later than the last change: no extra timestamp
  t.equal((await readVcd(rec.toString())).endtime, '30024000');
  rec.end(START + 40_000_000);
  const vcd = await readVcd(rec.toString());
  t.equal(vcd.endtime, '40000000', 'the recording ends when the session did');
  t.equal(valueAt(vcd, 'button', 0), '1');
  t.equal(valueAt(vcd, 'button', 1_500), '0', 'the bounce is in the dump');
  t.equal(valueAt(vcd, 'button', 2_000), '1');
  t.equal(valueAt(vcd, 'button', 200_000), '0');
  t.equal(valueAt(vcd, 'nvm_busy', 22_000), '1');
  t.equal(valueAt(vcd, 'nvm_busy', 23_000), '0');
  t.equal(valueAt(vcd, 'battery_charge', 23_499), '1000');
  t.equal(valueAt(vcd, 'battery_charge', 23_500), '999.123', 'nC become µC, three decimals');
  t.equal(valueAt(vcd, 'lcd_on', 23_999), '0');
  t.equal(valueAt(vcd, 'lcd_on', 24_000), '1');
  code.forEach((s, i) => t.equal(parseInt(valueAt(vcd, `seg${i}`, 24_000) ?? '', 2), s, `seg${i}`));
  t.equal(valueAt(vcd, 'lcd_on', 30_024_000), '0');
  t.equal(parseInt(valueAt(vcd, 'seg7', 30_024_000) ?? '', 2), 0);
  // unchanged values are not repeated: seg0 and seg1 stay 0 and never get a change line
  t.equal(vcd.signal.find((s) => s.signalName === 'seg0')?.wave.length, 1);
});

t.test('the writer refuses what it cannot encode', async (t) => {
  t.throws(() => new VcdWriter([{ type: 'wire', width: 1, name: 'a' }], { scope: 's' }, {}), /no initial value for a/);
  const w = new VcdWriter([{ type: 'integer', width: 4, name: 'n' }], { scope: 's', date: 'today' }, { n: 5 });
  t.throws(() => w.set(1, 'x', 1), /unknown variable x/);
  w.set(3, 'n', 0);
  t.equal(
    w.toString(),
    '$date\n  today\n$end\n$timescale 1us $end\n$scope module s $end\n$var integer 4 ! n $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\nb0101 !\n$end\n#3\nb0000 !\n',
  );
});
