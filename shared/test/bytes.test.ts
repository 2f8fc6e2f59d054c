import t from 'tap';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  constantTimeEqual,
  hexToBytes,
  isKodeviserError,
  KodeviserError,
  requireBytes,
} from '@kodeviser/shared';

t.test('hex round trip and strict parsing that names the argument', async (t) => {
  t.same(hexToBytes('00ff10Ab'), new Uint8Array([0, 255, 16, 171]));
  t.equal(bytesToHex(new Uint8Array([0, 255, 16, 171])), '00ff10ab');
  t.same(hexToBytes(''), new Uint8Array(0));
  t.throws(() => hexToBytes('abc', 'key'), { code: 'ERR_ARGUMENT', message: /^key must be an even number of hex digits/ });
  t.throws(() => hexToBytes('zz'), { code: 'ERR_ARGUMENT', message: /^hex must be/ });
  t.throws(() => hexToBytes(12 as unknown as string, 'secret'), { code: 'ERR_ARGUMENT', message: /^secret must be a hex string/ });
});

t.test('constantTimeEqual over strings, bytes and a mix', async (t) => {
  t.ok(constantTimeEqual('123456', '123456'));
  t.notOk(constantTimeEqual('123456', '123457'));
  t.notOk(constantTimeEqual('12345', '123456'), 'different lengths');
  t.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  t.notOk(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  t.ok(constantTimeEqual('AB', new Uint8Array([65, 66])));
  t.ok(constantTimeEqual(new Uint8Array([65, 66]), 'AB'));
  t.notOk(constantTimeEqual(new Uint8Array([65, 67]), 'AB'));
});

t.test('requireBytes and KodeviserError', async (t) => {
  const b = new Uint8Array(1);
  t.equal(requireBytes(b, 'x'), b);
  t.throws(() => requireBytes([1], 'opts.key'), { code: 'ERR_ARGUMENT', message: 'opts.key must be a Uint8Array' });
  const e = new KodeviserError('ERR_SERIAL', 'serial is wrong');
  t.ok(isKodeviserError(e));
  t.notOk(isKodeviserError(new Error('x')));
  t.equal(e.name, 'KodeviserError');
  t.ok(e instanceof Error);
});

t.test('base64: RFC 4648 test vectors, strict parsing that names the argument and takes the error code', async (t) => {
  // RFC 4648 §10
  const vectors = ['', 'Zg==', 'Zm8=', 'Zm9v', 'Zm9vYg==', 'Zm9vYmE=', 'Zm9vYmFy'];
  vectors.forEach((b64, i) => {
    const bytes = base64ToBytes(b64);
    t.equal(new TextDecoder().decode(bytes), 'foobar'.slice(0, i));
    t.equal(bytesToBase64(bytes), b64);
    t.same(Buffer.from(bytes), Buffer.from(b64, 'base64'), 'node:buffer agrees');
  });
  t.throws(() => base64ToBytes('Zm9v!', 'nvm'), { code: 'ERR_ARGUMENT', message: /^nvm is not valid base64: .*alphabet/ });
  t.throws(() => base64ToBytes('Zm9vY', 'nvm'), { message: /truncated/ });
  t.throws(() => base64ToBytes('Zh==', 'nvm'), { message: /non-zero padding bits/ }, 'Buffer would read it as "f"');
  t.throws(() => base64ToBytes('Zg==\n', 'x', 'ERR_PSKC'), { code: 'ERR_PSKC' }, "whitespace is the caller's to strip");
  t.throws(() => base64ToBytes(42 as unknown as string, 'nvm'), { message: /not a string/ });
});
