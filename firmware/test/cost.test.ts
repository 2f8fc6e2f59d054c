// The MCU cost model (cost.ts): how many cycles a code takes, by primitive.
import t from 'tap';
import type { Primitive } from '@kodeviser/shared';
import { cyclesPerCode } from '@kodeviser/firmware';

t.test('cyclesPerCode: the cost model orders the primitives as the hardware does', async (t) => {
  t.equal(cyclesPerCode('aes128'), 2_700, 'one AES-128 block (≈2,100) plus truncation');
  t.ok(cyclesPerCode('aes128') < cyclesPerCode('aes192') && cyclesPerCode('aes192') < cyclesPerCode('aes256'), 'more rounds, more cycles');
  t.ok(cyclesPerCode('aes256') < cyclesPerCode('tdes'), 'three DES cost more than one AES');
  t.ok(cyclesPerCode('sha1') < cyclesPerCode('sha256') && cyclesPerCode('sha256') < cyclesPerCode('sha512'));
  t.throws(() => cyclesPerCode('md5' as Primitive), { code: 'ERR_ARGUMENT', message: /primitive/ });
});
