// Credentials over HTTP, on SQLite and on PostgreSQL: the admin creates them (the token shown
// once, stored hashed), lists them (never a token), revokes them at once; a credential's bearer
// is admitted where its role is, audited under its id, refused once revoked or expired.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { admin, device, importDevices, post, testApp } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function credentialSuite(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  t.test('create, list, use, revoke', async (t) => {
    const { app, clock } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const create = (body: unknown, headers = admin) => post(app, '/v1/credentials', body, headers);

    const made = await create({ role: 'service', name: 'the shop' });
    t.equal(made.statusCode, 201);
    const service = made.json();
    t.match(service, {
      id: /^cred-[0-9a-f]{16}$/,
      role: 'service',
      name: 'the shop',
      createdAt: clock.now(),
      expiresAt: null,
      revokedAt: null,
    });
    t.match(service.token, /^kvc_[A-Za-z0-9_-]{43}$/, '256 random bits, with a prefix a secret scanner knows');
    clock.advance(1000);
    const operator = (await create({ role: 'operator', name: 'Borgerservice Aarhus, desk 3', expiresAt: clock.now() + 3_600_000 })).json();

    const listed = await app.inject({ method: 'GET', url: '/v1/credentials', headers: admin });
    t.equal(listed.statusCode, 200);
    t.same(
      listed.json().credentials.map((c: { id: string }) => c.id),
      [service.id, operator.id],
      'listed oldest first',
    );
    t.notMatch(listed.body, service.token, 'never a token in a list');
    const operators = await app.inject({ method: 'GET', url: '/v1/credentials?role=operator', headers: admin });
    t.same(
      operators.json().credentials.map((c: { id: string }) => c.id),
      [operator.id],
      'by role',
    );
    t.equal((await app.inject({ method: 'GET', url: '/v1/credentials?role=admin', headers: admin })).statusCode, 400, 'an unknown role');
    t.notMatch(listed.body, createHash('sha256').update(service.token).digest('hex'), 'nor its hash');

    // A service credential validates codes as the service token does, and is audited as itself.
    const d = device();
    await importDevices(app, d);
    const ok = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, bearer(service.token));
    t.equal(ok.statusCode, 200, 'a service credential validates');
    const denied = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, bearer(operator.token));
    t.equal(denied.statusCode, 401, 'an operator credential does not (not its role)');
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/credentials', headers: bearer(service.token) })).statusCode,
      401,
      'nor does a service list credentials',
    );
    t.equal((await create({ role: 'operator', name: 'x' }, bearer(operator.token))).statusCode, 401, 'only the admin creates them');

    const revoked = await app.inject({ method: 'DELETE', url: `/v1/credentials/${service.id}`, headers: admin });
    t.equal(revoked.statusCode, 200);
    t.equal(revoked.json().revokedAt, clock.now());
    const after = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, bearer(service.token));
    t.same([after.statusCode, after.json().error], [401, 'unauthorized'], 'refused at once');
    t.equal(
      (await app.inject({ method: 'DELETE', url: `/v1/credentials/${service.id}`, headers: admin })).statusCode,
      200,
      'revoking again changes nothing',
    );
    t.same((await app.inject({ method: 'DELETE', url: '/v1/credentials/cred-0000000000000000', headers: admin })).json(), {
      error: 'unknown-credential',
      message: 'no credential with id cred-0000000000000000',
    });

    const events = (await app.inject({ method: 'GET', url: '/v1/audit', headers: admin })).json().events;
    t.match(
      events.filter((e: { type: string }) => e.type.startsWith('credential-')),
      [
        { type: 'credential-revoke', actor: 'admin', reason: `${service.id} service` },
        { type: 'credential-create', actor: 'admin', reason: `${operator.id} operator` },
        { type: 'credential-create', actor: 'admin', reason: `${service.id} service` },
      ],
      'creations and revocations audited; a revocation that changed nothing is not',
    );
    t.notMatch(JSON.stringify(events), service.token.slice(4), 'no token in the audit log');

    // An expiry: refused from that moment on.
    const imp = (await create({ role: 'service', name: 'a day', expiresAt: clock.now() + 86_400_000 })).json();
    t.equal(
      (await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, bearer(imp.token))).statusCode,
      200,
      'admitted until it expires',
    );
    clock.advance(86_400_000);
    t.equal(
      (await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, bearer(imp.token))).json().error,
      'unauthorized',
      'expired',
    );
  });

  t.test('bad input: every kind a 4xx {error, message}', async (t) => {
    const { app, clock } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    for (const body of [
      {},
      { role: 'admin', name: 'x' },
      { role: 'operator' },
      { role: 'operator', name: '' },
      { role: 'operator', name: 'x'.repeat(101) },
      { role: 'operator', name: 'x', expiresAt: 'tomorrow' },
      { role: 'operator', name: 'x', extra: 1 },
    ]) {
      const res = await post(app, '/v1/credentials', body, admin);
      t.equal(res.statusCode, 400, JSON.stringify(body));
      t.match(res.json(), { error: String, message: String });
    }
    const past = await post(app, '/v1/credentials', { role: 'operator', name: 'x', expiresAt: clock.now() }, admin);
    t.same([past.statusCode, past.json().message], [400, 'expiresAt must be a time in the future (unix ms)']);
    const blank = await post(app, '/v1/credentials', { role: 'operator', name: '   ' }, admin);
    t.equal(blank.statusCode, 400, 'a name of spaces only');
    t.equal((await app.inject({ method: 'DELETE', url: '/v1/credentials/nope', headers: admin })).statusCode, 400, 'a malformed id');
    for (const token of ['kvc_short', `kvc_${'A'.repeat(43)}`, `kvc_${'A'.repeat(43)}x`]) {
      const res = await app.inject({ method: 'GET', url: '/v1/credentials', headers: bearer(token) });
      t.equal(res.statusCode, 401, `${token.slice(0, 12)}…: unknown`);
    }
  });
}

