/**
 * Three server processes over one PostgreSQL. The compiled server
 * (`server/dist/main.js`) runs three times on one fresh schema, with one Redis key prefix for
 * their rate limits. 100 tokens (hotp and totp, all seven primitives) are imported once,
 * through one instance; their codes are computed with createOtp, as the devices would show
 * them; then 300 POST /v1/validate fly at once, each code three times, each copy to a different
 * instance. Each code must be accepted exactly once — 100 accepts, 200 rejects, no 5xx — and
 * the audit log must say the same. Then the state the instances share:
 * - a token blocked through instance A (three wrong codes) is blocked on B and C, with
 *   Retry-After, even for its right code: the block lives in the database;
 * - the per-IP rate limit counts the requests of one client to all three instances together
 *   (the Redis store), sent from another loopback address so the rest of the test is not limited.
 * PostgreSQL or Redis not reachable: the parts that need them say so and skip.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createOtp, makeSerial, profileInfo, PROFILES, type Otp, type ProfileName } from '@kodeviser/shared';
import { tempDir } from './helpers/db.js';
import { admin, buildServer, request, startInstance, type Instance, type Reply } from './helpers/instances.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { redisUnreachable, tempRedisUrl } from './helpers/redis.js';

const PER_IP_LIMIT = 40;

interface Token {
  serial: string;
  profile: ProfileName;
  keyHex: string;
  otp: Otp;
}

function manufacture(n: number): Token[] {
  const base = 700_000_000 + (process.pid % 10_000) * 1000;
  return Array.from({ length: n }, (_, i) => {
    const profile = PROFILES[i % PROFILES.length] as ProfileName;
    const key = randomBytes(profileInfo(profile).keyBytes);
    return { serial: makeSerial(String(base + i)), profile, keyHex: key.toString('hex'), otp: createOtp({ profile, key }) };
  });
}

/** The code the device shows now: hotp its first press, totp the current step. */
const codeOf = (tk: Token): string => (tk.otp.mode === 'hotp' ? tk.otp.generate(0) : tk.otp.generate(tk.otp.stepAt(Date.now() / 1000)));

