/**
 * The OpenID provider's relying parties (admin): made with a secret shown once and kept sealed,
 * listed without it, removed; and the provider's discovery, under /oidc.
 */
import t from 'tap';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';
import { admin, post, testApp } from './http-helpers.js';

t.test('clients: made, listed, removed; the secret shown once and sealed in the database', async (t) => {
  const { app } = await testApp(t);
  const body = { name: 'Test shop', redirect_uris: ['https://shop.example/callback', 'http://127.0.0.1:3000/cb'] };
  t.equal((await post(app, '/v1/oidc/clients', body)).statusCode, 401, 'admin only');
  const made = await post(app, '/v1/oidc/clients', body, admin);
  t.equal(made.statusCode, 201);
  const client = made.json() as { client_id: string; client_secret: string; name: string; redirect_uris: string[] };
  t.match(client.client_id, /^kvo_[A-Za-z0-9_-]{22}$/);
  t.match(client.client_secret, /^[A-Za-z0-9_-]{43}$/);
  t.same(client.redirect_uris, body.redirect_uris);

  const list = await app.inject({ url: '/v1/oidc/clients', headers: admin });
  t.same(list.json(), {
    clients: [
      {
        client_id: client.client_id,
        name: 'Test shop',
        redirect_uris: body.redirect_uris,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  });
  t.notMatch(list.body, client.client_secret, 'never the secret again');

  const withLogout = await post(app, '/v1/oidc/clients', { ...body, post_logout_redirect_uris: ['https://shop.example/bye'] }, admin);
  t.equal(withLogout.statusCode, 201);
  t.same(withLogout.json().post_logout_redirect_uris, ['https://shop.example/bye'], 'where a logout may go back to');
  const both = (await app.inject({ url: '/v1/oidc/clients', headers: admin })).json() as { clients: Array<Record<string, unknown>> };
  t.same(
    both.clients.map((c) => c.post_logout_redirect_uris),
    [undefined, ['https://shop.example/bye']],
    'listed with it',
  );
  await app.inject({ method: 'DELETE', url: `/v1/oidc/clients/${withLogout.json().client_id}`, headers: admin });
  for (const [what, post_logout_redirect_uris] of [
    ['a logout URI with a fragment', ['https://shop.example/bye#x']],
    ['a logout URI not http', ['javascript:alert(1)']],
    ['not a list', 'https://shop.example/bye'],
  ] as const) {
    const res = await post(app, '/v1/oidc/clients', { ...body, post_logout_redirect_uris }, admin);
    t.equal(res.statusCode, 400, what);
    t.match(res.json(), { error: String, message: String });
  }
  const backchannel = await post(app, '/v1/oidc/clients', { ...body, backchannel_logout_uri: 'https://shop.example/logout' }, admin);
  t.equal(backchannel.json().backchannel_logout_uri, 'https://shop.example/logout', 'where logouts are posted');
  await app.inject({ method: 'DELETE', url: `/v1/oidc/clients/${backchannel.json().client_id}`, headers: admin });
  for (const uri of ['https://shop.example/logout#x', 'ftp://shop.example/logout', '']) {
    const res = await post(app, '/v1/oidc/clients', { ...body, backchannel_logout_uri: uri }, admin);
    t.equal(res.statusCode, 400, `backchannel_logout_uri ${JSON.stringify(uri)}: refused`);
  }
  for (const method of ['private_key_jwt', 'client_secret_jwt', '']) {
    const res = await post(app, '/v1/oidc/clients', { ...body, token_endpoint_auth_method: method }, admin);
    t.equal(res.statusCode, 400, `token_endpoint_auth_method ${JSON.stringify(method)}: not offered`);
  }
  const ownSecret = await post(app, '/v1/oidc/clients', { ...body, client_secret: 'x'.repeat(43) }, admin);
  t.equal(ownSecret.statusCode, 400, 'a secret is made here, never given');
  t.match(ownSecret.json(), { error: String, message: String });

  for (const [what, redirect_uris] of [
    ['none', []],
    ['a fragment', ['https://shop.example/cb#x']],
    ['not http', ['javascript:alert(1)']],
    ['twice the same', ['https://a.example/cb', 'https://a.example/cb']],
  ] as const) {
    const res = await post(app, '/v1/oidc/clients', { name: 'x', redirect_uris }, admin);
    t.equal(res.statusCode, 400, what);
    t.match(res.json(), { error: String, message: String });
  }

  const removed = await app.inject({ method: 'DELETE', url: `/v1/oidc/clients/${client.client_id}`, headers: admin });
  t.equal(removed.statusCode, 200);
  t.equal(removed.json().client_id, client.client_id);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/oidc/clients/${client.client_id}`, headers: admin })).statusCode, 404);
  t.same((await app.inject({ url: '/v1/oidc/clients', headers: admin })).json(), { clients: [] });
});

t.test('the secret is sealed under the master key in the store; discovery and JWKS under /oidc', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'kodeviser.db'));
  const { app, clock } = await testApp(t, { store });
  const made = (await post(app, '/v1/oidc/clients', { name: 'Sealed', redirect_uris: ['https://s.example/cb'] }, admin)).json() as {
    client_id: string;
    client_secret: string;
  };
  const stored = await store.oidc.find('Client', made.client_id, clock.now());
  t.ok(stored, 'stored as a Client');
  t.equal(stored?.payload.client_secret, undefined, 'not the secret itself');
  t.notMatch(JSON.stringify(stored?.payload), made.client_secret, 'nowhere in what is stored');
  t.match(stored?.payload, { client_id: made.client_id, kodeviser_sealed_secret: { ciphertext: String, nonce: String, keyVersion: 1 } });

  const discovery = await app.inject({ url: '/oidc/.well-known/openid-configuration' });
  t.equal(discovery.statusCode, 200);
  const meta = discovery.json() as Record<string, unknown>;
  t.same(meta.code_challenge_methods_supported, ['S256']);
  t.same(meta.response_types_supported, ['code']);
  t.ok((meta.id_token_signing_alg_values_supported as string[]).includes('RS256'));
  t.ok((meta.id_token_signing_alg_values_supported as string[]).includes('EdDSA'));
  t.ok((meta.claims_supported as string[]).includes('transaction_text_sha256'));
  t.ok(meta.end_session_endpoint, 'RP-initiated logout');
  const jwks = (await app.inject({ url: '/oidc/jwks' })).json() as { keys: Array<{ alg: string; d?: string }> };
  t.same(jwks.keys.map((k) => k.alg).sort(), ['EdDSA', 'RS256']);
  t.ok(
    jwks.keys.every((k) => k.d === undefined),
    'public keys only',
  );
  const receipts = (await app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string }> };
  t.notOk(
    receipts.keys.some((r) => (jwks.keys as Array<{ kid?: string }>).some((k) => k.kid === r.kid)),
    "the provider's keys are not the receipts'",
  );
});

t.test('expired entries of the provider are swept while the server runs', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'kodeviser.db'));
  const { clock } = await testApp(t, { store, oidcSweepMs: 20 });
  await store.oidc.upsert('AuthorizationCode', 'spent-code', { grantId: 'g1' }, clock.now() + 1000);
  await store.oidc.upsert('Session', 'live-session', {}, clock.now() + 3_600_000);
  clock.advance(2000);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(await store.oidc.sweep(clock.now()), 0, 'the timer swept the expired code already');
  t.ok(await store.oidc.find('Session', 'live-session', clock.now()), 'and left what has not expired');
});
