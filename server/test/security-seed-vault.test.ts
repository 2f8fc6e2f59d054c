// Seeds at rest: AES-256-GCM under the master key with the serial as associated data.
import { createCipheriv } from 'node:crypto';
import t from 'tap';
import { gcm } from '@noble/ciphers/aes.js';
import { bytesToHex, hexToBytes } from '@kodeviser/shared';
import { createSeedVault } from '../src/security/seed-vault.js';

const masterKey = hexToBytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const seed = new TextEncoder().encode('12345678901234567890');

t.test('a sealed seed opens under the same key and serial, and hides the seed', async (t) => {
  const vault = createSeedVault({ masterKey });
  const sealed = vault.seal('1000000008', seed);
  t.equal(sealed.nonce.length, 12);
  t.equal(sealed.ciphertext.length, seed.length + 16, 'ciphertext plus a 128-bit tag');
  t.equal(sealed.keyVersion, 1);
  t.notOk(bytesToHex(sealed.ciphertext).includes(bytesToHex(seed.subarray(0, 4))), 'no plaintext bytes');
  t.same(vault.open('1000000008', sealed), seed);
  t.same(
    vault.open('1000000008', {
      ...sealed,
      ciphertext: gcm(masterKey, sealed.nonce, new TextEncoder().encode('kodeviser-seed:v1:1000000008')).encrypt(seed),
    }),
    seed,
    'and opens what noble seals',
  );
  // It is standard GCM with the documented AAD, so another implementation can open it.
  t.same(gcm(masterKey, sealed.nonce, new TextEncoder().encode('kodeviser-seed:v1:1000000008')).decrypt(sealed.ciphertext), seed);
});

t.test('every record gets a fresh random nonce', async (t) => {
  const vault = createSeedVault({ masterKey });
  const a = vault.seal('1000000008', seed);
  const b = vault.seal('1000000008', seed);
  t.not(bytesToHex(a.nonce), bytesToHex(b.nonce));
  t.not(bytesToHex(a.ciphertext), bytesToHex(b.ciphertext));
  const fixed = createSeedVault({ masterKey, randomBytes: (n) => new Uint8Array(n).fill(7) });
  t.same(fixed.seal('1000000008', seed).nonce, new Uint8Array(12).fill(7), 'the injected source is used');
});

t.test('a seed does not open without the master key, under another serial, or altered', async (t) => {
  const vault = createSeedVault({ masterKey });
  const sealed = vault.seal('1000000008', seed);
  const otherKey = createSeedVault({ masterKey: masterKey.map((b) => b ^ 0xff) });
  t.throws(() => otherKey.open('1000000008', sealed), { code: 'ERR_SEED', message: /1000000008/ });
  t.throws(() => vault.open('1000000016', sealed), { code: 'ERR_SEED' }, 'moved to another serial');
  const flipped = { ...sealed, ciphertext: sealed.ciphertext.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  t.throws(() => vault.open('1000000008', flipped), { code: 'ERR_SEED' }, 'tampered');
  const v2 = createSeedVault({ masterKey, keyVersion: 2 });
  t.throws(() => v2.open('1000000008', sealed), { code: 'ERR_SEED', message: /version 1/ }, 'sealed under another key version');
  t.throws(
    () => vault.open('1000000008', { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 15) }),
    { code: 'ERR_SEED' },
    'shorter than a tag',
  );
  t.throws(
    () => vault.open('1000000008', { ...sealed, nonce: sealed.nonce.subarray(0, 8) }),
    { code: 'ERR_SEED' },
    'a nonce of the wrong size',
  );
});

t.test('arguments are checked', async (t) => {
  t.throws(() => createSeedVault({ masterKey: new Uint8Array(16) }), { code: 'ERR_KEY_LENGTH', message: /masterKey/ });
  t.throws(() => createSeedVault({ masterKey: 'x' as unknown as Uint8Array }), { code: 'ERR_ARGUMENT', message: /masterKey/ });
  t.throws(() => createSeedVault({ masterKey, keyVersion: 0 }), { code: 'ERR_ARGUMENT', message: /keyVersion/ });
  t.throws(() => createSeedVault({ masterKey }).seal('1000000008', 'seed' as unknown as Uint8Array), { message: /seed/ });
});

t.test('the vault keeps its own copy of the master key', async (t) => {
  const key = Uint8Array.from(masterKey);
  const vault = createSeedVault({ masterKey: key });
  const sealed = vault.seal('1000000008', seed);
  key.fill(0);
  t.same(vault.open('1000000008', sealed), seed);
});

t.test('records are AES-256-GCM as node:crypto makes them, for ASCII serials and any other', async (t) => {
  const vault = createSeedVault({ masterKey });
  for (const serial of ['1000000008', '10-0000000-8', 'sérial-ü', '']) {
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + serial.length);
    const c = createCipheriv('aes-256-gcm', masterKey, nonce).setAAD(new TextEncoder().encode(`kodeviser-seed:v1:${serial}`));
    const ciphertext = new Uint8Array(Buffer.concat([c.update(seed), c.final(), c.getAuthTag()]));
    t.same(vault.open(serial, { ciphertext, nonce, keyVersion: 1 }), seed, `opens node's record for ${JSON.stringify(serial)}`);
    const fixed = createSeedVault({ masterKey, randomBytes: () => nonce });
    t.same(fixed.seal(serial, seed).ciphertext, ciphertext, `seals the same record for ${JSON.stringify(serial)}`);
  }
});
