// The Otp cache's doorkeeper (TinyLFU's admission filter): a key is "seen" from its second time
// within a window, false positives stay rare, and the filter starts over instead of filling up.
import t from 'tap';
import { Doorkeeper } from '../src/domain/doorkeeper.js';

t.test('a key is seen from its second time on', async (t) => {
  const door = new Doorkeeper(100);
  t.equal(door.seen('1000000008:1'), false, 'first time');
  t.equal(door.seen('1000000008:1'), true, 'second time');
  t.equal(door.seen('1000000008:1'), true, 'and after');
  t.equal(door.seen('1000000008:2'), false, 'another key version is another key');
  t.equal(door.seen(''), false);
  t.equal(door.seen(''), true);
});

t.test('every key of a full window is remembered, and false positives stay rare', async (t) => {
  const window = 20_000;
  const door = new Doorkeeper(window);
  for (let i = 0; i < window; i++) door.seen(`${1_000_000_000 + i}:1`);
  let remembered = 0;
  for (let i = 0; i < window; i++) if (door.seen(`${1_000_000_000 + i}:1`)) remembered++;
  t.equal(remembered, window, 'no false negatives');
  // Fewer new keys than the window, or the filter would start over on the way.
  const probes = 5_000;
  let falsePositives = 0;
  const full = new Doorkeeper(window + probes);
  for (let i = 0; i < window; i++) full.seen(`${1_000_000_000 + i}:1`);
  for (let i = 0; i < probes; i++) if (full.seen(`${2_000_000_000 + i}:1`)) falsePositives++;
  t.ok(falsePositives / probes < 0.03, `${((100 * falsePositives) / probes).toFixed(2)} % of new keys taken for seen`);
});

t.test('after `window` new keys the filter starts over', async (t) => {
  const door = new Doorkeeper(3);
  for (const k of ['a', 'b', 'c']) door.seen(k);
  t.equal(door.seen('a'), true, 'still within the window');
  t.equal(door.seen('d'), false, 'the fourth new key resets the filter');
  t.equal(door.seen('a'), false, 'so a is new again');
  t.equal(door.seen('d'), true, 'while d, recorded after the reset, is seen');
});

t.test('the window is checked', async (t) => {
  for (const bad of [0, -1, 2.5, Number.NaN])
    t.throws(() => new Doorkeeper(bad), { code: 'ERR_ARGUMENT', message: /window must be a positive integer/ }, String(bad));
});
