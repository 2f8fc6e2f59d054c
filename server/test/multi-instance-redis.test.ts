// REDIS_URL: the rate limits of @fastify/rate-limit counted in a Redis shared by every instance.
// Two apps (two instances, in-process) over one Redis: the per-IP and the per-user limits count
// requests to either; a Redis that does not answer lets requests through (the limits are about
// volume; the guessing defence is the database's block) and does not hold up shutdown.
import t from 'tap';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { tempDir } from './helpers/db.js';
import { REDIS_URL, redisUnreachable, requireRedis, tempRedisUrl } from './helpers/redis.js';
import { post, testApp } from './http-helpers.js';

t.test('REDIS_URL in the configuration', async (t) => {
  const dir = tempDir(t);
  const base = { KODEVISER_DATA_DIR: dir };
  t.equal(
    loadConfig({ env: { ...base, REDIS_URL: 'redis://127.0.0.1:6379/2?keyPrefix=kv:' } }).config.rateLimit.redisUrl,
    'redis://127.0.0.1:6379/2?keyPrefix=kv:',
  );
  t.equal(
    loadConfig({ env: { ...base, REDIS_URL: 'rediss://cache.example:6380' } }).config.rateLimit.redisUrl,
    'rediss://cache.example:6380',
  );
  t.notOk('redisUrl' in loadConfig({ env: { ...base, REDIS_URL: '' } }).config.rateLimit, 'empty: in memory');
  t.throws(
    () => loadConfig({ env: { ...base, REDIS_URL: 'http://user:hunter2@cache' } }),
    { code: 'ERR_ARGUMENT', message: 'REDIS_URL must be a redis:// or rediss:// URL' },
    'the value (it may hold a password) is not echoed',
  );
});

t.test('the skip helper says plainly that Redis is not there', async (t) => {
  t.match(await redisUnreachable('redis://127.0.0.1:1', 500), /ECONNREFUSED/);
});

if (await requireRedis(t, 'the shared rate-limit tests')) {
  t.test('the local Redis answers', async (t) => t.equal(await redisUnreachable(), null));

  t.test('the per-IP limit counts the requests of both instances together', async (t) => {
    const { url, prefix } = tempRedisUrl(t);
    const a = await testApp(t, { rateLimit: { perIp: 4, redisUrl: url } });
    const b = await testApp(t, { rateLimit: { perIp: 4, redisUrl: url } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await (i % 2 ? b : a).app.inject({ method: 'GET', url: '/healthz' })).statusCode);
    t.same(statuses, [200, 200, 200, 200, 429, 429], 'the fifth request, on either instance, is over the limit of four');
    const refused = await b.app.inject({ method: 'GET', url: '/healthz' });
    t.match(refused.json(), { error: 'rate-limited' });
    t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After');
    const peek = new Redis(REDIS_URL);
    t.teardown(() => peek.disconnect());
    t.ok((await peek.keys(`${prefix}kodeviser-rate-limit:*`)).length > 0, 'the count lives in Redis, under the prefix');
  });

  t.test('the per-user limit on authenticate, across instances', async (t) => {
    const { url } = tempRedisUrl(t);
    const apps = [
      await testApp(t, { rateLimit: { perUser: 2, redisUrl: url } }),
      await testApp(t, { rateLimit: { perUser: 2, redisUrl: url } }),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await post(apps[i % 2]!.app, '/v1/authenticate', { userId: 'mallory-target', otp: '123456', password: 'guess-guess' })).statusCode,
      );
    }
    t.same(statuses.slice(2), [429, 429], 'the third attempt for the user, on either instance, is refused');
    t.same(statuses.slice(0, 2), [401, 401], 'the first two are answered (rejected: no such user)');
    const other = await post(apps[1]!.app, '/v1/authenticate', { userId: 'someone-else', otp: '123456', password: 'guess-guess' });
    t.not(other.statusCode, 429, 'another user is not limited');
  });

  t.test('a user ID without a device is blocked on every instance alike (its state in Redis)', async (t) => {
    const { url, prefix } = tempRedisUrl(t);
    const apps = [await testApp(t, { rateLimit: { redisUrl: url } }), await testApp(t, { rateLimit: { redisUrl: url } })];
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await post(apps[i % 2]!.app, '/v1/authenticate', { userId: 'nobody-here', otp: '000000', password: 'guess-guess' })).statusCode,
      );
    }
    t.same(statuses, [401, 401, 401, 429, 429], 'blocked after the third, wherever the attempts land, as a real device');
    const peek = new Redis(REDIS_URL);
    t.teardown(() => peek.disconnect());
    t.ok((await peek.keys(`${prefix}kodeviser-state:phantom:*`)).length === 1, 'the state lives in Redis, under the prefix');
  });

  t.test('failed bearer tokens are counted across instances', async (t) => {
    const { url } = tempRedisUrl(t);
    const apps = [
      await testApp(t, { rateLimit: { perIp: 10_000, bearerFailures: 4, redisUrl: url } }),
      await testApp(t, { rateLimit: { perIp: 10_000, bearerFailures: 4, redisUrl: url } }),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await apps[i % 2]!.app.inject({ url: '/v1/audit', headers: { authorization: `Bearer guess-${i}` } })).statusCode);
    }
    t.same(statuses, [401, 401, 401, 401, 429, 429], 'the fifth guess, on either instance, is over the limit of four');
  });
}

t.test('a Redis that does not answer: requests pass, the app closes promptly', async (t) => {
  const app = await testApp(t, { rateLimit: { perIp: 1, redisUrl: 'redis://127.0.0.1:1' } });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await app.app.inject({ method: 'GET', url: '/healthz' })).statusCode);
  t.same(statuses, [200, 200, 200], 'not limited, not failed');
  await app.app.close();
});
