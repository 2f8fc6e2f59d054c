/**
 * No secret reaches the log: a whole session at the most verbose level (trace), captured in
 * memory, contains none of the codes, passwords, keys or bearer tokens that went over the wire —
 * while it does contain the requests themselves, so the check is not passing on an empty log.
 * And should anyone log a request's headers or a body object, the redaction paths censor them.
 */
import t from 'tap';
import { writePskc } from '@kodeviser/shared/pskc';
import { identityOf } from '../../test/helpers/identities.js';
import { memoryLogger } from './helpers/log.js';
import {
  ADMIN_TOKEN,
  PSKC_KEY_HEX,
  SERVICE_TOKEN,
  admin,
  asService,
  device,
  importDevices,
  newSerial,
  operatorOf,
  post,
  proofFor,
  testApp,
} from './http-helpers.js';

t.test('a whole session at trace level leaks no code, password, key or token', async (t) => {
  const { app, log } = await testApp(t, { captureLog: true, rateLimit: { perUser: 3 } });
  const secrets: string[] = [ADMIN_TOKEN, SERVICE_TOKEN, PSKC_KEY_HEX];
  const keep = <T extends string>(s: T): T => {
    secrets.push(s);
    return s;
  };

  const a = device();
  const b = device();
  keep(a.keyHex);
  keep(b.keyHex);
  t.equal((await post(app, '/v1/tokens', { tokens: [{ serial: a.serial, profile: a.profile, keyHex: a.keyHex }] }, admin)).statusCode, 201);
  const pskcSecret = Buffer.from('pskc-secret-0123456789', 'utf8');
  keep(pskcSecret.toString('hex'));
  const doc = writePskc([{ id: b.serial, serial: b.serial, profile: 'hotp-sha1', secret: Buffer.from(b.keyHex, 'hex'), digits: 6 }], {
    preSharedKey: Buffer.from(PSKC_KEY_HEX, 'hex'),
  });
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...admin, 'content-type': 'application/pskc+xml', 'x-pskc-key': PSKC_KEY_HEX },
        payload: doc,
      })
    ).statusCode,
    201,
  );

  // Every proof id, credential token and identity number of the session is a secret too.
  const operator = await operatorOf(app);
  keep((operator.authorization as string).replace(/^Bearer /, ''));
  const proof = async (userId: string) => {
    keep(identityOf(userId).nationalId);
    return keep(await proofFor(app, userId));
  };

  const password = keep('session password 1');
  t.equal(
    (await post(app, '/v1/activate', { proofId: await proof('erin'), serial: a.serial, otp: keep(a.press()), password })).statusCode,
    200,
  );
  t.equal((await post(app, '/v1/authenticate', { userId: 'erin', otp: keep(a.press()), password })).statusCode, 200);
  t.equal(
    (await post(app, '/v1/authenticate', { userId: 'erin', otp: keep(a.press()), password: keep('the wrong password') })).statusCode,
    401,
  );
  t.equal(
    (await post(app, '/v1/proofs/self', { userId: 'erin', otp: keep(a.press()), password: keep('a guessed password') })).statusCode,
    401,
  );
  t.equal(
    (await post(app, '/v1/authenticate', { userId: 'erin', otp: keep('931642'), password })).statusCode,
    429,
    'per-user limit reached',
  );
  t.equal((await post(app, '/v1/validate', { serial: b.serial, otp: keep(b.press()) }, asService)).statusCode, 200);

  // The life cycle of another user: a self proof, a replacement with it, a password change, a
  // reset with an operator's proof, and a spent proof tried again.
  const [c, e] = [device(), device()];
  keep(c.keyHex);
  keep(e.keyHex);
  await importDevices(app, c, e);
  const fayPassword = keep('fay password 1');
  t.equal(
    (await post(app, '/v1/activate', { proofId: await proof('fay'), serial: c.serial, otp: keep(c.press()), password: fayPassword }))
      .statusCode,
    200,
  );
  const self = await post(app, '/v1/proofs/self', { userId: 'fay', otp: keep(c.press()), password: fayPassword });
  t.equal(self.statusCode, 201);
  const selfProof = keep(self.json().proofId as string);
  const fayPassword2 = keep('fay password 2');
  t.equal(
    (await post(app, '/v1/activate', { proofId: selfProof, serial: e.serial, otp: keep(e.press()), password: fayPassword2 })).statusCode,
    200,
    'the device replaced with a self proof',
  );
  const fayPassword3 = keep('fay password 3');
  t.equal(
    (
      await post(app, '/v1/users/self/password', {
        userId: 'fay',
        otp: keep(e.press()),
        oldPassword: fayPassword2,
        newPassword: fayPassword3,
      })
    ).statusCode,
    200,
  );
  const resetProof = await proof('fay');
  t.equal(
    (await post(app, '/v1/users/self/password-reset', { proofId: resetProof, otp: keep(e.press()), newPassword: keep('fay password 4') }))
      .statusCode,
    200,
  );
  t.equal(
    (await post(app, '/v1/users/self/password-reset', { proofId: resetProof, otp: keep(e.press()), newPassword: keep('fay password 5') }))
      .statusCode,
    401,
    'a spent proof',
  );
  t.equal(
    (await post(app, '/v1/activate', { proofId: selfProof, serial: c.serial, otp: keep(c.press()), password: keep('fay password 6') }))
      .statusCode,
    401,
    'a spent self proof',
  );
  t.equal((await post(app, '/v1/tokens/' + b.serial + '/resync', { otp1: keep('271828'), otp2: keep('314159') }, admin)).statusCode, 409);
  // A malformed body and a schema violation that carry a password.
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/activate',
        headers: { 'content-type': 'application/json' },
        payload: `{"password": "${keep('malformed-json-password')}", `,
      })
    ).statusCode,
    400,
  );
  t.equal(
    (
      await post(app, '/v1/activate', {
        proofId: keep('schemaViolationProof0'),
        serial: newSerial(),
        otp: keep('55555'),
        password: keep('schema-violation-password'),
      })
    ).statusCode,
    400,
  );
  t.equal(
    (
      await post(app, '/v1/users/self/password-reset', {
        proofId: keep('weakPasswordProof000'),
        otp: keep('424242'),
        newPassword: keep('password123'),
      })
    ).statusCode,
    400,
    'a weak new password: a 400 naming the rule, not the password',
  );
  t.equal(
    (await post(app, '/v1/validate', { serial: a.serial, otp: '000000' }, { authorization: `Bearer ${keep('a-wrong-bearer-token-0000')}` }))
      .statusCode,
    401,
  );
  await app.inject({ url: '/v1/audit', headers: admin });
  await app.inject({ url: '/metrics', headers: admin });

  const text = log();
  t.match(text, /"url":"\/v1\/authenticate"/, 'the log does record the requests');
  for (const url of ['/v1/proofs', '/v1/proofs/self', '/v1/users/self/password', '/v1/users/self/password-reset']) {
    t.ok(text.includes(`"url":"${url}"`), `${url} too`);
  }
  t.match(text, /"statusCode":401/, 'and their outcomes');
  t.ok(text.split('\n').length > 30, 'many lines at trace level');
  // Bounded by non-digits: a 6-digit code may occur by chance inside a longer number (a float
  // response time, a timestamp), but a leaked code would stand alone, as a JSON string.
  for (const s of secrets) t.notOk(new RegExp(`(?<![0-9])${s}(?![0-9])`).test(text), `the log does not contain ${s.slice(0, 3)}…`);
  t.notMatch(text, /authorization/i, 'no Authorization header at all');
  t.notMatch(text, /x-pskc-key/i, 'no X-PSKC-Key header at all');
});

