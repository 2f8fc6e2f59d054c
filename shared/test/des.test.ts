import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, createDes, createTdea, hexToBytes } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

interface DesVector {
  group: string;
  label: string;
  key: string;
  plaintext: string;
  ciphertext: string;
}
const { des, tdea } = loadVectors<{ des: DesVector[]; tdea: DesVector[] }>('des.json');

t.test('DES known-answer tests (FIPS 81, SP 800-17/800-20 tables, Grabbe)', async (t) => {
  t.equal(des.length, 240);
  let ok = 0;
  for (const v of des) {
    const cipher = createDes(hexToBytes(v.key));
    const block = hexToBytes(v.plaintext);
    cipher.encryptBlock(block);
    const enc = bytesToHex(block);
    cipher.decryptBlock(block);
    if (enc === v.ciphertext && bytesToHex(block) === v.plaintext) ok++;
    else t.fail(`${v.group} ${v.label}: got ${enc}`);
  }
  t.equal(ok, des.length, 'every DES vector encrypts and decrypts');
});

t.test('TDEA 3-key ECB example of SP 800-67', async (t) => {
  for (const v of tdea) {
    const cipher = createTdea(hexToBytes(v.key));
    const block = hexToBytes(v.plaintext);
    cipher.encryptBlock(block);
    t.equal(bytesToHex(block), v.ciphertext, `${v.label} encrypt`);
    cipher.decryptBlock(block);
    t.equal(bytesToHex(block), v.plaintext, `${v.label} decrypt`);
  }
});

t.test('TDEA agrees with node:crypto des-ede3 / des-ede for random 2- and 3-key keys', async (t) => {
  fc.assert(
    fc.property(
      fc
        .constantFrom(16, 24)
        .chain((n) => fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: 8, maxLength: 8 }))),
      ([key, plain]) => {
        const name = key.length === 24 ? 'des-ede3' : 'des-ede';
        const c = createCipheriv(name, key, null).setAutoPadding(false);
        const expected = Buffer.concat([c.update(plain), c.final()]).toString('hex');
        let cipher;
        try {
          cipher = createTdea(key);
        } catch {
          return true; // K1 = K2 or K2 = K3 up to parity: rejected on purpose (checked below)
        }
        const block = plain.slice();
        cipher.encryptBlock(block);
        const enc = bytesToHex(block);
        cipher.decryptBlock(block);
        return enc === expected && bytesToHex(block) === bytesToHex(plain);
      },
    ),
    { numRuns: 100 },
  );
  t.pass('100 random cases');
});

t.test('rejects bad keys and blocks', async (t) => {
  t.throws(() => createDes(new Uint8Array(7)), { code: 'ERR_KEY_LENGTH', message: /key must be 8 bytes for DES/ });
  t.throws(() => createTdea(new Uint8Array(8)), { code: 'ERR_KEY_LENGTH', message: /key must be 16 or 24 bytes for TDEA/ });
  t.throws(() => createDes(new Uint8Array(8)).encryptBlock(new Uint8Array(16)), { code: 'ERR_ARGUMENT', message: /block/ });
  t.throws(() => createTdea(hexToBytes('0123456789abcdeffedcba9876543210')).decryptBlock(new Uint8Array(7)), {
    code: 'ERR_ARGUMENT',
    message: /block/,
  });
  // K1 = K2 (parity bits differ only): E_K1 ∘ D_K1 cancels, leaving single DES.
  t.throws(() => createTdea(hexToBytes('0123456789abcdef0023446688aaccee')), { code: 'ERR_ARGUMENT', message: /K1 ≠ K2/ });
  t.throws(() => createTdea(hexToBytes('0123456789abcdef23456789abcdef0123456789abcdef01')), { code: 'ERR_ARGUMENT', message: /K2 ≠ K3/ });
});
