// The TokenService end to end on real SQLite files with a fake clock: every verification, failure
// and security rule of the server core, each with a test that fails when the rule is broken.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { bytesToHex } from '@kodeviser/shared';
import { createTokenService } from '../src/domain/service.js';
import {
  activateUser,
  CTX,
  importToken,
  MASTER_KEY,
  newSerial,
  proofFor,
  serviceFixture,
  stepOf,
  TEST_OPERATOR,
} from './helpers/service.js';

const ATTACKER = { ip: '203.0.113.66' };

t.test('hotp: accept once, never again; the look-ahead edge; counters skipped stay skipped', async (t) => {
  const { service } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  t.same(await service.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX), {
    result: 'accept',
    serial: tok.serial,
    movingFactor: 0,
  });
  t.same(await service.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX), {
    result: 'reject',
    reason: 'replay',
    serial: tok.serial,
  });
  t.same(
    await service.validate({ serial: tok.serial, otp: tok.otp.generate(10) }, CTX),
    { result: 'accept', serial: tok.serial, movingFactor: 10 },
    'last + 10',
  );
  t.same(
    await service.validate({ serial: tok.serial, otp: tok.otp.generate(5) }, CTX),
    { result: 'reject', reason: 'bad-otp', serial: tok.serial },
    'skipped counters are spent',
  );
  t.match(await service.getToken(tok.serial), { lastMovingFactor: 10, failures: 1 });
  t.same(await service.validate({ serial: tok.serial, otp: tok.otp.generate(11) }, CTX), {
    result: 'accept',
    serial: tok.serial,
    movingFactor: 11,
  });
  t.match(await service.getToken(tok.serial), { failures: 0 }, 'a success resets the count');
  const unknown = newSerial();
  t.same(await service.validate({ serial: unknown, otp: '123456' }, CTX), { result: 'reject', reason: 'unknown-token', serial: unknown });
  t.match((await service.audit({ limit: 1 }))[0], { type: 'reject', reason: 'unknown-token', serial: unknown, ip: CTX.ip });
});

t.test('hotp: a wide-window code starts a resync that only the consecutive code completes', async (t) => {
  const { service, clock } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-aes128', { counter: 100 });
  const v = (c: number) => service.validate({ serial: tok.serial, otp: tok.otp.generate(c) }, CTX);
  t.equal((await v(99)).result, 'reject', 'below the imported counter');
  t.same(await v(111), { result: 'resync-started', serial: tok.serial }, 'counter + 11: wide');
  t.match(await service.getToken(tok.serial), { resyncPending: true, lastMovingFactor: 99 });
  t.same(await v(113), { result: 'resync-started', serial: tok.serial }, 'not consecutive: starts over at 113');
  t.same(await v(114), { result: 'accept', serial: tok.serial, movingFactor: 114 }, '113 then 114 completes');
  t.match(await service.getToken(tok.serial), { resyncPending: false, lastMovingFactor: 114 });
  t.same(await v(112), { result: 'reject', reason: 'replay', serial: tok.serial }, 'the first wide code is spent too');

  t.same(await v(150), { result: 'resync-started', serial: tok.serial });
  t.same(await service.validate({ serial: tok.serial, otp: '000000' === tok.otp.generate(151) ? '111111' : '000000' }, CTX), {
    result: 'reject',
    reason: 'resync-mismatch',
    serial: tok.serial,
  });
  t.same(await v(151), { result: 'resync-started', serial: tok.serial }, 'a wrong code cancelled the pending resync');
  clock.advance(5 * 60_000 + 1);
  t.same(await v(152), { result: 'resync-started', serial: tok.serial }, 'too late to complete');
  t.same(await v(153), { result: 'accept', serial: tok.serial, movingFactor: 153 });
  const types = (await service.audit({ serial: tok.serial })).map((e) => e.type);
  t.equal(types.filter((x) => x === 'resync-started').length, 5);
});

t.test('totp: ±1 step around the current step plus drift; a drifted token resyncs and stays tracked', async (t) => {
  const { service, clock } = serviceFixture(t);
  const tok = await importToken(service, 'totp-sha256');
  const s = stepOf(tok, clock);
  const v = (c: number) => service.validate({ serial: tok.serial, otp: tok.otp.generate(c) }, CTX);
  t.same(await v(s + 1), { result: 'accept', serial: tok.serial, movingFactor: s + 1 });
  t.match(await service.getToken(tok.serial), { drift: 1 }, 'drift recorded on accept');
  t.same(
    await v(s),
    { result: 'reject', reason: 'replay', serial: tok.serial },
    'LinOTP #110: the window reaches s, but s is below the last accepted',
  );

  clock.advance(30_000); // server step s+1, expected s+2
  t.same(await v(s + 3), { result: 'accept', serial: tok.serial, movingFactor: s + 3 }, 'drift + 1');
  t.match(await service.getToken(tok.serial), { drift: 2 });

  // The token's crystal runs fast: it is 6 steps ahead now.
  clock.advance(30_000); // server s+2, expected s+4, token shows s+8
  t.same(await v(s + 8), { result: 'resync-started', serial: tok.serial });
  clock.advance(30_000); // server s+3, token shows s+9
  t.same(await v(s + 9), { result: 'accept', serial: tok.serial, movingFactor: s + 9 });
  t.match(await service.getToken(tok.serial), { drift: 6 });
  clock.advance(30_000); // server s+4, token s+10: within ±1 of s+4+6
  t.same(await v(s + 10), { result: 'accept', serial: tok.serial, movingFactor: s + 10 });
  t.match(await v(s + 4), { result: 'reject' }, 'the server step itself is long spent');
});

