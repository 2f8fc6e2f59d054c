import { createHmac as nodeHmac } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, createHmac, hexToBytes, type HashName } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

const hotp = loadVectors<{ secret_hex: string; vectors: Array<{ counter_bytes: string; hmac_sha1: string }> }>('hotp.json');

t.test('RFC 4226 Appendix D intermediate HMAC-SHA-1 values', async (t) => {
  const h = createHmac('sha1', hexToBytes(hotp.secret_hex));
  t.equal(h.outputBytes, 20);
  for (const v of hotp.vectors) t.equal(bytesToHex(h.mac(hexToBytes(v.counter_bytes))), v.hmac_sha1);
});

t.test('agrees with node:crypto for every hash, any key length (incl. longer than a block)', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom<HashName>('sha1', 'sha256', 'sha512'), fc.uint8Array({ maxLength: 200 }), fc.array(fc.uint8Array({ maxLength: 150 }), { minLength: 1, maxLength: 3 }),
      (hash, key, messages) => {
        const keyed = createHmac(hash, key);
        // the precomputed state must not be disturbed by earlier messages
        return messages.every((m) => bytesToHex(keyed.mac(m)) === nodeHmac(hash, key).update(m).digest('hex'));
      }),
    { numRuns: 150 },
  );
  t.pass('150 random cases');
});

t.test('rejects unknown hashes and non-byte keys', async (t) => {
  t.throws(() => createHmac('md5' as HashName, new Uint8Array(1)), { code: 'ERR_ARGUMENT', message: /hash must be sha1, sha256 or sha512/ });
  t.throws(() => createHmac('toString' as HashName, new Uint8Array(1)), { code: 'ERR_ARGUMENT' });
  t.throws(() => createHmac('sha1', 'k' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /key must be a Uint8Array/ });
});
