// Receipts of logins and approvals (src/security/receipts.ts, receipt-keys.ts): a JWT signed with
// EdDSA that verifies with `jose` against /.well-known/jwks.json, states what was approved, and is
// named in the accept's audit row; keys rotate, old ones stay published, and every instance over
// one PostgreSQL publishes the same set.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { FastifyInstance } from 'fastify';
import { openPostgresStore } from '../src/store/postgres.js';
import { RECEIPT_KEYS_TTL_MS } from '../src/security/receipt-keys.js';
import { activate, admin, device, importDevices, post, testApp, type Device } from './http-helpers.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

const PASSWORD = 'a long enough password 1';

async function user(app: FastifyInstance, userId: string): Promise<Device> {
  const d = device('hotp-sha1');
  await importDevices(app, d);
  const res = await activate(app, { userId, serial: d.serial, otp: d.press(), password: PASSWORD });
  if (res.statusCode !== 200) throw new Error(`activation failed: ${res.statusCode} ${res.body}`);
  return d;
}
const jwks = async (app: FastifyInstance): Promise<JSONWebKeySet> => (await app.inject({ url: '/.well-known/jwks.json' })).json();
const base64urlSha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');
/** The test apps' clocks stand at 2026-01-01 12:00 UTC: receipts are checked as of then. */
const AT = new Date(Date.UTC(2026, 0, 1, 12));
const verify = (jwt: string, keys: JSONWebKeySet, opts: Parameters<typeof jwtVerify>[2] = {}) =>
  jwtVerify(jwt, createLocalJWKSet(keys), { currentDate: AT, ...opts });

