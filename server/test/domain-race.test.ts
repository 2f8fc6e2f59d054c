// Decisions that hold under concurrency, on SQLite and on PostgreSQL: 25 wrong codes for one token
// at once (the third failure blocks, every later attempt is refused as blocked, not counted); one
// proof spent by one activation; one device, one owner; one user, one active device. Each decision
// sees the rows as they are inside the store's atomic unit.
import t, { type Test } from 'tap';
import { openPostgresStore } from '../src/store/postgres.js';
import { EMPTY_SNAPSHOT } from '../src/domain/decide.js';
import { createTokenService } from '../src/domain/service.js';
import type { TokenService } from '../src/domain/types.js';
import { FakeClock } from './helpers/clock.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { activateUser, CTX, FAST_SCRYPT, importToken, MASTER_KEY, proofFor, serviceFixture } from './helpers/service.js';

async function race(t: Test, service: TokenService): Promise<void> {
  const tok = await importToken(service, 'hotp-sha1');
  const wrong = ['000000', '111111'].find((c) => ![...Array(110).keys()].some((i) => tok.otp.generate(i) === c)) as string;
  // As /v1/validate calls it, with the caller's credential: its refusals are never counted as repeats (domain/repeats.ts).
  const caller = { ...CTX, actor: 'svc-race' };
  const results = await Promise.all(Array.from({ length: 25 }, () => service.validate({ serial: tok.serial, otp: wrong }, caller)));
  const counts = results.reduce<Record<string, number>>((n, r) => ({ ...n, [r.result]: (n[r.result] ?? 0) + 1 }), {});
  t.same(counts, { reject: 3, blocked: 22 }, 'three failures, then blocked');
  t.match(await service.getToken(tok.serial), { failures: 3, blockedUntil: Number }, 'three failures counted, no more');
  const audit = await service.audit({ serial: tok.serial, limit: 100 });
  t.equal(audit.filter((e) => e.type === 'block').length, 1, 'one block');
  t.equal(audit.filter((e) => e.reason === 'blocked').length, 22, 'every blocked attempt audited');
}

/** 25 wrong passwords (right codes) and 25 wrong codes (right password) for one user at once. */
async function loginRace(t: Test, service: TokenService): Promise<void> {
  for (const wrongFactor of ['password', 'code'] as const) {
    const tok = await importToken(service, 'hotp-sha1');
    const userId = `race-${wrongFactor}-${tok.serial}`;
    t.equal(
      (await activateUser(service, { userId, serial: tok.serial, otp: tok.otp.generate(0), password: 'right-password' })).result,
      'accept',
    );
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        service.authenticate(
          wrongFactor === 'password'
            ? { userId, otp: tok.otp.generate(1 + i), password: 'wrong-password' }
            : { userId, otp: 'abcdef', password: 'right-password' },
          CTX,
        ),
      ),
    );
    const counts = results.reduce<Record<string, number>>((n, r) => ({ ...n, [r.result]: (n[r.result] ?? 0) + 1 }), {});
    t.same(counts, { reject: 3, blocked: 22 }, `wrong ${wrongFactor}: three failures, then blocked`);
    t.match(await service.getToken(tok.serial), { failures: 3 }, `wrong ${wrongFactor}: three failures counted, no more`);
  }
}

/**
 * Ten devices spending ONE proof at once: the proof is spent inside the store's unit with the
 * activation it allows, so one activation wins and every other is decided on the proof as spent.
 */
async function proofRace(t: Test, service: TokenService): Promise<void> {
  const toks = await Promise.all(Array.from({ length: 10 }, () => importToken(service, 'hotp-sha1')));
  const userId = `claimed-${toks[0]!.serial}`;
  const proofId = await proofFor(service, userId);
  const results = await Promise.all(
    toks.map((tok) => service.activate({ proofId, serial: tok.serial, otp: tok.otp.generate(0), password: `pw-${tok.serial}` }, CTX)),
  );
  const won = results.filter((r) => r.result === 'accept');
  t.equal(won.length, 1, 'one activation wins');
  t.same(
    results.filter((r) => r.result !== 'accept').map((r) => r.result === 'reject' && r.reason),
    Array(9).fill('proof-used'),
    'the others are refused: the proof is spent',
  );
  const winner = toks.find((tok) => tok.serial === won[0]?.serial)!;
  const owners = await Promise.all(toks.map(async (tok) => (await service.getToken(tok.serial))?.userId ?? null));
  t.same(
    owners.filter((o) => o !== null),
    [userId],
    "one device bound, to the proof's user",
  );
  t.equal(
    (await service.authenticate({ userId, otp: winner.otp.generate(1), password: `pw-${winner.serial}` }, CTX)).result,
    'accept',
    "the winner's device and password log in",
  );
}

/**
 * One free device claimed at once by ten users, each with a proof of their own and a code of its
 * own: one becomes its owner; every other is decided on the device as bound (a device serves one
 * user in its life), whatever its code.
 */
