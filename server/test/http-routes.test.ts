/**
 * Every route through the whole fastify pipeline (inject), on the real service and a real SQLite
 * file with a fake clock: happy paths and the error paths that belong to each route. The
 * bad-input classes common to all routes are in http-errors.test.ts.
 */
import t from 'tap';
import { createOtp, formatSerial } from '@kodeviser/shared';
import {
  ADMIN_TOKEN,
  SERVICE_TOKEN,
  activate,
  admin,
  asService,
  device,
  importDevices,
  newSerial,
  post,
  proofFor,
  testApp,
} from './http-helpers.js';

t.test('POST /v1/tokens (JSON): imports all or nothing; 409 names the duplicate', async (t) => {
  const { app } = await testApp(t);
  const a = device();
  const b = device('totp-sha256', newSerial(), 32);
  const res = await importDevices(app, a, b);
  t.same(res.json(), { imported: [a.serial, b.serial] });

  const c = device();
  const dup = await post(
    app,
    '/v1/tokens',
    {
      tokens: [
        { serial: formatSerial(c.serial), profile: c.profile, keyHex: c.keyHex },
        { serial: a.serial, profile: 'hotp-sha1', keyHex: a.keyHex },
      ],
    },
    admin,
  );
  t.equal(dup.statusCode, 409);
  t.same(dup.json(), { error: 'duplicate-serial', message: `serial ${a.serial} is already imported` });
  const cInfo = await app.inject({ url: `/v1/tokens/${c.serial}`, headers: admin });
  t.equal(cInfo.statusCode, 404, 'the batch with the duplicate imported nothing, not even its first token');

  const twice = await post(
    app,
    '/v1/tokens',
    {
      tokens: [
        { serial: c.serial, profile: 'hotp-sha1', keyHex: c.keyHex },
        { serial: formatSerial(c.serial), profile: 'hotp-sha1', keyHex: c.keyHex },
      ],
    },
    admin,
  );
  t.equal(twice.statusCode, 409, 'the same serial twice in one batch (once printed) is a duplicate too');
  t.match(twice.json().message, c.serial);

  const optional = device('hotp-sha256', newSerial(), 32);
  const withOptions = await post(
    app,
    '/v1/tokens',
    { tokens: [{ serial: optional.serial, profile: 'hotp-sha256', keyHex: optional.keyHex, digits: 8, counter: 5 }] },
    admin,
  );
  t.equal(withOptions.statusCode, 201);
  const eight = createOtp({ profile: 'hotp-sha256', key: Buffer.from(optional.keyHex, 'hex'), digits: 8 });
  const ok = await post(app, '/v1/validate', { serial: optional.serial, otp: eight.generate(5) }, admin);
  t.same(ok.json(), { result: 'accept', serial: optional.serial, movingFactor: 5 }, 'digits and counter are honoured');

  const totp60 = newSerial();
  t.equal(
    (await post(app, '/v1/tokens', { tokens: [{ serial: totp60, profile: 'totp-sha1', keyHex: '00'.repeat(20), step: 60, t0: 0 }] }, admin))
      .statusCode,
    201,
  );
  t.equal((await app.inject({ url: `/v1/tokens/${totp60}`, headers: admin })).json().step, 60);

  const badKey = await post(
    app,
    '/v1/tokens',
    { tokens: [{ serial: newSerial(), profile: 'hotp-aes128', keyHex: '00'.repeat(20) }] },
    admin,
  );
  t.equal(badKey.statusCode, 400, 'a key of the wrong length for its cipher');
  t.equal(badKey.json().error, 'bad-key');
  t.match(badKey.json().message, /16 bytes/);
  const badSerial = await post(app, '/v1/tokens', { tokens: [{ serial: '1234567890', profile: 'hotp-sha1', keyHex: '00' }] }, admin);
  t.equal(badSerial.statusCode, 400);
  t.same(badSerial.json(), {
    error: 'bad-serial',
    message: 'tokens[0].serial: serial fails its check digit: a digit was probably mistyped',
  });
});

