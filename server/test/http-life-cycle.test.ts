// A user's life over HTTP, on SQLite and on PostgreSQL: the password changed with the current
// login, a forgotten one reset with a proof; the user as an operator sees it; a replacement that
// was not the owner's doing reversed by an operator within 7 days.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { activate, admin, credential, device, importDevices, operatorOf, post, proofFor, testApp, type Device } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { identityOf } from '../../test/helpers/identities.js';

const DAY = 86_400_000;

const login = (app: FastifyInstance, userId: string, d: Device, password: string) =>
  post(app, '/v1/authenticate', { userId, otp: d.press(), password });

async function userOf(app: FastifyInstance, userId: string, headers: Record<string, string> = admin) {
  return app.inject({ method: 'GET', url: `/v1/users/${encodeURIComponent(userId)}`, headers });
}

function lifeSuite(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  const open = async (t: Test) => testApp(t, openStore ? { store: await openStore(t) } : {});

  t.test('the password: changed with the current login, reset with a proof and a code of the device', async (t) => {
    const { app } = await open(t);
    const d = device();
    await importDevices(app, d);
    t.equal((await activate(app, { userId: 'gina', serial: d.serial, otp: d.press(), password: 'gina-pw-one' })).statusCode, 200);
    const change = (body: Record<string, string>) => post(app, '/v1/users/self/password', body);

    const wrong = await change({ userId: 'gina', otp: d.press(), oldPassword: 'not-her-pw', newPassword: 'gina-pw-two' });
    t.same([wrong.statusCode, wrong.json()], [401, { result: 'reject' }], 'a wrong old password: the generic reject');
    const weak = await change({ userId: 'gina', otp: d.press(), oldPassword: 'gina-pw-one', newPassword: 'password1' });
    t.match([weak.statusCode, weak.json()], [400, { error: 'weak-password' }], 'a common new password: refused before anything');
    t.equal((await change({ userId: 'gina', otp: d.press(), oldPassword: 'gina-pw-one', newPassword: 'gina-pw-two' })).statusCode, 200);
    t.equal((await login(app, 'gina', d, 'gina-pw-one')).statusCode, 401, 'the old password no longer logs in');
    t.equal((await login(app, 'gina', d, 'gina-pw-two')).statusCode, 200, 'the new one does');

    const reset = (proofId: string, otp: string) =>
      post(app, '/v1/users/self/password-reset', { proofId, otp, newPassword: 'gina-pw-three' });
    const proofId = await proofFor(app, 'gina');
    t.equal((await reset(proofId, '000000')).statusCode, 401, 'a wrong code: refused, the proof kept');
    t.equal((await reset(proofId, d.press())).statusCode, 200, 'the proof and a code of the device');
    t.equal((await reset(proofId, d.press())).statusCode, 401, 'the proof is spent');
    t.equal((await login(app, 'gina', d, 'gina-pw-three')).statusCode, 200);
    const noProof = await post(app, '/v1/users/self/password-reset', { otp: d.press(), newPassword: 'gina-pw-four' });
    t.match([noProof.statusCode, noProof.json()], [400, { error: 'bad-request', message: /proofId/ }]);

    const events = (await app.inject({ method: 'GET', url: '/v1/audit?userId=gina', headers: admin })).json().events;
    t.same(
      events.filter((e: { type: string }) => e.type === 'password').map((e: { reason: string }) => e.reason.replace(/cred-\S+/, 'CRED')),
      ['reset with proof by CRED', 'changed'],
      'both audited, newest first',
    );
  });

  t.test('a user as staff see it: devices and why each ended; never a hash or an identity number', async (t) => {
    const { app, clock } = await open(t);
    const [first, second] = [device(), device('totp-sha1')];
    await importDevices(app, first, second);
    await activate(app, { userId: 'hans', serial: first.serial, otp: first.press(), password: 'hans-pw-one' });
    const createdAt = clock.now();
    clock.advance(60_000);
    await activate(app, {
      userId: 'hans',
      serial: second.serial,
      otp: second.otp.generate(Math.floor(clock.now() / 30_000)),
      password: 'hans-pw-two',
    });
    const res = await userOf(app, 'hans', await operatorOf(app));
    t.equal(res.statusCode, 200);
    t.same(res.json(), {
      userId: 'hans',
      createdAt,
      identityLinked: true,
      activeDevice: { serial: second.serial, profile: 'totp-sha1', activatedAt: clock.now() },
      pastDevices: [
        {
          serial: first.serial,
          profile: 'hotp-sha1',
          activatedAt: createdAt,
          endedAt: clock.now(),
          ended: 'replaced',
          replacedBy: second.serial,
        },
      ],
      lastUsedAt: clock.now(),
    });
    t.notOk(res.body.includes('scrypt'), 'no password hash');
    t.notOk(res.body.includes(identityOf('hans').nationalId), 'no national ID');
    await post(app, `/v1/tokens/${second.serial}/revoke`, {}, await operatorOf(app));
    t.match((await userOf(app, 'hans')).json(), {
      activeDevice: null,
      pastDevices: [
        { serial: first.serial, ended: 'replaced' },
        { serial: second.serial, ended: 'revoked', replacedBy: null },
      ],
    });
    t.match([(await userOf(app, 'nobody')).statusCode, (await userOf(app, 'nobody')).json()], [404, { error: 'unknown-user' }]);
    for (const role of ['proofing', 'service'] as const) {
      t.equal((await userOf(app, 'hans', await credential(app, role))).statusCode, 401, `${role}: not theirs to see`);
    }
    t.equal((await userOf(app, 'hans', {})).statusCode, 401);
  });

  t.test('an operator reverses a replacement within 7 days: the old device back, the new one revoked, the password cleared', async (t) => {
    const { app, clock } = await open(t);
    const [own, attackers, later] = [device(), device(), device()];
    await importDevices(app, own, attackers, later);
    await activate(app, { userId: 'ida', serial: own.serial, otp: own.press(), password: 'ida-pw-one' });
    // Someone who passed an ID check as ida replaces her device.
    await activate(app, { userId: 'ida', serial: attackers.serial, otp: attackers.press(), password: 'mallory-pw-1' });
    const lockedOut = await post(app, '/v1/authenticate', { userId: 'ida', otp: own.otp.generate(own.counter), password: 'ida-pw-one' });
    t.equal(lockedOut.statusCode, 401, 'ida is locked out');

    const operator = await operatorOf(app);
    const reinstate = (d: Device, headers = operator) => post(app, `/v1/tokens/${d.serial}/reinstate`, {}, headers);
    t.equal((await reinstate(own, await credential(app, 'proofing'))).statusCode, 401, 'the proofing back-end may not');
    t.match(
      [(await reinstate(attackers)).statusCode, (await reinstate(attackers)).json()],
      [409, { error: 'not-replaced' }],
      'an active device',
    );
    t.match((await reinstate(later)).json(), { error: 'not-replaced' }, 'a device never assigned');
    clock.advance(7 * DAY - 1);
    const back = await reinstate(own);
    t.same([back.statusCode, back.json()], [200, { serial: own.serial, userId: 'ida', revoked: attackers.serial }]);
    t.equal((await login(app, 'ida', attackers, 'mallory-pw-1')).statusCode, 401, "the attacker's device is revoked");
    t.equal((await login(app, 'ida', own, 'ida-pw-one')).statusCode, 401, "the attacker's password was cleared, not ida's restored");
    t.equal((await login(app, 'ida', own, 'mallory-pw-1')).statusCode, 401, 'nor does it log in any more');
    clock.advance(60_000); // those three failures blocked ida's device for 30 s
    const reset = await post(app, '/v1/users/self/password-reset', {
      proofId: await proofFor(app, 'ida'),
      otp: own.press(),
      newPassword: 'ida-pw-two',
    });
    t.equal(reset.statusCode, 200, 'ida resets it with a proof and her own device');
    t.equal((await login(app, 'ida', own, 'ida-pw-two')).statusCode, 200);
    t.match((await reinstate(own)).json(), { error: 'not-replaced' }, 'reinstated: active again, nothing to reverse');
    t.match((await reinstate(attackers)).json(), { error: 'token-state' }, 'the revoked one stays revoked');

    // Too late: 7 days and a millisecond.
    await activate(app, { userId: 'ida', serial: later.serial, otp: later.press(), password: 'ida-pw-three' });
    clock.advance(7 * DAY + 1);
    t.match([(await reinstate(own)).statusCode, (await reinstate(own)).json()], [409, { error: 'too-late' }]);
    const events = (await app.inject({ method: 'GET', url: `/v1/audit?serial=${own.serial}`, headers: admin })).json().events;
    t.match(
      events.find((e: { type: string; reason: string | null }) => e.type === 'activate' && /reinstated/.test(e.reason ?? '')),
      { actor: /^cred-/, userId: 'ida', reason: `reinstated: replacement by ${attackers.serial} reversed; password cleared` },
      'audited under the operator',
    );
  });

  t.test("erasure: the user's data deleted, its devices revoked, the audit log untouched but no longer saying whose", async (t) => {
    const { app, config } = await open(t);
    const [first, second, kept] = [device(), device(), device()];
    await importDevices(app, first, second, kept);
    const audit = async (query: string) =>
      (await app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: admin })).json().events as Array<{
        type: string;
        userId: string | null;
        reason: string | null;
      }>;
    await activate(app, { userId: 'erasable-user-7', serial: first.serial, otp: first.press(), password: 'erase-pw-one' });
    await activate(app, { userId: 'erasable-user-7', serial: second.serial, otp: second.press(), password: 'erase-pw-two' });
    await login(app, 'erasable-user-7', second, 'erase-pw-two');
    await activate(app, { userId: 'kept-user-7', serial: kept.serial, otp: kept.press(), password: 'kept-pw-one' });
    const before = await audit('userId=erasable-user-7');
    t.ok(before.length >= 6 && before.every((e) => e.userId === 'erasable-user-7'), 'the log names the user while the mapping exists');

    const erase = (userId: string, headers = admin) => app.inject({ method: 'DELETE', url: `/v1/users/${userId}`, headers });
    t.equal((await erase('erasable-user-7', (await operatorOf(app)) as typeof admin)).statusCode, 401, 'an operator may not');
    t.match([(await erase('nobody')).statusCode, (await erase('nobody')).json()], [404, { error: 'unknown-user' }]);
    const erased = await erase('erasable-user-7');
    t.same([erased.statusCode, erased.body], [204, '']);
    t.equal((await erase('erasable-user-7')).statusCode, 404, 'once');

    t.equal((await userOf(app, 'erasable-user-7')).statusCode, 404);
    t.same(await audit('userId=erasable-user-7'), [], 'no row answers to the user ID any more');
    const rows = await audit(`serial=${first.serial}`);
    t.ok(rows.length >= 4, 'the rows are all still there');
    t.ok(
      rows.every((e) => e.userId === null),
      'naming nobody',
    );
    t.match(
      (await audit('limit=5')).find((e) => e.type === 'erase'),
      { userId: null, reason: 'personal data erased' },
    );
    t.equal((await audit('userId=kept-user-7')).length, 3, "another user's rows still name it");
    for (const d of [first, second]) {
      t.match(
        (await app.inject({ method: 'GET', url: `/v1/tokens/${d.serial}`, headers: admin })).json(),
        { status: 'revoked', userId: null },
        'every device it ever had revoked: no one else may activate it',
      );
    }
    // (A login naming the erased user ID now would be audited with the ID as typed, as for any
    // user ID no user has: the scan below would find that, so it is not tried here.)
    const again = await post(
      app,
      '/v1/proofs',
      { identity: identityOf('erasable-user-7'), userId: 'erasable-again' },
      await operatorOf(app),
    );
    t.same([again.statusCode, again.json().userId], [201, 'erasable-again'], 'the same person proven again is a new user');
    const back = await post(app, '/v1/activate', {
      proofId: again.json().proofId,
      serial: second.serial,
      otp: second.press(),
      password: 'erase-pw-three',
    });
    t.equal(back.statusCode, 401, 'without the old devices');

    if (config.database.kind === 'sqlite' && openStore === undefined) {
      await app.close();
      const file = readFileSync(config.database.path);
      t.ok(file.includes('kept-user-7'), 'a user ID kept is in the file (the scan can see one)');
      t.notOk(file.includes('erasable-user-7'), 'the erased user ID is nowhere in the file, free space included');
    }
  });
}

t.test('SQLite', async (t) => lifeSuite(t));

if (await requirePostgres(t, undefined, 'the life-cycle test on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) =>
    lifeSuite(t, async (t) => {
      const { url } = await tempSchema(t);
      return openPostgresStore(url, { poolSize: 4 });
    }),
  );
}
