/**
 * Bad input of every class gets a 4xx with a JSON `{error, message}` body naming the problem —
 * never a 500, never a stack trace — and the PSKC import (RFC 6030 figures 2 and 6 from
 * fixtures/, copied verbatim from the project's verified vectors) imports exactly what the
 * document holds, or nothing at all.
 */
import t from 'tap';
import type { Test } from 'tap';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOtp } from '@kodeviser/shared';
import { writePskc } from '@kodeviser/shared/pskc';
import type { LightMyRequestResponse } from 'fastify';
import { PSKC_KEY_HEX, admin, device, importDevices, newSerial, post, testApp } from './http-helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const figure2 = readFileSync(join(fixtures, 'rfc6030-figure2-basic.xml'), 'utf8');
const figure2Note = JSON.parse(readFileSync(join(fixtures, 'rfc6030-figure2-basic.json'), 'utf8')) as {
  key_id: string;
  expected_secret_hex: string;
};
const figure6 = readFileSync(join(fixtures, 'rfc6030-figure6-preshared-aes128cbc.xml'), 'utf8');
const figure6Note = JSON.parse(readFileSync(join(fixtures, 'rfc6030-figure6-preshared-aes128cbc.json'), 'utf8')) as {
  key_id: string;
  expected_secret_hex: string;
  pre_shared_key_hex: string;
  response_format: { length: number };
  secret_cipher_value_b64: string;
  value_mac_b64: string;
};

