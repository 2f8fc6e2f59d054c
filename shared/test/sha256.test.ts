import { createHash } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex } from '@kodeviser/shared';
import { sha256 } from '../src/sha256.js';
import { loadVectors } from './vectors.js';

const fips = loadVectors<{ vectors: Array<{ message_ascii: string; repeat: number; sha256?: string }> }>('sha.json');

t.test('FIPS 180-2 Appendix B: one block, two blocks, a million "a"', async (t) => {
  const listed = fips.vectors.filter((v) => v.sha256 !== undefined);
  t.equal(listed.length, 3);
  for (const v of listed) {
    t.equal(bytesToHex(sha256(new TextEncoder().encode(v.message_ascii.repeat(v.repeat)))), v.sha256, `${v.message_ascii} x${v.repeat}`);
  }
});

t.test('agrees with node:crypto for messages of 0..300 bytes', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      (message) => bytesToHex(sha256(message)) === createHash('sha256').update(message).digest('hex'),
    ),
    { numRuns: 500 },
  );
  t.pass('500 random messages');
});
