import { createCipheriv, createDecipheriv } from 'node:crypto';
import { gcm as nobleGcm } from '@noble/ciphers/aes.js';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, createAesEncryptWords, createAesGcm, createGcm, hexToBytes, type AesGcm } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

interface GcmVector {
  label: string;
  key: string;
  iv: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}
const { vectors } = loadVectors<{ vectors: GcmVector[] }>('gcm.json');

/** AES-ECB from node:crypto as the block cipher, as the server plugs it in. */
function opensslGcm(key: Uint8Array): AesGcm {
  const ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return createGcm((blocks) => ecb.update(blocks));
}
const builds: Array<[string, (key: Uint8Array) => AesGcm]> = [
  ['noble AES', createAesGcm],
  ['OpenSSL AES', opensslGcm],
];

t.test('the GCM specification test cases seal and open', async (t) => {
  t.ok(vectors.length >= 6);
  for (const [name, build] of builds) {
    for (const v of vectors) {
      const g = build(hexToBytes(v.key));
      const sealed = g.seal(hexToBytes(v.iv), hexToBytes(v.plaintext), hexToBytes(v.aad));
      t.equal(bytesToHex(sealed), v.ciphertext + v.tag, `${name}: ${v.label} seal`);
      const opened = g.open(hexToBytes(v.iv), hexToBytes(v.ciphertext + v.tag), hexToBytes(v.aad));
      t.equal(opened === null ? null : bytesToHex(opened), v.plaintext, `${name}: ${v.label} open`);
    }
  }
});

const cases = fc.record({
  key: fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  aad: fc.uint8Array({ maxLength: 70 }),
  plaintext: fc.uint8Array({ maxLength: 200 }),
});

t.test('agrees with node:crypto and @noble/ciphers for random keys, nonces, AAD and messages', async (t) => {
  for (const [name, build] of builds) {
    fc.assert(
      fc.property(cases, ({ key, nonce, aad, plaintext }) => {
        const c = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce).setAAD(aad);
        const expected = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]).toString('hex');
        const g = build(key);
        const sealed = g.seal(nonce, plaintext, aad);
        if (bytesToHex(sealed) !== expected) return false;
        if (bytesToHex(nobleGcm(key, nonce, aad).decrypt(sealed)) !== bytesToHex(plaintext)) return false;
        const opened = g.open(nonce, nobleGcm(key, nonce, aad).encrypt(plaintext), aad);
        if (opened === null || bytesToHex(opened) !== bytesToHex(plaintext)) return false;
        const d = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, nonce).setAAD(aad);
        d.setAuthTag(sealed.subarray(sealed.length - 16));
        return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]).toString('hex') === bytesToHex(plaintext);
      }),
      { numRuns: 150 },
    );
    t.pass(`${name}: 150 random cases`);
  }
});

t.test('one changed bit anywhere, or a short record, does not authenticate and yields no plaintext', async (t) => {
  for (const [name, build] of builds) {
    fc.assert(
      fc.property(
        cases,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        fc.constantFrom('sealed', 'aad', 'nonce'),
        ({ key, nonce, aad, plaintext }, at, bit, where) => {
          const g = build(key);
          const sealed = g.seal(nonce, plaintext, aad);
          const target = { sealed, aad, nonce }[where];
          if (target.length === 0) return g.open(nonce, sealed, aad) !== null;
          const i = at % target.length;
          const flipped = target.slice();
          flipped[i] = (flipped[i] as number) ^ (1 << bit);
          const args = { sealed, aad, nonce, [where]: flipped };
          return g.open(args.nonce, args.sealed, args.aad) === null;
        },
      ),
      { numRuns: 150 },
    );
    const g = build(new Uint8Array(32));
    t.equal(g.open(new Uint8Array(12), new Uint8Array(15)), null, `${name}: shorter than a tag`);
    t.equal(g.open(new Uint8Array(12), g.seal(new Uint8Array(12), new Uint8Array(5)), new Uint8Array(1)), null, `${name}: AAD added`);
    t.equal(
      build(new Uint8Array(32).fill(1)).open(new Uint8Array(12), g.seal(new Uint8Array(12), new Uint8Array(5))),
      null,
      `${name}: another key`,
    );
  }
});

t.test('messages longer than the counter buffer it starts with, and repeated use of one key', async (t) => {
  const key = hexToBytes('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
  const g = createAesGcm(key);
  for (const length of [0, 1, 15, 16, 17, 127, 128, 129, 1000, 4096, 17]) {
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => (i * 13 + length) & 0xff);
    const plaintext = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
    const sealed = g.seal(nonce, plaintext);
    t.equal(bytesToHex(sealed), bytesToHex(nobleGcm(key, nonce).encrypt(plaintext)), `${length} bytes`);
    t.same(g.open(nonce, sealed), plaintext, `${length} bytes back`);
  }
});

t.test('arguments are checked and named', async (t) => {
  const g = createAesGcm(new Uint8Array(16));
  t.throws(() => createAesGcm(new Uint8Array(20)), { code: 'ERR_KEY_LENGTH', message: /key must be 16, 24 or 32 bytes/ });
  t.throws(() => createAesGcm('key' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /key must be a Uint8Array/ });
  t.throws(() => g.seal(new Uint8Array(16), new Uint8Array(1)), { code: 'ERR_ARGUMENT', message: /nonce must be 12 bytes/ });
  t.throws(() => g.open(new Uint8Array(8), new Uint8Array(16)), { code: 'ERR_ARGUMENT', message: /nonce must be 12 bytes/ });
  t.throws(() => g.seal(new Uint8Array(12), [1, 2] as unknown as Uint8Array), {
    code: 'ERR_ARGUMENT',
    message: /plaintext must be a Uint8Array/,
  });
  t.throws(() => g.open(new Uint8Array(12), 'x' as unknown as Uint8Array), {
    code: 'ERR_ARGUMENT',
    message: /sealed must be a Uint8Array/,
  });
  t.throws(() => g.seal(new Uint8Array(12), new Uint8Array(1), 'aad' as unknown as Uint8Array), {
    code: 'ERR_ARGUMENT',
    message: /aad must be a Uint8Array/,
  });
  t.throws(() => createGcm('aes' as unknown as () => Uint8Array), { code: 'ERR_ARGUMENT', message: /encryptBlocks must be a function/ });
  t.throws(() => createGcm(() => new Uint8Array(8)), { code: 'ERR_ARGUMENT', message: /encryptBlocks must return one 16-byte block/ });
});

t.test('createAesEncryptWords: the FIPS 197 AES-256 example as little-endian words', async (t) => {
  const encrypt = createAesEncryptWords(hexToBytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'));
  const plain = hexToBytes('00112233445566778899aabbccddeeff');
  const le = (b: Uint8Array, i: number) =>
    (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24) | 0;
  const { s0, s1, s2, s3 } = encrypt(le(plain, 0), le(plain, 4), le(plain, 8), le(plain, 12));
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  [s0, s1, s2, s3].forEach((w, i) => view.setInt32(4 * i, w, true));
  t.equal(bytesToHex(out), '8ea2b7ca516745bfeafc49904b496089');
  t.throws(() => createAesEncryptWords(new Uint8Array(10)), { code: 'ERR_KEY_LENGTH' });
  t.throws(() => createAesEncryptWords(null as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /key must be a Uint8Array/ });
});