function isErrorBody(t: Test, res: LightMyRequestResponse, status: number, error: string | RegExp, message: RegExp | string, name: string) {
  t.equal(res.statusCode, status, `${name}: status`);
  t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`);
  const body = res.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['error', 'message'], `${name}: exactly {error, message}`);
  t.match(body.error, error, `${name}: error code`);
  t.match(body.message, message, `${name}: message names the problem`);
  t.notMatch(res.body, /at .*\.(ts|js):\d+|node_modules/, `${name}: no stack trace`);
}

const pskc = { ...admin, 'content-type': 'application/pskc+xml' };

t.test('every bad-input class is a 4xx JSON error naming the problem', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const good = { proofId: 'bm90LWEtcHJvb2YtYXQtYWxs', serial: d.serial, otp: '123456', password: 'long enough password' };
  const json = { 'content-type': 'application/json' };
  const cases: Array<[string, () => Promise<LightMyRequestResponse>, number, string | RegExp, RegExp | string]> = [
    [
      'missing field',
      () => post(app, '/v1/activate', { ...good, password: undefined }),
      400,
      'bad-request',
      "body must have required property 'password'",
    ],
    [
      'missing proof',
      () => post(app, '/v1/activate', { ...good, proofId: undefined }),
      400,
      'bad-request',
      "body must have required property 'proofId'",
    ],
    [
      'a user ID instead of a proof (the old activation)',
      () => post(app, '/v1/activate', { ...good, proofId: undefined, userId: 'alice' }),
      400,
      'bad-request',
      "body must have required property 'proofId'",
    ],
    [
      'a proof id that is no proof id',
      () => post(app, '/v1/activate', { ...good, proofId: 'a proof/with spaces' }),
      400,
      'bad-request',
      /body\/proofId must match pattern/,
    ],
    [
      'password reset without its new password',
      () => post(app, '/v1/users/self/password-reset', { proofId: good.proofId, otp: '123456' }),
      400,
      'bad-request',
      "body must have required property 'newPassword'",
    ],
    [
      'password change with a common new password',
      () =>
        post(app, '/v1/users/self/password', { userId: 'a', otp: '123456', oldPassword: 'long enough password', newPassword: 'iloveyou1' }),
      400,
      'weak-password',
      'the password is one of the most commonly used ones: choose another',
    ],
    [
      'password change with a short new password',
      () => post(app, '/v1/users/self/password', { userId: 'a', otp: '123456', oldPassword: 'x', newPassword: 'short' }),
      400,
      'bad-request',
      'body/newPassword must NOT have fewer than 8 characters',
    ],
    [
      'unknown field',
      () => post(app, '/v1/activate', { ...good, admin: true }),
      400,
      'bad-request',
      'body must NOT have additional properties',
    ],
    [
      'wrong type: otp as a number',
      () => post(app, '/v1/activate', { ...good, otp: 123456 }),
      400,
      'bad-request',
      'body/otp must be string',
    ],
    ['wrong type: body an array', () => post(app, '/v1/validate', [good], admin), 400, 'bad-request', 'body must be object'],
    [
      'code with letters',
      () => post(app, '/v1/authenticate', { userId: 'a', otp: '12345a', password: 'long enough password' }),
      400,
      'bad-request',
      /body\/otp must match pattern/,
    ],
    [
      'short password',
      () => post(app, '/v1/authenticate', { userId: 'a', otp: '123456', password: 'short' }),
      400,
      'bad-request',
      'body/password must NOT have fewer than 8 characters',
    ],
    [
      'unknown serial format',
      () => post(app, '/v1/activate', { ...good, serial: '12-345' }),
      400,
      'bad-request',
      /body\/serial must match pattern/,
    ],
    [
      'bad Luhn check digit',
      () => post(app, '/v1/activate', { ...good, serial: '12-3456789-0' }),
      400,
      'bad-serial',
      'serial fails its check digit: a digit was probably mistyped',
    ],
    [
      'bad Luhn on validate',
      () => post(app, '/v1/validate', { serial: '1234567890', otp: '123456' }, admin),
      400,
      'bad-serial',
      /check digit/,
    ],
    [
      'unknown profile',
      () => post(app, '/v1/tokens', { tokens: [{ serial: newSerial(), profile: 'hotp-md5', keyHex: '00' }] }, admin),
      400,
      'bad-request',
      /body\/tokens\/0\/profile must be equal to one of the allowed values/,
    ],
    [
      'odd-length key hex',
      () => post(app, '/v1/tokens', { tokens: [{ serial: newSerial(), profile: 'hotp-sha1', keyHex: 'abc' }] }, admin),
      400,
      'bad-request',
      /keyHex must match pattern/,
    ],
    [
      'empty import',
      () => post(app, '/v1/tokens', { tokens: [] }, admin),
      400,
      'bad-request',
      'body/tokens must NOT have fewer than 1 items',
    ],
    [
      'malformed JSON',
      () => app.inject({ method: 'POST', url: '/v1/activate', headers: json, payload: '{"proofId": "bm90", "otp": "12' }),
      400,
      'bad-request',
      'the body is not valid JSON',
    ],
    [
      'empty JSON body',
      () => app.inject({ method: 'POST', url: '/v1/activate', headers: json, payload: '' }),
      400,
      'bad-request',
      'the body is empty but Content-Type says JSON',
    ],
    [
      'prototype poisoning',
      () => app.inject({ method: 'POST', url: '/v1/activate', headers: json, payload: '{"__proto__": {"admin": true}}' }),
      400,
      'bad-request',
      'the body is not valid JSON',
    ],
    [
      'no body at all',
      () => app.inject({ method: 'POST', url: '/v1/validate', headers: admin }),
      400,
      'bad-request',
      'body must be object',
    ],
    [
      'text/plain',
      () => app.inject({ method: 'POST', url: '/v1/activate', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(good) }),
      415,
      'unsupported-media-type',
      'Unsupported Media Type',
    ],
    [
      'form-encoded',
      () =>
        app.inject({
          method: 'POST',
          url: '/v1/authenticate',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'userId=a&otp=123456',
        }),
      415,
      'unsupported-media-type',
      /Unsupported Media Type/,
    ],
    [
      'PSKC to a route other than import',
      () => app.inject({ method: 'POST', url: '/v1/validate', headers: pskc, payload: figure2 }),
      415,
      'unsupported-media-type',
      'application/pskc+xml is accepted by POST /v1/tokens only',
    ],
    [
      'JSON over 16 KiB',
      () => post(app, '/v1/authenticate', { userId: 'a', otp: '123456', password: 'x'.repeat(17 * 1024) }),
      413,
      'payload-too-large',
      'Request body is too large',
    ],
    [
      'PSKC over 1 MiB',
      () => app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: `${figure2}<!--${'x'.repeat(1024 * 1024)}-->` }),
      413,
      'payload-too-large',
      'Request body is too large',
    ],
    [
      'bad X-PSKC-Key header',
      () => app.inject({ method: 'POST', url: '/v1/tokens', headers: { ...pskc, 'x-pskc-key': 'nothex' }, payload: figure6 }),
      400,
      'bad-request',
      /headers\/x-pskc-key must match pattern/,
    ],
    ['unknown route', () => app.inject({ url: '/v1/nothing?x=1' }), 404, 'not-found', 'no route for GET /v1/nothing'],
    ['wrong method', () => app.inject({ method: 'DELETE', url: '/v1/validate' }), 404, 'not-found', 'no route for DELETE /v1/validate'],
    ['bad URL encoding', () => app.inject({ url: '/v1/tokens/%E0%A4%A', headers: admin }), 400, 'bad-request', /./],
  ];
  for (const [name, send, status, error, message] of cases) {
    isErrorBody(t, await send(), status, error, message, name);
  }
});

t.test('malformed and hostile PSKC documents are 400 bad-pskc', async (t) => {
  const { app } = await testApp(t);
  const cases: Array<[string, string, RegExp]> = [
    ['not XML', 'hello, world', /./],
    ['truncated', figure2.slice(0, figure2.length / 2), /./],
    [
      'a DOCTYPE (entity expansion)',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>${figure2.replace(/^<\?xml[^>]*>/, '')}`,
      /DOCTYPE|ENTITY/i,
    ],
    ['no KeyPackage', '<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>', /KeyPackage/],
    // As deep as fits the 1 MiB body: a parser that recursed per level would overflow its stack (a 500).
    [
      '140 000 nested elements',
      `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">${'<a>'.repeat(140_000)}${'</a>'.repeat(140_000)}</KeyContainer>`,
      /nested/,
    ],
    [
      '40 000 nested KeyPackages',
      `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">${'<KeyPackage>'.repeat(40_000)}${'</KeyPackage>'.repeat(40_000)}</KeyContainer>`,
      /nested/,
    ],
  ];
  for (const [name, xml, message] of cases) {
    isErrorBody(t, await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: xml }), 400, 'bad-pskc', message, name);
  }
});

