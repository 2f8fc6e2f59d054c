import fc from 'fast-check';
import t from 'tap';
import { formatSerial, isValidSerial, luhnCheckDigit, makeSerial, parseSerial } from '@kodeviser/shared';

t.test('Luhn check digits of known numbers', async (t) => {
  t.equal(luhnCheckDigit('7992739871'), 3, 'the classic 79927398713');
  t.equal(luhnCheckDigit('123456789'), 7);
  t.equal(luhnCheckDigit('0'), 0);
  t.throws(() => luhnCheckDigit(''), { code: 'ERR_SERIAL', message: /digits/ });
  t.throws(() => luhnCheckDigit('12a'), { code: 'ERR_SERIAL' });
});

t.test('make, format and parse serials', async (t) => {
  t.equal(makeSerial('123456789'), '1234567897');
  t.equal(formatSerial('1234567897'), '12-3456789-7');
  t.equal(formatSerial('12-3456789-7'), '12-3456789-7');
  t.equal(parseSerial('12-3456789-7'), '1234567897');
  t.equal(parseSerial(' 1234567897\n'), '1234567897');
  t.throws(() => makeSerial('12345678'), { code: 'ERR_SERIAL', message: /body9/ });
  t.throws(() => parseSerial('1234567898'), { code: 'ERR_SERIAL', message: /check digit/ });
  t.throws(() => parseSerial('12-345678-97'), { code: 'ERR_SERIAL', message: /10 digits/ });
  t.throws(() => parseSerial(1234567897 as unknown as string), { code: 'ERR_SERIAL', message: /string/ });
  t.ok(isValidSerial('12-3456789-7'));
  t.notOk(isValidSerial('12-3456789-8'));
});

t.test('every single-digit typo is caught, every made serial round-trips', async (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9]{9}$/), fc.nat(9), fc.integer({ min: 1, max: 9 }), (body, pos, delta) => {
      const serial = makeSerial(body);
      const typo = serial.slice(0, pos) + String((Number(serial[pos]) + delta) % 10) + serial.slice(pos + 1);
      return parseSerial(formatSerial(serial)) === serial && !isValidSerial(typo);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random cases');
});
