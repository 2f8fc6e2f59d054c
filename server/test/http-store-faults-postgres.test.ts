/**
 * The PostgreSQL store when its database turns bad under it (issue 18, finding 3): another session
 * holding `LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE` (a migration run by hand, a long
 * maintenance transaction), connections lost. A request must fail with 503 `unavailable` within
 * about the lock or statement timeout instead of hanging with its pooled connection, readiness
 * must say so, both must recover once the lock is released, and a pooled connection lost while
 * idle is told in one log line that names no URL (it may hold a password).
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { LightMyRequestResponse } from 'fastify';
import { StoreUnavailableError } from '../src/domain/errors.js';
import { describeError } from '../src/plugins/errors.js';
import { openPostgresStore, pgFailure, type PostgresStoreOptions } from '../src/store/postgres.js';
import { asService, device, importDevices, post, testApp } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

/** A store in a schema of its own, its connections named so that a test can find them in pg_stat_activity. */
async function storeIn(t: Test, opts: PostgresStoreOptions) {
  const { url: schemaUrl } = await tempSchema(t);
  const name = `kv_faults_${randomBytes(4).toString('hex')}`;
  const u = new URL(schemaUrl);
  u.searchParams.set('application_name', name);
  const url = u.toString();
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const log = {
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }),
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
  };
  const store = await openPostgresStore(url, { poolSize: 4, ...opts, log });
  // Other sessions use the schema's URL: not named so, they are not among the store's connections.
  return { store, url: schemaUrl, name, lines };
}

/** Another session, as an operator's psql would be: it holds the lock until told. */
async function otherSession(t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  t.teardown(() => client.end().catch(() => undefined));
  return client;
}

const TOO_LONG = Symbol('still waiting');
/** The reply and how long it took, or TOO_LONG after `limitMs` (today's code waits for the lock for ever). */
async function timed(
  request: Promise<LightMyRequestResponse>,
  limitMs: number,
): Promise<[LightMyRequestResponse | typeof TOO_LONG, number]> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const reply = await Promise.race([request, new Promise<typeof TOO_LONG>((r) => (timer = setTimeout(() => r(TOO_LONG), limitMs)))]);
  clearTimeout(timer);
  return [reply, performance.now() - started];
}

const statusOf = (r: LightMyRequestResponse | typeof TOO_LONG) => (r === TOO_LONG ? 'no answer' : r.statusCode);

t.test('lock, statement timeout, connection errors: the store is unavailable; anything else is not', async (t) => {
  const pgError = (code: string, message = code) => Object.assign(new Error(message), { code });
  for (const [e, message] of [
    [pgError('55P03', 'canceling statement due to lock timeout'), /locked by another session/],
    [pgError('57014', 'canceling statement due to statement timeout'), /statement timeout/],
    [pgError('57P01', 'terminating connection due to administrator command'), /unavailable \(57P01\)/],
    [pgError('53300', 'sorry, too many clients already'), /unavailable \(53300\)/],
    [pgError('53100', 'could not extend file: No space left on device'), /unavailable \(53100\)/],
    [pgError('08006'), /unavailable \(08006\)/],
    [pgError('25006', 'cannot execute INSERT in a read-only transaction'), /read-only/],
    [pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), /cannot be reached/],
    [new Error('Connection terminated unexpectedly'), /cannot be reached/],
    [new Error('timeout exceeded when trying to connect'), /cannot be reached/],
  ] as const) {
    const mapped = pgFailure(e);
    t.ok(mapped instanceof StoreUnavailableError, e.message);
    t.match(mapped, { code: 'ERR_UNAVAILABLE', message, cause: e });
    t.notMatch((mapped as Error).message, /5432|127\.0\.0\.1/, 'the message names no server');
    t.match(describeError(mapped as Error), { status: 503, body: { error: 'unavailable' }, headers: { 'retry-after': '1' } });
  }
  for (const e of [pgError('23505', 'duplicate key'), pgError('42P01', 'relation does not exist'), new Error('a bug')]) {
    t.equal(pgFailure(e), e, `${e.message}: left as it is`);
  }
});