t.test('RFC 6030 figure 2 (plain secret): the key imports under a kodeviser serial, and its codes validate', async (t) => {
  const { app } = await testApp(t);
  // As published, the Key Id (12345678) is no kodeviser serial: refused, naming the key.
  const asPublished = await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: figure2 });
  isErrorBody(
    t,
    asPublished,
    400,
    'bad-serial',
    /^key "12345678" \(#1\): Key Id as serial: serial must be 10 digits/,
    'figure 2 as published',
  );

  const serial = newSerial();
  const doc = figure2.replace(`Id="${figure2Note.key_id}"`, `Id="${serial}"`);
  const res = await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: doc });
  t.equal(res.statusCode, 201, res.body);
  t.same(res.json(), { imported: [serial] });
  const info = (await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).json();
  t.match(info, { profile: 'hotp-sha1', digits: 6, status: 'enabled' });
  const otp = createOtp({ profile: 'hotp-sha1', key: Buffer.from(figure2Note.expected_secret_hex, 'hex') });
  t.same(
    (await post(app, '/v1/validate', { serial, otp: otp.generate(0) }, admin)).json(),
    { result: 'accept', serial, movingFactor: 0 },
    'the secret imported is the figure\'s "1234"',
  );
});

t.test('RFC 6030 figure 6 (AES-128-CBC under a pre-shared key, HMAC-SHA1 ValueMAC)', async (t) => {
  const serial = newSerial();
  const doc = figure6.replace('<SerialNo>987654321</SerialNo>', `<SerialNo>${serial}</SerialNo>`);
  // RFC 4226's secret "12345678901234567890" at 8 digits: the figure's ResponseFormat Length.
  const rfc4226 = createOtp({
    profile: 'hotp-sha1',
    key: Buffer.from(figure6Note.expected_secret_hex, 'hex'),
    digits: figure6Note.response_format.length,
  });

  await t.test('with the key in X-PSKC-Key', async (t) => {
    const { app } = await testApp(t);
    const asPublished = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { ...pskc, 'x-pskc-key': figure6Note.pre_shared_key_hex },
      payload: figure6,
    });
    isErrorBody(
      t,
      asPublished,
      400,
      'bad-serial',
      /^key "12345678" \(#1\): DeviceInfo\/SerialNo as serial/,
      'figure 6 as published (SerialNo 987654321)',
    );

    const noKey = await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: doc });
    isErrorBody(t, noKey, 400, 'bad-pskc', /pre-shared key/i, 'no pre-shared key anywhere');
    const wrongKey = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { ...pskc, 'x-pskc-key': 'ff'.repeat(16) },
      payload: doc,
    });
    isErrorBody(t, wrongKey, 400, 'bad-pskc', /./, 'the wrong pre-shared key');

    const res = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { ...pskc, 'x-pskc-key': figure6Note.pre_shared_key_hex },
      payload: doc,
    });
    t.equal(res.statusCode, 201, res.body);
    t.same(res.json(), { imported: [serial] });
    t.equal((await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).json().digits, 8);
    t.equal(rfc4226.generate(0), '84755224', 'RFC 4226 appendix D, count 0, as 8 digits');
    t.same((await post(app, '/v1/validate', { serial, otp: '84755224' }, admin)).json(), { result: 'accept', serial, movingFactor: 0 });
  });

  await t.test('with the key from KODEVISER_PSKC_KEY', async (t) => {
    const { app } = await testApp(t, { pskcKey: Buffer.from(figure6Note.pre_shared_key_hex, 'hex') });
    const res = await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: doc });
    t.equal(res.statusCode, 201, res.body);
    t.same((await post(app, '/v1/validate', { serial, otp: rfc4226.generate(1) }, admin)).json().movingFactor, 1);
  });

  await t.test('tampered: refused whole, nothing imported', async (t) => {
    const { app } = await testApp(t);
    const headers = { ...pskc, 'x-pskc-key': figure6Note.pre_shared_key_hex };
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 1]! ^= 0x01;
      return bytes.toString('base64');
    };
    for (const [name, tampered] of [
      ['one bit of the secret ciphertext', doc.replace(figure6Note.secret_cipher_value_b64, flip(figure6Note.secret_cipher_value_b64))],
      ['one bit of the ValueMAC', doc.replace(figure6Note.value_mac_b64, flip(figure6Note.value_mac_b64))],
    ] as const) {
      t.not(tampered, doc, `${name}: the document did change`);
      const res = await app.inject({ method: 'POST', url: '/v1/tokens', headers, payload: tampered });
      isErrorBody(t, res, 400, 'bad-pskc', /ValueMAC|MAC/, name);
      t.equal((await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).statusCode, 404, `${name}: nothing imported`);
    }
  });
});