t.test('50 concurrent validations of one code on a real SQLite file: exactly one accept', async (t) => {
  const { service } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  const code = tok.otp.generate(0);
  const results = await Promise.all(Array.from({ length: 50 }, () => service.validate({ serial: tok.serial, otp: code }, CTX)));
  t.equal(results.filter((r) => r.result === 'accept').length, 1);
  // The others are replays; each counts as a failure, so from the third on the token is blocked
  // (the SQLite store judges each request on the token as the previous one left it).
  const replays = results.filter((r) => r.result === 'reject' && r.reason === 'replay').length;
  const blocked = results.filter((r) => r.result === 'blocked').length;
  t.equal(replays + blocked, 49, 'every other one refused');
  t.ok(replays >= 3, `at least the three replays that block the token (${replays} replays, ${blocked} blocked)`);
  t.equal((await service.audit({ serial: tok.serial })).filter((e) => e.type === 'accept').length, 1);
});

t.test('3 failures block for a growing delay; during a block the code is not checked', async (t) => {
  const { service, clock } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  const wrong = () => service.validate({ serial: tok.serial, otp: tok.otp.generate(0) === '999999' ? '999998' : '999999' }, ATTACKER);
  const right = (c: number) => service.validate({ serial: tok.serial, otp: tok.otp.generate(c) }, CTX);
  t.equal((await wrong()).result, 'reject');
  t.equal((await wrong()).result, 'reject');
  t.match(await service.getToken(tok.serial), { failures: 2, blockedUntil: null }, 'two failures do not block');
  t.equal((await wrong()).result, 'reject');
  t.match(await service.getToken(tok.serial), { failures: 3, blockedUntil: clock.now() + 30_000 });

  clock.advance(10_000);
  t.same(await right(0), { result: 'blocked', retryAfterSeconds: 20, serial: tok.serial }, 'the right code is refused unchecked');
  t.match(await service.getToken(tok.serial), { failures: 3, lastMovingFactor: null }, 'nothing consumed, nothing counted');

  clock.advance(20_000);
  t.equal((await wrong()).result, 'reject');
  t.match(await service.getToken(tok.serial), { failures: 4, blockedUntil: clock.now() + 60_000 }, 'then 60 s');
  clock.advance(60_000);
  t.equal((await wrong()).result, 'reject');
  t.match(await service.getToken(tok.serial), { failures: 5, blockedUntil: clock.now() + 120_000 }, 'then 2 min');
  t.same((await right(0)).result, 'blocked');
  clock.advance(120_000);
  t.same(await right(0), { result: 'accept', serial: tok.serial, movingFactor: 0 });
  t.match(await service.getToken(tok.serial), { failures: 0, blockedUntil: null }, 'a success resets everything');
  t.equal((await wrong()).result, 'reject');
  t.match(await service.getToken(tok.serial), { failures: 1, blockedUntil: null }, 'counting starts over');

  const audit = await service.audit({ serial: tok.serial });
  const blocks = audit.filter((e) => e.type === 'block');
  t.equal(blocks.length, 3);
  t.ok(
    blocks.every((b) => b.ip === ATTACKER.ip),
    "the attacker's IP is on every block",
  );
  t.ok(
    audit.some((e) => e.type === 'reject' && e.reason === 'blocked' && e.ip === CTX.ip),
    'refused attempts during a block are audited',
  );
});

