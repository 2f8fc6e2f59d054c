/**
 * How a relying party authenticates at the token endpoint, as it registered: its secret in the
 * Authorization header (the default), in the form (what several web frameworks send), or not at
 * all — a public client, a single-page or native app with no secret, held to PKCE like all. Each
 * logs in through openid-client with its own method. (A secret is taken from the header or the
 * form alike, as oidc-provider has it; a confidential client without one is refused.)
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { makeSerial } from '@kodeviser/shared';
import { admin, testApp } from '../../server/test/http-helpers.js';
import { activeUserOnServer, cli } from '../helpers/kodeviser-cli.js';
import { authorizationRequest, exchange } from '../helpers/relying-party.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
const PASSWORD = 'client-auth-password-1';

t.test('secret in the header, in the form, or none (a public client): each as registered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-oidc-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { app, clock } = await testApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const issuer = new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/oidc`);
  const { device } = await activeUserOnServer(app, admin.authorization, {
    dir,
    serial: makeSerial('600000011'),
    clock,
    userId: 'auth-user',
    password: PASSWORD,
    nationalId: '0505801234',
  });

  const register = async (method?: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/oidc/clients',
      headers: admin,
      payload: { name: `App ${method ?? 'default'}`, redirect_uris: [REDIRECT], ...(method ? { token_endpoint_auth_method: method } : {}) },
    });
    t.equal(res.statusCode, 201, `registered: ${method ?? 'default'}`);
    return res.json() as { client_id: string; client_secret?: string; token_endpoint_auth_method: string };
  };
  const configOf = (id: string, auth: client.ClientAuth) =>
    client.discovery(issuer, id, undefined, auth, { execute: [client.allowInsecureRequests] });
  /** A login through the pages by `kodeviser login`, its code exchanged by `config`. */
  const logIn = async (config: client.Configuration) => {
    clock.advance(40_000);
    const asked = await authorizationRequest(config, REDIRECT, { login_hint: 'auth-user' });
    const out = await cli(
      ['login', '--authorize-url', asked.url.href, '--user', 'auth-user', '--device', device, '--password', PASSWORD],
      clock.now(),
      {
        fetch: globalThis.fetch,
        env: {},
      },
    );
    return exchange(config, new URL(out.trim()), asked);
  };

  const basic = await register();
  t.equal(basic.token_endpoint_auth_method, 'client_secret_basic', 'the default');
  const post = await register('client_secret_post');
  const pub = await register('none');
  t.equal(pub.client_secret, undefined, 'a public client is given no secret');
  t.match(
    (await app.inject({ url: '/v1/oidc/clients', headers: admin })).json().clients,
    [
      { token_endpoint_auth_method: 'client_secret_basic' },
      { token_endpoint_auth_method: 'client_secret_post' },
      { token_endpoint_auth_method: 'none' },
    ],
    'listed with how each authenticates',
  );

  for (const [what, config] of [
    ['header', await configOf(basic.client_id, client.ClientSecretBasic(basic.client_secret!))],
    ['form', await configOf(post.client_id, client.ClientSecretPost(post.client_secret!))],
    ['public', await configOf(pub.client_id, client.None())],
  ] as const) {
    const claims = (await logIn(config)).claims()!;
    t.same(claims.amr, ['code_token', 'password'], `${what}: logged in`);
  }

  await t.rejects(
    logIn(await configOf(basic.client_id, client.None())),
    { name: 'ResponseBodyError', error: 'invalid_client' } as { name: string },
    'a confidential client may not leave its secret out',
  );
});
