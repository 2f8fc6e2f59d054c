/**
 * A PSKC Counter above 2^53 − 1 (RFC 6030: a 64-bit unsigned integer), such as the encrypted
 * 16887061004979670 of a real multiOTP export: read and written exactly up to 2^63 − 1, refused
 * above, plain, encrypted by node:crypto and, where Debian's python3-pskc is installed, by it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { MAX_MOVING_FACTOR } from '@kodeviser/shared';
import { parsePskc, writePskc } from '@kodeviser/shared/pskc';
import { nodeContainer } from './pskc-fixtures.js';

const MULTIOTP_COUNTER = 16887061004979670n;
const LIMIT = 'is above the limit 9223372036854775807 (2^63 − 1)';
const secret = Buffer.from('12345678901234567890');

/** The counter's unsigned big-endian bytes, as python-pskc and multiOTP encrypt it. */
const counterBytes = (c: bigint): Buffer => {
  const hex = c.toString(16);
  return Buffer.from(hex.padStart(hex.length + (hex.length % 2), '0'), 'hex');
};

t.test('the writer writes a bigint counter exactly and the reader gives it back as one', async (t) => {
  for (const counter of [MULTIOTP_COUNTER, 2n ** 53n, MAX_MOVING_FACTOR]) {
    for (const preSharedKey of [undefined, new Uint8Array(16).fill(9)]) {
      const xml = writePskc([{ id: 'k', profile: 'hotp-sha1', secret, counter }], preSharedKey ? { preSharedKey } : {});
      t.match(xml, `<pskc:Counter><pskc:PlainValue>${counter}</pskc:PlainValue></pskc:Counter>`);
      const [key] = parsePskc(xml, preSharedKey ? { preSharedKey } : {});
      t.equal(key!.counter, counter, `${counter}${preSharedKey ? ', secret encrypted' : ''}`);
    }
  }
  const [safe] = parsePskc(writePskc([{ id: 'k', profile: 'hotp-sha1', secret, counter: Number.MAX_SAFE_INTEGER }]));
  t.equal(safe!.counter, Number.MAX_SAFE_INTEGER, 'up to 2^53 − 1 a number, as before');
});

t.test('an encrypted Counter of up to 8 bytes: exact up to 2^63 − 1, refused above naming the limit', async (t) => {
  const key = randomBytes(16);
  const read = (c: bigint) => parsePskc(nodeContainer({ key, secret, encrypted: { Counter: counterBytes(c) } }), { preSharedKey: key });
  t.equal(read(MULTIOTP_COUNTER)[0]!.counter, MULTIOTP_COUNTER, "multiOTP's counter, 7 bytes");
  t.equal(read(2n ** 53n + 1n)[0]!.counter, 2n ** 53n + 1n, 'the first integer a double cannot hold');
  t.equal(read(MAX_MOVING_FACTOR)[0]!.counter, MAX_MOVING_FACTOR);
  t.equal(read(2n ** 53n - 1n)[0]!.counter, Number.MAX_SAFE_INTEGER);
  for (const c of [2n ** 63n, 2n ** 64n - 1n]) {
    t.throws(() => read(c), { code: 'ERR_PSKC', message: `key "n1": Counter ${c} ${LIMIT}` }, String(c));
  }
});

t.test('a plain Counter up to 2^63 − 1', async (t) => {
  const plain = (text: string): string =>
    writePskc([{ id: 'k', profile: 'hotp-sha1', secret, counter: 0 }]).replace(
      '<pskc:Counter><pskc:PlainValue>0</pskc:PlainValue>',
      `<pskc:Counter><pskc:PlainValue>${text}</pskc:PlainValue>`,
    );
  t.equal(parsePskc(plain('16887061004979670'))[0]!.counter, MULTIOTP_COUNTER);
  t.equal(parsePskc(plain(' +9223372036854775807 '))[0]!.counter, MAX_MOVING_FACTOR);
  t.equal(parsePskc(plain('-0'))[0]!.counter, 0);
  t.throws(() => parsePskc(plain('9223372036854775808')), { code: 'ERR_PSKC', message: `key "k": Counter 9223372036854775808 ${LIMIT}` });
  t.throws(() => parsePskc(plain('18446744073709551615')), { code: 'ERR_PSKC', message: `key "k": Counter 18446744073709551615 ${LIMIT}` });
});

const python = '/usr/bin/python3';
const hasPythonPskc = ((): boolean => {
  try {
    execFileSync(python, ['-c', 'import pskc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test(
  'python3-pskc writes the counter encrypted; kodeviser reads it exactly',
  { skip: hasPythonPskc ? false : 'python3-pskc is not installed (apt-get install python3-pskc)' },
  async (t) => {
    const key = randomBytes(16);
    const write = (counter: bigint): string =>
      execFileSync(
        python,
        [
          '-c',
          `import pskc, sys
p = pskc.PSKC()
p.encryption.setup_preshared_key(key=bytes.fromhex(sys.argv[1]), key_name='Pre-shared-key', fields=['secret', 'counter'])
p.add_key(id='1234567897', serial='1234567897', secret=b'12345678901234567890', counter=int(sys.argv[2]),
          algorithm='urn:ietf:params:xml:ns:keyprov:pskc:hotp', response_length=6)
p.write(sys.stdout.buffer)`,
          key.toString('hex'),
          String(counter),
        ],
        { encoding: 'utf8' },
      );
    const xml = write(MULTIOTP_COUNTER);
    t.notMatch(xml, String(MULTIOTP_COUNTER), 'the counter is not in the clear');
    t.match(xml, /<pskc:Counter>\s*<pskc:EncryptedValue>/);
    t.equal(parsePskc(xml, { preSharedKey: key })[0]!.counter, MULTIOTP_COUNTER);
    t.throws(() => parsePskc(write(2n ** 64n - 1n), { preSharedKey: key }), {
      code: 'ERR_PSKC',
      message: `key "1234567897": Counter 18446744073709551615 ${LIMIT}`,
    });
  },
);