t.test('100 consecutive failures lock the token until an admin unlocks it', async (t) => {
  const { service, clock } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  const bad = tok.otp.generate(0) === '000000' ? '000001' : '000000';
  let locked = -1;
  for (let i = 1; i <= 100; i++) {
    clock.advance(3_600_000); // past any block
    t.equal((await service.validate({ serial: tok.serial, otp: bad }, ATTACKER)).result, 'reject');
    const info = await service.getToken(tok.serial);
    if (info?.status === 'locked' && locked < 0) locked = i;
  }
  t.equal(locked, 100, 'locked at the 100th failure, not before');
  clock.advance(86_400_000);
  t.same(
    await service.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX),
    { result: 'reject', reason: 'locked', serial: tok.serial },
    'time does not unlock',
  );
  const lockEvent = (await service.audit({ serial: tok.serial })).find((e) => e.type === 'lock');
  t.match(lockEvent, { ip: ATTACKER.ip, reason: /100 consecutive failures/ });

  t.match(await service.unlock(tok.serial, 'admin', CTX), { status: 'enabled', failures: 0, blockedUntil: null });
  t.same(await service.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX), {
    result: 'accept',
    serial: tok.serial,
    movingFactor: 0,
  });
});

t.test('admin lock, unlock, revoke', async (t) => {
  const { service } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  const v = (c: number) => service.validate({ serial: tok.serial, otp: tok.otp.generate(c) }, CTX);
  t.match(await service.lock(tok.serial, 'admin', CTX), { status: 'locked' });
  t.same(await v(0), { result: 'reject', reason: 'locked', serial: tok.serial });
  t.match(await service.lock(tok.serial, 'admin', CTX), { status: 'locked' }, 'locking twice is harmless');
  await service.unlock(tok.serial, 'admin', CTX);
  t.equal(
    (await activateUser(service, { userId: 'gus', serial: tok.serial, otp: tok.otp.generate(0), password: 'pw-passphrase' })).result,
    'accept',
  );
  await service.lock(tok.serial, 'admin', CTX);
  t.same(
    await service.authenticate({ userId: 'gus', otp: tok.otp.generate(1), password: 'pw-passphrase' }, CTX),
    { result: 'reject', reason: 'locked', serial: tok.serial },
    'a locked token does not log in',
  );
  t.same(
    await activateUser(service, { userId: 'gus', serial: tok.serial, otp: tok.otp.generate(1), password: 'pw-passphrase' }),
    { result: 'reject', reason: 'locked', serial: tok.serial },
    'nor activates, with a proof',
  );
  t.match(await service.unlock(tok.serial, 'admin', CTX), { status: 'enabled' });
  t.same((await v(1)).result, 'accept');
  t.match(await service.revoke(tok.serial, 'admin', CTX), { status: 'revoked' });
  t.same(await v(2), { result: 'reject', reason: 'revoked', serial: tok.serial });
  t.match(await service.getToken(tok.serial), { userId: null }, 'revoking ends the binding');
  await t.rejects(service.unlock(tok.serial, 'admin', CTX), { code: 'ERR_TOKEN_STATE', serial: tok.serial });
  await t.rejects(service.revoke(tok.serial, 'admin', CTX), { code: 'ERR_TOKEN_STATE' });
  await t.rejects(service.lock(newSerial(), 'admin', CTX), { code: 'ERR_UNKNOWN_TOKEN' });
  await t.rejects(service.lock('1234567890', 'admin', CTX), { code: 'ERR_SERIAL' });
  await t.rejects(service.lock(tok.serial, '', CTX), { code: 'ERR_ARGUMENT', message: /actor/ });
  await t.rejects(service.lock(tok.serial, 'admin', {} as typeof CTX), { code: 'ERR_ARGUMENT', message: /ctx\.ip/ });
  const events = (await service.audit({ serial: tok.serial })).map((e) => [e.type, e.actor]);
  t.same(
    events.filter(([type]) => ['lock', 'unlock', 'revoke'].includes(type as string)),
    [
      ['revoke', 'admin'],
      ['unlock', 'admin'],
      ['lock', 'admin'],
      ['unlock', 'admin'],
      ['lock', 'admin'],
      ['lock', 'admin'],
    ],
  );
});

