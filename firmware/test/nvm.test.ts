// The NVM records (nvm.ts): CRC-32 by its check value, round trips, the two-slot rotation and
// recovery from corrupted, erased and half-written slots.
import t from 'tap';
import fc from 'fast-check';
import { PROFILES } from '@kodeviser/shared';
import {
  crc32,
  DEFAULT_CONFIG,
  init,
  inspect,
  decodeCounter,
  decodePersonalisation,
  decodeUsage,
  encodeCounter,
  encodePersonalisation,
  encodeUsage,
  NVM_LAYOUT,
  NVM_SIZE,
  readRecord,
  RECORD_KINDS,
  recordWrite,
  slotBytes,
  step,
  type RecordKind,
} from '@kodeviser/firmware';
import { sealedToken } from './driver.js';

const erased = () => new Uint8Array(NVM_SIZE).fill(0xff);
const apply = (image: Uint8Array, w: { address: number; data: Uint8Array }, bytes = w.data.length) => {
  image.set(w.data.subarray(0, bytes), w.address);
};

t.test('CRC-32/ISO-HDLC check value', async (t) => {
  t.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  t.equal(crc32(new Uint8Array(0)), 0);
});

t.test('the layout: slots fit, do not overlap, and fit the NVM', async (t) => {
  const spans = RECORD_KINDS.flatMap((k) => NVM_LAYOUT[k].slots.map((a) => [a, a + slotBytes(k)] as const)).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) t.ok(spans[i]![0] >= spans[i - 1]![1], `slot at ${spans[i]![0]} clear of the one before`);
  t.ok(spans.at(-1)![1] <= NVM_SIZE);
  t.same(RECORD_KINDS.map(slotBytes), [83, 17, 33]);
});

t.test('payload round trips', async (t) => {
  const key = Uint8Array.from({ length: 64 }, (_, i) => i);
  for (const profile of PROFILES) {
    const p = { profile, digits: 8, step: 60, sealed: true, key, serial: '0123456789' };
    t.same(decodePersonalisation(encodePersonalisation(p)), p, profile);
  }
  t.equal(decodeCounter(encodeCounter(2 ** 52 + 3)), 2 ** 52 + 3);
  const u = { spentNc: 123.456, accountedAt: 1_750_000_000_123_456.5, codesShown: 99 };
  t.same(decodeUsage(encodeUsage(u)), u);
  const bad = encodePersonalisation({
    profile: 'hotp-sha1',
    digits: 6,
    step: 30,
    sealed: false,
    key: key.subarray(0, 20),
    serial: '1234567897',
  });
  t.equal(decodePersonalisation(Uint8Array.from(bad, (b, i) => (i === 0 ? 200 : b))), null, 'unknown profile index');
  t.equal(decodePersonalisation(Uint8Array.from(bad, (b, i) => (i === 4 ? 0 : b))), null, 'empty key');
  t.equal(decodePersonalisation(Uint8Array.from(bad, (b, i) => (i === 69 ? 0xaf : b))), null, 'a non-decimal serial nibble');
  t.throws(() => recordWrite('counter', new Uint8Array(3), null), RangeError);
});

t.test('writes alternate slots with rising sequence numbers; the newest valid wins', async (t) => {
  const image = erased();
  t.equal(readRecord(image, 'counter'), null, 'erased (0xFF): no record');
  t.equal(readRecord(new Uint8Array(NVM_SIZE), 'counter'), null, 'zeroed: no record');
  let cursor = null;
  for (let n = 1; n <= 5; n++) {
    const w = recordWrite('counter', encodeCounter(n), cursor);
    t.equal(w.address, NVM_LAYOUT.counter.slots[(n - 1) % 2], `write ${n} goes to slot ${(n - 1) % 2}`);
    apply(image, w);
    const r = readRecord(image, 'counter')!;
    t.same(r.cursor, { slot: (n - 1) % 2, seq: n });
    t.equal(decodeCounter(r.payload), n);
    cursor = r.cursor;
  }
  t.equal(readRecord(image.subarray(0, 0x100), 'usage'), null, 'an image too short for the record');
});