t.test('PSKC under kw-aes256 and tripledes-cbc: 32- and 24-byte pre-shared keys, by header or configuration', async (t) => {
  // Documents encrypted by node:crypto: RFC 5649 key wrap (a 20-byte secret is no whole number of
  // 8-byte blocks) without a ValueMAC, and TDEA-CBC with its HMAC-SHA1 ValueMAC.
  const secret = Buffer.from('12345678901234567890');
  const rfc4226 = createOtp({ profile: 'hotp-sha1', key: secret });
  const xenc = (algorithm: string, cipherValue: Buffer) =>
    `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#${algorithm}"/>` +
    `<xenc:CipherData><xenc:CipherValue>${cipherValue.toString('base64')}</xenc:CipherValue></xenc:CipherData>`;
  const container = (serial: string, macMethod: string, secretXml: string) => `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>${macMethod}
  <KeyPackage><DeviceInfo><SerialNo>${serial}</SerialNo></DeviceInfo>
    <Key Id="${serial}" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data><Secret>${secretXml}</Secret><Counter><PlainValue>0</PlainValue></Counter></Data>
    </Key></KeyPackage>
</KeyContainer>`;

  const kwKey = randomBytes(32);
  const wrap = createCipheriv('id-aes256-wrap-pad', kwKey, Buffer.from('A65959A6', 'hex'));
  const wrapped = Buffer.concat([wrap.update(secret), wrap.final()]);
  const kwSerial = newSerial();
  const kwDoc = container(kwSerial, '', `<EncryptedValue>${xenc('kw-aes256', wrapped)}</EncryptedValue>`);

  const tdeaKey = randomBytes(24);
  const tdea = (plain: Buffer) => {
    const iv = randomBytes(8);
    const c = createCipheriv('des-ede3-cbc', tdeaKey, iv);
    return Buffer.concat([iv, c.update(plain), c.final()]);
  };
  const macKey = randomBytes(20);
  const secretCipher = tdea(secret);
  const tdeaSerial = newSerial();
  const tdeaDoc = container(
    tdeaSerial,
    `<MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"><MACKey>${xenc('tripledes-cbc', tdea(macKey))}</MACKey></MACMethod>`,
    `<EncryptedValue>${xenc('tripledes-cbc', secretCipher)}</EncryptedValue><ValueMAC>${createHmac('sha1', macKey).update(secretCipher).digest('base64')}</ValueMAC>`,
  );

  const { app } = await testApp(t, { pskcKey: tdeaKey });
  const kw = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: { ...pskc, 'x-pskc-key': kwKey.toString('hex') },
    payload: kwDoc,
  });
  t.equal(kw.statusCode, 201, kw.body);
  t.same(
    (await post(app, '/v1/validate', { serial: kwSerial, otp: rfc4226.generate(0) }, admin)).json(),
    { result: 'accept', serial: kwSerial, movingFactor: 0 },
    'kw-aes256: the secret as wrapped',
  );
  const td = await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: tdeaDoc });
  t.equal(td.statusCode, 201, td.body);
  t.same(
    (await post(app, '/v1/validate', { serial: tdeaSerial, otp: rfc4226.generate(0) }, admin)).json(),
    { result: 'accept', serial: tdeaSerial, movingFactor: 0 },
    'tripledes-cbc: the secret as encrypted',
  );

  const wrongLength = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: { ...pskc, 'x-pskc-key': 'ab'.repeat(20) },
    payload: kwDoc,
  });
  isErrorBody(t, wrongLength, 400, 'bad-request', /headers\/x-pskc-key must match pattern/, "a 20-byte key is no cipher's");
  const otherSerial = newSerial();
  const wrongKey = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: { ...pskc, 'x-pskc-key': randomBytes(32).toString('hex') },
    payload: kwDoc.replaceAll(kwSerial, otherSerial),
  });
  isErrorBody(t, wrongKey, 400, 'bad-pskc', /key unwrap failed/, 'kw-aes256 under the wrong key');
  t.equal((await app.inject({ url: `/v1/tokens/${otherSerial}`, headers: admin })).statusCode, 404, 'nothing imported');
});

