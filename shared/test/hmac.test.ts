import { createHmac as nodeHmac } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, createHmac, hexToBytes, type HashName } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

/** The big-endian words of macCounter as hex, the form node:crypto prints. */
function wordsHex(words: Int32Array): string {
  return Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
}

function counter(high: number, low: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, high);
  new DataView(bytes.buffer).setUint32(4, low);
  return bytes;
}

const hotp = loadVectors<{ secret_hex: string; vectors: Array<{ counter: number; counter_bytes: string; hmac_sha1: string }> }>(
  'hotp.json',
);

t.test('RFC 4226 Appendix D intermediate HMAC-SHA-1 values', async (t) => {
  const h = createHmac('sha1', hexToBytes(hotp.secret_hex));
  t.equal(h.outputBytes, 20);
  for (const v of hotp.vectors) {
    t.equal(bytesToHex(h.mac(hexToBytes(v.counter_bytes))), v.hmac_sha1);
    t.equal(wordsHex(h.macCounter(0, v.counter)), v.hmac_sha1, `macCounter(0, ${v.counter})`);
  }
});

t.test('macCounter, two compressions from the precomputed states, agrees with node:crypto', async (t) => {
  // Keys of 0..200 bytes (longer than the 64-byte block too) and any 64-bit counter.
  const property = (hash: HashName) =>
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      (key, high, low) =>
        wordsHex(createHmac(hash, key).macCounter(high, low)) === nodeHmac(hash, key).update(counter(high, low)).digest('hex'),
    );
  fc.assert(property('sha1'), { numRuns: 1000 });
  fc.assert(property('sha256'), { numRuns: 300 });
  fc.assert(property('sha512'), { numRuns: 100 });
  t.pass('1,000 sha1, 300 sha256 and 100 sha512 random keys and counters');
});

t.test('macCounter reuses its result array; keys and mac() calls do not disturb each other', async (t) => {
  for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
    const a = createHmac(hash, new Uint8Array(20).fill(1));
    const b = createHmac(hash, new Uint8Array(100).fill(2));
    const first = a.macCounter(0, 1);
    const firstHex = wordsHex(first);
    t.equal(a.macCounter(0, 2), first, `${hash}: the same array comes back`);
    t.not(wordsHex(first), firstHex, `${hash}: overwritten by the next call`);
    const bHex = wordsHex(b.macCounter(7, 8));
    a.mac(new Uint8Array(150));
    t.equal(wordsHex(a.macCounter(0, 1)), firstHex, `${hash}: b's calls and a long mac() leave a's states and the shared blocks intact`);
    t.equal(wordsHex(b.macCounter(7, 8)), bHex);
    t.equal(bytesToHex(b.mac(counter(7, 8))), bHex, `${hash}: mac() of the 8 bytes is macCounter`);
  }
});

t.test('macCounter takes unsigned 32-bit halves', async (t) => {
  const h = createHmac('sha1', new Uint8Array(20));
  for (const [high, low] of [
    [-1, 0],
    [0, 2 ** 32],
    [0.5, 0],
    [0, NaN],
  ] as const) {
    t.throws(() => h.macCounter(high, low), { code: 'ERR_ARGUMENT', message: /high and low must be unsigned 32-bit integers/ });
  }
  t.throws(() => createHmac('sha512', new Uint8Array(1)).macCounter(0, -1), { code: 'ERR_ARGUMENT' });
  t.throws(() => h.mac('m' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /message must be a Uint8Array/ });
});

t.test('agrees with node:crypto for every hash, any key length (incl. longer than a block)', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom<HashName>('sha1', 'sha256', 'sha512'),
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.uint8Array({ maxLength: 150 }), { minLength: 1, maxLength: 3 }),
      (hash, key, messages) => {
        const keyed = createHmac(hash, key);
        // the precomputed state must not be disturbed by earlier messages
        return messages.every((m) => bytesToHex(keyed.mac(m)) === nodeHmac(hash, key).update(m).digest('hex'));
      },
    ),
    { numRuns: 150 },
  );
  t.pass('150 random cases');
});

t.test('rejects unknown hashes and non-byte keys', async (t) => {
  t.throws(() => createHmac('md5' as HashName, new Uint8Array(1)), {
    code: 'ERR_ARGUMENT',
    message: /hash must be sha1, sha256 or sha512/,
  });
  t.throws(() => createHmac('toString' as HashName, new Uint8Array(1)), { code: 'ERR_ARGUMENT' });
  t.throws(() => createHmac('sha1', 'k' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /key must be a Uint8Array/ });
});
