// The block under concurrency, over HTTP with the rate limits off, on SQLite and on PostgreSQL:
// 25 wrong logins for one user at once (wrong password with right codes, then wrong codes with the
// right password), or 25 password changes with the wrong old password, count 3 failures, and every
// later one is 429 {result: "blocked"} with Retry-After.
import t, { type Test } from 'tap';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { activate, admin, device, importDevices, post, testApp } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

function blockRace(t: Test, openStore?: (t: Test) => Promise<TokenStore>): void {
  for (const wrong of ['password', 'code'] as const) {
    t.test(`25 logins at once with the wrong ${wrong}`, async (t) => {
      const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
      const d = device();
      await importDevices(app, d);
      const userId = `racer-${wrong}`;
      t.equal((await activate(app, { userId, serial: d.serial, otp: d.press(), password: 'right-password' })).statusCode, 200);
      const replies = await Promise.all(
        Array.from({ length: 25 }, () =>
          post(app, '/v1/authenticate', {
            userId,
            otp: wrong === 'password' ? d.press() : '000000',
            password: wrong === 'password' ? 'wrong-password' : 'right-password',
          }),
        ),
      );
      const statuses = replies.map((r) => r.statusCode).sort();
      t.same(statuses, [...Array(3).fill(401), ...Array(22).fill(429)], 'three rejects, then blocked');
      for (const r of replies.filter((r) => r.statusCode === 429)) {
        const body = r.json();
        if (body.result !== 'blocked' || !(body.retryAfterSeconds > 0) || r.headers['retry-after'] !== String(body.retryAfterSeconds)) {
          t.fail(`a 429 without its block: ${r.body} ${String(r.headers['retry-after'])}`);
        }
      }
      const token = (await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json();
      t.equal(token.failures, 3, 'three failures counted, no more');
    });
  }
  t.test('25 password changes at once with the wrong old password', async (t) => {
    const { app } = await testApp(t, openStore ? { store: await openStore(t) } : {});
    const d = device();
    await importDevices(app, d);
    t.equal((await activate(app, { userId: 'changer', serial: d.serial, otp: d.press(), password: 'right-password' })).statusCode, 200);
    const replies = await Promise.all(
      Array.from({ length: 25 }, () =>
        post(app, '/v1/users/self/password', {
          userId: 'changer',
          otp: d.press(),
          oldPassword: 'wrong-password',
          newPassword: 'new-password-1',
        }),
      ),
    );
    t.same(replies.map((r) => r.statusCode).sort(), [...Array(3).fill(401), ...Array(22).fill(429)], 'three rejects, then blocked');
    t.equal((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json().failures, 3, 'three failures counted, no more');
    t.equal(
      (await post(app, '/v1/authenticate', { userId: 'changer', otp: d.press(), password: 'new-password-1' })).statusCode,
      429,
      'still blocked',
    );
  });
}

t.test('SQLite', async (t) => blockRace(t));
if (await requirePostgres(t, undefined, 'the block race over HTTP on PostgreSQL skipped')) {
  t.test('PostgreSQL', async (t) =>
    blockRace(t, async (t) => {
      const { url } = await tempSchema(t);
      return openPostgresStore(url, { poolSize: 8 });
    }),
  );
}