async function ownerRace(t: Test, service: TokenService): Promise<void> {
  const tok = await importToken(service, 'hotp-sha1');
  const users = Array.from({ length: 10 }, (_, i) => `claimant-${i}-${tok.serial}`);
  const proofs = await Promise.all(users.map((userId) => proofFor(service, userId)));
  const results = await Promise.all(
    proofs.map((proofId, i) => service.activate({ proofId, serial: tok.serial, otp: tok.otp.generate(i), password: `pw-${i}-claim` }, CTX)),
  );
  const won = results.filter((r) => r.result === 'accept');
  t.equal(won.length, 1, 'one owner');
  t.same(
    results.filter((r) => r.result !== 'accept').map((r) => r.result === 'reject' && r.reason),
    Array(9).fill('assigned-elsewhere'),
    'the others are refused: the device is taken',
  );
  const owner = won[0]?.result === 'accept' ? won[0].userId : null;
  t.equal((await service.getToken(tok.serial))?.userId, owner, 'the device is bound to the winner');
  const i = users.indexOf(owner as string);
  t.equal(
    (await service.authenticate({ userId: owner as string, otp: tok.otp.generate(10), password: `pw-${i}-claim` }, CTX)).result,
    'accept',
    "the winner's password logs in",
  );
}

/**
 * Ten devices for one user at once, each with a proof of its own: each activation replaces the
 * device active when it is decided, so the user ends with exactly one active device.
 */
async function replaceRace(t: Test, service: TokenService): Promise<void> {
  const toks = await Promise.all(Array.from({ length: 10 }, () => importToken(service, 'hotp-sha1')));
  const userId = `replacer-${toks[0]!.serial}`;
  const proofs = await Promise.all(toks.map(() => proofFor(service, userId)));
  const results = await Promise.all(
    toks.map((tok, i) =>
      service.activate({ proofId: proofs[i]!, serial: tok.serial, otp: tok.otp.generate(0), password: `pw-${tok.serial}` }, CTX),
    ),
  );
  t.same(
    results.map((r) => r.result),
    Array(10).fill('accept'),
    'every proof allows its activation',
  );
  const active = [];
  for (const tok of toks) if ((await service.getToken(tok.serial))?.userId === userId) active.push(tok);
  t.equal(active.length, 1, 'one active device');
  const deactivations = (await service.audit({ userId, limit: 1000 })).filter((e) => e.type === 'deactivate');
  t.equal(deactivations.length, 9, 'each of the others replaced once');
  t.ok(
    deactivations.every((e) => /^replaced by [0-9]{10}$/.test(e.reason ?? '')),
    'each "replaced by" a device',
  );
  const last = active[0]!;
  t.equal(
    (await service.authenticate({ userId, otp: last.otp.generate(1), password: `pw-${last.serial}` }, CTX)).result,
    'accept',
    'the last one decided is the active device, with its password',
  );
}

/** The service over a fresh PostgreSQL schema, closed when `t` ends. */
async function postgresService(t: Test): Promise<TokenService> {
  const { url } = await tempSchema(t);
  const service = createTokenService({
    store: await openPostgresStore(url, { poolSize: 8 }),
    clock: new FakeClock(),
    masterKey: MASTER_KEY,
    scrypt: FAST_SCRYPT,
  });
  t.teardown(() => service.close());
  return service;
}

t.test('SQLite', async (t) => race(t, serviceFixture(t).service));
t.test('SQLite: logins', async (t) => loginRace(t, serviceFixture(t).service));
t.test('SQLite: one proof', async (t) => proofRace(t, serviceFixture(t).service));
t.test('SQLite: one device', async (t) => ownerRace(t, serviceFixture(t).service));
t.test('SQLite: one user', async (t) => replaceRace(t, serviceFixture(t).service));

if (await requirePostgres(t, undefined, 'the concurrency tests on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) => race(t, await postgresService(t)));
  t.test('PostgreSQL: logins', async (t) => loginRace(t, await postgresService(t)));
  t.test('PostgreSQL: one proof', async (t) => proofRace(t, await postgresService(t)));
  t.test('PostgreSQL: one device', async (t) => ownerRace(t, await postgresService(t)));
  t.test('PostgreSQL: one user', async (t) => replaceRace(t, await postgresService(t)));
}

t.test('a login whose first read is stale (the user activated in between) checks the password once more and is decided', async (t) => {
  const { store, clock } = serviceFixture(t);
  const real = createTokenService({ store, clock, masterKey: MASTER_KEY, scrypt: FAST_SCRYPT });
  const tok = await importToken(real, 'hotp-sha1');
  t.equal(
    (await activateUser(real, { userId: 'late', serial: tok.serial, otp: tok.otp.generate(0), password: 'right-password' })).result,
    'accept',
  );
  // The pre-read sees the user as before the activation: no active token, no user.
  const stale = createTokenService({
    store: {
      ...store,
      snapshot: async () => EMPTY_SNAPSHOT,
    },
    clock,
    masterKey: MASTER_KEY,
    scrypt: FAST_SCRYPT,
  });
  const answer = await Promise.race([
    stale.authenticate({ userId: 'late', otp: tok.otp.generate(1), password: 'right-password' }, CTX),
    new Promise((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000)),
  ]);
  t.match(answer, { result: 'accept', serial: tok.serial, movingFactor: 1, receipt: /^eyJ/ });
});
