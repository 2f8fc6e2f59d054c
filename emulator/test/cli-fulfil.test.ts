// `kodeviser fulfil` (src/cli/fulfil.ts) against a fake server given as its fetch: which calls it
// makes, in which order, what it writes, and how it fails. The real server is test/e2e/orders.test.ts's.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePskc } from '@kodeviser/shared/pskc';
import { main } from '../src/cli/main.js';
import type { FactoryIo } from '../src/cli/fulfil.js';
import { HOST_NOW_MS, ROOT, tempDir } from './cli-helpers.js';

type Call = { method: string; path: string; auth: string | null; type: string | null; body: string | null };

/** A server with `placed` orders; `fulfilStatus` answers each fulfil (default 200). */
function fakeServer(placed: string[][], fulfilStatus: (orderId: string) => number = () => 200) {
  const calls: Call[] = [];
  let poll = 0;
  const fetchFake = (async (input: URL | string | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const call: Call = {
      method: init?.method ?? 'GET',
      path: url.pathname + url.search,
      auth: headers.get('authorization'),
      type: headers.get('content-type'),
      body: typeof init?.body === 'string' ? init.body : null,
    };
    calls.push(call);
    if (call.path === '/v1/orders?status=placed') {
      const orders = (placed[poll++] ?? []).map((orderId) => ({ orderId, status: 'placed' }));
      return new Response(JSON.stringify({ orders }), { status: 200 });
    }
    if (call.path === '/v1/tokens') return new Response(JSON.stringify({ imported: ['x'] }), { status: 201 });
    const fulfil = /^\/v1\/orders\/([^/]+)\/fulfil$/.exec(call.path);
    if (fulfil) {
      const status = fulfilStatus(decodeURIComponent(fulfil[1]!));
      return new Response(
        JSON.stringify(status === 200 ? { status: 'shipped' } : { error: 'illegal-transition', message: 'order is cancelled' }),
        { status },
      );
    }
    return new Response('{}', { status: 404 });
  }) as typeof fetch;
  return { calls, fetch: fetchFake };
}

async function run(
  argv: string[],
  io: Partial<FactoryIo> & { fetch: typeof fetch },
  env: NodeJS.ProcessEnv = { KODEVISER_ADMIN_TOKEN: 'admin-secret-token' },
) {
  let stdout = '';
  let stderr = '';
  let sleeps = 0;
  const full: FactoryIo = {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    async *lines() {},
    interactive: false,
    nowMs: () => HOST_NOW_MS,
    path: (p) => resolve(ROOT, p),
    env,
    sleep: async () => ++sleeps < 3,
    ...io,
  };
  const code = await main(['fulfil', ...argv], full);
  return { code, stdout, stderr, sleeps };
}

t.test('each placed order: the seed imported as PSKC, the device written, the order fulfilled — in that order', async (t) => {
  const dir = tempDir(t);
  const server = fakeServer([['ord_a', 'ord_b']]);
  const r = await run(['--server', 'http://factory.test:8080', '--dir', dir, '--once'], { fetch: server.fetch });
  t.equal(r.code, 0, r.stderr);
  t.same(
    server.calls.map((c) => `${c.method} ${c.path}`),
    ['GET /v1/orders?status=placed', 'POST /v1/tokens', 'POST /v1/orders/ord_a/fulfil', 'POST /v1/tokens', 'POST /v1/orders/ord_b/fulfil'],
  );
  t.ok(
    server.calls.every((c) => c.auth === 'Bearer admin-secret-token'),
    'the admin token on every call',
  );
  const devices = readdirSync(dir).sort();
  t.equal(devices.length, 2);
  for (const [i, orderId] of ['ord_a', 'ord_b'].entries()) {
    const imported = server.calls.filter((c) => c.path === '/v1/tokens')[i]!;
    t.equal(imported.type, 'application/pskc+xml');
    const [key] = parsePskc(imported.body!);
    t.equal(key!.profile, 'totp-sha1', 'a time-based code display by default');
    const { serial } = JSON.parse(server.calls.find((c) => c.path === `/v1/orders/${orderId}/fulfil`)!.body!) as { serial: string };
    t.equal(key!.serial, serial, 'the order gets the serial imported');
    t.ok(existsSync(join(dir, `${serial}.json`)), 'and the device file is there');
    t.match(r.stdout, new RegExp(`fulfilled ${orderId} with \\d{2}-\\d{7}-\\d \\(totp-sha1\\)`));
  }
  t.notMatch(r.stdout + r.stderr, /admin-secret-token/, 'the token is never printed');
});

