// Proofs of identity over HTTP, on SQLite and on PostgreSQL: one national ID is one user whatever
// document shows it; a user ID and an identity never change hands; concurrent first proofs make
// one user; the numbers never reach a reply, the audit log or the server log.
import t, { type Test } from 'tap';
import { createTokenService } from '../src/domain/service.js';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { activate, admin, asService, credential, device, importDevices, post, testApp, type Device } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { FAST_SCRYPT } from './helpers/service.js';
import { activateWrites, applyWrites } from './helpers/writes.js';
import { createPasswordHasher } from '../src/security/password.js';

const CPR = '0101901234';
const passport = (number = 'X123 45-67') => ({ type: 'passport', country: 'dk', number });

/**
 * A user from before identities, as a database migrated from then holds one: created by an
 * activation with a device alone (no identity linked), its device `d` active and its code 0 spent.
 * Written to the store directly, since every activation now spends a proof, which links one.
 */
async function legacyUser(store: TokenStore, d: Device, userId: string, password: string, at: number): Promise<void> {
  const passwordHash = await createPasswordHasher(FAST_SCRYPT).hash(password);
  d.press();
  await applyWrites(store, activateWrites(d.serial, 0, { at, ip: '192.0.2.1', userId }, { userId, passwordHash }), { serial: d.serial });
}

