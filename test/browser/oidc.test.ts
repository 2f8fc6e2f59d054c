/**
 * A relying party's login through the service's pages in Chromium: openid-client makes the
 * authorization request (PKCE), the browser follows it to /login (the user ID filled in from
 * login_hint), the code and password are typed, and the browser lands on the relying party's
 * redirect URI with a code that openid-client exchanges. In the same browser session a second
 * login is not asked for (the session holds), but an approval is: its text shown, the code and
 * the password asked again. The relying party's logout asks the user, ends the session and goes
 * back to the relying party with its state; the next login asks for the code again. Any console
 * error or CSP violation fails the test (the forms' redirects to the relying party included, which
 * browsers hold to form-action).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { makeSerial } from '@kodeviser/shared';
import { admin, testApp } from '../../server/test/http-helpers.js';
import { activeUserOnServer } from '../helpers/kodeviser-cli.js';
import { authorizationRequest, exchange, type AuthorizationRequest } from '../helpers/relying-party.js';
import { haveChromium, launchChromium, watch } from './helpers.js';

const PASSWORD = 'browser-rp-password-1';
const NEXT_CODE_MS = 40_000;

if (haveChromium(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-oidc-browser-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let browser: Browser;
  // The relying party, a server of its own: the browser lands there and stays; the provider posts
  // its back-channel logout tokens there.
  const logoutTokens: string[] = [];
  const shop = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/backchannel') {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Shop</title><p>back at the shop</p>');
  });
  let REDIRECT = '';
  let LOGGED_OUT = '';
  let BACKCHANNEL = '';
  t.before(async () => {
    browser = await launchChromium();
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    REDIRECT = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/callback`;
    LOGGED_OUT = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/logged-out`;
    BACKCHANNEL = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/backchannel`;
  });
  t.teardown(async () => {
    await browser?.close();
    shop.close();
  });

  t.test('log in to a relying party through the pages; an approval always asks again', async (t) => {
    const { app, clock } = await testApp(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const { press } = await activeUserOnServer(app, admin.authorization, {
      dir,
      serial: makeSerial('600000003'),
      clock,
      userId: 'browser-rp',
      password: PASSWORD,
      nationalId: '0303801234',
    });
    const registered = (
      await app.inject({
        method: 'POST',
        url: '/v1/oidc/clients',
        headers: admin,
        payload: { name: 'Shop', redirect_uris: [REDIRECT], post_logout_redirect_uris: [LOGGED_OUT], backchannel_logout_uri: BACKCHANNEL },
      })
    ).json() as { client_id: string; client_secret: string };
    const config = await client.discovery(new URL(`${base}/oidc`), registered.client_id, registered.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });

    const context = await browser.newContext();
    const problems: string[] = [];
    await watch(context, problems);
    // The relying party's callback: the browser lands there; the page says so.
    await context.route(`${REDIRECT}**`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Shop</title><p>back at the shop</p>' }),
    );
    const page: Page = await context.newPage();

    const start = async (extra: Record<string, string> = {}) => {
      const asked = await authorizationRequest(config, REDIRECT, { login_hint: 'browser-rp', ...extra });
      await page.goto(asked.url.href);
      return asked;
    };
    let idToken = '';
    const landed = async (asked: AuthorizationRequest) => {
      await page.waitForURL(`${REDIRECT}**`);
      const tokens = await exchange(config, new URL(page.url()), asked);
      idToken = tokens.id_token!;
      return tokens.claims()!;
    };
    const codeAndPassword = async (button: string) => {
      clock.advance(NEXT_CODE_MS);
      await page.getByLabel('One-time code').fill(await press());
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: button }).click();
    };

    // 1. The first login: the pages, the user ID filled in from login_hint.
    const first = await start();
    await page.waitForURL(/\/login\?interaction=/);
    t.equal(await page.getByLabel('User ID').inputValue(), 'browser-rp', 'login_hint fills in the user ID');
    await page.getByRole('button', { name: 'Continue' }).click();
    await codeAndPassword('Log in');
    const claims = await landed(first);
    t.same(claims.amr, ['code_token', 'password']);
    t.equal(claims.action, 'LOG_ON');

    // 2. Another login in the same browser session: the session holds, nothing is asked.
    const again = await start();
    const reused = await landed(again);
    t.equal(reused.sub, claims.sub, 'the same user, from the session');

    // 3. An approval: never from the session; the text is shown, code and password asked again.
    const text = 'Betal 499,00 kr. til Shop A/S';
    const approval = await start({
      idp_params: JSON.stringify({ mitid: { reference_text: Buffer.from(text).toString('base64'), action_text: 'APPROVE' } }),
    });
    await page.waitForURL(/\/login\?interaction=/);
    await page.getByRole('button', { name: 'Continue' }).click();
    t.equal(await page.getByTestId('reference-text').textContent(), text, 'the text to approve, before the code');
    await codeAndPassword('Approve');
    const approved = await landed(approval);
    t.equal(approved.action, 'APPROVE');
    t.equal(approved.reference_text, text);
    t.equal(approved.sub, claims.sub);

    // 4. The relying party logs the user out: asked, then back at the shop with its state.
    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'bye-1',
    });
    await page.goto(logout.href);
    t.match(await page.getByTestId('logout-question').textContent(), /Shop asked for it/, 'the question names the relying party');
    await page.getByRole('link', { name: 'Dansk' }).click();
    t.match(await page.getByTestId('logout-question').textContent(), /Shop har bedt om det/, 'asked in Danish by the switch');
    await page.getByRole('button', { name: 'Ja, log mig ud' }).click();
    await page.waitForURL(`${LOGGED_OUT}**`);
    t.equal(new URL(page.url()).searchParams.get('state'), 'bye-1', 'back at the relying party with its state');
    // …and told it on the back channel: a logout token, signed by the provider, naming the same opaque subject.
    t.equal(logoutTokens.length, 1, 'one logout token posted to the back channel');
    const { payload: logoutToken } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(`${base}/oidc/jwks`)), {
      issuer: `${base}/oidc`,
      audience: registered.client_id,
      typ: 'logout+jwt',
    });
    t.equal(logoutToken.sub, claims.sub, 'the subject of the ID tokens, never the user ID');
    t.ok(
      (logoutToken.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout'],
      'a back-channel logout event',
    );

    // 5. The session is gone: the next login asks for the code and password again (in English again).
    await context.clearCookies({ name: 'kv_lang' });
    const afterLogout = await start();
    await page.waitForURL(/\/login\?interaction=/);
    await page.getByRole('button', { name: 'Continue' }).click();
    await codeAndPassword('Log in');
    t.equal((await landed(afterLogout)).sub, claims.sub, 'logged in again, with a new code');

    t.same(problems, [], 'no console error, page error or CSP violation');
    await context.close();
  });
}