t.test('polling: until asked to stop; an order refused (cancelled meanwhile) leaves its device unused and the rest go on', async (t) => {
  const dir = tempDir(t);
  const server = fakeServer([['ord_1'], [], ['ord_2', 'ord_3']], (id) => (id === 'ord_2' ? 409 : 200));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'file-token\n');
  const r = await run(
    ['--server', 'http://factory.test', '--dir', join(dir, 'out'), '--token-file', tokenFile, '--profile', 'hotp-sha1', '--interval', '1'],
    { fetch: server.fetch },
    {},
  );
  t.equal(r.code, 0);
  t.equal(r.sleeps, 3, 'polled until the stop');
  t.ok(
    server.calls.every((c) => c.auth === 'Bearer file-token'),
    'the token from the file',
  );
  t.match(
    r.stderr,
    /^kodeviser: order ord_2 not fulfilled \(POST \/v1\/orders\/ord_2\/fulfil answered 409: order is cancelled\); device \d{2}-\d{7}-\d unused\n$/,
  );
  t.match(r.stdout, /fulfilled ord_1 .*\(hotp-sha1\)[\s\S]*fulfilled ord_3 /);
  t.equal(readdirSync(join(dir, 'out')).length, 3, 'three devices made, one unused');
  t.match(readFileSync(join(dir, 'out', readdirSync(join(dir, 'out'))[0]!), 'utf8'), /"profile"/);
});

t.test('usage errors exit 2; a server that cannot be reached or refuses exits 1; one line each', async (t) => {
  const dir = tempDir(t);
  const none = fakeServer([]);
  const cases: Array<[string, string[], NodeJS.ProcessEnv | undefined, RegExp]> = [
    ['no server', ['--dir', dir], undefined, /--server URL is required/],
    ['no dir', ['--server', 'http://x'], undefined, /--dir DIR is required/],
    ['not a URL', ['--server', 'nowhere', '--dir', dir], undefined, /--server must be a URL/],
    ['ftp', ['--server', 'ftp://x', '--dir', dir], undefined, /http:\/\/ or https:\/\//],
    ['no token', ['--server', 'http://x', '--dir', dir], {}, /KODEVISER_ADMIN_TOKEN or a file with --token-file/],
    ['a token flag', ['--server', 'http://x', '--dir', dir, '--token', 'x'], undefined, /Unknown option '--token'/],
    ['bad interval', ['--server', 'http://x', '--dir', dir, '--interval', '0'], undefined, /--interval/],
  ];
  for (const [name, argv, env, message] of cases) {
    const r = await run(argv, { fetch: none.fetch }, env);
    t.equal(r.code, 2, name);
    t.match(r.stderr, message, name);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
  }
  const unreachable = await run(['--server', 'http://x', '--dir', dir, '--once'], {
    fetch: (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch,
  });
  t.same([unreachable.code, unreachable.stderr], [1, 'kodeviser: cannot reach http://x: fetch failed\n']);
  const refused = await run(['--server', 'http://x', '--dir', dir, '--once'], {
    fetch: (async () =>
      new Response(JSON.stringify({ error: 'unauthorized', message: 'a bearer token is required' }), { status: 401 })) as typeof fetch,
  });
  t.same([refused.code, refused.stderr], [1, 'kodeviser: GET /v1/orders?status=placed answered 401: a bearer token is required\n']);
  t.equal((await run(['--server', 'http://x', '--dir', dir, '--token-file', join(dir, 'missing')], { fetch: none.fetch }, {})).code, 1);
});