t.test('activation binds one active device per user and sets the password', async (t) => {
  const { service, clock } = serviceFixture(t);
  const a = await importToken(service, 'hotp-sha1');
  const b = await importToken(service, 'totp-sha1');
  t.same(await activateUser(service, { userId: 'alice', serial: a.serial, otp: a.otp.generate(0), password: 'pw-1-passphrase' }), {
    result: 'accept',
    serial: a.serial,
    movingFactor: 0,
    userId: 'alice',
  });
  t.match(await service.getToken(a.serial), { userId: 'alice' });
  t.match(await service.authenticate({ userId: 'alice', otp: a.otp.generate(1), password: 'pw-1-passphrase' }, CTX), {
    result: 'accept',
    serial: a.serial,
    movingFactor: 1,
    receipt: /^eyJ/,
  });

  // A second device for alice, with a new proof (an operator's): the first is deactivated.
  const bStep = stepOf(b, clock);
  t.same(
    await activateUser(service, { userId: 'alice', serial: b.serial, otp: b.otp.generate(bStep), password: 'pw-2-passphrase' }),
    { result: 'accept', serial: b.serial, movingFactor: bStep, userId: 'alice' },
    'a new device, with a new proof',
  );
  t.match(await service.getToken(a.serial), { userId: null }, 'the old one is deactivated');
  t.match(
    (await service.audit({ serial: a.serial })).find((e) => e.type === 'deactivate'),
    { userId: 'alice', reason: `replaced by ${b.serial}` },
    'replaced by the new one, in the audit log',
  );
  t.same(
    (await service.authenticate({ userId: 'alice', otp: a.otp.generate(3), password: 'pw-2-passphrase' }, CTX)).result,
    'reject',
    'the old device no longer logs in',
  );
  t.match(await service.authenticate({ userId: 'alice', otp: b.otp.generate(bStep + 1), password: 'pw-2-passphrase' }, CTX), {
    result: 'accept',
    serial: b.serial,
    movingFactor: bStep + 1,
    receipt: /^eyJ/,
  });

  const bobProof = await proofFor(service, 'bob');
  t.same(await service.activate({ proofId: bobProof, serial: b.serial, otp: b.otp.generate(bStep - 1), password: 'x-passphrase' }, CTX), {
    result: 'reject',
    reason: 'assigned-elsewhere',
    serial: b.serial,
  });
  t.same(
    await service.activate({ proofId: bobProof, serial: a.serial, otp: a.otp.generate(4), password: 'x-passphrase' }, CTX),
    { result: 'reject', reason: 'assigned-elsewhere', serial: a.serial },
    'nor a token once bound to alice',
  );
  const unknown = newSerial();
  t.same(await service.activate({ proofId: bobProof, serial: unknown, otp: '123456', password: 'x-passphrase' }, CTX), {
    result: 'reject',
    reason: 'unknown-token',
    serial: unknown,
  });
  const aliceProof = await proofFor(service, 'alice');
  const failedActivation = await service.activate(
    { proofId: aliceProof, serial: a.serial, otp: '000000', password: 'pw-3-passphrase' },
    CTX,
  );
  t.same(failedActivation, { result: 'reject', reason: 'bad-otp', serial: a.serial });
  t.match(await service.getToken(b.serial), { userId: 'alice' }, 'a failed activation deactivates nothing');
  t.same(
    (await service.authenticate({ userId: 'alice', otp: b.otp.generate(bStep + 2), password: 'pw-2-passphrase' }, CTX)).result,
    'accept',
    'a failed activation does not change the password',
  );
  const c = await importToken(service);
  t.same(
    await service.activate({ proofId: bobProof, serial: c.serial, otp: c.otp.generate(0), password: 'x-passphrase' }, CTX),
    { result: 'accept', serial: c.serial, movingFactor: 0, userId: 'bob' },
    'refused attempts do not spend a proof',
  );
  t.same(
    await service.activate({ proofId: aliceProof, serial: a.serial, otp: a.otp.generate(5), password: 'pw-3-passphrase' }, CTX),
    { result: 'accept', serial: a.serial, movingFactor: 5, userId: 'alice' },
    'nor a failed code: the same proof takes her former device back',
  );
  t.match(await service.getToken(b.serial), { userId: null }, 'and that replaces b in turn');
});

