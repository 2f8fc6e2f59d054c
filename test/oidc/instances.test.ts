/**
 * The OpenID provider on three server processes over one PostgreSQL, in production mode: a login
 * started on one instance, its pages answered by another, the code exchanged on a third, by
 * openid-client and `kodeviser login` — every instance signs with the same keys, reads the same
 * cookies (keys derived from the master key) and the same sessions, codes and grants (the
 * store). The instances share one issuer (KODEVISER_ISSUER, a name the test's fetch sends to the
 * instances in turn). None of them prints a warning of oidc-provider's. PostgreSQL not reachable:
 * skipped, saying so.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { makeSerial } from '@kodeviser/shared';
import { tempDir } from '../../server/test/helpers/db.js';
import { admin, buildServer, startInstance, type Instance } from '../../server/test/helpers/instances.js';
import { requirePostgres, tempSchema } from '../../server/test/helpers/postgres.js';
import { cli, manufacture } from '../helpers/kodeviser-cli.js';
import { authorizationRequest, exchange } from '../helpers/relying-party.js';

const ISSUER_HOST = 'kodeviser.test';
const REDIRECT = 'http://127.0.0.1:9/callback';
const PASSWORD = 'three-instances-1';

if (await requirePostgres(t, undefined, 'the OpenID provider over three instances skipped')) {
  t.test('a login started on one instance, its pages on another, its code exchanged on a third', async (t) => {
    const built = buildServer();
    if (built !== null) return t.fail(`tsc -b server failed:\n${built}`);
    const { url: databaseUrl } = await tempSchema(t);
    const instances: Instance[] = await Promise.all(
      [0, 1, 2].map(() =>
        startInstance({
          DATABASE_URL: databaseUrl,
          KODEVISER_DATA_DIR: tempDir(t),
          KODEVISER_ISSUER: `http://${ISSUER_HOST}/oidc`,
          NODE_ENV: 'production',
          // The test's fetch is the load balancer in front: it names the public host.
          KODEVISER_TRUST_PROXY: 'loopback',
        }),
      ),
    );
    t.teardown(() => Promise.all(instances.map((i) => i.stop())));
    const dir = mkdtempSync(join(tmpdir(), 'kodeviser-oidc3-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));

    // Every request to the issuer's host goes to the next instance; the log of which went where.
    const served: number[] = [];
    let next = 0;
    // The load balancer in front: every request to the issuer's host goes to the next instance,
    // with the host it was sent to in X-Forwarded-Host; which went where is kept.
    const roundRobin = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.host !== ISSUER_HOST) return fetch(input, init);
      const i = next++ % instances.length;
      served.push(i);
      url.host = new URL(instances[i]!.url).host;
      const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
      headers.set('x-forwarded-host', ISSUER_HOST);
      headers.set('x-forwarded-proto', 'http');
      return input instanceof Request ? fetch(new Request(url, input), { ...init, headers }) : fetch(url, { ...init, headers });
    };
    const api = (path: string, body: unknown) =>
      roundRobin(`http://${ISSUER_HOST}${path}`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const serial = makeSerial('600000002');
    const made = await manufacture({ dir, serial, nowMs: Date.now() });
    const imported = await roundRobin(`http://${ISSUER_HOST}/v1/tokens`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/pskc+xml', 'x-pskc-key': made.key },
      body: made.pskc,
    });
    t.equal(imported.status, 201);
    const operator = (await (await api('/v1/credentials', { role: 'operator', name: 'three' })).json()) as { token: string };
    const proof = (await (
      await roundRobin(`http://${ISSUER_HOST}/v1/proofs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          identity: { nationalId: '0202801234', document: { type: 'passport', country: 'DK', number: 'P888' } },
          userId: 'three',
        }),
      })
    ).json()) as { proofId: string };
    const code = (JSON.parse(await cli(['press', made.file, '--json'], Date.now())) as { code: string }).code;
    t.equal((await api('/v1/activate', { proofId: proof.proofId, serial, otp: code, password: PASSWORD })).status, 200);
    const registered = (await (await api('/v1/oidc/clients', { name: 'Three', redirect_uris: [REDIRECT] })).json()) as {
      client_id: string;
      client_secret: string;
    };

    const config = await client.discovery(
      new URL(`http://${ISSUER_HOST}/oidc`),
      registered.client_id,
      registered.client_secret,
      undefined,
      {
        execute: [client.allowInsecureRequests],
        [client.customFetch]: roundRobin as client.CustomFetch,
      },
    );
    // The activation spent this 30-second step's code: the login presses in the next one (3 s
    // past its start: the device's crystal, a day old, may be a second or two behind).
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 3_000));
    const asked = await authorizationRequest(config, REDIRECT);
    const before = served.length;
    const out = await cli(
      ['login', '--authorize-url', asked.url.href, '--user', 'three', '--device', made.file, '--password', PASSWORD],
      Date.now(),
      {
        fetch: roundRobin,
        env: {},
      },
    );
    const steps = served.slice(before);
    t.ok(new Set(steps).size === 3, `the login's requests went to all three instances (${steps.join(' ')})`);
    const tokens = await exchange(config, new URL(out.trim()), asked);
    const claims = tokens.claims()!;
    t.equal(claims.iss, `http://${ISSUER_HOST}/oidc`);
    t.same(claims.amr, ['code_token', 'password']);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    t.equal(info.sub, claims.sub, 'userinfo on yet another instance knows the token');

    for (const [i, instance] of instances.entries()) {
      t.notMatch(instance.stderr(), /oidc-provider (WARNING|NOTICE)/, `instance ${i}: no warning of the provider's in production mode`);
    }
  });
}
