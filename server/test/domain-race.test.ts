// A block that holds under concurrency: 25 wrong codes for one token at once, on SQLite and on
// PostgreSQL. The decision sees the token as it is inside the store's atomic unit, so the third
// failure blocks and every later attempt is refused as blocked, not counted.
import t, { type Test } from 'tap';
import { openPostgresStore } from '../src/store/postgres.js';
import { EMPTY_SNAPSHOT } from '../src/domain/decide.js';
import { createTokenService } from '../src/domain/service.js';
import type { TokenService } from '../src/domain/types.js';
import { FakeClock } from './helpers/clock.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { CTX, FAST_SCRYPT, importToken, MASTER_KEY, serviceFixture } from './helpers/service.js';

async function race(t: Test, service: TokenService): Promise<void> {
  const tok = await importToken(service, 'hotp-sha1');
  const wrong = ['000000', '111111'].find((c) => ![...Array(110).keys()].some((i) => tok.otp.generate(i) === c)) as string;
  const results = await Promise.all(Array.from({ length: 25 }, () => service.validate({ serial: tok.serial, otp: wrong }, CTX)));
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
      (await service.activate({ userId, serial: tok.serial, otp: tok.otp.generate(0), password: 'right-password' }, CTX)).result,
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
 * Ten spare devices claiming one free user ID at once: one creates the user; every other is
 * decided on the user as created, so it needs the owner's proof and is refused.
 */
async function claimRace(t: Test, service: TokenService): Promise<void> {
  const toks = await Promise.all(Array.from({ length: 10 }, () => importToken(service, 'hotp-sha1')));
  const userId = `claimed-${toks[0]!.serial}`;
  const results = await Promise.all(
    toks.map((tok) => service.activate({ userId, serial: tok.serial, otp: tok.otp.generate(0), password: `pw-${tok.serial}` }, CTX)),
  );
  const won = results.filter((r) => r.result === 'accept');
  t.equal(won.length, 1, 'one activation wins');
  t.same(
    results.filter((r) => r.result !== 'accept').map((r) => r.result === 'reject' && r.reason),
    Array(9).fill('owner-not-proven'),
    'the others are refused as takeovers',
  );
  const winner = toks.find((tok) => tok.serial === won[0]?.serial)!;
  t.equal(
    (await service.authenticate({ userId, otp: winner.otp.generate(1), password: `pw-${winner.serial}` }, CTX)).result,
    'accept',
    "the winner's device and password log in",
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
t.test('SQLite: claims', async (t) => claimRace(t, serviceFixture(t).service));

if (await requirePostgres(t, undefined, 'the concurrency tests on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) => race(t, await postgresService(t)));
  t.test('PostgreSQL: logins', async (t) => loginRace(t, await postgresService(t)));
  t.test('PostgreSQL: claims', async (t) => claimRace(t, await postgresService(t)));
}

t.test('a login whose first read is stale (the user activated in between) checks the password once more and is decided', async (t) => {
  const { store, clock } = serviceFixture(t);
  const real = createTokenService({ store, clock, masterKey: MASTER_KEY, scrypt: FAST_SCRYPT });
  const tok = await importToken(real, 'hotp-sha1');
  t.equal(
    (await real.activate({ userId: 'late', serial: tok.serial, otp: tok.otp.generate(0), password: 'right-password' }, CTX)).result,
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
  t.same(answer, { result: 'accept', serial: tok.serial, movingFactor: 1 });
});
