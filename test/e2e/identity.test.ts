/**
 * End to end, a user's life with proofs of identity: the real server process on SQLite, devices
 * made and pressed by the real `kodeviser` CLI, an operator credential made by the admin.
 * - operator proof → activation → login → password change → the device lost, revoked by an
 *   operator → a new proof → a new device activated → the old one refused;
 * - the owner's own proof replacing a device, and an operator reversing that within 7 days (the
 *   password cleared, then reset with a proof and the old device);
 * - a user from before identities (its identity hash cleared in the database between two runs of
 *   the server, as the identities migration leaves such users) linked to an identity only with its
 *   owner's code and password.
 * Hotp devices: every press a new code, whatever the clock.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { identityOf } from '../helpers/identities.js';
import { activate, importDevice, login, newUser, operatorOf, proofFor, selfProof, type User } from './helpers/flows.js';
import { DAY, MINUTE, manufacture, press, type Device } from './helpers/kodeviser.js';
import { checkOutputForSecrets, scratchDir, startServer, type E2eServer } from './helpers/server.js';

const dir = scratchDir(t);
let now = Math.floor(Date.now() / 1000) * 1000;
const later = () => (now += MINUTE);

async function device(server: E2eServer, name: string): Promise<Device> {
  const d = await manufacture(server, dir, { profile: 'hotp-sha1', at: now - DAY, name });
  const imported = await importDevice(server, d);
  if (imported.status !== 201) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
  return d;
}

const code = async (server: E2eServer, d: Device): Promise<string> => (await press(server, d, later())).code as string;

async function asOperator(server: E2eServer, method: 'GET' | 'POST', path: string, body?: unknown) {
  const headers = { authorization: (await operatorOf(server)).authorization };
  return method === 'GET' ? server.get(path, { headers }) : server.post(path, body ?? {}, { headers });
}

const server = await startServer(t);

t.test('operator proof → activation → login → password change → lost device → new proof → new device', async (t) => {
  const [first, second] = [await device(server, 'anna-first'), await device(server, 'anna-second')];
  const anna: User = newUser(server, 'anna');
  const activated = await activate(server, anna, first, await code(server, first));
  t.same([activated.status, activated.body], [200, { result: 'accept', userId: anna.userId }]);
  t.equal((await login(server, anna, await code(server, first))).status, 200, 'logs in');

  const newPassword = server.secret(`${anna.password}-changed`);
  const changed = await server.post('/v1/users/self/password', {
    userId: anna.userId,
    otp: await code(server, first),
    oldPassword: anna.password,
    newPassword,
  });
  t.same([changed.status, changed.body], [200, { result: 'accept' }], 'the password changed with the current login');
  t.equal((await login(server, anna, await code(server, first))).status, 401, 'the old password no longer logs in');
  anna.password = newPassword;
  t.equal((await login(server, anna, await code(server, first))).status, 200, 'the new one does');

  const revoked = await asOperator(server, 'POST', `/v1/tokens/${first.serial}/revoke`);
  t.match([revoked.status, revoked.body], [200, { status: 'revoked', userId: null }], 'the lost device revoked at the counter');
  t.equal((await login(server, anna, await code(server, first))).status, 401, 'the lost device logs in no more');

  const replaced = await activate(server, anna, second, await code(server, second));
  t.same([replaced.status, replaced.body], [200, { result: 'accept', userId: anna.userId }], 'a new proof, a new device');
  t.equal((await login(server, anna, await code(server, second))).status, 200);
  t.equal((await login(server, anna, await code(server, first))).status, 401, 'the old one refused');
  const again = await activate(server, anna, first, await code(server, first));
  t.equal(again.status, 401, 'and never activated again, even with a proof');
  const seen = await asOperator(server, 'GET', `/v1/users/${anna.userId}`);
  t.match(seen.body, {
    identityLinked: true,
    activeDevice: { serial: second.serial },
    pastDevices: [{ serial: first.serial, ended: 'revoked' }],
  });
});

t.test("the owner's own proof replaces a device; an operator reverses it within 7 days", async (t) => {
  const [own, other] = [await device(server, 'bo-own'), await device(server, 'bo-other')];
  const bo = newUser(server, 'bo');
  t.equal((await activate(server, bo, own, await code(server, own))).status, 200);

  const self = await selfProof(server, bo, await code(server, own));
  t.equal(self.status, 201, 'a login is a proof: "Add a new code display"');
  const otherPassword = server.secret(`${bo.password}-other`);
  const replaced = await server.post('/v1/activate', {
    proofId: self.body.proofId,
    serial: other.serial,
    otp: await code(server, other),
    password: otherPassword,
  });
  t.same([replaced.status, replaced.body], [200, { result: 'accept', userId: bo.userId }]);
  t.equal((await login(server, bo, await code(server, own))).status, 401, 'the replaced device no longer logs in');

  const back = await asOperator(server, 'POST', `/v1/tokens/${own.serial}/reinstate`);
  t.same([back.status, back.body], [200, { serial: own.serial, userId: bo.userId, revoked: other.serial }]);
  t.equal((await login(server, { ...bo, password: otherPassword }, await code(server, other))).status, 401, 'the replacement revoked');
  t.equal((await login(server, bo, await code(server, own))).status, 401, 'the password was cleared');
  const reset = await server.post('/v1/users/self/password-reset', {
    proofId: await proofFor(server, bo),
    otp: await code(server, own),
    newPassword: server.secret(`${bo.password}-reset`),
  });
  t.equal(reset.status, 200, 'reset with a proof and the old device');
  t.equal((await login(server, { ...bo, password: `${bo.password}-reset` }, await code(server, own))).status, 200);
});

t.test('a user from before identities is linked to one only with its owner’s code and password', async (t) => {
  const legacyServer = await startServer(t);
  const old = await device(legacyServer, 'cai-old');
  const cai = newUser(legacyServer, 'cai');
  t.equal((await activate(legacyServer, cai, old, await code(legacyServer, old))).status, 200);
  await legacyServer.stop({ keepData: true });
  const db = new Database(join(legacyServer.dataDir, 'kodeviser.db'));
  db.prepare('UPDATE users SET identity_hash = NULL WHERE user_id = ?').run(cai.userId);
  db.close();

  const next = await startServer(t, { dataOf: legacyServer });
  const operator = { authorization: (await operatorOf(next)).authorization };
  const identity = identityOf(cai.userId);
  next.secret(identity.nationalId);
  next.secret(identity.document.number);
  const unowned = await next.post('/v1/proofs', { identity, userId: cai.userId }, { headers: operator });
  t.match([unowned.status, unowned.body], [409, { error: 'owner-proof-required' }], 'an ID check alone does not link it');
  const linked = await next.post(
    '/v1/proofs',
    { identity, userId: cai.userId, owner: { otp: await code(next, old), password: cai.password } },
    { headers: operator },
  );
  t.equal(linked.status, 201, "with its owner's code and password, it does");
  next.secret(linked.body.proofId);
  const fresh = await device(next, 'cai-new');
  const moved = await next.post('/v1/activate', {
    proofId: linked.body.proofId,
    serial: fresh.serial,
    otp: await code(next, fresh),
    password: cai.password,
  });
  t.same([moved.status, moved.body], [200, { result: 'accept', userId: cai.userId }], 'and the proof activates a new device');
  t.match((await next.get(`/v1/users/${cai.userId}`, { admin: true })).body, {
    identityLinked: true,
    activeDevice: { serial: fresh.serial },
  });
  checkOutputForSecrets(t, next);
});

t.test('nothing the server printed holds a secret', async (t) => checkOutputForSecrets(t, server));