t.test('replacing a device needs a new proof: spent, expired, unknown and foreign proofs are refused', async (t) => {
  const { service, clock } = serviceFixture(t);
  const [victim, spare, next, other, bobs] = [
    await importToken(service),
    await importToken(service),
    await importToken(service),
    await importToken(service),
    await importToken(service),
  ];
  const presses = new Map<typeof victim, number>();
  const press = (d: typeof victim) => {
    const counter = presses.get(d) ?? 0;
    presses.set(d, counter + 1);
    return d.otp.generate(counter);
  };
  const firstProof = await proofFor(service, 'demo');
  t.same(await service.activate({ proofId: firstProof, serial: victim.serial, otp: press(victim), password: 'victim-pw-1' }, CTX), {
    result: 'accept',
    serial: victim.serial,
    movingFactor: 0,
    userId: 'demo',
  });

  // Without a proof of its own an attacker cannot even name the user: the request has no user ID.
  const takeover = (proofId: string) =>
    service.activate({ proofId, serial: spare.serial, otp: press(spare), password: 'attacker-pw-1' }, ATTACKER);
  t.same(await takeover(firstProof), { result: 'reject', reason: 'proof-used', serial: spare.serial }, "the owner's proof, once spent");
  t.same(
    await takeover('bm90LWEtcHJvb2YtYXQtYWxs'),
    { result: 'reject', reason: 'proof-unknown', serial: spare.serial },
    'a made-up proof id',
  );
  const stale = await proofFor(service, 'demo');
  clock.advance(15 * 60_000);
  t.same(await takeover(stale), { result: 'reject', reason: 'proof-expired', serial: spare.serial }, 'a proof 15 minutes old');
  const selfGuess = await service.proveSelf({ userId: 'demo', otp: press(victim), password: 'guess-pw-1' }, ATTACKER);
  t.same(
    selfGuess,
    { outcome: { result: 'reject', reason: 'bad-password', serial: victim.serial }, proof: null },
    'a self proof with a guessed password: no proof',
  );
  t.match(await service.getToken(spare.serial), { userId: null }, 'the spare stays unassigned');
  t.match(
    (await service.audit({ serial: spare.serial, limit: 3 })).map((e) => [e.type, e.reason, e.userId]),
    [
      ['reject', 'proof-expired', 'demo'],
      ['reject', 'proof-unknown', null],
      ['reject', 'proof-used', 'demo'],
    ],
    'each refusal audited with its reason',
  );
  t.same(
    (await service.authenticate({ userId: 'demo', otp: press(victim), password: 'victim-pw-1' }, CTX)).result,
    'accept',
    'the victim still can',
  );
  t.same(
    (await service.authenticate({ userId: 'demo', otp: press(spare), password: 'attacker-pw-1' }, ATTACKER)).result,
    'reject',
    'the attacker cannot log in',
  );

  // The owner replaces the device with a self proof: a login with the active device and the password.
  const self = await service.proveSelf({ userId: 'demo', otp: press(victim), password: 'victim-pw-1' }, CTX);
  t.match(self, { outcome: { result: 'accept', serial: victim.serial }, proof: { proofId: String, userId: 'demo' } });
  const selfProof = self.proof?.proofId as string;
  t.same(await service.activate({ proofId: selfProof, serial: next.serial, otp: press(next), password: 'victim-pw-2' }, CTX), {
    result: 'accept',
    serial: next.serial,
    movingFactor: 0,
    userId: 'demo',
  });
  t.match(await service.getToken(victim.serial), { userId: null }, 'the old device is deactivated');
  t.match(
    (await service.audit({ serial: victim.serial })).find((e) => e.type === 'deactivate'),
    { userId: 'demo', reason: `replaced by ${next.serial}` },
  );
  t.same(
    await service.activate({ proofId: selfProof, serial: other.serial, otp: press(other), password: 'x-password' }, ATTACKER),
    { result: 'reject', reason: 'proof-used', serial: other.serial },
    'the same self proof again: spent',
  );
  t.match(await service.getToken(next.serial), { userId: 'demo' }, 'and the replacement stands');

  // A token that serves another user is never the proof's user's.
  t.equal((await activateUser(service, { userId: 'bob', serial: bobs.serial, otp: press(bobs), password: 'bob-pw-1' })).result, 'accept');
  t.same(
    await service.activate(
      { proofId: await proofFor(service, 'demo'), serial: bobs.serial, otp: press(bobs), password: 'x-password' },
      CTX,
    ),
    { result: 'reject', reason: 'assigned-elsewhere', serial: bobs.serial },
    "demo's proof on bob's device",
  );
  t.match(await service.getToken(bobs.serial), { userId: 'bob' }, 'bob keeps it');

  // An operator's proof replaces it as well, just within its 15 minutes.
  const operatorProof = await proofFor(service, 'demo');
  clock.advance(15 * 60_000 - 1);
  t.same(await service.activate({ proofId: operatorProof, serial: other.serial, otp: press(other), password: 'victim-pw-3' }, CTX), {
    result: 'accept',
    serial: other.serial,
    movingFactor: 1,
    userId: 'demo',
  });
  t.match(await service.getToken(next.serial), { userId: null });
  t.match((await service.audit({ serial: other.serial, limit: 2 }))[1], { type: 'activate', reason: `proof by ${TEST_OPERATOR}` });
  t.same((await service.authenticate({ userId: 'demo', otp: press(other), password: 'victim-pw-3' }, CTX)).result, 'accept');
  t.same(
    (await service.authenticate({ userId: 'demo', otp: press(victim), password: 'victim-pw-1' }, CTX)).result,
    'reject',
    'the old device and password are gone',
  );
});