if (await requirePostgres(t, undefined, 'the multi-instance test skipped')) {
  t.test('three instances over one PostgreSQL', async (t) => {
    const built = buildServer();
    if (built !== null) return t.fail(`tsc -b server failed:\n${built}`);
    const { url: databaseUrl } = await tempSchema(t);
    const redisDown = await redisUnreachable();
    if (redisDown !== null)
      t.comment(`Redis not reachable (${redisDown}): each instance limits on its own; the shared-limit check is skipped`);
    const redis = redisDown === null ? tempRedisUrl(t).url : null;

    const instances: Instance[] = await Promise.all(
      [0, 1, 2].map((i) =>
        startInstance({
          DATABASE_URL: databaseUrl,
          KODEVISER_DATA_DIR: tempDir(t),
          KODEVISER_RATE_LIMIT_IP: String(PER_IP_LIMIT),
          ...(redis ? { REDIS_URL: redis } : {}),
          LOG_LEVEL: i === 0 ? 'warn' : 'error',
        }),
      ),
    );
    t.teardown(async () => {
      for (const instance of instances) if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
    });
    const at = (i: number): Instance => instances[i % 3] as Instance;

    const tokens = manufacture(101);
    const spare = tokens.pop() as Token;
    const imported = await request('POST', `${at(0).url}/v1/tokens`, {
      headers: admin,
      body: { tokens: [...tokens, spare].map(({ serial, profile, keyHex }) => ({ serial, profile, keyHex })) },
    });
    t.equal(imported.status, 201, 'imported once, through the first instance');

    t.test('300 concurrent validations of 100 codes, each sent to all three: each accepted exactly once', async (t) => {
      // Warm up every instance alike (connections opened, code paths compiled), so that which
      // instance answers first is a fair race; /v1/validate is exempt from the per-IP limit.
      const unknown = makeSerial('699999999');
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          request('POST', `${at(i).url}/v1/validate`, { headers: admin, body: { serial: unknown, otp: '123456' } }),
        ),
      );
      const codes = tokens.map(codeOf);
      const jobs = tokens.flatMap((tk, i) => [0, 1, 2].map((copy) => ({ tk, code: codes[i] as string, instance: at(i + copy) })));
      // Shuffled, so the first copy of a code reaches any instance first.
      for (let i = jobs.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [jobs[i], jobs[j]] = [jobs[j] as (typeof jobs)[number], jobs[i] as (typeof jobs)[number]];
      }
      const started = performance.now();
      const replies: Array<Reply & { serial: string }> = await Promise.all(
        jobs.map(async ({ tk, code, instance }) => ({
          serial: tk.serial,
          ...(await request('POST', `${instance.url}/v1/validate`, { headers: admin, body: { serial: tk.serial, otp: code } })),
        })),
      );
      t.comment(`300 validations over 3 instances in ${Math.round(performance.now() - started)} ms`);
      const results = replies.map((r) => (r.body as { result?: string }).result);
      t.equal(replies.filter((r) => r.status >= 500).length, 0, 'no 5xx');
      t.same([...new Set(replies.map((r) => r.status))], [200], 'every reply a 200 verdict');
      t.equal(results.filter((r) => r === 'accept').length, 100, '100 accepts');
      t.equal(results.filter((r) => r === 'reject').length, 200, '200 rejects');
      const acceptsPerSerial = new Map<string, number>();
      for (const r of replies)
        if ((r.body as { result?: string }).result === 'accept') acceptsPerSerial.set(r.serial, (acceptsPerSerial.get(r.serial) ?? 0) + 1);
      t.equal(acceptsPerSerial.size, 100, 'every token accepted its code');
      t.ok(
        [...acceptsPerSerial.values()].every((n) => n === 1),
        'and no token twice',
      );
      const byInstance = [0, 1, 2].map((i) => jobs.filter((j, k) => j.instance === at(i) && results[k] === 'accept').length);
      t.comment(`accepts answered by instance A/B/C: ${byInstance.join('/')}`);

      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      t.teardown(() => db.end());
      const audit = await db.query<{ type: string; reason: string | null; n: number }>(
        `SELECT type, reason, count(*)::int AS n FROM audit WHERE type IN ('accept', 'reject') AND serial <> '${unknown}' GROUP BY type, reason ORDER BY type, reason`,
      );
      t.same(
        audit.rows.filter((r) => r.type === 'accept'),
        [{ type: 'accept', reason: null, n: 100 }],
        'the audit log holds the 100 accepts',
      );
      t.equal(
        audit.rows.filter((r) => r.type === 'reject').reduce((s, r) => s + r.n, 0),
        200,
        'and the 200 rejects',
      );
      t.ok(
        audit.rows.filter((r) => r.type === 'reject').every((r) => r.reason === 'replay' || r.reason === 'bad-otp'),
        `rejected as replays: ${JSON.stringify(audit.rows)}`,
      );
      const twice = await db.query(`SELECT serial FROM audit WHERE type = 'accept' GROUP BY serial HAVING count(*) > 1`);
      t.equal(twice.rowCount, 0, 'no serial with two accepts in the audit log');
    });

    t.test('a token blocked through one instance is blocked on the others, with Retry-After', async (t) => {
      const right = codeOf(spare);
      const wrong = right === '000000' ? '111111' : '000000';
      const validate = (i: number, otp: string) =>
        request('POST', `${at(i).url}/v1/validate`, { headers: admin, body: { serial: spare.serial, otp } });
      const first3 = [await validate(0, wrong), await validate(0, wrong), await validate(0, wrong)];
      t.same(
        first3.map((r) => [r.status, (r.body as { result: string }).result]),
        [
          [200, 'reject'],
          [200, 'reject'],
          [200, 'reject'],
        ],
        'three wrong codes on A',
      );
      for (const i of [1, 2]) {
        const blocked = await validate(i, right);
        t.equal(blocked.status, 429, `instance ${'ABC'[i]}: 429 for the right code`);
        t.match(blocked.body, { result: 'blocked', serial: spare.serial });
        t.ok(
          Number(blocked.headers['retry-after']) >= 1 && Number(blocked.headers['retry-after']) <= 30,
          `Retry-After ${String(blocked.headers['retry-after'])} s`,
        );
      }
      const info = await request('GET', `${at(2).url}/v1/tokens/${spare.serial}`, { headers: admin });
      t.match(info.body, { failures: 3, lastMovingFactor: null }, 'the right code was not even checked');
    });

    t.test(
      'the per-IP rate limit counts one client across all three instances',
      { skip: redis ? false : 'Redis not reachable: no shared count to check' },
      async (t) => {
        const statuses: number[] = [];
        for (let i = 0; i < PER_IP_LIMIT + 6; i++) {
          statuses.push((await request('GET', `${at(i).url}/healthz`, { from: '127.0.0.2' })).status);
        }
        t.equal(
          statuses.filter((s) => s === 200).length,
          PER_IP_LIMIT,
          `${PER_IP_LIMIT} answered in all, ${Math.ceil(PER_IP_LIMIT / 3)} or so by each instance`,
        );
        t.same(statuses.slice(PER_IP_LIMIT), [429, 429, 429, 429, 429, 429], 'then 429 from every instance');
        const refused = await request('GET', `${at(1).url}/healthz`, { from: '127.0.0.2' });
        t.match(refused.body, { error: 'rate-limited' });
        t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After');
        t.equal((await request('GET', `${at(1).url}/healthz`)).status, 200, 'another client is not limited');
      },
    );

    t.test('the instances stop cleanly', async (t) => {
      const codes = await Promise.all(instances.map((i) => i.stop()));
      t.same(codes, [0, 0, 0], 'exit 0 on SIGTERM');
      t.same(
        instances.map((i) => i.stderr()),
        ['', '', ''],
        'nothing on stderr',
      );
    });
  });
}
