// Repeats of anonymous refusals over HTTP (domain/repeats.ts, security/audit-repeats.ts): a flood
// of logins with made-up user IDs from one address writes a few rows, not one each, and
// once the app has closed the rows' repeats add up to exactly the refusals made. A refusal that
// changes a token's state, or comes with a credential, is still a row of its own; addresses are
// counted apart; with a window of 0 every refusal is a row, as before.
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import type { AuditEvent } from '../src/domain/types.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { activate, asService, device, importDevices, newSerial, testApp, type TestAppOptions } from './http-helpers.js';
import { tempDbPath, type TapLike } from './helpers/db.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

/** A database of the test's own: each call opens a store on it. */
type Database = (t: TapLike) => Promise<() => Promise<TokenStore>>;
const sqliteFile: Database = async (t) => {
  const path = tempDbPath(t);
  return async () => openSqliteStore(path);
};
const postgresSchema: Database = async (t) => {
  const { url } = await tempSchema(t);
  return () => openPostgresStore(url, { poolSize: 4 });
};

/** An app on a database of its own, whose audit log can be read after the app has closed. */
async function appOn(t: TapLike, opts: TestAppOptions = {}, database: Database = sqliteFile) {
  const open = await database(t);
  const made = await testApp(t, { ...opts, store: await open() });
  /** Closes the app (which ends every window), then reads the whole log back. */
  const closedLog = async (): Promise<AuditEvent[]> => {
    await made.app.close();
    const store = await open();
    try {
      return await store.queryAudit({ limit: 1000 });
    } finally {
      await store.close();
    }
  };
  return { ...made, closedLog };
}

const login = (app: FastifyInstance, userId: string, remoteAddress: string, otp = '123456') =>
  app.inject({ method: 'POST', url: '/v1/authenticate', payload: { userId, otp, password: 'guess-pw-1' }, remoteAddress }).then((r) => r);

/** `n` logins with a user ID each that nobody has, from `ip`, `inFlight` at a time: their status codes. */
async function spray(app: FastifyInstance, ip: string, n: number, inFlight = 1): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i += inFlight) {
    const batch = Array.from({ length: Math.min(inFlight, n - i) }, (_, j) => login(app, `nobody-${ip}-${i + j}`, ip));
    codes.push(...(await Promise.all(batch)).map((r) => r.statusCode));
  }
  return codes;
}

const notActivated = (events: AuditEvent[], ip?: string) =>
  events.filter((e) => e.reason === 'not-activated' && (ip === undefined || e.ip === ip));
const sumOfRepeats = (events: AuditEvent[]) => events.reduce((sum, e) => sum + e.repeats, 0);

async function flood(t: Test, database: Database): Promise<void> {
  const { app, service, closedLog } = await appOn(t, {}, database);
  const codes = await spray(app, '203.0.113.7', 200, 5);
  t.same(new Set(codes), new Set([401]), 'each refused as before');
  const meanwhile = notActivated(await service.audit({ limit: 1000 }));
  // Five in flight at once may each find no window open yet: at most those five are rows.
  t.ok(meanwhile.length >= 1 && meanwhile.length <= 5, `${meanwhile.length} rows written while the flood lasts`);
  t.ok(
    meanwhile.every((e) => e.repeats === 1),
    'the rows written so far stand for one refusal each',
  );

  const rows = notActivated(await closedLog());
  t.equal(sumOfRepeats(rows), 200, 'after the close, the rows stand for exactly the 200 refusals');
  t.ok(rows.length <= 6, `${rows.length} rows in all`);
  const summary = rows.find((e) => e.repeats > 1);
  t.match(summary, { type: 'reject', ip: '203.0.113.7', userId: null, serial: null, actor: null }, 'no user ID: they differed');
}

t.test('200 logins with 200 unknown user IDs from one address: a few rows, their repeats exactly 200', async (t) => {
  await t.test('SQLite', (t) => flood(t, sqliteFile));
  if (await requirePostgres(t, undefined, 'the flood on PostgreSQL skipped')) await t.test('PostgreSQL', (t) => flood(t, postgresSchema));
});