t.test('authenticate checks code and password, never says which failed, and spends a right code with a wrong password', async (t) => {
  const { service } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha512');
  await activateUser(service, { userId: 'dora', serial: tok.serial, otp: tok.otp.generate(0), password: 'secret-passphrase' });
  const auth = (c: number | string, password: string) =>
    service.authenticate({ userId: 'dora', otp: typeof c === 'number' ? tok.otp.generate(c) : c, password }, CTX);

  const wrongPw = await auth(1, 'guess');
  t.same(wrongPw, { result: 'reject', reason: 'bad-password', serial: tok.serial });
  t.same(await auth(1, 'secret-passphrase'), { result: 'reject', reason: 'replay', serial: tok.serial }, 'the code was consumed');
  t.same(await auth('xxxxxx', 'secret-passphrase'), { result: 'reject', reason: 'bad-otp', serial: tok.serial });
  t.match(await service.getToken(tok.serial), { failures: 3, blockedUntil: Number }, 'all three counted');
  t.same(
    Object.keys(wrongPw).sort(),
    ['reason', 'result', 'serial'],
    'a wrong password differs from a wrong code only in the audit reason',
  );
  t.same((await auth(2, 'secret-passphrase')).result, 'blocked', 'three failures of either kind block');

  const fresh = await importToken(service, 'hotp-sha1');
  await activateUser(service, { userId: 'emil', serial: fresh.serial, otp: fresh.otp.generate(0), password: 'pw-passphrase' });
  t.same(await service.authenticate({ userId: 'emil', otp: 'zzzzzz', password: 'nope' }, CTX), {
    result: 'reject',
    reason: 'bad-otp-and-password',
    serial: fresh.serial,
  });
  t.same(
    await service.authenticate({ userId: 'emil', otp: fresh.otp.generate(50), password: 'nope' }, CTX),
    { result: 'reject', reason: 'bad-password', serial: fresh.serial },
    'a wide code with a wrong password starts nothing',
  );
  t.match(await service.getToken(fresh.serial), { resyncPending: false });
  t.same(await service.authenticate({ userId: 'emil', otp: fresh.otp.generate(50), password: 'pw-passphrase' }, CTX), {
    result: 'resync-started',
    serial: fresh.serial,
  });
  t.same(await service.authenticate({ userId: 'nobody', otp: '123456', password: 'pw-passphrase' }, CTX), {
    result: 'reject',
    reason: 'not-activated',
  });
  const ev = (await service.audit({ userId: 'nobody' }))[0];
  t.match(ev, { type: 'reject', reason: 'not-activated', userId: 'nobody', ip: CTX.ip });
});

t.test('import is all or nothing, names the duplicate, and checks every record', async (t) => {
  const { service } = serviceFixture(t);
  const existing = await importToken(service, 'hotp-sha1');
  const key = new Uint8Array(20).fill(1);
  const s1 = newSerial();
  const s2 = newSerial();
  await t.rejects(
    service.importTokens(
      [
        { serial: s1, profile: 'hotp-sha1', key },
        { serial: existing.serial, profile: 'hotp-sha1', key },
      ],
      'admin',
    ),
    {
      code: 'ERR_DUPLICATE_SERIAL',
      serial: existing.serial,
    },
  );
  t.equal(await service.getToken(s1), null, 'the first record was not imported either');
  await t.rejects(
    service.importTokens(
      [
        { serial: s2, profile: 'hotp-sha1', key },
        { serial: `${s2.slice(0, 2)}-${s2.slice(2, 9)}-${s2.slice(9)}`, profile: 'hotp-sha1', key },
      ],
      'admin',
    ),
    {
      code: 'ERR_DUPLICATE_SERIAL',
      serial: s2,
    },
    'twice in one batch, in two spellings',
  );
  t.equal(await service.getToken(s2), null);

  const bad = async (rec: object, code: string, message: RegExp) =>
    t.rejects(service.importTokens([{ serial: s1, profile: 'hotp-sha1', key }, rec as never], 'admin'), { code, message });
  await bad({ serial: '1234567890', profile: 'hotp-sha1', key }, 'ERR_SERIAL', /records\[1\]/);
  await bad({ serial: s2, profile: 'hotp-md5', key }, 'ERR_UNKNOWN_PROFILE', /records\[1\]\.profile/);
  await bad({ serial: s2, profile: 'hotp-aes128', key }, 'ERR_KEY_LENGTH', /records\[1\]: key/);
  await bad({ serial: s2, profile: 'hotp-sha1', key, digits: 9 }, 'ERR_DIGITS', /records\[1\]/);
  await bad({ serial: s2, profile: 'hotp-sha1', key, counter: -1 }, 'ERR_MOVING_FACTOR', /records\[1\]\.counter/);
  await bad({ serial: s2, profile: 'totp-sha1', key, drift: 0.5 }, 'ERR_ARGUMENT', /records\[1\]\.drift/);
  await t.rejects(service.importTokens([null as never], 'admin'), { code: 'ERR_ARGUMENT', message: /records\[0\]/ });
  await t.rejects(service.importTokens({} as never, 'admin'), { code: 'ERR_ARGUMENT', message: /records/ });
  t.equal(await service.getToken(s1), null);

  const ok = await service.importTokens([{ serial: s1, profile: 'totp-sha1', key, step: 60, digits: 8, drift: -3, t0: 30 }], 'admin');
  t.same(ok, { imported: [s1] });
  const info = await service.getToken(s1);
  t.match(info, { profile: 'totp-sha1', step: 60, digits: 8, drift: -3, t0: 30, lastMovingFactor: null, status: 'enabled', userId: null });
  t.notOk(
    Object.keys(info ?? {}).some((k) => /seed|key|cipher/i.test(k)),
    'no seed in TokenInfo',
  );
});