t.test('GET /v1/tokens/:serial: the token as an admin sees it, never the key', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const res = await app.inject({ url: `/v1/tokens/${formatSerial(d.serial)}`, headers: admin });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    serial: d.serial,
    profile: 'hotp-sha1',
    digits: 6,
    step: 30,
    t0: 0,
    status: 'enabled',
    lastMovingFactor: null,
    drift: 0,
    driftSeconds: 0,
    driftPpm: 0,
    failures: 0,
    blockedUntil: null,
    resyncPending: false,
    userId: null,
    importedAt: Number,
    lastUsedAt: null,
  });
  t.notMatch(res.body, d.keyHex, 'no key in the body');
  t.notMatch(res.body, /key|seed|secret/i, 'no key-like field at all');

  const unknown = newSerial();
  t.same((await app.inject({ url: `/v1/tokens/${unknown}`, headers: admin })).json(), {
    error: 'unknown-token',
    message: `no token with serial ${unknown}`,
  });
  const luhn = await app.inject({ url: '/v1/tokens/1234567890', headers: admin });
  t.equal(luhn.statusCode, 400, 'bad Luhn check digit');
  t.equal(luhn.json().error, 'bad-serial');
  const shape = await app.inject({ url: '/v1/tokens/12345', headers: admin });
  t.equal(shape.statusCode, 400, 'not a serial at all');
  t.match(shape.json().message, /params\/serial must match pattern/);
});

t.test('POST /v1/validate: accept once, replay rejected, service token or admin', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const code = d.press();
  const first = await post(app, '/v1/validate', { serial: d.serial, otp: code }, asService);
  t.equal(first.statusCode, 200);
  t.same(first.json(), { result: 'accept', serial: d.serial, movingFactor: 0 });
  const replay = await post(app, '/v1/validate', { serial: formatSerial(d.serial), otp: code }, admin);
  t.same(replay.json(), { result: 'reject', serial: d.serial, movingFactor: null }, 'the same code twice: rejected, and no reason given');
  const unknown = newSerial();
  t.same((await post(app, '/v1/validate', { serial: unknown, otp: '123456' }, asService)).json(), {
    result: 'reject',
    serial: unknown,
    movingFactor: null,
  });

  // A code far ahead (beyond the look-ahead, within the wide window) starts a resync; the next completes it.
  d.counter = 50;
  t.same((await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService)).json(), {
    result: 'resync-started',
    serial: d.serial,
    movingFactor: null,
  });
  t.same((await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService)).json(), {
    result: 'accept',
    serial: d.serial,
    movingFactor: 51,
  });
});

