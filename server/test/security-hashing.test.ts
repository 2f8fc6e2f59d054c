// Password hashing bounded (security/password.ts boundedHasher): a flood of logins costs each
// extra one a refusal, not every caller a growing wait (issue "faults and floods", finding 1).
import { join } from 'node:path';
import t from 'tap';
import { createTokenService } from '../src/domain/service.js';
import { boundedHasher, type PasswordHasher } from '../src/security/password.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';
import { FakeClock } from './helpers/clock.js';
import { CTX, MASTER_KEY, serviceFixture } from './helpers/service.js';
import { admin, post, testApp } from './http-helpers.js';

/** A hasher whose every call waits until released, counting how many run at once. */
function gated() {
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const work = <T>(value: T) =>
    new Promise<T>((resolve) => {
      running++;
      most = Math.max(most, running);
      releases.push(() => {
        running--;
        resolve(value);
      });
    });
  const hasher: PasswordHasher = {
    params: { N: 2, r: 1, p: 1 },
    hash: () => work('scrypt$2$1$1$AA$AA'),
    verify: () => work(false),
    verifyNothing: () => work(false as const),
  };
  return { hasher, most: () => most, releaseAll: () => releases.splice(0).forEach((r) => r()) };
}

t.test('at most `concurrency` at once, `queue` waiting, then ERR_BUSY at once', async (t) => {
  const g = gated();
  const bounded = boundedHasher(g.hasher, { concurrency: 2, queue: 3 });
  const calls = Array.from({ length: 7 }, () =>
    bounded.verifyNothing('x').then(
      () => 'done',
      (e: { code: string }) => e.code,
    ),
  );
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 5; i++) {
    g.releaseAll();
    await new Promise((r) => setImmediate(r));
  }
  t.same(await Promise.all(calls), ['done', 'done', 'done', 'done', 'done', 'ERR_BUSY', 'ERR_BUSY']);
  t.equal(g.most(), 2, 'never more than two at once');
  t.throws(() => boundedHasher(g.hasher, { concurrency: 0, queue: 1 }), { code: 'ERR_ARGUMENT' });
});

t.test('over HTTP: a login beyond the queue is a 503 busy with Retry-After, at once', async (t) => {
  const g = gated();
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'kodeviser.db'));
  const service = createTokenService({
    store,
    clock: new FakeClock(),
    masterKey: MASTER_KEY,
    passwords: boundedHasher(g.hasher, { concurrency: 1, queue: 1 }),
  });
  const { app } = await testApp(t, { store, service: () => service });
  // inject() sends a request when it is first awaited: .then() sends each now, in order.
  const logins = Array.from({ length: 4 }, (_, i) =>
    post(app, '/v1/authenticate', { userId: `flood-${i}`, otp: '000000', password: 'a-guess-123' }).then((r) => r),
  );
  // Two are held (one hashing, one waiting); the other two are refused without waiting.
  const refused = await Promise.race([Promise.all(logins.slice(2)), new Promise((r) => setTimeout(() => r('held'), 2000))]);
  t.not(refused, 'held', 'the refusals do not wait for the hashes');
  for (const res of refused as Awaited<(typeof logins)[number]>[]) {
    t.same([res.statusCode, res.json().error, res.headers['retry-after']], [503, 'busy', '1']);
  }
  g.releaseAll();
  await new Promise((r) => setTimeout(r, 20));
  g.releaseAll();
  t.same(
    (await Promise.all(logins.slice(0, 2))).map((r) => r.statusCode),
    [401, 401],
    'the two admitted are answered',
  );
});

t.test('the routes that hash a password: 30 a minute per address, bearer routes not under it', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 10_000 } });
  const login = (remoteAddress: string, i: number) =>
    app.inject({
      method: 'POST',
      url: i % 2 ? '/v1/authenticate' : '/v1/proofs/self',
      remoteAddress,
      payload: { userId: `someone-${i}`, otp: '000000', password: 'a-guess-123' },
    });
  const statuses: number[] = [];
  for (let i = 0; i < 31; i++) statuses.push((await login('192.0.2.50', i)).statusCode);
  t.same(new Set(statuses.slice(0, 30)), new Set([401]), 'thirty answered: a person or a test suite is never stopped');
  t.equal(statuses[30], 429, 'the 31st in the minute is refused before any hash');
  const activate = await app.inject({
    method: 'POST',
    url: '/v1/activate',
    remoteAddress: '192.0.2.50',
    payload: { proofId: 'x'.repeat(22), serial: '1000000008', otp: '000000', password: 'a-guess-1234' },
  });
  t.equal(activate.statusCode, 429, 'activation shares the budget');
  t.equal(
    (await app.inject({ url: '/v1/audit', remoteAddress: '192.0.2.50', headers: admin })).statusCode,
    200,
    'a bearer route is not under it',
  );
  t.equal((await login('192.0.2.51', 1)).statusCode, 401, 'another address is not affected');
  const { app: off } = await testApp(t, { rateLimit: { perIp: 0 } });
  const offStatuses: number[] = [];
  for (let i = 0; i < 35; i++) {
    offStatuses.push(
      (await off.inject({ method: 'POST', url: '/v1/authenticate', payload: { userId: `u${i}`, otp: '000000', password: 'a-guess-123' } }))
        .statusCode,
    );
  }
  t.same(new Set(offStatuses), new Set([401]), 'KODEVISER_RATE_LIMIT_IP=0 switches it off');
});

t.test('the service bounds its own hashing (its `hashing` option), not only a hasher it is handed', async (t) => {
  const { service } = serviceFixture(t, { service: { hashing: { concurrency: 1, queue: 2 } } });
  const outcomes = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      service.authenticate({ userId: `many-${i}`, otp: '000000', password: 'a-guess-123' }, CTX).then(
        (o) => o.result,
        (e: { code: string }) => e.code,
      ),
    ),
  );
  t.equal(outcomes.filter((o) => o === 'reject').length, 3, 'one hashing, two waiting');
  t.equal(outcomes.filter((o) => o === 'ERR_BUSY').length, 17, 'the rest refused');
});