t.test('a PSKC document with one bad key among good ones imports none of them', async (t) => {
  const { app } = await testApp(t);
  const keys = [newSerial(), newSerial(), newSerial()].map((serial, i) => ({
    id: serial,
    serial,
    profile: 'hotp-sha1' as const,
    secret: Buffer.alloc(20, i + 1),
    digits: 6,
  }));
  const doc = writePskc(keys, { preSharedKey: Buffer.from(PSKC_KEY_HEX, 'hex') });
  const headers = { ...pskc, 'x-pskc-key': PSKC_KEY_HEX };
  // The last key names an algorithm that is no kodeviser profile.
  const lastAlgorithm = doc.lastIndexOf('Algorithm="urn:');
  const badAlgorithm = `${doc.slice(0, lastAlgorithm)}Algorithm="urn:example:not-an-otp${doc.slice(doc.indexOf('"', lastAlgorithm + 11))}`;
  const res = await app.inject({ method: 'POST', url: '/v1/tokens', headers, payload: badAlgorithm });
  isErrorBody(
    t,
    res,
    400,
    'bad-profile',
    new RegExp(`^key "${keys[2]!.id}" \\(#3\\): algorithm urn:example:not-an-otp is not one of the kodeviser OTP profiles`),
    'unknown algorithm in key #3',
  );
  for (const k of keys)
    t.equal((await app.inject({ url: `/v1/tokens/${k.serial}`, headers: admin })).statusCode, 404, `${k.serial} not imported`);

  // One key already present: 409 naming it, and the other two are not imported either.
  await importDevices(app, { ...device('hotp-sha1', keys[1]!.serial) });
  const dup = await app.inject({ method: 'POST', url: '/v1/tokens', headers, payload: doc });
  t.equal(dup.statusCode, 409);
  t.match(dup.json(), { error: 'duplicate-serial', message: keys[1]!.serial });
  for (const k of [keys[0]!, keys[2]!]) t.equal((await app.inject({ url: `/v1/tokens/${k.serial}`, headers: admin })).statusCode, 404);

  const fine = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers,
    payload: writePskc([keys[0]!, keys[2]!], { preSharedKey: Buffer.from(PSKC_KEY_HEX, 'hex') }),
  });
  t.same(fine.json(), { imported: [keys[0]!.serial, keys[2]!.serial] });
});

t.test('a PSKC totp key brings its T0, time step and drift along', async (t) => {
  const { app } = await testApp(t);
  const serial = newSerial();
  const secret = Buffer.alloc(20, 7);
  const doc = writePskc([{ id: serial, serial, profile: 'totp-sha1', secret, digits: 6, time: 0, timeInterval: 60, timeDrift: 2 }]);
  t.equal((await app.inject({ method: 'POST', url: '/v1/tokens', headers: pskc, payload: doc })).statusCode, 201);
  t.match((await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).json(), { profile: 'totp-sha1', step: 60, t0: 0, drift: 2 });
});

t.test('errors fastify might raise that have no mapping of their own stay 4xx, generic', async (t) => {
  const { describeError } = await import('../src/plugins/errors.js');
  const teapot = Object.assign(new Error('I am a teapot: {"password":"x"}'), { statusCode: 418, code: 'FST_ERR_SOMETHING_NEW' });
  t.same(
    describeError(teapot),
    { status: 418, body: { error: 'bad-request', message: 'the request could not be read (FST_ERR_SOMETHING_NEW)' } },
    'the client error keeps its status, not its message',
  );
  const uncoded = Object.assign(new Error('odd'), { statusCode: 400 });
  t.same(describeError(uncoded).body.message, 'the request could not be read (client error)');
  t.same(describeError(new TypeError('x is undefined')), { status: 500, body: { error: 'internal', message: 'internal server error' } });
});
