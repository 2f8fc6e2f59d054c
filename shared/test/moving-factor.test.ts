/**
 * Moving factors up to 2^63 − 1 in their one representation: a number when safe, a bigint above.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  addToMovingFactor,
  isMovingFactor,
  MAX_MOVING_FACTOR,
  movingFactorDistance,
  movingFactorFromBigInt,
  movingFactorFromJson,
  movingFactorToJson,
  normalizeMovingFactor,
  parseMovingFactor,
  requireMovingFactor,
} from '@kodeviser/shared';

const SAFE = Number.MAX_SAFE_INTEGER;
const LIMIT = 'is above the limit 9223372036854775807 (2^63 − 1)';

t.test('the limit is the databases’ signed 64-bit integer', async (t) => {
  t.equal(MAX_MOVING_FACTOR, 2n ** 63n - 1n);
  t.equal(String(MAX_MOVING_FACTOR), '9223372036854775807');
});

t.test('one representation per value', async (t) => {
  for (const ok of [0, 1, SAFE, BigInt(SAFE) + 1n, 16887061004979670n, MAX_MOVING_FACTOR]) t.ok(isMovingFactor(ok), String(ok));
  for (const bad of [-1, 1.5, SAFE + 1, NaN, Infinity, 0n, 5n, BigInt(SAFE), MAX_MOVING_FACTOR + 1n, '5', null, undefined]) {
    t.notOk(isMovingFactor(bad), `${typeof bad} ${String(bad)}`);
  }
  t.equal(normalizeMovingFactor(5n), 5);
  t.equal(normalizeMovingFactor(-1n), -1);
  t.equal(normalizeMovingFactor(BigInt(SAFE)), SAFE);
  t.equal(normalizeMovingFactor(BigInt(SAFE) + 1n), 9007199254740992n);
  // equal values, equal representations: === and the comparisons work across the two
  t.ok(normalizeMovingFactor(16887061004979670n) === parseMovingFactor('16887061004979670', 'c'));
  t.ok((SAFE as number | bigint) < 9007199254740992n && 9007199254740992n > SAFE);
});

t.test('addToMovingFactor crosses 2^53 both ways in the right representation', async (t) => {
  t.equal(addToMovingFactor(-1, 1), 0);
  t.equal(addToMovingFactor(41, 1), 42);
  t.equal(addToMovingFactor(0, -1), -1);
  t.equal(addToMovingFactor(SAFE, 1), 9007199254740992n, 'leaves the safe range: a bigint, exactly');
  t.equal(addToMovingFactor(SAFE - 1, 10), 9007199254741000n);
  t.equal(addToMovingFactor(9007199254740992n, -1), SAFE, 'back into the safe range: a number');
  t.equal(addToMovingFactor(16887061004979670n, 1), 16887061004979671n);
  t.equal(addToMovingFactor(16887061004979670n, -1), 16887061004979669n);
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MAX_MOVING_FACTOR - 200n }), fc.integer({ min: -100, max: 100 }), (m, n) => {
      const sum = addToMovingFactor(normalizeMovingFactor(m), n);
      return BigInt(sum) === m + BigInt(n) && (typeof sum === 'number') === m + BigInt(n) <= BigInt(SAFE);
    }),
  );
  t.equal(movingFactorDistance(3, 10), 7);
  t.equal(movingFactorDistance(SAFE - 2, 9007199254740995n), 6);
  t.equal(movingFactorDistance(16887061004979670n, 16887061004979660n), -10);
});

t.test('parseMovingFactor: decimal digits up to 2^63 − 1, refusing more and naming the limit', async (t) => {
  t.equal(parseMovingFactor('0', 'counter'), 0);
  t.equal(parseMovingFactor('000123', 'counter'), 123);
  t.equal(parseMovingFactor('9007199254740991', 'counter'), SAFE);
  t.equal(parseMovingFactor('9007199254740993', 'counter'), 9007199254740993n);
  t.equal(parseMovingFactor('0016887061004979670', 'counter'), 16887061004979670n);
  t.equal(parseMovingFactor('9223372036854775807', 'counter'), MAX_MOVING_FACTOR);
  t.throws(() => parseMovingFactor('9223372036854775808', 'Counter'), {
    code: 'ERR_MOVING_FACTOR',
    message: `Counter 9223372036854775808 ${LIMIT}`,
  });
  t.throws(() => parseMovingFactor('18446744073709551615', 'Counter', 'ERR_PSKC'), {
    code: 'ERR_PSKC',
    message: `Counter 18446744073709551615 ${LIMIT}`,
  });
  t.throws(() => parseMovingFactor('9'.repeat(100), 'c'), { message: `c ${'9'.repeat(40)}… ${LIMIT}` }, 'a long number, shortened');
  for (const bad of ['', '-1', '+1', ' 1', '1.0', '1e3', '0x10', '１']) {
    t.throws(() => parseMovingFactor(bad, 'tokens[0].counter'), {
      code: 'ERR_MOVING_FACTOR',
      message: `tokens[0].counter must be decimal digits, got ${JSON.stringify(bad)}`,
    });
  }
});

t.test('movingFactorFromBigInt and requireMovingFactor name the argument and the limit', async (t) => {
  t.equal(movingFactorFromBigInt(7n, 'c'), 7);
  t.equal(movingFactorFromBigInt(MAX_MOVING_FACTOR, 'c'), MAX_MOVING_FACTOR);
  t.throws(() => movingFactorFromBigInt(-1n, 'c'), { code: 'ERR_MOVING_FACTOR', message: 'c must not be negative, got -1' });
  t.throws(() => movingFactorFromBigInt(2n ** 64n - 1n, 'key "a": Counter', 'ERR_PSKC'), {
    code: 'ERR_PSKC',
    message: `key "a": Counter 18446744073709551615 ${LIMIT}`,
  });
  t.equal(requireMovingFactor(16887061004979670n, 'c'), 16887061004979670n);
  t.throws(() => requireMovingFactor(2n ** 63n, 'keys[0].counter', 'ERR_ARGUMENT'), {
    code: 'ERR_ARGUMENT',
    message: `keys[0].counter 9223372036854775808 ${LIMIT}`,
  });
  const rule = 'must be an integer from 0 to 2^63 − 1 (a number up to 2^53 − 1, a bigint above)';
  t.throws(() => requireMovingFactor(2 ** 53, 'c'), { code: 'ERR_MOVING_FACTOR', message: `c ${rule}, got 9007199254740992` });
  t.throws(() => requireMovingFactor(3n, 'c'), { message: `c ${rule}, got 3n` }, 'a bigint in the safe range is not the representation');
  t.throws(() => requireMovingFactor('3', 'c'), { message: `c ${rule}, got "3"` });
});

t.test('JSON: a number up to 2^53 − 1, a decimal string above; read back from either', async (t) => {
  t.equal(movingFactorToJson(42), 42);
  t.equal(movingFactorToJson(16887061004979670n), '16887061004979670');
  t.equal(JSON.stringify({ m: movingFactorToJson(MAX_MOVING_FACTOR) }), '{"m":"9223372036854775807"}');
  t.equal(movingFactorFromJson(42, 'counter'), 42);
  t.equal(movingFactorFromJson('42', 'counter'), 42);
  t.equal(movingFactorFromJson('16887061004979670', 'counter'), 16887061004979670n);
  t.throws(() => movingFactorFromJson(16887061004979670, 'tokens[0].counter'), {
    code: 'ERR_MOVING_FACTOR',
    message: 'tokens[0].counter 16887061004979670 is above 2^53 − 1 and so not exact as a JSON number: give it as a decimal string',
  });
  t.throws(() => movingFactorFromJson('18446744073709551615', 'tokens[0].counter'), {
    message: `tokens[0].counter 18446744073709551615 ${LIMIT}`,
  });
  t.throws(() => movingFactorFromJson(-1, 'counter'), { code: 'ERR_MOVING_FACTOR', message: /^counter must be an integer from 0/ });
  t.throws(() => movingFactorFromJson(true, 'counter'), { code: 'ERR_MOVING_FACTOR', message: /got true$/ });
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MAX_MOVING_FACTOR }), (m) => {
      const json = JSON.parse(JSON.stringify(movingFactorToJson(normalizeMovingFactor(m)))) as unknown;
      return movingFactorFromJson(json, 'm') === normalizeMovingFactor(m);
    }),
  );
});
