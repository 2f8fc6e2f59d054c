import { createHash } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex } from '@kodeviser/shared';
import { sha512 } from '../src/sha512.js';
import { loadVectors } from './vectors.js';

const fips = loadVectors<{ vectors: Array<{ message_ascii: string; repeat: number; sha512?: string }> }>('sha.json');

t.test('FIPS 180-2 Appendix C: one block, two blocks, a million "a"', async (t) => {
  const listed = fips.vectors.filter((v) => v.sha512 !== undefined);
  t.equal(listed.length, 3);
  for (const v of listed) {
    t.equal(
      bytesToHex(sha512(new TextEncoder().encode(v.message_ascii.repeat(v.repeat)))),
      v.sha512,
      `${v.message_ascii.slice(0, 8)} x${v.repeat}`,
    );
  }
});

t.test('agrees with node:crypto for messages of 0..300 bytes (the tail ≥ 112 case takes a second block)', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      (message) => bytesToHex(sha512(message)) === createHash('sha512').update(message).digest('hex'),
    ),
    { numRuns: 500 },
  );
  t.pass('500 random messages');
});
