// A Redis that hangs — accepts the connection, then never answers — must not hang the requests:
// every Redis command gives up after KODEVISER_REDIS_TIMEOUT_MS, and then the rate limits let
// the request through (fail open) and the guessing state is kept in the instance's memory.
// Two Redis of the test's own, never the machine's shared one: a TCP stub that never answers,
// and a real redis-server on a free port that the test stops (SIGSTOP) after it has served.
// The server runs as main.ts starts it (start(): configuration from the environment, a socket).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { Redis } from 'ioredis';
import { start, type Started } from '../src/main.js';
import { tempDir } from './helpers/db.js';
import { redisUnreachable } from './helpers/redis.js';

const silent = pino({ level: 'silent' });
/** What "answers promptly" means here: the Redis timeout is 300 ms, this is generous. */
const PROMPT_MS = 2000;
/** A request not answered by then is taken for hung (and abandoned, so that the app can close). */
const HUNG_MS = 6000;

async function startWith(t: Test, env: Record<string, string>): Promise<{ started: Started; admin: string }> {
  const dir = tempDir(t);
  const started = await start({
    argv: ['--port', '0', '--data-dir', dir],
    env: { KODEVISER_ADMIN_TOKEN: 'admin-token-for-redis-hang-tests', ...env },
    logger: silent,
    print: () => undefined,
  });
  t.teardown(() => started.stop());
  return { started, admin: 'admin-token-for-redis-hang-tests' };
}

interface Timed {
  status: number | 'hung';
  ms: number;
}

async function timed(url: string, init: RequestInit = {}): Promise<Timed> {
  const began = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(HUNG_MS) });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - began };
  } catch {
    return { status: 'hung', ms: performance.now() - began };
  }
}

/** /healthz, /readyz, a login (a rate-limited, per-user-limited route that uses the guessing state) and a bearer route. */
async function probe(base: string, admin: string): Promise<Record<string, Timed>> {
  return {
    healthz: await timed(`${base}/healthz`),
    readyz: await timed(`${base}/readyz`),
    authenticate: await timed(`${base}/v1/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'nobody-at-all', otp: '123456', password: 'guess-guess-guess' }),
    }),
    audit: await timed(`${base}/v1/audit?limit=1`, { headers: { authorization: `Bearer ${admin}` } }),
  };
}

function checkPrompt(t: Test, results: Record<string, Timed>, when: string): void {
  const expected: Record<string, number> = { healthz: 200, readyz: 200, authenticate: 401, audit: 200 };
  for (const [route, { status, ms }] of Object.entries(results)) {
    t.equal(status, expected[route], `${when}: ${route} answers ${expected[route]}`);
    t.ok(ms < PROMPT_MS, `${when}: ${route} answers within ${PROMPT_MS} ms (took ${Math.round(ms)} ms)`);
  }
}

/** A TCP server that accepts connections and never answers. */
async function silentRedis(t: Test): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  let closing = false;
  const server: Server = createServer((socket) => {
    // The app may still be reconnecting while the stub closes: close() would wait for those.
    if (closing) return void socket.destroy();
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    closing = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `redis://127.0.0.1:${address.port}`, connections: () => count };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

t.test('KODEVISER_REDIS_TIMEOUT_MS reaches the configuration', async (t) => {
  const { started } = await startWith(t, { REDIS_URL: 'redis://127.0.0.1:1', KODEVISER_REDIS_TIMEOUT_MS: '250' });
  t.equal(started.loaded.config.rateLimit.redisTimeoutMs, 250);
});

t.test('a Redis that accepts connections and never answers: every route still answers promptly', async (t) => {
  const stub = await silentRedis(t);
  const { started, admin } = await startWith(t, { REDIS_URL: stub.url, KODEVISER_REDIS_TIMEOUT_MS: '300' });
  // The first requests meet the clients still waiting for their first reply; the later ones
  // clients that have given up on this connection.
  checkPrompt(t, await probe(started.url, admin), 'first requests');
  checkPrompt(t, await probe(started.url, admin), 'later requests');
  t.ok(stub.connections() >= 1, 'the server did connect to the stub');
});

const redisServer = await new Promise<boolean>((resolve) => {
  const version = spawn('redis-server', ['--version'], { stdio: 'ignore' });
  version.on('error', () => resolve(false));
  version.on('exit', (code) => resolve(code === 0));
});

t.test(
  'a real Redis that stops answering mid-flight (SIGSTOP): promptly answered, and counted again once it resumes',
  { skip: redisServer ? false : 'no redis-server binary' },
  async (t) => {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    // SIGKILL works on a stopped process too; never leave it behind.
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const url = `redis://127.0.0.1:${port}`;
    for (let i = 0; (await redisUnreachable(url, 500)) !== null; i++) {
      if (i > 50) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { started, admin } = await startWith(t, { REDIS_URL: url, KODEVISER_REDIS_TIMEOUT_MS: '300' });
    const peek = new Redis(url, { maxRetriesPerRequest: 1 });
    t.teardown(() => peek.disconnect());
    const counted = async () => (await peek.keys('kodeviser-rate-limit:*')).length + (await peek.keys('kodeviser-state:*')).length;

    checkPrompt(t, await probe(started.url, admin), 'Redis answering');
    t.ok((await counted()) > 0, 'the limits and the guessing state are kept in Redis');
    await peek.flushall();

    process.kill(child.pid!, 'SIGSTOP');
    checkPrompt(t, await probe(started.url, admin), 'Redis stopped');
    checkPrompt(t, await probe(started.url, admin), 'Redis still stopped');

    process.kill(child.pid!, 'SIGCONT');
    // The clients reconnect on their own (with back-off): the counts go to Redis again.
    let again = 0;
    for (let i = 0; i < 60 && again === 0; i++) {
      checkPrompt(t, await probe(started.url, admin), 'Redis resumed');
      again = await counted();
      if (again === 0) await new Promise((r) => setTimeout(r, 250));
    }
    t.ok(again > 0, 'once Redis answers again, the counts are kept there again');
  },
);
