import t from 'tap';
import { Button, TYPICAL_BOUNCE, NO_BOUNCE, checkBounce } from '../src/button.js';
import { Cpu } from '../src/cpu.js';
import { Lcd, renderSegments } from '../src/lcd.js';
import { Prng } from '../src/prng.js';
import { Scheduler } from '../src/scheduler.js';

t.test('the PRNG is seeded and reproducible', (t) => {
  const a = new Prng(42),
    b = new Prng(42),
    c = new Prng(43);
  const xs = Array.from({ length: 5 }, () => a.next());
  t.same(
    Array.from({ length: 5 }, () => b.next()),
    xs,
  );
  t.not(c.next(), xs[0]);
  const ints = new Set(Array.from({ length: 1000 }, () => a.int(3, 7)));
  t.same([...ints].sort(), [3, 4, 5, 6, 7], 'int covers [3, 7] and nothing else');
  const r = a.range(-20, 20);
  t.ok(r >= -20 && r < 20);
  t.end();
});

t.test('a clean press gives exactly two edges, through the scheduler', (t) => {
  const s = new Scheduler(0);
  const b = new Button(s, new Prng(1), NO_BOUNCE);
  const edges: Array<[boolean, number]> = [];
  b.onEdge((p) => edges.push([p, s.now]));
  b.set(true);
  t.same(edges, [], 'not before the scheduler runs');
  s.runUntil(0);
  b.set(true); // already going there
  s.runUntil(100_000);
  b.set(false);
  s.runUntil(200_000);
  t.same(edges, [
    [true, 0],
    [false, 100_000],
  ]);
  t.equal(b.edges, 2);
  t.end();
});

t.test('bounces alternate, end at the target level, and stay inside the burst', (t) => {
  const s = new Scheduler(0);
  const b = new Button(s, new Prng(7), TYPICAL_BOUNCE);
  let levels: boolean[] = [];
  let times: number[] = [];
  b.onEdge((p) => {
    levels.push(p);
    times.push(s.now);
  });
  let bounced = 0;
  for (let i = 0; i < 50; i++) {
    levels = [];
    times = [];
    const start = s.now;
    b.set(i % 2 === 0);
    s.runUntil(start + 50_000);
    t.equal(levels.at(-1), i % 2 === 0, 'settles at the target');
    t.ok(
      levels.every((l, j) => j === 0 || l !== levels[j - 1]),
      'alternates',
    );
    t.ok(
      times.every((x) => x - start <= TYPICAL_BOUNCE.maxBounceUs),
      'within 5 ms',
    );
    if (levels.length > 1) bounced++;
  }
  t.ok(bounced > 10, `${bounced} of 50 transitions bounced`);
  t.end();
});

t.test('a new transition cancels the rest of a burst; detach silences the line', (t) => {
  const s = new Scheduler(0);
  const b = new Button(s, new Prng(3), { maxBounces: 20, maxBounceUs: 5_000 });
  const levels: boolean[] = [];
  b.onEdge((p) => levels.push(p));
  b.set(true);
  s.runUntil(1);
  b.set(false);
  s.runUntil(100_000);
  t.equal(levels.at(-1), false);
  t.equal(b.level, false);
  b.detach();
  b.set(true);
  s.runUntil(200_000);
  t.equal(b.level, true, 'the line moves');
  t.equal(levels.at(-1), false, 'nobody hears it');
  t.same(checkBounce(TYPICAL_BOUNCE), TYPICAL_BOUNCE);
  t.throws(() => checkBounce({ maxBounces: -1, maxBounceUs: 0 }), { code: 'ERR_ARGUMENT', message: /maxBounces/ });
  t.throws(() => checkBounce({ maxBounces: 1, maxBounceUs: 0.5 }), { code: 'ERR_ARGUMENT', message: /maxBounceUs/ });
  t.end();
});

t.test('the LCD latches 8 bytes, draws 7-segment art, reports lit, blanks on power loss', (t) => {
  const lit: boolean[] = [];
  const traces: unknown[] = [];
  const lcd = new Lcd(
    (_w, d) => traces.push(d['segments']),
    (l) => lit.push(l),
  );
  t.notOk(lcd.lit);
  lcd.blank(); // already blank: no write
  t.equal(lcd.writes, 0);
  // "b" "0" "1" "2" "3" "8." " " "-"
  lcd.write([0x7c, 0x3f, 0x06, 0x5b, 0x4f, 0xff, 0x00, 0x40]);
  t.ok(lcd.lit);
  t.same(Array.from(lcd.segments()), [0x7c, 0x3f, 0x06, 0x5b, 0x4f, 0xff, 0x00, 0x40]);
  t.equal(lcd.art(), ['     _       _   _   _', '|_  | |   |  _|  _| |_|      _', '|_| |_|   | |_   _| |_|.'].join('\n'));
  lcd.blank();
  t.notOk(lcd.lit);
  t.same(lit, [true, false]);
  t.equal(traces.length, 2);
  t.equal(renderSegments([0x80]), '\n\n   .');
  t.throws(() => lcd.write([1, 2, 3]), { code: 'ERR_ARGUMENT', message: /lcd segments/ });
  t.throws(() => lcd.write([256, 0, 0, 0, 0, 0, 0, 0]), { code: 'ERR_ARGUMENT', message: /lcd segments/ });
  t.end();
});

t.test('the CPU turns cycles into active time and charge', (t) => {
  const spent: number[] = [];
  const traces: Array<Record<string, unknown>> = [];
  const cpu = new Cpu(
    8_000_000,
    (c) => spent.push(c),
    (_w, d) => traces.push(d),
  );
  cpu.run(2_100, 'aes128');
  t.notOk(cpu.asleep);
  cpu.sleep();
  t.ok(cpu.asleep);
  t.equal(cpu.activeUs, 262.5);
  t.same(spent, [2_100]);
  t.same(traces, [{ cycles: 2_100, what: 'aes128', activeUs: 262.5 }]);
  t.throws(() => cpu.run(-1, 'x'), { code: 'ERR_ARGUMENT', message: /cycles/ });
  t.throws(() => new Cpu(0), { code: 'ERR_ARGUMENT', message: /cpuHz/ });
  t.end();
});
