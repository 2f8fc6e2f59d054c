import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, createAes, hexToBytes } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

interface AesVector {
  label: string;
  key: string;
  plaintext: string;
  ciphertext: string;
}
const { vectors } = loadVectors<{ vectors: AesVector[] }>('aes.json');

t.test('FIPS 197 vectors encrypt and decrypt', async (t) => {
  t.ok(vectors.length >= 3);
  for (const v of vectors) {
    const aes = createAes(hexToBytes(v.key));
    const block = hexToBytes(v.plaintext);
    aes.encryptBlock(block);
    t.equal(bytesToHex(block), v.ciphertext, `${v.label} encrypt`);
    aes.decryptBlock(block);
    t.equal(bytesToHex(block), v.plaintext, `${v.label} decrypt`);
  }
});

t.test('agrees with node:crypto AES-ECB for random keys and blocks', async (t) => {
  fc.assert(
    fc.property(
      fc
        .constantFrom(16, 24, 32)
        .chain((n) => fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: 16, maxLength: 16 }))),
      ([key, plain]) => {
        const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
        const expected = Buffer.concat([c.update(plain), c.final()]);
        const block = plain.slice();
        createAes(key).encryptBlock(block);
        return bytesToHex(block) === expected.toString('hex');
      },
    ),
    { numRuns: 100 },
  );
  t.pass('100 random cases');
});

t.test('works on a block that is not 4-byte aligned', async (t) => {
  const v = vectors[0] as AesVector;
  const buffer = new Uint8Array(17);
  const block = buffer.subarray(1);
  block.set(hexToBytes(v.plaintext));
  const aes = createAes(hexToBytes(v.key));
  aes.encryptBlock(block);
  t.equal(bytesToHex(block), v.ciphertext);
  aes.decryptBlock(block);
  t.equal(bytesToHex(block), v.plaintext);
});

t.test('rejects bad keys and blocks with coded errors naming the argument', async (t) => {
  t.throws(() => createAes(new Uint8Array(15)), { code: 'ERR_KEY_LENGTH', message: /key must be 16, 24 or 32 bytes/ });
  t.throws(() => createAes('00' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /key must be a Uint8Array/ });
  t.throws(() => createAes(new Uint8Array(16)).encryptBlock(new Uint8Array(8)), {
    code: 'ERR_ARGUMENT',
    message: /block must be a Uint8Array of 16 bytes/,
  });
});