t.test('POST /v1/validate: bearer token required; the service token is refused when none is configured', async (t) => {
  const { app } = await testApp(t, { serviceToken: null });
  const body = { serial: newSerial(), otp: '123456' };
  for (const [name, headers] of [
    ['no header', {}],
    ['basic auth', { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` }],
    ['wrong token', { authorization: 'Bearer not-the-token-at-all-000000' }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['a service token when none is configured', asService],
  ] as const) {
    const res = await post(app, '/v1/validate', body, headers);
    t.equal(res.statusCode, 401, name);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="kodeviser"');
    t.same(res.json(), { error: 'unauthorized', message: 'a valid bearer token is required (Authorization: Bearer …)' });
  }
  t.equal(
    (await post(app, '/v1/validate', body, { authorization: `bearer   ${ADMIN_TOKEN}` })).statusCode,
    200,
    'the scheme is case-insensitive (RFC 7235)',
  );
});

t.test('admin routes refuse a missing or wrong bearer token, and the service token', async (t) => {
  const { app } = await testApp(t);
  const s = newSerial();
  const routes: Array<[string, string, unknown]> = [
    ['POST', '/v1/tokens', { tokens: [] }],
    ['GET', `/v1/tokens/${s}`, undefined],
    ['POST', `/v1/tokens/${s}/lock`, undefined],
    ['POST', `/v1/tokens/${s}/unlock`, undefined],
    ['POST', `/v1/tokens/${s}/revoke`, undefined],
    ['POST', `/v1/tokens/${s}/resync`, { otp1: '123456', otp2: '654321' }],
    ['GET', '/v1/audit', undefined],
  ];
  for (const [method, url, payload] of routes) {
    for (const headers of [{}, { authorization: 'Bearer wrong-wrong-wrong-wrong' }, asService, { authorization: ADMIN_TOKEN }]) {
      const res = await app.inject({ method: method as 'GET' | 'POST', url, headers, ...(payload ? { payload: payload as object } : {}) });
      t.equal(res.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers).slice(0, 40)}`);
    }
  }
  t.equal(SERVICE_TOKEN.length > 16, true);
});

t.test('activate and authenticate: accept, reject without saying why, 429 + Retry-After after three wrong codes', async (t) => {
  const { app, clock } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const password = 'correct horse battery';

  const noProof = await post(app, '/v1/activate', { userId: 'alice', serial: d.serial, otp: d.otp.generate(d.counter), password });
  t.same([noProof.statusCode, noProof.json().error], [400, 'bad-request'], 'a user ID is no proof: the old body is refused');
  const wrongActivation = await activate(app, { userId: 'alice', serial: d.serial, otp: '000000', password });
  t.equal(wrongActivation.statusCode, 401);
  t.same(wrongActivation.json(), { result: 'reject' });
  const proofId = await proofFor(app, 'alice');
  const activated = await post(app, '/v1/activate', { proofId, serial: formatSerial(d.serial), otp: d.press(), password });
  t.equal(activated.statusCode, 200);
  t.same(activated.json(), { result: 'accept', userId: 'alice' }, "the reply names the proof's user");
  t.equal((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json().userId, 'alice', 'the token is bound to the user');
  const other = device();
  await importDevices(app, other);
  for (const [name, id] of [
    ['a spent proof', proofId],
    ['an unknown proof', 'bm90LWEtcHJvb2YtYXQtYWxs'],
  ] as const) {
    const refused = await post(app, '/v1/activate', { proofId: id, serial: other.serial, otp: other.otp.generate(0), password });
    t.same([refused.statusCode, refused.json(), refused.headers['retry-after']], [401, { result: 'reject' }, undefined], name);
  }

  const login = await post(app, '/v1/authenticate', { userId: 'alice', otp: d.press(), password });
  t.match([login.statusCode, login.json()], [200, { result: 'accept', receipt: /^eyJ/ }]);

  // Wrong password, wrong code, unknown user: the same answer.
  const answers = [
    await post(app, '/v1/authenticate', { userId: 'alice', otp: d.press(), password: 'wrong password' }),
    await post(app, '/v1/authenticate', { userId: 'nobody', otp: '123456', password }),
  ];
  for (const a of answers) t.same([a.statusCode, a.json(), a.headers['retry-after']], [401, { result: 'reject' }, undefined]);

  // The failure count: one so far (wrong password) on alice's token; two more wrong codes make three.
  for (let i = 0; i < 2; i++) {
    const r = await post(app, '/v1/authenticate', { userId: 'alice', otp: '999999', password });
    t.equal(r.statusCode, 401, `wrong code ${i + 2}`);
  }
  const blocked = await post(app, '/v1/authenticate', { userId: 'alice', otp: d.press(), password });
  t.equal(blocked.statusCode, 429, 'after three failures even the right code is not checked');
  t.equal(blocked.headers['retry-after'], '30');
  t.same(blocked.json(), { result: 'blocked', retryAfterSeconds: 30 });
  const blockedValidate = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, admin);
  t.equal(blockedValidate.statusCode, 429);
  t.same(blockedValidate.json(), { result: 'blocked', serial: d.serial, retryAfterSeconds: 30 });
  t.ok(Number(blockedValidate.headers['retry-after']) > 0);

  clock.advance(31_000);
  const after = await post(app, '/v1/authenticate', { userId: 'alice', otp: d.press(), password });
  t.match([after.statusCode, after.json()], [200, { result: 'accept', receipt: /^eyJ/ }], 'the block ends by itself');
});

t.test('password change and reset: a login or a proof, the same generic reject, a weak new password refused', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  t.equal((await activate(app, { userId: 'pat', serial: d.serial, otp: d.press(), password: 'first password' })).statusCode, 200);
  const login = (password: string) => post(app, '/v1/authenticate', { userId: 'pat', otp: d.press(), password });
  const change = (oldPassword: string, newPassword: string) =>
    post(app, '/v1/users/self/password', { userId: 'pat', otp: d.press(), oldPassword, newPassword });

  const wrongOld = await change('not the password', 'second password');
  t.same([wrongOld.statusCode, wrongOld.json()], [401, { result: 'reject' }], 'a wrong old password');
  const weak = await change('first password', 'password123');
  t.same([weak.statusCode, weak.json().error], [400, 'weak-password'], 'a common new password');
  const changed = await change('first password', 'second password');
  t.same([changed.statusCode, changed.json()], [200, { result: 'accept' }]);
  t.equal((await login('first password')).statusCode, 401, 'the old password no longer logs in');
  t.equal((await login('second password')).statusCode, 200, 'the new one does');

  const reset = (proofId: string, otp = d.press(), newPassword = 'third password') =>
    post(app, '/v1/users/self/password-reset', { proofId, otp, newPassword });
  const proofId = await proofFor(app, 'pat');
  const wrongCode = await reset(proofId, '000000');
  t.same([wrongCode.statusCode, wrongCode.json()], [401, { result: 'reject' }], 'a proof with a wrong code of the device');
  t.same([(await reset(proofId)).statusCode, (await login('third password')).statusCode], [200, 200], 'a proof and a code reset it');
  const again = await reset(proofId, d.press(), 'fourth password');
  t.same([again.statusCode, again.json()], [401, { result: 'reject' }], 'the proof is spent');
  t.equal((await reset('bm90LWEtcHJvb2YtYXQtYWxs')).statusCode, 401, 'an unknown proof');
  t.equal((await login('third password')).statusCode, 200, 'the password stays the reset one');
  const noProof = await post(app, '/v1/users/self/password-reset', { userId: 'pat', otp: d.press(), newPassword: 'fifth password' });
  t.equal(noProof.statusCode, 400, 'a user ID is no proof');
  const types = (
    (await app.inject({ url: '/v1/audit?userId=pat', headers: admin })).json().events as Array<{ type: string; reason: string }>
  )
    .filter((e) => e.type === 'password')
    .map((e) => e.reason);
  t.equal(types.length, 2, 'one change, one reset');
  t.match(types, [/^reset with proof by cred-/, 'changed'], 'both audited, newest first');
});

