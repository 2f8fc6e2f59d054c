/**
 * kodeviser as the OpenID provider of a relying party written by others: openid-client (OpenID
 * Certified) runs discovery, the authorization code flow with PKCE through `kodeviser login` (the
 * login pages followed without a browser, the device file pressed), and verifies the ID token —
 * `sub` opaque, `amr`, `acr`, and an approval's claims matching the text sent. And what must be
 * refused is: a wrong or replayed code, a tampered state, a reused authorization code, a
 * redirect URI not registered, a request without PKCE, a reference text over 130 characters.
 * Then the relying party's logout (RP-initiated), back to a registered URI only.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { makeSerial } from '@kodeviser/shared';
import { openSqliteStore } from '../../server/src/store/sqlite.js';
import { admin, testApp } from '../../server/test/http-helpers.js';
import { activeUserOnServer, cli } from '../helpers/kodeviser-cli.js';
import { authorizationRequest, exchange } from '../helpers/relying-party.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const LOGGED_OUT = 'http://127.0.0.1:9/logged-out';
const PASSWORD = 'oidc-password-1';

t.test('the code flow with PKCE, for a login and for an approval', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-oidc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'kodeviser.db'));
  const { app, clock } = await testApp(t, { store });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

  // A user with a device, activated through an operator's proof.
  const { device } = await activeUserOnServer(app, admin.authorization, {
    dir,
    serial: makeSerial('600000001'),
    clock,
    userId: 'rp-user',
    password: PASSWORD,
    nationalId: '0101801234',
  });

  const registered = await app.inject({
    method: 'POST',
    url: '/v1/oidc/clients',
    headers: admin,
    payload: { name: 'Test shop', redirect_uris: [REDIRECT], post_logout_redirect_uris: [LOGGED_OUT] },
  });
  t.equal(registered.statusCode, 201);
  const { client_id: clientId, client_secret: clientSecret } = registered.json() as { client_id: string; client_secret: string };

  const config = await client.discovery(new URL(`${base}/oidc`), clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  t.equal(config.serverMetadata().issuer, `${base}/oidc`, 'the issuer is the server URL + /oidc, with the port bound');
  t.same(config.serverMetadata().code_challenge_methods_supported, ['S256']);

  const authorization = (extra: Record<string, string | null> = {}) =>
    authorizationRequest(config, REDIRECT, { login_hint: 'rp-user', ...extra });
  /** `kodeviser login` through the pages, as CI runs it: the redirect it prints. */
  const login = async (url: URL, password = PASSWORD, fetch: typeof globalThis.fetch = globalThis.fetch): Promise<URL> =>
    new URL(
      (
        await cli(['login', '--authorize-url', url.href, '--user', 'rp-user', '--device', device, '--password', password], clock.now(), {
          fetch,
          env: {},
        })
      ).trim(),
    );
  /** One login: the request, the login, the code exchanged. */
  const flow = async (extra: Record<string, string> = {}, advanceMs = 40_000) => {
    clock.advance(advanceMs);
    const asked = await authorization(extra);
    const redirect = await login(asked.url);
    return { redirect, verifier: asked.verifier, state: asked.state, tokens: await exchange(config, redirect, asked) };
  };

  const first = await flow();
  const claims = first.tokens.claims()!;
  t.equal(claims.iss, `${base}/oidc`);
  t.equal(claims.aud, clientId);
  t.match(claims.sub, /^[A-Za-z0-9_-]{43}$/, 'sub is opaque');
  t.not(claims.sub, 'rp-user', 'never the user ID typed');
  t.same(claims.amr, ['code_token', 'password']);
  t.equal(claims.acr, 'https://data.gov.dk/concept/core/nsis/Substantial');
  t.equal(claims.action, 'LOG_ON');
  // What the provider keeps names the user by the opaque subject only; the one way back is the
  // subject's own entry.
  for (const model of ['Grant', 'Session', 'AccessToken', 'AuthorizationCode']) {
    const entries = await store.oidc.list(model, clock.now());
    t.notMatch(JSON.stringify(entries), 'rp-user', `${model}: never the user ID`);
  }
  t.match(await store.oidc.find('Subject', claims.sub, clock.now()), { payload: { userId: 'rp-user' } });

  const text = 'Overfør 1.250,00 kr. til Ærø Færger';
  const approval = await flow({
    idp_params: JSON.stringify({ mitid: { reference_text: Buffer.from(text, 'utf8').toString('base64'), action_text: 'APPROVE' } }),
  });
  const approved = approval.tokens.claims()!;
  t.equal(approved.sub, claims.sub, 'sub is stable');
  t.equal(approved.action, 'APPROVE');
  t.equal(approved.reference_text, text);
  t.equal(approved.transaction_text_sha256, createHash('sha256').update(text, 'utf8').digest('base64url'));

  // The text approved is the relying party's, whatever the login form is made to send.
  clock.advance(40_000);
  const honest = await authorization({
    idp_params: JSON.stringify({ mitid: { reference_text: Buffer.from(text, 'utf8').toString('base64'), action_text: 'APPROVE' } }),
  });
  const forging: typeof globalThis.fetch = (input, init) => {
    if (init?.method === 'POST' && String(input).endsWith('/login')) {
      const form = new URLSearchParams(String(init.body));
      form.set('action', 'LOG_ON');
      form.set('text', 'Pay 0 kr.');
      return fetch(input, { ...init, body: form.toString() });
    }
    return fetch(input, init);
  };
  const kept = (await exchange(config, await login(honest.url, PASSWORD, forging), honest)).claims()!;
  t.equal(kept.action, 'APPROVE', "a form's action field changes nothing");
  t.equal(kept.reference_text, text, 'nor its text field: the approval is the one the relying party asked');

  // The authorization code is spent.
  await t.rejects(
    client.authorizationCodeGrant(config, approval.redirect, { pkceCodeVerifier: approval.verifier, expectedState: approval.state }),
    'a reused authorization code is refused',
  );

  // The same 30-second step again: the code the device shows now was spent by the approval.
  const replayed = await authorization();
  await t.rejects(login(replayed.url), /That did not work/, 'a replayed code is refused on the page');
  clock.advance(40_000);
  await t.rejects(login((await authorization()).url, 'not-the-password'), /That did not work/, 'a wrong password too, in the same words');

  clock.advance(40_000);
  const fresh = await authorization();
  const redirect = await login(fresh.url);
  const tampered = new URL(redirect);
  tampered.searchParams.set('state', client.randomState());
  await t.rejects(
    client.authorizationCodeGrant(config, tampered, { pkceCodeVerifier: fresh.verifier, expectedState: fresh.state }),
    'a tampered state is refused',
  );
  await t.rejects(
    client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: fresh.state }),
    'a code verifier that is not the one challenged is refused',
  );

  await t.rejects(
    login((await authorization({ redirect_uri: 'http://127.0.0.1:9/elsewhere' })).url),
    /redirect_uri did not match/,
    'a redirect URI not registered: refused before any login, and not redirected to',
  );
  await t.rejects(
    login((await authorization({ code_challenge: null, code_challenge_method: null })).url),
    /refused: invalid_request \(Authorization Server policy requires PKCE to be used for this request\)/,
    'a request without PKCE',
  );
  const long = Buffer.from('x'.repeat(131), 'utf8').toString('base64');
  await t.rejects(
    login((await authorization({ idp_params: JSON.stringify({ mitid: { reference_text: long, action_text: 'APPROVE' } }) })).url),
    /refused: invalid_request \(mitid.reference_text must be 1 to 130 characters once decoded\)/,
    'a reference text over 130 characters',
  );
  await t.rejects(
    login((await authorization({ idp_params: JSON.stringify({ mitid: { action_text: 'TRANSFER' } }) })).url),
    /refused: invalid_request \(mitid.action_text must be one of/,
    'an action that is none of the five',
  );

  // RP-initiated logout, as a relying party sends it. `kodeviser login` kept no session, so there
  // is nothing to ask: the provider's page posts its form itself (the one script it writes, allowed
  // by its hash), and the post goes back to the relying party with its state.
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: first.tokens.id_token!,
    post_logout_redirect_uri: LOGGED_OUT,
    state: 'bye-1',
  });
  const asked = await fetch(end, { redirect: 'manual' });
  t.equal(asked.status, 200);
  const csp = asked.headers.get('content-security-policy') ?? '';
  t.match(csp, /(^|;)default-src 'none'(;|$)/, "the pages' policy");
  t.match(csp, /(^|;)script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'(;|$)/, 'script: the form post, by its hash, and nothing inline else');
  t.match(csp, /(^|;)form-action 'self' http:\/\/127\.0\.0\.1:9(;|$)/, "the form may end at the relying party's origin");
  const form = await asked.text();
  const action = /<form method="post" action="([^"]+)"/.exec(form)?.[1];
  const fields = new URLSearchParams(
    [...form.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)"/g)].map((m): [string, string] => [m[1]!, m[2]!]),
  );
  t.ok(action !== undefined && fields.has('xsrf'), 'a form with its xsrf token');
  const cookies = asked.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const ended = await fetch(new URL(action!, base), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies },
    body: fields.toString(),
  });
  t.equal(ended.status, 303);
  t.equal(ended.headers.get('location'), `${LOGGED_OUT}?state=bye-1`, 'back at the relying party, with its state');

  const elsewhere = await fetch(
    client.buildEndSessionUrl(config, { id_token_hint: first.tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/elsewhere' }),
    { redirect: 'manual', headers: { accept: 'text/html' } },
  );
  t.equal(elsewhere.status, 400, 'a logout redirect URI not registered: refused, not redirected to');
  const refusal = await elsewhere.text();
  t.match(refusal, /data-testid="problem">invalid_request: post_logout_redirect_uri not registered</);
  t.notMatch(refusal, /googleapis|<style|<script/, 'the page loads nothing from elsewhere and has no inline style or script');
  t.match(refusal, /<a class="skip" href="#main">/, "in the pages' layout: the skip link, the header");
  t.match(refusal, /class="lang" href="\/oidc\/session\/end\?[^"]*lang=da"/, 'and a switch to Danish, on this page');
  t.equal(elsewhere.headers.get('referrer-policy'), 'no-referrer', 'an id_token_hint in the URL goes nowhere else');
  const danish = await fetch(`${elsewhere.url}&lang=da`, { redirect: 'manual', headers: { accept: 'text/html' } });
  t.match(await danish.text(), /<html lang="da">[^]*Login kunne ikke starte/, 'the switch shows it in Danish');
  t.match(danish.headers.getSetCookie().join(), /kv_lang=da/, 'and is remembered as on the pages');
  t.notMatch(elsewhere.headers.get('content-security-policy') ?? '', /elsewhere/, 'form-action not widened for it');

  // The user erased: the provider's subject names nobody from then on, and no entry names the user.
  const live = await authorization();
  clock.advance(40_000);
  const beforeErasure = await exchange(config, await login(live.url), live);
  t.ok(await client.fetchUserInfo(config, beforeErasure.access_token, claims.sub), 'userinfo, before');
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/users/rp-user', headers: admin })).statusCode, 204);
  await t.rejects(client.fetchUserInfo(config, beforeErasure.access_token, claims.sub), 'userinfo, after: nobody');
  for (const model of ['Subject', 'Grant', 'Session', 'AccessToken', 'AuthorizationCode']) {
    t.notMatch(JSON.stringify(await store.oidc.list(model, clock.now())), 'rp-user', `${model}: the user ID is nowhere`);
  }
});