t.test('seeds are unreadable at rest and useless without the master key', async (t) => {
  const { service, path, store } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha256');
  t.notOk(
    readFileSync(path).includes(Buffer.from(tok.key)) || readFileSync(`${path}-wal`).includes(Buffer.from(tok.key)),
    'no seed bytes in the database files',
  );
  t.notOk(readFileSync(`${path}-wal`).toString('latin1').includes(bytesToHex(tok.key)));
  const other = createTokenService({ store, clock: { now: () => Date.UTC(2026, 0, 1) }, masterKey: MASTER_KEY.map((b) => b ^ 1) });
  await t.rejects(other.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX), { code: 'ERR_SEED' });
  t.match(await service.getToken(tok.serial), { failures: 0, lastMovingFactor: null }, 'nothing counted against the token');
  // The proof is made under the right key (the identity key is sealed under it too).
  const proofId = await proofFor(service, 'u');
  await t.rejects(
    other.activate({ proofId, serial: tok.serial, otp: tok.otp.generate(0), password: 'p-passphrase' }, CTX),
    { code: 'ERR_SEED' },
    'activation too',
  );
  t.same(
    await service.activate({ proofId, serial: tok.serial, otp: tok.otp.generate(0), password: 'p-passphrase' }, CTX),
    { result: 'accept', serial: tok.serial, movingFactor: 0, userId: 'u' },
    'nothing spent: neither the code nor the proof',
  );
  const v2 = createTokenService({ store, clock: { now: () => 0 }, masterKey: MASTER_KEY, keyVersion: 2 });
  await t.rejects(v2.validate({ serial: tok.serial, otp: tok.otp.generate(0) }, CTX), { code: 'ERR_SEED', message: /version 1/ });
});

t.test('admin resync with two consecutive codes', async (t) => {
  const { service, clock } = serviceFixture(t);
  const h = await importToken(service, 'hotp-tdes');
  t.same(await service.resync(h.serial, h.otp.generate(700), h.otp.generate(701), 'admin', CTX), {
    result: 'resynced',
    serial: h.serial,
    movingFactor: 701,
    drift: 0,
  });
  t.same((await service.validate({ serial: h.serial, otp: h.otp.generate(702) }, CTX)).result, 'accept');
  t.same(await service.resync(h.serial, h.otp.generate(800), h.otp.generate(802), 'admin', CTX), { result: 'not-found', serial: h.serial });
  t.match((await service.audit({ serial: h.serial, limit: 1 }))[0], { type: 'reject', reason: 'admin-resync-not-found', actor: 'admin' });

  const tt = await importToken(service, 'totp-sha1');
  const s = stepOf(tt, clock);
  t.same(await service.resync(tt.serial, tt.otp.generate(s - 400), tt.otp.generate(s - 399), 'admin', CTX), {
    result: 'resynced',
    serial: tt.serial,
    movingFactor: s - 399,
    drift: -399,
  });
  clock.advance(30_000);
  t.same((await service.validate({ serial: tt.serial, otp: tt.otp.generate(s - 398) }, CTX)).result, 'accept', 'tracked at the new drift');

  await t.rejects(service.resync(newSerial(), '1', '2', 'admin', CTX), { code: 'ERR_UNKNOWN_TOKEN' });
  await service.revoke(tt.serial, 'admin', CTX);
  await t.rejects(service.resync(tt.serial, '1', '2', 'admin', CTX), { code: 'ERR_TOKEN_STATE' });
  await t.rejects(service.resync(h.serial, '', '2', 'admin', CTX), { code: 'ERR_ARGUMENT', message: /otp1/ });
});