t.test('lock, unlock, revoke', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const locked = await post(app, `/v1/tokens/${d.serial}/lock`, undefined, admin);
  t.equal(locked.statusCode, 200);
  t.equal(locked.json().status, 'locked');
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, admin)).json().result,
    'reject',
    'a locked token accepts nothing',
  );
  const unlocked = await post(app, `/v1/tokens/${formatSerial(d.serial)}/unlock`, undefined, admin);
  t.equal(unlocked.json().status, 'enabled');
  t.same((await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, admin)).json().result, 'accept');
  const revoked = await post(app, `/v1/tokens/${d.serial}/revoke`, undefined, admin);
  t.equal(revoked.json().status, 'revoked');
  const again = await post(app, `/v1/tokens/${d.serial}/unlock`, undefined, admin);
  t.equal(again.statusCode, 409, 'a revoked token cannot be unlocked');
  t.equal(again.json().error, 'token-state');
  const unknown = await post(app, `/v1/tokens/${newSerial()}/lock`, undefined, admin);
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error, 'unknown-token');
  t.equal((await post(app, '/v1/tokens/1234567890/revoke', undefined, admin)).json().error, 'bad-serial');
});

t.test('POST /v1/tokens/:serial/resync: two consecutive codes far ahead', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  d.counter = 500;
  const otp1 = d.press();
  const otp2 = d.press();
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: otp2 }, admin)).json().result,
    'reject',
    'too far ahead for the wide window',
  );
  const failed = await post(app, `/v1/tokens/${d.serial}/resync`, { otp1: otp2, otp2: otp1 }, admin);
  t.equal(failed.statusCode, 409, 'codes in the wrong order are not consecutive');
  t.same(failed.json(), {
    error: 'resync-failed',
    message: `otp1 and otp2 are not two consecutive codes of token ${d.serial} within the resync window`,
  });
  const ok = await post(app, `/v1/tokens/${d.serial}/resync`, { otp1, otp2 }, admin);
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { result: 'resynced', serial: d.serial, movingFactor: 501, drift: 0 });
  t.same((await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, admin)).json(), {
    result: 'accept',
    serial: d.serial,
    movingFactor: 502,
  });
  t.equal((await post(app, `/v1/tokens/${newSerial()}/resync`, { otp1, otp2 }, admin)).statusCode, 404);
  t.equal((await post(app, `/v1/tokens/${d.serial}/resync`, { otp1 }, admin)).statusCode, 400, 'otp2 missing');
});

