import t from 'tap';
import { Nvm, EEPROM_TIMING } from '../src/nvm.js';
import { Scheduler } from '../src/scheduler.js';

function setup(size = 64) {
  const scheduler = new Scheduler(1_000_000);
  const traces: Array<Record<string, unknown>> = [];
  let programmed = 0;
  const nvm = new Nvm(
    scheduler,
    new Uint8Array(size).fill(0xff),
    EEPROM_TIMING,
    (_w, d) => traces.push(d),
    (n) => {
      programmed += n;
    },
  );
  return { scheduler, nvm, traces, programmed: () => programmed };
}
const data = Uint8Array.from({ length: 10 }, (_, i) => i);

t.test('a write takes 2 ms plus 23 µs a byte, then reports ok', (t) => {
  const { scheduler, nvm, programmed, traces } = setup();
  const done: Array<[boolean, number]> = [];
  nvm.write(4, data, (ok) => done.push([ok, scheduler.now]));
  t.ok(nvm.busy);
  t.equal(nvm.read()[4], 0xff, 'nothing landed yet');
  scheduler.runUntil(scheduler.now + 1_115);
  t.same(Array.from(nvm.read().subarray(4, 10)), [0, 1, 2, 3, 4, 0xff], 'half of the 2230 µs: 5 bytes landed');
  scheduler.runUntil(scheduler.now + 10_000);
  t.same(done, [[true, 1_000_000 + 2_000 + 230]]);
  t.notOk(nvm.busy);
  t.same(Array.from(nvm.read().subarray(4, 14)), Array.from(data));
  t.equal(nvm.read()[14], 0xff);
  t.equal(programmed(), 10);
  t.same(
    traces.map((d) => d['busy']),
    [true, false],
    'busy line in the trace',
  );
  t.equal(nvm.writes, 1);
  t.end();
});

t.test('writes queue behind the one in flight, in order', (t) => {
  const { scheduler, nvm } = setup();
  const order: number[] = [];
  nvm.write(0, Uint8Array.of(1), () => order.push(1));
  nvm.write(0, Uint8Array.of(2), () => order.push(2));
  scheduler.runUntil(scheduler.now + 100_000);
  t.same(order, [1, 2]);
  t.equal(nvm.read()[0], 2);
  t.end();
});

t.test('a cut at byte k leaves exactly the first k bytes written, for every k', (t) => {
  for (let k = 0; k <= data.length + 2; k++) {
    const { scheduler, nvm, programmed } = setup();
    let cut = 0;
    const done: boolean[] = [];
    nvm.armCut({ atWrite: 1, atWriteByte: k }, () => cut++);
    t.ok(nvm.cutArmed);
    nvm.write(0, Uint8Array.of(9), (ok) => done.push(ok)); // write 0 completes
    nvm.write(20, data, (ok) => done.push(ok)); // write 1 is cut
    nvm.write(40, data, (ok) => done.push(ok)); // queued: lost
    scheduler.runUntil(scheduler.now + 100_000);
    const landed = Math.min(k, data.length);
    const img = nvm.read();
    t.same(
      Array.from(img.subarray(20, 20 + data.length)),
      [...Array.from(data.subarray(0, landed)), ...new Array<number>(data.length - landed).fill(0xff)],
      `k=${k}`,
    );
    t.equal(img[40], 0xff, 'queued write never started');
    t.same(done, [true], 'the cut write never reports');
    t.equal(cut, 1);
    t.notOk(nvm.busy);
    t.notOk(nvm.cutArmed);
    t.equal(programmed(), 1 + landed);
  }
  t.end();
});

t.test('power lost mid-write keeps what landed by then; disarm; bad arguments', (t) => {
  const { scheduler, nvm } = setup();
  t.equal(nvm.powerLost(), null, 'nothing in flight');
  nvm.armCut({ atWrite: 5, atWriteByte: 1 }, () => t.fail('disarmed'));
  nvm.disarmCut();
  nvm.write(0, data, () => t.fail('never reports'));
  scheduler.runUntil(scheduler.now + 669); // 3 of 10 bytes at 223 µs each
  t.equal(nvm.powerLost(), 3);
  t.same(Array.from(nvm.read().subarray(0, 4)), [0, 1, 2, 0xff]);
  scheduler.runUntil(scheduler.now + 10_000);
  t.throws(() => nvm.write(60, data, () => {}), { code: 'ERR_ARGUMENT', message: /nvm write address/ });
  t.throws(() => nvm.write(0, [1] as unknown as Uint8Array, () => {}), { code: 'ERR_ARGUMENT', message: /data/ });
  t.throws(() => nvm.armCut({ atWrite: -1, atWriteByte: 0 }, () => {}), { code: 'ERR_ARGUMENT', message: /atWrite/ });
  t.throws(() => nvm.armCut({ atWrite: 0, atWriteByte: 0.5 }, () => {}), { code: 'ERR_ARGUMENT', message: /atWriteByte/ });
  t.throws(() => new Nvm(scheduler, new Uint8Array(0)), { code: 'ERR_ARGUMENT', message: /nvm image/ });
  t.throws(() => new Nvm(scheduler, new Uint8Array(4), { writeUs: -1, byteUs: 0 }), { code: 'ERR_ARGUMENT', message: /writeUs/ });
  t.end();
});

t.test('instant (FRAM-like) timing and an empty write', (t) => {
  const scheduler = new Scheduler(0);
  const nvm = new Nvm(scheduler, new Uint8Array(8), { writeUs: 0, byteUs: 0 });
  let ok = false;
  nvm.write(0, Uint8Array.of(7), (r) => {
    ok = r;
  });
  t.equal(nvm.read()[0], 0, 'lands when the write event runs');
  scheduler.runUntil(0);
  t.ok(ok);
  t.equal(nvm.read()[0], 7);
  nvm.armCut({ atWrite: 0, atWriteByte: 3 }, () => {});
  nvm.write(0, new Uint8Array(0), () => t.fail('cut'));
  scheduler.runUntil(10);
  t.notOk(nvm.busy);
  t.end();
});

t.test('save, resume and restoreQueue carry work in progress to another controller', (t) => {
  const { scheduler, nvm } = setup();
  const done: string[] = [];
  nvm.write(0, data, () => done.push('a'));
  nvm.write(20, Uint8Array.of(7), () => done.push('b'));
  nvm.armCut({ atWrite: 1, atWriteByte: 0 }, () => done.push('cut'));
  scheduler.runUntil(scheduler.now + 1_000);
  const work = nvm.save();
  t.match(work, { current: { address: 0, cutAtByte: null }, queue: [{ address: 20 }], cut: { atWrite: 1, atWriteByte: 0 } });
  const copy = new Nvm(scheduler, nvm.read(), EEPROM_TIMING);
  copy.resume(
    work.current!,
    () => done.push('a2'),
    () => done.push('cut2'),
  );
  copy.restoreQueue(
    work,
    (address) => () => done.push(`b2@${address}`),
    () => done.push('cut2'),
  );
  scheduler.runUntil(scheduler.now + 100_000);
  t.same(done, ['a', 'a2', 'b', 'b2@20'], 'each finishes its writes in order; no cut yet (write 1 from now is still to come)');
  t.same(copy.read(), nvm.read());
  t.end();
});
