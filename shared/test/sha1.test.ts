import { createHash } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex } from '@kodeviser/shared';
import { wordsToBytes } from '../src/md-padding.js';
import { sha1, SHA1_INITIAL_STATE, sha1Compress } from '../src/sha1.js';
import { loadVectors } from './vectors.js';

const fips = loadVectors<{ vectors: Array<{ message_ascii: string; repeat: number; sha1?: string }> }>('sha.json');
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

t.test('FIPS 180-2 Appendix A: one block, two blocks, a million "a"', async (t) => {
  const listed = fips.vectors.filter((v) => v.sha1 !== undefined);
  t.equal(listed.length, 3);
  for (const v of listed) t.equal(bytesToHex(sha1(ascii(v.message_ascii.repeat(v.repeat)))), v.sha1, `${v.message_ascii} x${v.repeat}`);
  t.equal(bytesToHex(sha1(new Uint8Array(0))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'the empty message');
});

t.test('agrees with node:crypto for messages of 0..300 bytes (every padding case: tail < 56, ≥ 56, whole blocks)', async (t) => {
  for (let n = 0; n <= 300; n++) {
    const message = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
    if (bytesToHex(sha1(message)) !== createHash('sha1').update(message).digest('hex')) t.fail(`length ${n}`);
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      (message) => bytesToHex(sha1(message)) === createHash('sha1').update(message).digest('hex'),
    ),
    { numRuns: 1000 },
  );
  t.pass('301 lengths and 1,000 random messages');
});

t.test('sha1Compress: one block from the initial state, only reading the block words', async (t) => {
  // "abc" padded: 0x61626380, zeros, bit length 24.
  const block = new Int32Array(16);
  block[0] = 0x61626380;
  block[15] = 24;
  const before = block.slice();
  const state = Int32Array.from(SHA1_INITIAL_STATE);
  sha1Compress(state, block);
  t.equal(bytesToHex(wordsToBytes(state, 5, new Uint8Array(20))), fips.vectors[0]?.sha1);
  t.same(block, before, 'the block array is not overwritten, so fixed padding words can stay in it');
  t.ok(Object.isFrozen(SHA1_INITIAL_STATE));
});
