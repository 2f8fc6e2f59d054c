/**
 * Raw HTTP/1.1 for the network fuzz run: messages no well-behaved client library would write —
 * broken request lines, header overflow (Node's 16 KiB limit), forbidden characters, CR/LF
 * injection, request-smuggling shapes (Content-Length with Transfer-Encoding, two differing
 * Content-Lengths, bad chunk sizes), bodies longer than announced — each written on a fresh TCP
 * connection, and every response the server writes back parsed, so that the answers of Node's
 * HTTP parser (fastify's clientErrorHandler) are held to the same property as the app's.
 */
import net from 'node:net';
import fc from 'fast-check';
import type { FuzzReply } from './check.js';
import { hostileString } from './hostile.js';

const validJson = '{"serial":"1234567897","otp":"123456"}';

const requestLine = fc.oneof(
  { arbitrary: fc.constantFrom('GET /healthz HTTP/1.1', 'POST /v1/validate HTTP/1.1', 'GET /v1/audit HTTP/1.1'), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      'GET /healthz HTTP/1.0',
      'GET /healthz HTTP/2.0',
      'GET /healthz HTTP/9.9',
      'GET /healthz',
      'GET  /healthz HTTP/1.1',
      'get /healthz HTTP/1.1',
      'GET healthz HTTP/1.1',
      'GET http://evil.example/healthz HTTP/1.1',
      'GET * HTTP/1.1',
      'CONNECT 127.0.0.1:1 HTTP/1.1',
      'G\u0000T / HTTP/1.1',
      `GET /${'a'.repeat(20_000)} HTTP/1.1`,
      'GET /\u00ff HTTP/1.1',
      'GET /%00 HTTP/1.1',
      '',
      ' ',
      'HTTP/1.1 200 OK',
    ),
    weight: 2,
  },
  { arbitrary: hostileString, weight: 1 },
);

const headerLines = fc.array(
  fc.oneof(
    fc.constantFrom(
      'Host: x',
      'Accept: */*',
      'Connection: close',
      'Connection: keep-alive',
      'Content-Type: application/json',
      'Authorization: Bearer x',
      'Transfer-Encoding: chunked',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: identity',
      'Transfer-Encoding:\tchunked',
      'Content-Length: 5',
      'Content-Length: -1',
      'Content-Length: 99999999999999999999',
      'Content-Length: 1, 2',
      'Content-Length: abc',
      'Host: x\r\nHost: y',
      'X-Injected: a\rb',
      'X-Nul: a\u0000b',
      'Bad Header: x',
      ': novalue',
      'X-Folded: a\r\n b',
      'Expect: 100-continue',
      'Upgrade: websocket',
      'X-Big: ' + 'x'.repeat(20_000),
    ),
    hostileString.map((s) => `X-Fuzz: ${s}`),
  ),
  { maxLength: 4 },
);

const body = fc.oneof(
  fc.constantFrom(
    '',
    validJson,
    '{}',
    '0\r\n\r\n',
    '5\r\nhello\r\n0\r\n\r\n',
    'zz\r\nhello\r\n0\r\n\r\n',
    'ffffffffffffffffff\r\n',
    `${validJson}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
  ),
  hostileString,
);

/** A complete raw request: request line, headers, blank line, body. */
export const rawRequest: fc.Arbitrary<string> = fc
  .tuple(requestLine, headerLines, body, fc.boolean())
  .map(
    ([line, headers, b, announce]) =>
      `${line}\r\n${[...headers, ...(announce && b.length > 0 ? [`Content-Length: ${Buffer.byteLength(b)}`] : [])].join('\r\n')}${headers.length || (announce && b) ? '\r\n' : ''}\r\n${b}`,
  );

/** Splits what the server wrote into final responses (status, headers, body by Content-Length). */
export function parseResponses(data: Buffer): FuzzReply[] {
  const out: FuzzReply[] = [];
  let rest = data.toString('latin1');
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyText = rest.slice(end + 4, end + 4 + length);
    const statusCode = Number(statusLine.split(' ')[1]);
    // 1xx (100 Continue after Expect: 100-continue) is interim: the final answer follows.
    if (statusCode >= 200) out.push({ statusCode, headers, body: Buffer.from(bodyText, 'latin1').toString('utf8') });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/**
 * Writes `raw` on a new connection, half-closes it, and collects everything until the server
 * closes (or `timeoutMs`): the responses in order.
 */
export function sendRaw(port: number, raw: string, timeoutMs = 5000): Promise<FuzzReply[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponses(Buffer.concat(chunks)));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(Buffer.from(raw, 'latin1'));
  });
}
