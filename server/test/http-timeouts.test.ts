// Slow clients over a real socket: a request that has not arrived whole within
// KODEVISER_REQUEST_TIMEOUT_MS is answered 408 and its connection closed (half a body, or half
// the headers); an idle keep-alive connection is closed after KODEVISER_KEEP_ALIVE_TIMEOUT_MS; the
// defaults are set when nothing is configured. And a PSKC document sent to a route other than
// POST /v1/tokens is refused (415) before its body is read, so a body that never ends does not
// hold the answer up.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import pino from 'pino';
import { DEFAULT_HTTP_TIMEOUTS } from '../src/config.js';
import { start, type Started } from '../src/main.js';
import { tempDir } from './helpers/db.js';
import { testApp } from './http-helpers.js';

const silent = pino({ level: 'silent' });
/** What "cut off in time" means here for a timeout of 500 ms (Node checks every 125 ms): generous. */
const PROMPT_MS = 3000;
/** A connection still open by then is taken for held (the test gives up on it). */
const HELD_MS = 6000;

async function startWith(t: Test, env: Record<string, string> = {}): Promise<Started> {
  const started = await start({
    argv: ['--port', '0', '--data-dir', tempDir(t)],
    env: { KODEVISER_ADMIN_TOKEN: 'admin-token-for-timeout-tests', ...env },
    logger: silent,
    print: () => undefined,
  });
  t.teardown(() => started.stop());
  return started;
}

interface Exchange {
  /** what the server sent */
  data: string;
  /** whether the server closed the connection (else the test did, at HELD_MS) */
  closed: boolean;
  /** from the write to the close */
  ms: number;
}

/** Opens a connection to `url`, writes `text`, and waits for the server to close it (at most HELD_MS). */
function exchange(url: string, text: string): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    let began = performance.now();
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed, ms: performance.now() - began });
    };
    const timer = setTimeout(() => finish(false), HELD_MS);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.once('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(text);
      began = performance.now();
    });
  });
}

t.test('by default: the timeouts are set (they were none)', async (t) => {
  const started = await startWith(t);
  const server = started.app.server;
  t.equal(started.loaded.config.timeouts?.requestMs, 30_000, 'a request must arrive whole within 30 s');
  t.equal(server.requestTimeout, DEFAULT_HTTP_TIMEOUTS.requestMs, 'requestTimeout');
  t.equal(server.headersTimeout, DEFAULT_HTTP_TIMEOUTS.headersMs, 'headersTimeout');
  t.equal(server.keepAliveTimeout, DEFAULT_HTTP_TIMEOUTS.keepAliveMs, 'keepAliveTimeout');
  t.equal(server.timeout, DEFAULT_HTTP_TIMEOUTS.connectionMs, 'socket inactivity (connectionTimeout)');
  // build() without timeouts in its configuration (as tests and embedders call it): the same.
  const { app } = await testApp(t);
  t.equal(app.server.requestTimeout, DEFAULT_HTTP_TIMEOUTS.requestMs, 'build() without timeouts: the defaults');
  t.equal(app.server.headersTimeout, DEFAULT_HTTP_TIMEOUTS.headersMs);
});

t.test('the timeouts as configured reach the HTTP server', async (t) => {
  const started = await startWith(t, {
    KODEVISER_REQUEST_TIMEOUT_MS: '20000',
    KODEVISER_HEADERS_TIMEOUT_MS: '5000',
    KODEVISER_KEEP_ALIVE_TIMEOUT_MS: '4000',
    KODEVISER_CONNECTION_TIMEOUT_MS: '0',
  });
  const server = started.app.server;
  t.same(
    [server.requestTimeout, server.headersTimeout, server.keepAliveTimeout, server.timeout],
    [20_000, 5000, 4000, 0],
    'request, headers, keep-alive, socket inactivity',
  );
});

t.test('half a body: 408 and the connection closed within the request timeout', async (t) => {
  const started = await startWith(t, { KODEVISER_REQUEST_TIMEOUT_MS: '500' });
  const body = JSON.stringify({ userId: 'someone', otp: '123456', password: 'a-long-enough-password' });
  const res = await exchange(
    started.url,
    `POST /v1/authenticate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
  );
  t.ok(res.closed, 'the server closed the connection');
  t.ok(res.ms < PROMPT_MS, `within ${PROMPT_MS} ms for a 500 ms timeout (took ${Math.round(res.ms)} ms)`);
  t.match(res.data, /^HTTP\/1\.1 408 /, '408 Request Timeout');
  t.match(res.data, /"error":"request-timeout"/, 'with the JSON error body');

  // A request that arrives whole in time is answered as ever.
  const ok = await fetch(`${started.url}/healthz`);
  t.equal(ok.status, 200);
});

t.test('half the headers: 408 and the connection closed within the headers timeout', async (t) => {
  const started = await startWith(t, { KODEVISER_REQUEST_TIMEOUT_MS: '2000', KODEVISER_HEADERS_TIMEOUT_MS: '500' });
  const res = await exchange(started.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  t.ok(res.closed, 'the server closed the connection');
  t.ok(res.ms < PROMPT_MS, `within ${PROMPT_MS} ms for a 500 ms timeout (took ${Math.round(res.ms)} ms)`);
  t.match(res.data, /^HTTP\/1\.1 408 /, '408 Request Timeout');
});

t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  // (Node adds a second to it, so that a client's own idle timeout of the same length closes first.)
  const started = await startWith(t, { KODEVISER_KEEP_ALIVE_TIMEOUT_MS: '300' });
  const res = await exchange(started.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  t.match(res.data, /^HTTP\/1\.1 200 /, 'answered');
  t.match(res.data, /keep-alive/i, 'and kept alive');
  t.ok(res.closed, 'then closed by the server');
  t.ok(res.ms < PROMPT_MS, `within ${PROMPT_MS} ms for a 300 ms timeout (took ${Math.round(res.ms)} ms)`);
});

t.test('a PSKC document to a route other than import: 415 at once, its body never read', async (t) => {
  // The default request timeout (30 s): the answer must not wait for it, nor for the body.
  const started = await startWith(t);
  for (const [route, type] of [
    ['/v1/authenticate', 'application/pskc+xml'],
    ['/v1/activate', 'Application/PSKC+XML; charset=utf-8'],
  ] as const) {
    const res = await exchange(
      started.url,
      `POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: 1000000\r\n\r\n<?xml version="1.0"?><KeyContainer`,
    );
    t.match(res.data, /^HTTP\/1\.1 415 /, `${route} (${type}): 415`);
    t.match(res.data, /application\/pskc\+xml is accepted by POST \/v1\/tokens only/, 'saying where it is accepted');
    t.match(res.data, /connection: close/i, 'and the connection is closed, the rest of the body unread');
    t.ok(res.closed, 'closed by the server');
    t.ok(res.ms < PROMPT_MS, `at once, though the body never ends (took ${Math.round(res.ms)} ms)`);
  }
  // The import still reads a PSKC body (here not a valid document: 400, not 415).
  const imported = await fetch(`${started.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/pskc+xml', authorization: 'Bearer admin-token-for-timeout-tests' },
    body: '<?xml version="1.0"?><KeyContainer/>',
  });
  t.not(imported.status, 415, `POST /v1/tokens reads it (${imported.status})`);
});