t.test('totp through the fake clock', async (t) => {
  const { app, clock } = await testApp(t);
  const d = device('totp-sha1');
  await importDevices(app, d);
  const step = d.otp.stepAt(clock.now() / 1000);
  const res = await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(step) }, admin);
  t.same(res.json(), { result: 'accept', serial: d.serial, movingFactor: step });
  clock.advance(30_000);
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(step) }, admin)).json().result,
    'reject',
    'an older step after a newer one was accepted',
  );

  // The clock the accept measured: the middle of the step, 15 s ahead of the server's 12:00:00; no rate yet.
  const info = async () => (await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json();
  t.match(await info(), { drift: 0, driftSeconds: 15, driftPpm: 0 });
  // A fortnight later the token shows the code of 45 s ahead: 30 s more in 14 days, 24.8 ppm, of
  // which the first measured interval teaches two thirds.
  clock.set(Date.UTC(2026, 0, 15, 12));
  const ahead = d.otp.stepAt(clock.now() / 1000) + 1;
  t.same((await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(ahead) }, admin)).json(), {
    result: 'accept',
    serial: d.serial,
    movingFactor: ahead,
  });
  const learnt = await info();
  t.match(learnt, { drift: 1, driftSeconds: 45 });
  t.ok(learnt.driftPpm > 16 && learnt.driftPpm < 17.5, `the rate learnt: ${learnt.driftPpm} ppm`);
  clock.advance(14 * 86_400_000);
  const later = await info();
  t.equal(later.drift, 2, 'a fortnight on, the prediction has moved by the rate');
  t.ok(Math.abs(later.driftSeconds - (45 + learnt.driftPpm * 1.2096)) < 0.01, `${later.driftSeconds} s`);
});

t.test('GET /v1/audit: filters and limits; bad filters are 400', async (t) => {
  const { app, clock } = await testApp(t);
  const a = device();
  const b = device();
  await importDevices(app, a, b);
  const start = clock.now();
  clock.advance(60_000);
  await post(app, '/v1/validate', { serial: a.serial, otp: a.press() }, admin);
  await post(app, '/v1/validate', { serial: a.serial, otp: '000000' }, admin);
  t.equal((await activate(app, { userId: 'bob', serial: b.serial, otp: b.press(), password: 'bobs password' })).statusCode, 200);

  const all = await app.inject({ url: '/v1/audit', headers: admin });
  t.equal(all.statusCode, 200);
  const events = all.json().events as Array<{
    type: string;
    serial: string;
    userId: string | null;
    at: number;
    ip: string | null;
    reason: string | null;
  }>;
  t.ok(events.length >= 5, 'imports, accept, reject, activation');
  t.ok(
    events.every((e, i) => i === 0 || events[i - 1]!.at >= e.at),
    'newest first',
  );

  const forA = (await app.inject({ url: `/v1/audit?serial=${formatSerial(a.serial)}`, headers: admin })).json().events as typeof events;
  t.ok(forA.length >= 3 && forA.every((e) => e.serial === a.serial), 'by serial (printed form accepted)');
  t.ok(
    forA.some((e) => e.type === 'reject' && e.reason === 'bad-otp' && e.ip === '127.0.0.1'),
    'the reason and the client IP are in the audit log',
  );
  const forBob = (await app.inject({ url: '/v1/audit?userId=bob', headers: admin })).json().events as typeof events;
  t.ok(forBob.length >= 1 && forBob.every((e) => e.userId === 'bob'), 'by user');
  const since = (await app.inject({ url: `/v1/audit?since=${new Date(start + 1).toISOString()}`, headers: admin })).json()
    .events as typeof events;
  t.ok(since.length >= 3 && since.every((e) => e.type !== 'import'), 'since an ISO time leaves the imports out');
  t.same((await app.inject({ url: `/v1/audit?since=${start + 1}`, headers: admin })).json().events, since, 'since as unix ms');
  t.equal((await app.inject({ url: '/v1/audit?limit=2', headers: admin })).json().events.length, 2);

  for (const q of ['limit=0', 'limit=1001', 'limit=ten', 'since=yesterday', 'serial=1234567890', 'colour=blue']) {
    const res = await app.inject({ url: `/v1/audit?${q}`, headers: admin });
    t.equal(res.statusCode, 400, q);
    t.match(res.json(), { error: String, message: String });
  }
});