function proofSuite(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  /** The suite's store: PostgreSQL's, or a SQLite file of the test's own (the app closes it). */
  const storeFor = async (t: Test): Promise<TokenStore> => (openStore ? openStore(t) : openSqliteStore(join(tempDir(t), 'kodeviser.db')));

  t.test('one national ID is one user; user IDs and identities never change hands', async (t) => {
    const store = await storeFor(t);
    const { app, clock, log } = await testApp(t, { captureLog: true, store });
    const operator = await credential(app, 'operator');
    const proofing = await credential(app, 'proofing');
    const prove = (body: unknown, headers = operator) => post(app, '/v1/proofs', body, headers);

    const first = await prove({ identity: { nationalId: CPR, document: passport() }, userId: 'anna' });
    t.equal(first.statusCode, 201);
    t.match(
      first.json(),
      { proofId: /^[A-Za-z0-9_-]{22}$/, userId: 'anna', expiresAt: clock.now() + 15 * 60_000 },
      '128 random bits, 15 minutes',
    );
    const renewed = await prove({ identity: { nationalId: '010190-1234', document: passport('YK99042') } }, proofing);
    t.same([renewed.statusCode, renewed.json().userId], [201, 'anna'], 'a renewed passport, in the app: the same person');
    t.not(renewed.json().proofId, first.json().proofId, 'a new proof each time');
    const card = await prove({
      identity: { nationalId: CPR, document: { type: 'driving-licence', country: 'DK', number: '1' } },
      userId: 'anna',
    });
    t.same([card.statusCode, card.json().userId], [201, 'anna'], 'another document, the user named: the same user');

    const elsewhere = await prove({ identity: { nationalId: CPR, document: passport() }, userId: 'mallory' });
    t.same([elsewhere.statusCode, elsewhere.json().error], [409, 'identity-linked-elsewhere'], 'an identity never takes another user ID');
    const taken = await prove({ identity: { nationalId: '0202801234', document: passport('ZQ90714') }, userId: 'anna' });
    t.same([taken.statusCode, taken.json().error], [409, 'user-linked-elsewhere'], "a user ID never takes another person's identity");
    const generated = await prove({ identity: { nationalId: '0202801234', document: passport('ZQ90714') } });
    t.match(generated.json(), { userId: /^kv-[0-9a-f]{12}$/ }, 'no user ID asked for: one is made');

    // A user from before identities (activated with a device alone) is not linked by a proof alone.
    const d = device();
    await importDevices(app, d);
    await legacyUser(store, d, 'old-timer', 'old-password-1', clock.now());
    t.equal(
      (await post(app, '/v1/authenticate', { userId: 'old-timer', otp: d.press(), password: 'old-password-1' })).statusCode,
      200,
      'the old user logs in as before',
    );
    const oldTimer = { identity: { nationalId: '0303701234', document: passport('Q7') }, userId: 'old-timer' };
    const old = await prove(oldTimer);
    t.same([old.statusCode, old.json().error], [409, 'owner-proof-required'], "linking it needs its owner's device and password");
    t.equal(
      (await post(app, '/v1/authenticate', { userId: 'old-timer', otp: d.press(), password: 'old-password-1' })).statusCode,
      200,
      'the old user is untouched',
    );
    const guessed = await prove({ ...oldTimer, owner: { otp: d.press(), password: 'guessed-password' } });
    t.same([guessed.statusCode, guessed.json().error], [409, 'owner-not-proven'], "a stranger's ID check with a guessed password");
    t.match((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json(), { failures: 1 }, 'counted as a failed login');
    const linked = await prove({ ...oldTimer, owner: { otp: d.press(), password: 'old-password-1' } });
    t.same([linked.statusCode, linked.json().userId], [201, 'old-timer'], "the owner's code and password link it");
    const e = device();
    await importDevices(app, e);
    const moved = await post(app, '/v1/activate', {
      proofId: linked.json().proofId,
      serial: e.serial,
      otp: e.press(),
      password: 'old-password-2',
    });
    t.same([moved.statusCode, moved.json()], [200, { result: 'accept', userId: 'old-timer' }], 'and its proof replaces the device');
    t.equal((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json().userId, null, 'the old device deactivated');
    const again = await prove({ identity: { nationalId: '0303701234', document: passport('Q8') } });
    t.equal(again.json().userId, 'old-timer', 'from now on the identity finds it');
    const other = await prove({
      identity: { nationalId: '0606601234', document: passport('R1') },
      userId: 'old-timer',
      owner: { otp: d.press(), password: 'old-password-1' },
    });
    t.same([other.statusCode, other.json().error], [409, 'user-linked-elsewhere'], 'and no other identity takes it, owner or not');

    for (const [who, headers] of [
      ['the admin', admin],
      ['the service token', asService],
      ['a service credential', await credential(app, 'service')],
      ['nobody', {}],
    ] as const) {
      t.equal((await prove({ identity: { nationalId: CPR, document: passport() } }, headers)).statusCode, 401, `${who}: 401`);
    }

    const events = (await app.inject({ method: 'GET', url: '/v1/audit?limit=1000', headers: admin })).json().events;
    const proofs = events.filter((e: { type: string }) => e.type === 'proof');
    t.equal(proofs.length, 6, 'every proof audited');
    t.match(proofs.at(-1), { userId: 'anna', actor: /^cred-/, reason: 'new user' }, 'by the credential that made it');
    const everything = JSON.stringify(events) + log() + first.body + renewed.body + card.body;
    const proofIds = [first, renewed, card, generated, linked].map((r) => r.json().proofId as string);
    t.equal(new Set(proofIds).size, 5);
    t.notOk(
      proofIds.some((id) => JSON.stringify(events).includes(id) || log().includes(id)),
      'no proof id in an audit row or a log line',
    );
    for (const secret of [
      CPR,
      '010190-1234',
      'X1234567',
      'X123 45-67',
      '0202801234',
      'ZQ90714',
      'YK99042',
      '0303701234',
      'old-password-1',
      'old-password-2',
    ]) {
      t.notOk(everything.includes(secret), `${secret}: in no reply, audit row or log line`);
    }
  });

  t.test('ten first proofs of one person at once make one user', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const operator = await credential(app, 'operator');
    const anyId = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(app, '/v1/proofs', { identity: { nationalId: '0404041234', document: passport(`A${i}`) } }, operator),
      ),
    );
    t.same(
      anyId.map((r) => r.statusCode),
      Array(10).fill(201),
    );
    t.equal(new Set(anyId.map((r) => r.json().userId)).size, 1, 'no user ID asked for: all for one user');
    const named = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(app, '/v1/proofs', { identity: { nationalId: '0505051234', document: passport() }, userId: `claimant-${i}` }, operator),
      ),
    );
    t.equal(named.filter((r) => r.statusCode === 201).length, 1, 'each asking for a user ID: one gets the identity');
    t.same(
      named.filter((r) => r.statusCode !== 201).map((r) => r.json().error),
      Array(9).fill('identity-linked-elsewhere'),
      'the others are told it is taken',
    );
  });

  t.test("the owner's own proof: a login that approves adding a device", async (t) => {
    const { app, clock } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const d = device();
    await importDevices(app, d);
    t.equal((await activate(app, { userId: 'self', serial: d.serial, otp: d.press(), password: 'self-password-1' })).statusCode, 200);
    const self = (otp: string, password = 'self-password-1', userId = 'self') => post(app, '/v1/proofs/self', { userId, otp, password });
    const made = await self(d.press());
    t.equal(made.statusCode, 201);
    t.match(made.json(), { proofId: /^[A-Za-z0-9_-]{22}$/, userId: 'self', expiresAt: Number });
    const events = (await app.inject({ url: '/v1/audit?userId=self', headers: admin })).json().events;
    t.match(
      events.slice(0, 3),
      [{ type: 'proof', reason: 'self' }, { type: 'approve', reason: 'Add a new code display', serial: d.serial }, { type: 'accept' }],
      'audited as an approval of its fixed text, then the proof',
    );
    const replayed = await self(d.otp.generate(d.counter - 1));
    t.same([replayed.statusCode, replayed.json()], [401, { result: 'reject' }], 'a code spent already');
    t.same(
      [(await self(d.press(), 'wrong-password-1')).statusCode, (await self('000000')).statusCode],
      [401, 401],
      'the same reject whichever factor',
    );
    const blocked = await self(d.press());
    t.same([blocked.statusCode, blocked.json().result], [429, 'blocked'], 'the third failure blocked the device, as a login would');
    t.same((await self('123456', 'whatever-pw', 'nobody')).json(), { result: 'reject' }, 'an unknown user: the same reject');

    // The proof made before: it replaces the device (once), within its 15 minutes.
    const [e, f] = [device(), device()];
    await importDevices(app, e, f);
    const serialUser = async (x: Device) => (await app.inject({ url: `/v1/tokens/${x.serial}`, headers: admin })).json().userId;
    const proofId = made.json().proofId as string;
    const replaced = await post(app, '/v1/activate', { proofId, serial: e.serial, otp: e.press(), password: 'self-password-2' });
    t.same([replaced.statusCode, replaced.json()], [200, { result: 'accept', userId: 'self' }], 'the self proof adds a device');
    t.same([await serialUser(d), await serialUser(e)], [null, 'self'], 'replacing the one active before');
    const spent = await post(app, '/v1/activate', { proofId, serial: f.serial, otp: f.press(), password: 'self-password-3' });
    t.same([spent.statusCode, spent.json()], [401, { result: 'reject' }], 'once');
    const later = await self(e.press(), 'self-password-2');
    t.equal(later.statusCode, 201, 'a new self proof, with the new device');
    clock.advance(15 * 60_000);
    const expired = await post(app, '/v1/activate', {
      proofId: later.json().proofId,
      serial: f.serial,
      otp: f.press(),
      password: 'self-password-3',
    });
    t.same([expired.statusCode, expired.json()], [401, { result: 'reject' }], 'not after 15 minutes');
    t.equal(await serialUser(f), null, 'f stays free');
    const reasons = (await app.inject({ url: `/v1/audit?serial=${f.serial}`, headers: admin }))
      .json()
      .events.filter((x: { type: string }) => x.type === 'reject')
      .map((x: { reason: string }) => x.reason);
    t.same(reasons, ['proof-expired', 'proof-used'], 'the reasons, in the audit log only');
  });

  t.test('bad input: a 4xx {error, message}, the numbers never echoed', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const operator = await credential(app, 'operator');
    for (const identity of [
      { nationalId: '3213991234', document: passport() },
      { nationalId: '123', document: passport() },
      { nationalId: CPR, document: { ...passport(), type: 'library-card' } },
      { nationalId: CPR, document: { ...passport(), country: 'DNK' } },
      { nationalId: CPR, document: { ...passport(), number: 'X#1' } },
      { nationalId: CPR, document: { ...passport(), number: ' - ' } },
      { nationalId: CPR },
      { nationalId: CPR, document: passport(), extra: 1 },
    ]) {
      const res = await post(app, '/v1/proofs', { identity }, operator);
      t.equal(res.statusCode, 400, JSON.stringify(identity));
      t.match(res.json(), { error: String, message: String });
      t.notOk(res.body.includes('3213991234') || res.body.includes('X#1'), 'nothing of the input echoed');
    }
  });
}