t.test('an approval: the receipt verifies against the published keys and says what was approved', async (t) => {
  const { app } = await testApp(t);
  const d = await user(app, 'alice');
  const text = 'Overfør 1.000,00 kr. til Jens Hansen, konto 1234-567890 — godkend?';
  const res = await post(app, '/v1/authenticate', {
    userId: 'alice',
    otp: d.press(),
    password: PASSWORD,
    action: 'APPROVE',
    referenceText: text,
    audience: 'https://bank.example',
    nonce: 'n-0S6_WzA2Mj',
  });
  t.equal(res.statusCode, 200, res.body);
  const { result, receipt } = res.json() as { result: string; receipt: string };
  t.equal(result, 'accept');
  const keys = await jwks(app);
  t.equal(keys.keys.length, 1, 'one key from the first start');
  t.match(keys.keys[0], { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
  t.notOk('d' in keys.keys[0]!, 'no private part published');
  const { payload, protectedHeader } = await verify(receipt, keys, {
    issuer: 'kodeviser',
    audience: 'https://bank.example',
    typ: 'kodeviser-receipt+jwt',
    algorithms: ['EdDSA'],
  });
  t.same(protectedHeader, { alg: 'EdDSA', typ: 'kodeviser-receipt+jwt', kid: keys.keys[0]!.kid });
  t.match(payload, {
    iss: 'kodeviser',
    sub: 'alice',
    aud: 'https://bank.example',
    nonce: 'n-0S6_WzA2Mj',
    amr: ['code_token', 'password'],
    action: 'APPROVE',
    transaction_text_sha256: base64urlSha256(text),
    serial: d.serial,
    jti: /^[\w-]{22}$/,
  });
  t.equal(payload.exp! - payload.iat!, 300, 'valid for 5 minutes');

  // The accept's audit row names the action, the text's hash and the receipt.
  const events = (await app.inject({ url: `/v1/audit?userId=alice&limit=5`, headers: admin })).json().events as Array<
    Record<string, unknown>
  >;
  const accept = events.find((e) => e.type === 'accept')!;
  t.equal(accept.reason, `APPROVE text ${base64urlSha256(text)} receipt ${payload.jti}`);

  // Changed anywhere, it does not verify.
  const [h, p, s] = receipt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, transaction_text_sha256: base64urlSha256('Overfør 9.000,00 kr.') })).toString('base64url')}.${s}`;
  await t.rejects(verify(forged, keys), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, 'another text');
  const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  await t.rejects(verify(flipped, keys), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, 'a signature bit');
  await t.rejects(
    verify(receipt, keys, { audience: 'https://other.example' }),
    { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
    'for another audience',
  );
});

t.test('a plain login gets a LOG_ON receipt; bad approval input is a 400', async (t) => {
  const { app } = await testApp(t);
  const d = await user(app, 'bob');
  const res = await post(app, '/v1/authenticate', { userId: 'bob', otp: d.press(), password: PASSWORD });
  const { payload } = await verify(res.json().receipt as string, await jwks(app));
  t.equal(payload.action, 'LOG_ON');
  t.notOk('aud' in payload || 'nonce' in payload || 'transaction_text_sha256' in payload, 'nothing that was not given');

  const bad = async (extra: Record<string, unknown>) =>
    post(app, '/v1/authenticate', { userId: 'bob', otp: '000000', password: PASSWORD, ...extra });
  for (const [name, extra] of [
    ['131 characters', { action: 'APPROVE', referenceText: 'x'.repeat(131) }],
    ['an unknown action', { action: 'PAY' }],
    ['an empty text', { referenceText: '' }],
    ['a long audience', { audience: 'a'.repeat(257) }],
  ] as const) {
    const r = await bad(extra);
    t.equal(r.statusCode, 400, name);
    t.match(r.json(), { error: 'bad-request', message: /./ }, name);
  }
  // 130 characters of the astral plane are 130 characters, not 260.
  const ok = await post(app, '/v1/authenticate', {
    userId: 'bob',
    otp: d.press(),
    password: PASSWORD,
    action: 'SIGN',
    referenceText: '👤'.repeat(130),
  });
  t.equal(ok.statusCode, 200, ok.body);
  // A refusal carries no receipt.
  const refused = await post(app, '/v1/authenticate', {
    userId: 'bob',
    otp: '000000',
    password: PASSWORD,
    action: 'APPROVE',
    referenceText: 'x',
  });
  t.same([refused.statusCode, refused.json()], [401, { result: 'reject' }]);
});

t.test('a rotation: the new key signs, the old one stays published and its receipts still verify', async (t) => {
  const { app } = await testApp(t);
  const d = await user(app, 'carol');
  const login = async () =>
    (await post(app, '/v1/authenticate', { userId: 'carol', otp: d.press(), password: PASSWORD })).json().receipt as string;
  const before = await login();
  const oldKid = decodeProtectedHeader(before).kid;
  t.equal((await post(app, '/v1/receipt-keys/rotate', {})).statusCode, 401, 'admin only');
  const rotated = await post(app, '/v1/receipt-keys/rotate', {}, admin);
  t.equal(rotated.statusCode, 200);
  const { kid, keys } = rotated.json() as { kid: string; keys: number };
  t.not(kid, oldKid);
  t.equal(keys, 2);
  const set = await jwks(app);
  t.same(
    set.keys.map((k) => k.kid),
    [kid, oldKid],
    'newest first',
  );
  const after = await login();
  t.equal(decodeProtectedHeader(after).kid, kid, 'the new key signs');
  for (const r of [before, after]) await verify(r, set);
  t.pass('both verify');
  const audit = (await app.inject({ url: '/v1/audit?limit=20', headers: admin })).json().events as Array<Record<string, unknown>>;
  t.match(
    audit.find((e) => e.type === 'receipt-key'),
    { actor: 'admin', reason: `rotated: generation 2, kid ${kid}` },
  );
});

t.test('three instances over one PostgreSQL publish one key set, and learn of a rotation', async (t) => {
  if (!(await requirePostgres(t))) return;
  const { url } = await tempSchema(t);
  const instances = await Promise.all([1, 2, 3].map(async () => testApp(t, { store: await openPostgresStore(url, { poolSize: 2 }) })));
  const sets = await Promise.all(instances.map(({ app }) => jwks(app)));
  t.equal(sets[0]!.keys.length, 1, 'one key, though all three asked at once');
  t.same(sets[1], sets[0]);
  t.same(sets[2], sets[0]);

  const d = await user(instances[0]!.app, 'dave');
  const receipt = (await post(instances[1]!.app, '/v1/authenticate', { userId: 'dave', otp: d.press(), password: PASSWORD })).json()
    .receipt as string;
  await verify(receipt, sets[2]!);
  t.pass("a receipt of one instance verifies with another's set");

  const { kid } = (await post(instances[0]!.app, '/v1/receipt-keys/rotate', {}, admin)).json() as { kid: string };
  for (const i of instances) i.clock.advance(RECEIPT_KEYS_TTL_MS + 1);
  const after = await Promise.all(instances.map(({ app }) => jwks(app)));
  for (const s of after) t.same(s, after[0]);
  t.equal(after[0]!.keys[0]!.kid, kid, 'the new key, everywhere, once the cache ran out');
  t.equal(after[0]!.keys.length, 2);
});
