/**
 * KODEVISER_FIXTURES: a test suite's users, operators and OpenID clients, there from the start,
 * made again by no later start. The user logs in to the fixture client through `kodeviser login`
 * with a device file the suite made from the fixture's seed; the operator's token is the one the
 * file names; a bad file stops the start with one line saying what is wrong.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import * as client from 'openid-client';
import { createOtp, makeSerial } from '@kodeviser/shared';
import { start, StartError } from '../../server/src/main.js';
import { testApp } from '../../server/test/http-helpers.js';
import { cli } from '../helpers/kodeviser-cli.js';
import { authorizationRequest, exchange } from '../helpers/relying-party.js';

const silent = pino({ level: 'silent' });

t.test('fixtures: made at the first start, found at the next; a login with them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-fixtures-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const serial = makeSerial('700000001');
  const keyHex = randomBytes(20).toString('hex');
  const operatorToken = `kvc_${randomBytes(32).toString('base64url')}`;
  const clientSecret = randomBytes(32).toString('base64url');
  const redirect = 'http://127.0.0.1:8975/cb';
  const fixtures = join(dir, 'fixtures.json');
  writeFileSync(
    fixtures,
    JSON.stringify({
      users: [
        {
          userId: 'fixture-user',
          password: 'fixture-password-1',
          identity: { nationalId: '0404801234', document: { type: 'passport', country: 'DK', number: 'PF1' } },
          device: { serial, profile: 'totp-sha1', keyHex },
        },
      ],
      operators: [{ name: 'Fixture counter', token: operatorToken }],
      clients: [
        {
          client_id: 'fixture-app',
          client_secret: clientSecret,
          name: 'Fixture app',
          redirect_uris: [redirect],
          post_logout_redirect_uris: [`${redirect}/bye`],
          backchannel_logout_uri: `${redirect}/back-channel`,
        },
      ],
    }),
  );
  const env = {
    KODEVISER_DATA_DIR: dir,
    KODEVISER_FIXTURES: fixtures,
    KODEVISER_ADMIN_TOKEN: 'fixtures-admin-token-0123456789',
    KODEVISER_MASTER_KEY: randomBytes(32).toString('hex'),
  };
  const first = await start({ argv: ['--port', '0'], env, logger: silent, print: () => undefined });
  const deviceFile = join(dir, 'device.json');
  await cli(['manufacture', '--profile', 'totp-sha1', '--serial', serial, '--key', keyHex, '--out', deviceFile], Date.now());

  const user = await first.app.inject({ url: '/v1/users/fixture-user', headers: { authorization: `Bearer ${env.KODEVISER_ADMIN_TOKEN}` } });
  t.equal(user.json().activeDevice?.serial, serial, 'the user, with the device active');
  const proof = await first.app.inject({
    method: 'POST',
    url: '/v1/proofs',
    headers: { authorization: `Bearer ${operatorToken}` },
    payload: {},
  });
  t.equal(proof.statusCode, 400, "the operator's token is taken (400: an empty body, not 401)");
  await first.stop();

  const second = await start({ argv: ['--port', '0'], env, logger: silent, print: () => undefined });
  t.teardown(() => second.stop());
  const audit = await second.app.inject({
    url: '/v1/audit?userId=fixture-user',
    headers: { authorization: `Bearer ${env.KODEVISER_ADMIN_TOKEN}` },
  });
  t.equal(
    (audit.json().events as Array<{ type: string }>).filter((e) => e.type === 'activate').length,
    1,
    'activated once, not at each start',
  );
  const credentials = await second.app.inject({
    url: '/v1/credentials',
    headers: { authorization: `Bearer ${env.KODEVISER_ADMIN_TOKEN}` },
  });
  t.equal((credentials.json().credentials as unknown[]).length, 1, 'one operator credential');

  const config = await client.discovery(new URL(`${second.url}/oidc`), 'fixture-app', clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const asked = await authorizationRequest(config, redirect);
  const out = await cli(['login', '--authorize-url', asked.url.href, '--user', 'fixture-user', '--device', deviceFile], Date.now(), {
    fetch: globalThis.fetch,
    env: { KODEVISER_PASSWORD: 'fixture-password-1' },
  });
  const tokens = await exchange(config, new URL(out.trim()), asked);
  t.same(tokens.claims()?.amr, ['code_token', 'password'], "the fixture user logs in to the fixture client, with the device's code now");
  const bye = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${redirect}/bye` });
  t.equal((await fetch(bye, { redirect: 'manual' })).status, 200, 'and may log out back to its post-logout URI');
});

t.test('a bad fixtures file stops the start, saying what is wrong', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-fixtures-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = (fixtures: unknown) => {
    const file = join(dir, 'f.json');
    writeFileSync(file, typeof fixtures === 'string' ? fixtures : JSON.stringify(fixtures));
    return {
      KODEVISER_DATA_DIR: dir,
      KODEVISER_FIXTURES: file,
      KODEVISER_ADMIN_TOKEN: 'fixtures-admin-token-0123456789',
      KODEVISER_MASTER_KEY: 'ab'.repeat(32),
    };
  };
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{', /fixtures: not JSON/],
    [
      'a user without a password',
      { users: [{ userId: 'a', identity: {}, device: {} }] },
      /fixtures: users\[0\]\.device\.profile must be a non-empty string|users\[0\]/,
    ],
    [
      'an unknown profile',
      {
        users: [
          {
            userId: 'a',
            password: 'p',
            identity: { nationalId: '0101901234', document: { type: 'passport', country: 'DK', number: '1' } },
            device: { serial: '1000000009', profile: 'totp-md5', keyHex: '00' },
          },
        ],
      },
      /device\.profile must be one of/,
    ],
    ['a short token', { operators: [{ name: 'x', token: 'kvc_short' }] }, /kvc_ and 43 base64url characters/],
    [
      'a short client secret',
      { clients: [{ client_id: 'a', client_secret: 'x', name: 'x', redirect_uris: ['http://a.example/cb'] }] },
      /client_secret must be at least 32 characters/,
    ],
    [
      'a post-logout URI that is not a string',
      {
        clients: [
          {
            client_id: 'a',
            client_secret: 'x'.repeat(32),
            name: 'x',
            redirect_uris: ['http://a.example/cb'],
            post_logout_redirect_uris: [1],
          },
        ],
      },
      /clients\[0\]\.post_logout_redirect_uris\[0\] must be a non-empty string/,
    ],
    [
      'a public client with a secret',
      {
        clients: [
          {
            client_id: 'a',
            client_secret: 'x'.repeat(32),
            name: 'x',
            redirect_uris: ['http://a.example/cb'],
            token_endpoint_auth_method: 'none',
          },
        ],
      },
      /clients\[0\]\.client_secret must be left out: a public client \(none\) has no secret/,
    ],
    [
      'an authentication method not offered',
      { clients: [{ client_id: 'a', name: 'x', redirect_uris: ['http://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' }] },
      /clients\[0\]\.token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, none/,
    ],
  ];
  for (const [what, fixtures, message] of cases) {
    const error = await start({ argv: ['--port', '0'], env: env(fixtures), logger: silent, print: () => undefined }).then(
      (s) => s.stop().then(() => null),
      (e: unknown) => e,
    );
    t.ok(error instanceof StartError, `${what}: the start stops`);
    t.match((error as Error).message, message, what);
    t.notMatch((error as Error).message, /\n/, 'one line');
  }
});

t.test("a fixture's activation past the middle of a step waits for the next: the device, on time, logs in at once", async (t) => {
  const { app, clock } = await testApp(t);
  const keyHex = randomBytes(20).toString('hex');
  const serial = makeSerial('700000002');
  const otp = createOtp({ profile: 'totp-sha1', key: Buffer.from(keyHex, 'hex') });
  if (otp.mode !== 'totp') throw new Error('a totp profile');
  // 25 s into a step: the code of the step before would say the device is 40 s behind.
  clock.advance(30_000 - (clock.now() % 30_000) + 25_000);
  let waited = 0;
  await app.applyFixtures(
    {
      users: [
        {
          userId: 'late-user',
          password: 'late-password-1',
          identity: { nationalId: '0606801234', document: { type: 'passport', country: 'DK', number: 'PL1' } },
          device: { serial, profile: 'totp-sha1', keyHex },
        },
      ],
      operators: [],
      clients: [],
    },
    async (ms) => {
      waited += ms;
      clock.advance(ms);
    },
  );
  t.ok(waited > 0 && waited <= 15_000, `waited ${waited} ms for the next step`);
  // Early in the step after the activation's, the code the device shows then: accepted.
  clock.advance(30_000 - (clock.now() % 30_000) + 1_000);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/authenticate',
    payload: { userId: 'late-user', otp: otp.generate(otp.stepAt(clock.now() / 1000)), password: 'late-password-1' },
  });
  t.equal(res.json().result, 'accept', 'the code the device shows is accepted');
});