if (await requirePostgres(t)) {
  t.test('a table lock another session holds: 503 within about the lock timeout, readiness says so, both recover', async (t) => {
    const { store, url } = await storeIn(t, { lockTimeoutMs: 200 });
    const { app, log } = await testApp(t, { store, captureLog: true });
    const d = device();
    await importDevices(app, d);
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready');

    const other = await otherSession(t, url);
    await other.query('BEGIN');
    await other.query('LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE');
    const code = d.press();
    const pending = post(app, '/v1/validate', { serial: d.serial, otp: code }, asService);
    const [locked, ms] = await timed(pending, 5000);
    const [ready, readyMs] = await timed(app.inject({ url: '/readyz' }), 5000);
    await other.query('COMMIT');
    await pending;

    t.equal(statusOf(locked), 503, 'the validation is refused as unavailable');
    t.ok(ms < 3000, `answered in ${Math.round(ms)} ms with a 200 ms lock timeout (never, before)`);
    if (locked !== TOO_LONG) {
      t.same(locked.json(), { error: 'unavailable', message: 'the database is locked by another session (lock timeout); try again' });
      t.equal(locked.headers['retry-after'], '1');
      const lines = log()
        .split('\n')
        .filter((l) => /"level":(40|50)/.test(l));
      t.equal(lines.length, 1, 'one log line');
      t.match(lines[0], /55P03/, 'naming PostgreSQL’s code');
      t.notMatch(lines[0], /stack/, 'without a stack trace');
    }
    t.equal(statusOf(ready), 503, 'not ready while the lock is held');
    t.ok(readyMs < 3000, `readiness answered in ${Math.round(readyMs)} ms`);

    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready again once the lock is released');
    const after = await post(app, '/v1/validate', { serial: d.serial, otp: code }, asService);
    t.same([after.statusCode, after.json().result], [200, 'accept'], 'the same code is accepted now');
  });

  t.test('without a lock timeout, the statement timeout ends the wait', async (t) => {
    const { store, url } = await storeIn(t, { lockTimeoutMs: 0, statementTimeoutMs: 300 });
    const { app } = await testApp(t, { store });
    const d = device();
    await importDevices(app, d);
    const other = await otherSession(t, url);
    await other.query('BEGIN');
    await other.query('LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE');
    const pending = post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService);
    const [locked, ms] = await timed(pending, 5000);
    await other.query('COMMIT');
    await pending;
    t.equal(statusOf(locked), 503);
    t.ok(ms < 3000, `answered in ${Math.round(ms)} ms with a 300 ms statement timeout`);
    if (locked !== TOO_LONG) t.match(locked.json(), { error: 'unavailable', message: /statement timeout/ });
  });

  t.test('connections lost: an idle one is logged in one line without the URL, a busy one fails its request with 503', async (t) => {
    const { store, url, name, lines } = await storeIn(t, { lockTimeoutMs: 0, statementTimeoutMs: 0 });
    const { app } = await testApp(t, { store });
    const d = device();
    await importDevices(app, d);
    await Promise.all([1, 2, 3].map(() => app.inject({ url: '/readyz' })));
    const admin = await otherSession(t, url);
    const terminate = async () =>
      (await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name])).rowCount ?? 0;
    const idle = await terminate();
    t.ok(idle >= 1, `the store's ${idle} idle connections terminated`);
    const lostLines = () => lines.filter((l) => l.msg.includes('idle PostgreSQL connection'));
    const until = Date.now() + 3000;
    while (lostLines().length < idle && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const lost = lostLines();
    t.equal(lost.length, idle, 'one line for each idle connection lost');
    for (const l of lost) {
      t.equal(l.level, 'warn');
      t.match(l.obj, { err: { code: '57P01' } }, 'with its code');
      t.notMatch(JSON.stringify(l.obj) + l.msg, new RegExp(`postgres://|${name}|stack`), 'and neither the URL nor a stack');
    }
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'the pool connects anew: ready');

    // A request waiting (no timeouts here) on a lock when its connection is terminated.
    const locker = await otherSession(t, url);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE');
    const pending = post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService);
    await new Promise((r) => setTimeout(r, 200));
    await terminate();
    const [res] = await timed(pending, 5000);
    await locker.query('COMMIT');
    t.equal(statusOf(res), 503, 'the request whose connection was lost: 503');
    if (res !== TOO_LONG) t.equal(res.json().error, 'unavailable');
  });
}