t.test('redaction censors secrets in objects that might be logged', async (t) => {
  const { logger, lines } = memoryLogger();
  logger.info(
    {
      req: {
        headers: {
          authorization: 'Bearer top-secret-token',
          'x-pskc-key': 'aabbcc',
          'x-pskc-password': 'req-pskc-password',
          'user-agent': 'curl',
        },
        body: { password: 'hunter22', otp: '123456', secret: 'req-body-secret', seed: 'req-body-seed' },
      },
      body: {
        otp: '654321',
        otp1: '111111',
        otp2: '222222',
        password: 'pw-in-body',
        keyHex: 'deadbeef',
        tokens: [{ keyHex: 'cafebabe' }],
        secret: 'body-secret',
        seed: 'body-seed',
        passwordHash: 'body-password-hash',
      },
      headers: { authorization: 'Bearer other', 'x-pskc-password': 'bare-pskc-password' },
      otp: '777777',
      // What a store or the domain holds, should someone log a row, a record or a snapshot.
      secret: { ciphertext: 'top-sealed-secret' },
      seed: 'top-level-seed',
      passwordHash: '$scrypt$top-level-hash',
      user: { userId: 'gus', passwordHash: '$scrypt$user-hash', identityHash: 'user-identity-hash' },
      token: { serial: '0000000042', seed: { ciphertext: 'token-seed-ciphertext' } },
      proof: { documentHash: 'proof-document-hash' },
      identity: { nationalId: '0202020202', document: { type: 'passport', country: 'DK', number: 'TOPDOC99' } },
      evidence: { nationalId: '0303030303', document: { type: 'id-card', country: 'SE', number: 'NESTEDDOC7' } },
      document: { type: 'passport', country: 'NO', number: 'BAREDOC55' },
    },
    'a careless line',
  );
  const line = lines.join('');
  t.match(line, /gus/, 'a user id stays');
  t.match(line, /0000000042/, 'a serial stays');
  for (const s of [
    'req-pskc-password',
    'bare-pskc-password',
    'req-body-secret',
    'req-body-seed',
    'body-secret',
    'body-seed',
    'body-password-hash',
    'top-sealed-secret',
    'top-level-seed',
    'top-level-hash',
    'user-hash',
    'user-identity-hash',
    'token-seed-ciphertext',
    'proof-document-hash',
    '0202020202',
    'TOPDOC99',
    '0303030303',
    'NESTEDDOC7',
    'BAREDOC55',
  ]) {
    t.notOk(line.includes(s), `${s} censored`);
  }
  for (const s of [
    'top-secret-token',
    'aabbcc',
    'hunter22',
    '123456',
    '654321',
    '111111',
    '222222',
    'pw-in-body',
    'deadbeef',
    'cafebabe',
    'Bearer other',
    '777777',
  ]) {
    t.notOk(line.includes(s), `${s} censored`);
  }
  t.match(line, /curl/, 'harmless fields stay');
  t.match(line, /\[redacted\]/);
});