t.test('SQLite', async (t) => credentialSuite(t));
if (await requirePostgres(t, undefined, 'the credential tests on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) =>
    credentialSuite(t, async (t) => {
      const { url } = await tempSchema(t);
      return openPostgresStore(url, { poolSize: 4 });
    }),
  );
}

t.test('a lost device: revoked by an operator or the proofing back-end; a locked one unlocked by an operator', async (t) => {
  const { app } = await testApp(t);
  const make = async (role: string) =>
    ({ authorization: `Bearer ${(await post(app, '/v1/credentials', { role, name: role }, admin)).json().token}` }) as Record<
      string,
      string
    >;
  const [operator, proofing, service] = [await make('operator'), await make('proofing'), await make('service')];
  const [a, b] = [device(), device()];
  await importDevices(app, a, b);
  const act = (d: { serial: string }, action: string, headers: Record<string, string>) =>
    post(app, `/v1/tokens/${d.serial}/${action}`, {}, headers);

  t.equal((await act(a, 'lock', operator)).statusCode, 401, 'locking stays the admin’s');
  t.equal((await act(a, 'lock', admin)).statusCode, 200);
  t.equal((await act(a, 'unlock', proofing)).statusCode, 401, 'the app does not unlock');
  t.equal((await act(a, 'unlock', service)).statusCode, 401, 'nor does a service');
  const unlocked = await act(a, 'unlock', operator);
  t.same([unlocked.statusCode, unlocked.json().status], [200, 'enabled'], 'an operator unlocks at the counter');
  t.equal((await act(a, 'revoke', service)).statusCode, 401, 'a service does not revoke');
  t.same((await act(a, 'revoke', proofing)).json().status, 'revoked', 'lost, reported in the app');
  t.same((await act(b, 'revoke', operator)).json().status, 'revoked', 'lost, reported at a service centre');
  const events = (await app.inject({ url: '/v1/audit', headers: admin })).json().events;
  const actorOf = (type: string, serial: string) =>
    events.find((e: { type: string; serial: string }) => e.type === type && e.serial === serial)?.actor;
  t.match(
    [actorOf('unlock', a.serial), actorOf('revoke', a.serial), actorOf('revoke', b.serial)],
    [/^cred-/, /^cred-/, /^cred-/],
    'audited under the credentials',
  );
  t.not(actorOf('revoke', a.serial), actorOf('revoke', b.serial), 'each its own');
});