t.test('a corrupted newest slot falls back to the other one', async (t) => {
  const image = erased();
  const w1 = recordWrite('usage', encodeUsage({ spentNc: 1, accountedAt: 2, codesShown: 3 }), null);
  apply(image, w1);
  const w2 = recordWrite('usage', encodeUsage({ spentNc: 4, accountedAt: 5, codesShown: 6 }), w1.cursor);
  apply(image, w2);
  t.equal(decodeUsage(readRecord(image, 'usage')!.payload).codesShown, 6);
  for (const offset of [0, 1, 4, 5, 20, slotBytes('usage') - 1]) {
    const copy = image.slice();
    copy[w2.address + offset] = (copy[w2.address + offset] as number) ^ 0x04;
    const r = readRecord(copy, 'usage')!;
    t.equal(decodeUsage(r.payload).codesShown, 3, `a bit flipped at byte ${offset}: the older copy`);
    t.same(r.cursor, w1.cursor);
  }
});

t.test('a write cut after any k bytes leaves the older copy or the new one, never a hybrid', async (t) => {
  const kinds: RecordKind[] = ['personalisation', 'counter', 'usage'];
  const payloadOf = (kind: RecordKind, n: number): Uint8Array =>
    kind === 'counter'
      ? encodeCounter(n)
      : kind === 'usage'
        ? encodeUsage({ spentNc: n * 1.5, accountedAt: n, codesShown: n })
        : encodePersonalisation({
            profile: PROFILES[n % 14]!,
            digits: 6,
            step: 30,
            sealed: n % 2 === 0,
            key: new Uint8Array(20).fill(n),
            serial: '1234567897',
          });
  fc.assert(
    fc.property(fc.constantFrom(...kinds), fc.integer({ min: 1, max: 6 }), fc.nat(), (kind, writes, cutSeed) => {
      const image = erased();
      let cursor = null;
      for (let n = 1; n < writes; n++) {
        const w = recordWrite(kind, payloadOf(kind, n), cursor);
        apply(image, w);
        cursor = w.cursor;
      }
      const last = recordWrite(kind, payloadOf(kind, writes), cursor);
      const k = cutSeed % (last.data.length + 1);
      apply(image, last, k);
      const r = readRecord(image, kind);
      const expected = k === last.data.length ? writes : writes - 1;
      if (expected === 0) return r === null;
      return r !== null && r.cursor.seq === expected && r.payload.every((b, i) => b === payloadOf(kind, expected)[i]);
    }),
    { numRuns: 400 },
  );
  t.pass('400 cuts');
});

t.test('boot: a valid record this firmware cannot use is no personalisation', async (t) => {
  const image = erased();
  const p = { profile: 'hotp-sha1' as const, digits: 9, step: 30, sealed: true, key: new Uint8Array(20).fill(7), serial: '1234567897' };
  image.set(recordWrite('personalisation', encodePersonalisation(p), null).data, NVM_LAYOUT.personalisation.slots[0]);
  t.ok(readRecord(image, 'personalisation'), 'the slot itself is valid');
  const v = inspect(init(DEFAULT_CONFIG, image));
  t.same([v.sealed, v.profile], [false, null], '9 digits: treated as blank, so the token shows FActory');
});

t.test('the NVM queue: one write at a time, one usage write waiting at most, stray completions ignored', async (t) => {
  const d = sealedToken();
  const tickAt = d.now;
  d.send({ type: 'rtc-tick' });
  const first = d.write!;
  t.ok(d.view().nvmBusy);
  d.send({ type: 'rtc-tick' });
  d.send({ type: 'rtc-tick' });
  t.equal(d.state.nvmQueue.length, 1, 'two more ticks: one usage write waiting');
  const before = d.state;
  const strayAt = (address: number) => ({ type: 'nvm-done', at: d.now, address, ok: true }) as const;
  const other = step(before, strayAt(first.address + 1)).state;
  t.equal(other.nvmInFlight, before.nvmInFlight, 'a completion for another address changes nothing');
  t.equal(other.cursors, before.cursors);
  d.send({ type: 'nvm-done', address: first.address + 1, ok: true });
  t.equal(d.state, before, 'nor does the runtime step it: the firmware waits for no such write');
  d.advance(10_000);
  t.equal(d.state.nvmQueue.length, 0);
  t.notOk(d.view().nvmBusy);
  t.notOk(inspect(step(d.state, strayAt(first.address)).state).nvmBusy, 'a completion with nothing in flight changes nothing');
  t.equal(
    decodeUsage(readRecord(d.nvm, 'usage')!.payload).accountedAt,
    tickAt + 2_000,
    'the waiting write took its payload when issued, after the first completed',
  );
});