t.test('unknown proofs from one address are counted too', async (t) => {
  const { app, closedLog } = await appOn(t);
  const spare = device();
  await importDevices(app, spare);
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/activate',
      payload: { proofId: randomBytes(16).toString('base64url'), serial: spare.serial, otp: spare.press(), password: 'attacker-pw-1' },
      remoteAddress: '203.0.113.9',
    });
    t.equal(res.statusCode, 401);
  }
  const rows = (await closedLog()).filter((e) => e.reason === 'proof-unknown');
  t.same(
    rows.map((e) => [e.repeats, e.serial]),
    [
      [9, spare.serial],
      [1, spare.serial],
    ],
    'one row, then one for the nine after it (newest first), the serial they all named kept',
  );
});

t.test('wrong codes against a real user change its token: a row each', async (t) => {
  const { app, closedLog } = await appOn(t, { policy: { blockAfter: 50 } });
  const phone = device();
  await importDevices(app, phone);
  t.equal((await activate(app, { userId: 'alice', serial: phone.serial, otp: phone.press(), password: 'alice-pw-1' })).statusCode, 200);
  for (let i = 0; i < 10; i++) t.equal((await login(app, 'alice', '203.0.113.7', '000000')).statusCode, 401);
  const rows = (await closedLog()).filter((e) => e.type === 'reject' && e.userId === 'alice');
  t.equal(rows.length, 10, 'ten rows');
  t.ok(
    rows.every((e) => e.repeats === 1 && e.serial === phone.serial),
    'each standing for one',
  );
});

t.test('/v1/validate comes with a credential: each of its refusals is a row', async (t) => {
  const { app, closedLog } = await appOn(t);
  const unknown = newSerial();
  for (let i = 0; i < 10; i++) {
    const res = await app
      .inject({
        method: 'POST',
        url: '/v1/validate',
        payload: { serial: unknown, otp: '123456' },
        headers: asService,
        remoteAddress: '203.0.113.7',
      })
      .then((r) => r);
    t.same(res.json(), { result: 'reject', serial: unknown, movingFactor: null });
  }
  const rows = (await closedLog()).filter((e) => e.reason === 'unknown-token');
  t.equal(rows.length, 10);
  t.ok(
    rows.every((e) => e.repeats === 1 && e.actor !== null),
    'one refusal each, its caller named',
  );
});

t.test('two addresses are counted apart', async (t) => {
  const { app, closedLog } = await appOn(t);
  await spray(app, '203.0.113.7', 10);
  await spray(app, '198.51.100.3', 10);
  await spray(app, '203.0.113.7', 10);
  const events = await closedLog();
  for (const [ip, refused] of [
    ['203.0.113.7', 20],
    ['198.51.100.3', 10],
  ] as const) {
    const rows = notActivated(events, ip);
    t.same(
      rows.map((e) => e.repeats),
      [refused - 1, 1],
      `${ip}: a row, then one for the ${refused - 1} after it`,
    );
  }
});

t.test('with a window of 0 every refusal is a row', async (t) => {
  const { app, closedLog } = await appOn(t, { auditRepeatWindowMs: 0 });
  await spray(app, '203.0.113.7', 20, 5);
  const rows = notActivated(await closedLog());
  t.equal(rows.length, 20);
  t.ok(rows.every((e) => e.repeats === 1));
});

t.test('the setting reaches the service build() makes (the production hashing cost: a few logins only)', async (t) => {
  for (const [windowMs, expected] of [
    [0, [1, 1, 1]],
    [60_000, [2, 1]],
  ] as const) {
    const { app, closedLog } = await appOn(t, { ownService: true, auditRepeatWindowMs: windowMs });
    await spray(app, '203.0.113.7', 3);
    t.same(
      notActivated(await closedLog()).map((e) => e.repeats),
      expected,
      `KODEVISER_AUDIT_REPEAT_WINDOW_MS=${windowMs}`,
    );
  }
});