t.test('redaction censors the secrets of the proof and password flows in objects that might be logged', async (t) => {
  const { logger, lines } = memoryLogger();
  logger.info(
    {
      req: { body: { proofId: 'req-body-proof-id', otp: '135790', newPassword: 'req-body-new-password' } },
      body: {
        userId: 'fay',
        otp: '246801',
        oldPassword: 'body-old-password',
        newPassword: 'body-new-password',
        identity: { nationalId: '0101901234', document: { type: 'passport', country: 'DK', number: 'DOCNO4242' } },
      },
      proofId: 'top-level-proof-id',
    },
    'a careless line of the new flows',
  );
  const line = lines.join('');
  t.match(line, /fay/, 'harmless fields stay');
  for (const s of ['135790', '246801']) t.notOk(line.includes(s), `${s} censored`);
  // A proof id is a bearer secret for 15 minutes, and a password is a password whatever its field is called.
  for (const s of [
    'req-body-proof-id',
    'req-body-new-password',
    'body-old-password',
    'body-new-password',
    'top-level-proof-id',
    '0101901234',
    'DOCNO4242',
  ]) {
    t.notOk(line.includes(s), `${s} censored`);
  }
});

t.test("orders at trace level: no address, tracking token or proof id in the log, not even a request's URL", async (t) => {
  const { app, log } = await testApp(t, { captureLog: true });
  const address = { name: 'Vera Lund', street: 'Solsikkevej 12', postcode: 'SW1A 1AA', city: 'Westminster', country: 'GB' };
  const proofId = await proofFor(app, 'vera');
  const placed = await post(app, '/v1/orders', { proofId, delivery: { method: 'post', address } });
  t.equal(placed.statusCode, 201);
  const { orderId, trackingToken } = placed.json() as { orderId: string; trackingToken: string };
  t.equal((await app.inject({ url: `/v1/orders/${orderId}?tracking=${trackingToken}` })).statusCode, 200);
  t.equal((await app.inject({ url: `/v1/orders/${orderId}?tracking=${'x'.repeat(43)}` })).statusCode, 404);
  t.equal((await app.inject({ url: `/v1/orders/${orderId}?tracking=${trackingToken.slice(1)}` })).statusCode, 400, 'a malformed one');
  t.equal((await app.inject({ url: `/v1/orders/${orderId}`, headers: admin })).statusCode, 200, 'the whole order, to staff');
  t.equal((await app.inject({ url: `/v1/orders/${orderId}/status?x=1&tracking=${trackingToken}` })).statusCode, 404, 'no such route');
  // Refused input that carries an address: the 400 names the field, never the value.
  const refused = await post(app, '/v1/orders', {
    delivery: { method: 'post', address: { ...address, country: 'gb', street: 'Solsikkevej 13' } },
  });
  t.equal(refused.statusCode, 400);
  t.notMatch(refused.body, /Solsikkevej/);
  const blank = await post(app, '/v1/orders', {
    delivery: { method: 'post', address: { ...address, name: '  ', street: 'Solsikkevej 14' } },
  });
  t.equal(blank.statusCode, 400);
  t.notMatch(blank.body, /Solsikkevej/);

  const text = log();
  t.match(text, /"url":"\/v1\/orders"/, 'the log records the requests');
  t.ok(text.includes(`"url":"/v1/orders/${orderId}?tracking=[redacted]"`), "the tracking request's line, its token censored");
  t.ok(text.includes(`"url":"/v1/orders/${orderId}/status?x=1&tracking=[redacted]"`), 'a URL no route serves, too');
  for (const secret of [...Object.values(address).filter((v) => v !== 'GB'), 'Solsikkevej', trackingToken.slice(1), proofId]) {
    t.notOk(text.includes(secret), `the log does not contain ${secret.slice(0, 4)}…`);
  }
});

t.test('redaction censors an order’s address and tracking token in objects that might be logged', async (t) => {
  const { logger, lines } = memoryLogger();
  logger.info(
    {
      body: { delivery: { method: 'post', address: { street: 'body-street' } } },
      req: { body: { delivery: { address: { street: 'req-street' } } }, query: { tracking: 'req-query-tracking' } },
      order: { orderId: 'ord_x', delivery: { method: 'post', address: { street: 'order-street' } } },
      snapshot: { order: { delivery: { address: { street: 'nested-street' } } } },
      delivery: { address: 'bare-address' },
      address: 'top-address',
      trackingToken: 'top-tracking-token',
      placed: { trackingToken: 'nested-tracking-token' },
    },
    'a careless line of orders',
  );
  const line = lines.join('');
  t.match(line, /ord_x/, 'an order id stays');
  t.match(line, /"method":"post"/, 'the method of delivery stays');
  for (const s of [
    'body-street',
    'req-street',
    'req-query-tracking',
    'order-street',
    'nested-street',
    'bare-address',
    'top-address',
    'top-tracking-token',
    'nested-tracking-token',
  ]) {
    t.notOk(line.includes(s), `${s} censored`);
  }
});