t.test('healthz, readyz, metrics', async (t) => {
  const { app } = await testApp(t);
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ok' });
  const d = device();
  await importDevices(app, d);
  await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, admin);
  await post(app, '/v1/validate', { serial: d.serial, otp: '000000' }, admin);
  await post(app, '/v1/authenticate', { userId: 'nobody', otp: '000000', password: 'whatever-password' });
  await app.inject({ url: '/no/such/route' });
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401, 'anonymous: refused');
  const metrics = await app.inject({ url: '/metrics', headers: admin });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.headers['content-type'], /^text\/plain/);
  const text = metrics.body;
  t.match(text, /kodeviser_http_requests_total\{method="POST",route="\/v1\/validate",status_code="200"\} 2/);
  t.match(text, /kodeviser_http_requests_total\{method="GET",route="\(not found\)",status_code="404"\} 1/);
  t.match(text, /kodeviser_http_request_duration_seconds_bucket\{le="0.02",method="POST",route="\/v1\/validate"\} \d/);
  t.match(text, /kodeviser_otp_outcomes_total\{endpoint="validate",result="accept",reason="ok"\} 1/);
  t.match(text, /kodeviser_otp_outcomes_total\{endpoint="validate",result="reject",reason="bad-otp"\} 1/);
  t.match(text, /kodeviser_otp_outcomes_total\{endpoint="authenticate",result="reject",reason="not-activated"\} 1/);
  t.match(text, /kodeviser_process_cpu_seconds_total/);
});

t.test('readyz says 503 when the store does not answer', async (t) => {
  let mode: 'false' | 'throw' = 'false';
  const { app } = await testApp(t, {
    service: (real) => ({
      ...real,
      ready: async () => {
        if (mode === 'throw') throw new Error('database is locked');
        return false;
      },
    }),
  });
  t.same(
    [(await app.inject({ url: '/readyz' })).statusCode, (await app.inject({ url: '/readyz' })).json()],
    [503, { status: 'unavailable' }],
  );
  mode = 'throw';
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
});

t.test('an unexpected error is a 500 with a generic message', async (t) => {
  const { app } = await testApp(t, {
    service: (real) => ({
      ...real,
      validate: async () => {
        throw new Error('disk I/O error at /var/lib/secret/path');
      },
    }),
  });
  const res = await post(app, '/v1/validate', { serial: newSerial(), otp: '123456' }, admin);
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: 'internal', message: 'internal server error' });
});

t.test('rate limits: per client IP on every route, per user on the user routes, per device on activation', async (t) => {
  const perIp = await testApp(t, { rateLimit: { perIp: 3 } });
  for (let i = 0; i < 3; i++) t.equal((await perIp.app.inject({ url: '/healthz' })).statusCode, 200);
  const limited = await perIp.app.inject({ url: '/healthz' });
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().error, 'rate-limited');
  t.match(limited.json().message, /too many requests from this address; retry in \d+ s/);
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
  t.equal((await perIp.app.inject({ url: '/healthz', remoteAddress: '192.0.2.7' })).statusCode, 200, 'another address has its own budget');
  const d = device();
  const imported = await perIp.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: admin,
    remoteAddress: '203.0.113.5',
    payload: { tokens: [{ serial: d.serial, profile: d.profile, keyHex: d.keyHex }] },
  });
  t.equal(imported.statusCode, 201);
  for (let i = 0; i < 5; i++) {
    t.equal(
      (await post(perIp.app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService)).json().result,
      'accept',
      `validate ${i + 1} from a limited address: not limited (a back end's route)`,
    );
  }
  t.equal(
    (await post(perIp.app, '/v1/authenticate', { userId: 'u', otp: '123456', password: 'some password' })).statusCode,
    429,
    'while the public routes are',
  );

  const perUser = await testApp(t, { rateLimit: { perUser: 2 } });
  const body = (userId: string) => ({ userId, otp: '123456', password: 'some password' });
  for (let i = 0; i < 2; i++) t.equal((await post(perUser.app, '/v1/authenticate', body('carol'))).statusCode, 401);
  const userLimited = await post(perUser.app, '/v1/authenticate', body('carol'), {});
  t.equal(userLimited.statusCode, 429);
  t.match(userLimited.json(), { error: 'rate-limited', message: /for this user/ });
  t.ok(Number(userLimited.headers['retry-after']) > 0);
  const elsewhere = await perUser.app.inject({
    method: 'POST',
    url: '/v1/users/self/password',
    payload: { userId: 'carol', otp: '123456', oldPassword: 'some password', newPassword: 'other password' },
    remoteAddress: '198.51.100.9',
  });
  t.equal(elsewhere.statusCode, 429, 'the per-user limit holds across addresses and across the routes that name the user');
  t.equal((await post(perUser.app, '/v1/authenticate', body('dave'))).statusCode, 401, 'another user is not limited');

  // An activation names no user: it is counted on its device, whoever's proof it brings.
  const target = device();
  await importDevices(perUser.app, target);
  const activation = async (userId: string, serial: string, remoteAddress: string) =>
    perUser.app.inject({
      method: 'POST',
      url: '/v1/activate',
      payload: { proofId: await proofFor(perUser.app, userId), serial, otp: '000000', password: 'some password' },
      remoteAddress,
    });
  t.equal((await activation('frank', target.serial, '198.51.100.10')).statusCode, 401);
  t.equal((await activation('gina', target.serial, '198.51.100.11')).statusCode, 401);
  const deviceLimited = await activation('hans', formatSerial(target.serial), '198.51.100.12');
  t.same(
    [deviceLimited.statusCode, deviceLimited.json().error],
    [429, 'rate-limited'],
    'a third activation of one device, from a third address, with a third proof (the serial printed)',
  );
  t.equal((await activation('hans', newSerial(), '198.51.100.12')).statusCode, 401, 'another device is not limited');
});