t.test('the audit log never holds a code, a password or a key; queries are checked', async (t) => {
  const { service } = serviceFixture(t);
  const tok = await importToken(service, 'hotp-sha1');
  const codes = [0, 1, 2, 3, 4, 5, 6].map((c) => tok.otp.generate(c));
  const code = (i: number) => codes[i] as string;
  const activationProof = await proofFor(service, 'fred');
  const accepted = (r: { result: string }) => t.equal(r.result, 'accept');
  accepted(await service.activate({ proofId: activationProof, serial: tok.serial, otp: code(0), password: 'hunter2-password' }, CTX));
  await service.authenticate({ userId: 'fred', otp: code(1), password: 'wrong-password' }, CTX);
  await service.authenticate({ userId: 'fred', otp: code(2), password: 'hunter2-password' }, CTX);
  await service.validate({ serial: tok.serial, otp: code(3) }, CTX);
  await service.validate({ serial: tok.serial, otp: '424242' }, CTX);
  const self = await service.proveSelf({ userId: 'fred', otp: code(4), password: 'hunter2-password' }, CTX);
  accepted(self.outcome);
  accepted(
    await service.changePassword({ userId: 'fred', otp: code(5), oldPassword: 'hunter2-password', newPassword: 'changed-pw-77' }, CTX),
  );
  const resetProof = await proofFor(service, 'fred');
  accepted(await service.resetPassword({ proofId: resetProof, otp: code(6), newPassword: 'reset-pw-88' }, CTX));
  const all = JSON.stringify(await service.audit({ limit: 1000 }));
  t.match(all, /"type":"password"/, 'the password change and reset are audited');
  const proofIds = [activationProof, self.proof?.proofId as string, resetProof];
  for (const secret of [
    ...codes,
    '424242',
    'hunter2',
    'wrong-password',
    'changed-pw-77',
    'reset-pw-88',
    ...proofIds,
    bytesToHex(tok.key),
  ]) {
    t.notOk(all.includes(`"${secret}`) || all.includes(secret), `no ${secret.slice(0, 3)}… in the audit log`);
  }
  await t.rejects(service.audit({ serial: 'nope' }), { code: 'ERR_SERIAL' });
  await t.rejects(service.audit({ userId: '' }), { code: 'ERR_ARGUMENT', message: /userId/ });
  await t.rejects(service.audit({ since: 1.5 }), { code: 'ERR_ARGUMENT', message: /since/ });
  await t.rejects(service.audit({ limit: 0 }), { code: 'ERR_ARGUMENT', message: /limit/ });
  t.equal((await service.audit({ serial: tok.serial, userId: 'fred', since: 0, limit: 2 })).length, 2);
});

t.test('arguments are checked with coded errors naming them', async (t) => {
  const { service } = serviceFixture(t);
  await t.rejects(service.validate({ serial: 'x', otp: '1' }, CTX), { code: 'ERR_SERIAL' });
  await t.rejects(service.validate({ serial: newSerial(), otp: 5 as never }, CTX), { code: 'ERR_ARGUMENT', message: /otp/ });
  await t.rejects(service.authenticate({ userId: 'u', otp: '1', password: '' }, CTX), { message: /password/ });
  await t.rejects(service.activate({ proofId: '', serial: newSerial(), otp: '1', password: 'p-passphrase' }, CTX), {
    code: 'ERR_ARGUMENT',
    message: /proofId/,
  });
  await t.rejects(service.activate({ proofId: 'p', serial: newSerial(), otp: '1', password: 'password1' }, CTX), {
    code: 'ERR_WEAK_PASSWORD',
  });
  await t.rejects(service.resetPassword({ proofId: 'p', otp: '1', newPassword: '' }, CTX), { message: /newPassword/ });
  await t.rejects(service.changePassword({ userId: 'u', otp: '1', oldPassword: 'old-password', newPassword: 'short' }, CTX), {
    code: 'ERR_WEAK_PASSWORD',
  });
  await t.rejects(service.importTokens([], ''), { message: /actor/ });
  t.equal(await service.getToken(newSerial()), null);
});

t.test('ready while the store answers; close closes it', async (t) => {
  const { service } = serviceFixture(t);
  t.equal(await service.ready(), true);
  await service.close();
  t.equal(await service.ready(), false);
  await t.rejects(service.getToken(newSerial()), { code: 'ERR_STORE_CLOSED' });
});

t.test('the Otp cache: bounded, its size checked, and a token evicted from it still validates', async (t) => {
  const { service } = serviceFixture(t, { service: { otpCacheSize: 1 } });
  const a = await importToken(service, 'hotp-sha1');
  const b = await importToken(service, 'totp-sha1');
  // With one slot every validation below evicts the other token's Otp: each must be rebuilt
  // from its sealed seed, and the moving factors must still be the store's, not the cache's.
  t.same(await service.validate({ serial: a.serial, otp: a.otp.generate(0) }, CTX), {
    result: 'accept',
    serial: a.serial,
    movingFactor: 0,
  });
  t.equal((await service.validate({ serial: b.serial, otp: '000000' === b.otp.generate(0) ? '111111' : '000000' }, CTX)).result, 'reject');
  t.same(await service.validate({ serial: a.serial, otp: a.otp.generate(0) }, CTX), {
    result: 'reject',
    reason: 'replay',
    serial: a.serial,
  });
  t.same(await service.validate({ serial: a.serial, otp: a.otp.generate(1) }, CTX), {
    result: 'accept',
    serial: a.serial,
    movingFactor: 1,
  });
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(
      () => createTokenService({ store: serviceFixture(t).store, clock: { now: () => 0 }, masterKey: MASTER_KEY, otpCacheSize: bad }),
      { code: 'ERR_ARGUMENT', message: /otpCacheSize/ },
      String(bad),
    );
  }
});
