// The activation takeover over HTTP, on SQLite and on PostgreSQL. The stopgap's reproduction (a
// spare device activated under a user ID that exists) is impossible now: an activation names no
// user, only a proof of identity, which says whose device it is. A proof cannot be guessed,
// reused, used after 15 minutes, used twice at once, or used for another user's device.
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { activate, admin, device, importDevices, post, proofFor, testApp, type Device } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

async function userIdOf(app: FastifyInstance, d: Device): Promise<string | null> {
  return (await app.inject({ method: 'GET', url: `/v1/tokens/${d.serial}`, headers: admin })).json().userId;
}

async function reasonsOf(app: FastifyInstance, query: string): Promise<string[]> {
  const events = (await app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: admin })).json().events;
  return events.filter((e: { type: string }) => e.type === 'reject').map((e: { reason: string }) => e.reason);
}

function takeoverSuite(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  t.test('the stopgap reproduction: a spare device never takes over an existing user', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const [victim, spare] = [device(), device()];
    await importDevices(app, victim, spare);
    const login = (d: Device, userId: string, password: string) => post(app, '/v1/authenticate', { userId, otp: d.press(), password });
    t.same((await activate(app, { userId: 'demo', serial: victim.serial, otp: victim.press(), password: 'victim-pw-1' })).json(), {
      result: 'accept',
      userId: 'demo',
    });

    const reproduction = await post(app, '/v1/activate', {
      userId: 'demo',
      serial: spare.serial,
      otp: spare.press(),
      password: 'attacker-pw-1',
    });
    t.equal(reproduction.statusCode, 400, 'a user ID in place of a proof is not even a request');
    t.match(reproduction.json(), { error: 'bad-request', message: /proofId/ });

    for (let i = 0; i < 20; i++) {
      const guess = await post(app, '/v1/activate', {
        proofId: randomBytes(16).toString('base64url'),
        serial: spare.serial,
        otp: spare.otp.generate(spare.counter),
        password: 'attacker-pw-1',
      });
      t.same([guess.statusCode, guess.json()], [401, { result: 'reject' }], `guessed proof ${i}: the generic reject`);
    }
    t.equal(await userIdOf(app, spare), null, 'the spare stays unassigned');
    t.match(
      await app.inject({ method: 'GET', url: `/v1/tokens/${spare.serial}`, headers: admin }).then((r) => r.json()),
      {
        failures: 0,
        lastMovingFactor: null,
      },
      'its right code never looked at: no proof, no attempt on the device',
    );
    t.equal(await userIdOf(app, victim), 'demo', 'the victim keeps the device');
    t.equal((await login(victim, 'demo', 'victim-pw-1')).statusCode, 200, 'and logs in with the old password');
    t.same(new Set(await reasonsOf(app, `serial=${spare.serial}`)), new Set(['proof-unknown']), 'the reason is in the audit log only');

    // The attacker's own proof makes the spare the attacker's device, never the victim's.
    const own = await activate(app, { userId: 'mallory', serial: spare.serial, otp: spare.press(), password: 'attacker-pw-1' });
    t.same(own.json(), { result: 'accept', userId: 'mallory' });
    t.equal((await login(spare, 'demo', 'attacker-pw-1')).statusCode, 401, 'the attacker does not log in as demo');
    const stolen = await post(app, '/v1/activate', {
      proofId: await proofFor(app, 'mallory'),
      serial: victim.serial,
      otp: victim.press(),
      password: 'attacker-pw-2',
    });
    t.equal(stolen.statusCode, 401, "nor can a proof of one's own take the victim's device");
    t.equal(await userIdOf(app, victim), 'demo');
    t.same(await reasonsOf(app, 'userId=mallory'), ['assigned-elsewhere']);
  });

  t.test('a proof is spent by its activation, and lives 15 minutes', async (t) => {
    const { app, clock } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const [first, second, third] = [device(), device(), device()];
    await importDevices(app, first, second, third);
    const spend = (proofId: string, d: Device) =>
      post(app, '/v1/activate', { proofId, serial: d.serial, otp: d.press(), password: 'owner-pw-1' });

    const proofId = await proofFor(app, 'erin');
    t.equal((await spend(proofId, first)).statusCode, 200);
    const again = await spend(proofId, second);
    t.same([again.statusCode, again.json()], [401, { result: 'reject' }], 'used: refused');
    t.equal(await userIdOf(app, second), null);

    const late = await proofFor(app, 'erin');
    clock.advance(15 * 60_000);
    t.equal((await spend(late, second)).statusCode, 401, 'at 15 minutes: expired');
    const inTime = await proofFor(app, 'erin');
    clock.advance(15 * 60_000 - 1);
    t.equal((await spend(inTime, second)).statusCode, 200, 'a millisecond before: in time, and the new device replaces the old');
    t.equal(await userIdOf(app, first), null, 'the old one is deactivated');
    t.same(await reasonsOf(app, 'userId=erin'), ['proof-expired', 'proof-used']);
    const replaced = (await app.inject({ method: 'GET', url: `/v1/audit?serial=${first.serial}`, headers: admin })).json().events;
    t.match(replaced[0], { type: 'deactivate', reason: `replaced by ${second.serial}` });
  });

  t.test('two activations spending one proof at once: one wins', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const devices = Array.from({ length: 6 }, () => device());
    await importDevices(app, ...devices);
    const proofId = await proofFor(app, 'frank');
    const replies = await Promise.all(
      devices.map((d) => post(app, '/v1/activate', { proofId, serial: d.serial, otp: d.press(), password: 'frank-pw-1' })),
    );
    t.same(replies.map((r) => r.statusCode).sort(), [200, 401, 401, 401, 401, 401], 'one activation, the others refused');
    const owners = await Promise.all(devices.map((d) => userIdOf(app, d)));
    t.same(
      owners.filter((o) => o !== null),
      ['frank'],
      'one device assigned',
    );
  });

  t.test('the OpenAPI document: a proof, a serial, a code and a password; no user ID', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const schema = doc.paths['/v1/activate'].post.requestBody.content['application/json'].schema;
    t.same(schema.required, ['proofId', 'serial', 'otp', 'password']);
    t.same(Object.keys(schema.properties).sort(), ['otp', 'password', 'proofId', 'serial']);
    t.match(doc.paths['/v1/activate'].post.responses['200'].content['application/json'].schema, { required: ['result', 'userId'] });
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