t.test('behind a trusted proxy the client is the X-Forwarded-For address; otherwise the socket peer', async (t) => {
  const forwardedFor = { 'x-forwarded-for': '198.51.100.23' };
  const check = async (trustProxy: number | string | undefined, remoteAddress: string, expected: string, name: string) => {
    const { app } = await testApp(t, { rateLimit: { perIp: 1 }, ...(trustProxy !== undefined ? { trustProxy } : {}) });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/authenticate',
      remoteAddress,
      headers: forwardedFor,
      payload: { userId: 'erin', otp: '123456', password: 'some password' },
    });
    t.equal(res.statusCode, 401, `${name}: refused`);
    const audit = (await app.inject({ url: '/v1/audit?userId=erin', headers: admin, remoteAddress: '192.0.2.200' })).json() as {
      events: Array<{ ip: string }>;
    };
    t.equal(audit.events[0]?.ip, expected, `${name}: the audit log records ${expected}`);
    // The per-IP budget (1) is the client's: a second client behind the same proxy still has its own.
    const other = await app.inject({ url: '/healthz', remoteAddress, headers: { 'x-forwarded-for': '198.51.100.24' } });
    t.equal(other.statusCode, expected === remoteAddress ? 429 : 200, `${name}: another client's budget`);
  };
  await check(undefined, '127.0.0.1', '127.0.0.1', 'no proxy trusted');
  await check('127.0.0.1', '127.0.0.1', '198.51.100.23', 'the proxy by address');
  await check('10.0.0.0/8', '127.0.0.1', '127.0.0.1', 'a peer outside the trusted range');
  await check(1, '203.0.113.9', '198.51.100.23', 'one hop');
});

t.test('the configured policy is the one applied (build() makes the service from the config)', async (t) => {
  const { app } = await testApp(t, { ownService: true, policy: { hotpLookAhead: 20, hotpWideLookAhead: 100, blockAfter: 50 } });
  const d = device();
  t.equal((await importDevices(app, d)).statusCode, 201);
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(15) }, asService)).json(),
    { result: 'accept', serial: d.serial, movingFactor: 15 },
    'counter 15 is inside a look-ahead of 20 (the default 10 would start a resync)',
  );
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(35) }, asService)).json(),
    { result: 'accept', serial: d.serial, movingFactor: 35 },
    '15 + 20: the edge of the window',
  );
  t.same(
    (await post(app, '/v1/validate', { serial: d.serial, otp: d.otp.generate(56) }, asService)).json(),
    { result: 'resync-started', serial: d.serial, movingFactor: null },
    '35 + 21: beyond it, in the wide window',
  );
});
