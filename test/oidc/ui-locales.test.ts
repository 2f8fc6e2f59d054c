/**
 * A relying party's ui_locales (OpenID Connect Core §3.1.2.1) picks the login pages' language for
 * a user who has not chosen one here, and is remembered for the login's next steps; a choice the
 * user made (the language cookie) stands. Discovery says which languages there are.
 */
import t from 'tap';
import * as client from 'openid-client';
import { admin, testApp } from '../../server/test/http-helpers.js';
import { authorizationRequest } from '../helpers/relying-party.js';

const REDIRECT = 'http://127.0.0.1:9/callback';

t.test('ui_locales picks the language of the login pages unless the user chose one', async (t) => {
  const { app } = await testApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const registered = (
    await app.inject({ method: 'POST', url: '/v1/oidc/clients', headers: admin, payload: { name: 'Butik', redirect_uris: [REDIRECT] } })
  ).json() as { client_id: string; client_secret: string };
  const config = await client.discovery(new URL(`${base}/oidc`), registered.client_id, registered.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  t.same(config.serverMetadata().ui_locales_supported, ['en', 'da'], 'discovery names the languages');

  /** The first login page of a request with `extra` params, the browser's `cookies` sent along. */
  const firstPage = async (extra: Record<string, string>, cookies: string[] = []) => {
    const jar = [...cookies];
    let url = (await authorizationRequest(config, REDIRECT, extra)).url.href;
    for (let hops = 0; hops < 5; hops++) {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.join('; ') } });
      jar.push(...res.headers.getSetCookie().map((c) => c.split(';')[0]!));
      const next = res.headers.get('location');
      if (next === null) return { html: await res.text(), setCookies: res.headers.getSetCookie() };
      url = new URL(next, url).href;
    }
    throw new Error('too many redirects');
  };

  const danish = await firstPage({ ui_locales: 'da-DK en' });
  t.match(danish.html, /<html lang="da">/, 'da-DK: Danish');
  t.match(danish.html, /<label[^>]*>Bruger-id</, 'its labels too');
  t.ok(
    danish.setCookies.some((c) => c.startsWith('kv_lang=da;')),
    'remembered, so the code step speaks it too',
  );

  t.match((await firstPage({ ui_locales: 'fr-FR en-GB' })).html, /<html lang="en">/, 'the first language there is');
  t.match((await firstPage({ ui_locales: 'fr sv' })).html, /<html lang="en">/, 'none there: English');
  t.match((await firstPage({})).html, /<html lang="en">/, 'none asked: English');

  const chosen = await firstPage({ ui_locales: 'da' }, ['kv_lang=en']);
  t.match(chosen.html, /<html lang="en">/, "the user's own choice stands");
  t.notOk(
    chosen.setCookies.some((c) => c.startsWith('kv_lang=')),
    'and is not overwritten',
  );
});
