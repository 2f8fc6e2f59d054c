// The activation takeover over HTTP, on SQLite and on PostgreSQL: a second device activated for a
// user ID that exists never takes the user over; the owner replaces a device only with a code of
// the active one and the current password in the same request; a new user ID still activates.
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { admin, device, importDevices, post, testApp, type Device } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

async function userIdOf(app: FastifyInstance, d: Device): Promise<string | null> {
  return (await app.inject({ method: 'GET', url: `/v1/tokens/${d.serial}`, headers: admin })).json().userId;
}

function takeoverSuite(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  t.test('a spare device never takes over an existing user', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const [victim, spare, fresh] = [device(), device(), device()];
    await importDevices(app, victim, spare, fresh);
    const activate = (body: Record<string, string>) => post(app, '/v1/activate', body);
    const login = (d: Device, password: string) => post(app, '/v1/authenticate', { userId: 'demo', otp: d.press(), password });

    t.equal((await activate({ userId: 'demo', serial: victim.serial, otp: victim.press(), password: 'victim-pw-1' })).statusCode, 200);
    const takeover = await activate({ userId: 'demo', serial: spare.serial, otp: spare.press(), password: 'attacker-pw-1' });
    t.equal(takeover.statusCode, 401);
    t.same(takeover.json(), { result: 'reject' }, 'the same generic reject as a wrong code');
    const guessed = await activate({
      userId: 'demo',
      serial: spare.serial,
      otp: spare.press(),
      password: 'attacker-pw-1',
      currentOtp: '123456',
      currentPassword: 'victim-pw-1',
    });
    t.same([guessed.statusCode, guessed.json()], [401, { result: 'reject' }], 'a guessed code of the active device');

    t.equal(await userIdOf(app, spare), null, 'the spare stays unassigned');
    t.equal(await userIdOf(app, victim), 'demo', 'the victim keeps the device');
    t.equal((await login(victim, 'victim-pw-1')).statusCode, 200, 'the victim logs in with the old password');
    t.equal((await login(spare, 'attacker-pw-1')).statusCode, 401, 'the attacker does not');
    const audit = (await app.inject({ method: 'GET', url: `/v1/audit?serial=${spare.serial}`, headers: admin })).json().events;
    t.equal(audit.filter((e: { reason: string }) => e.reason === 'owner-not-proven').length, 2, 'the reason is in the audit log only');

    // The owner's replacement: the new device's code plus the active one's and the current password.
    const replaced = await activate({
      userId: 'demo',
      serial: fresh.serial,
      otp: fresh.press(),
      password: 'victim-pw-2',
      currentOtp: victim.press(),
      currentPassword: 'victim-pw-1',
    });
    t.same([replaced.statusCode, replaced.json()], [200, { result: 'accept' }], 'the owner replaces the device');
    t.equal(await userIdOf(app, victim), null, 'the old device is deactivated');
    t.equal(await userIdOf(app, fresh), 'demo');
    t.equal((await login(fresh, 'victim-pw-2')).statusCode, 200, 'the new device and password log in');
    t.equal((await login(victim, 'victim-pw-1')).statusCode, 401, 'the old ones do not');

    const newcomer = device();
    await importDevices(app, newcomer);
    t.equal(
      (await activate({ userId: 'newcomer', serial: newcomer.serial, otp: newcomer.press(), password: 'newcomer-pw-1' })).statusCode,
      200,
      'a new user ID activates with its device alone',
    );
    t.equal(await userIdOf(app, newcomer), 'newcomer');
  });

  t.test('the OpenAPI document names the proof fields', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const schema = doc.paths['/v1/activate'].post.requestBody.content['application/json'].schema;
    t.match(schema.properties, { currentOtp: { type: 'string' }, currentPassword: { type: 'string' } });
    t.same(schema.required, ['userId', 'serial', 'otp', 'password'], 'optional: a new user ID needs neither');
  });
}

t.test('SQLite', async (t) => takeoverSuite(t));

if (await requirePostgres(t, undefined, 'the activation takeover test on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) =>
    takeoverSuite(t, async (t) => {
      const { url } = await tempSchema(t);
      return openPostgresStore(url, { poolSize: 4 });
    }),
  );
}