t.test('SQLite', async (t) => proofSuite(t));
if (await requirePostgres(t, undefined, 'the proof tests on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) =>
    proofSuite(t, async (t) => {
      const { url } = await tempSchema(t);
      return openPostgresStore(url, { poolSize: 6 });
    }),
  );
}

t.test('the identity key is made once, kept sealed, and the same for every server on the store', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'k.db'));
  t.teardown(() => store.close());
  const masterKey = Uint8Array.from({ length: 32 }, (_, i) => i);
  const server = (key = masterKey) => createTokenService({ store, clock: { now: () => 0 }, masterKey: key, scrypt: FAST_SCRYPT });
  const evidence = { nationalId: CPR, document: { type: 'passport' as const, country: 'DK', number: 'X1' } };
  const ctx = { ip: '::1', actor: 'op' };
  const [a, b] = await Promise.all([server().prove({ identity: evidence }, ctx), server().prove({ identity: evidence }, ctx)]);
  t.ok('userId' in a && 'userId' in b && a.userId === b.userId, 'two servers starting at once: one key, one user');
  const later = await server().prove({ identity: evidence }, ctx);
  t.same('userId' in later && later.userId, 'userId' in a && a.userId, 'a server started later finds the same user');
  await t.rejects(
    server(new Uint8Array(32).fill(9)).prove({ identity: evidence }, ctx),
    { code: 'ERR_SEED' },
    'under another master key the sealed key does not open',
  );
});
