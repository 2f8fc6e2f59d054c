/**
 * The server's answer to what Node's HTTP parser refuses (server/src/plugins/errors.ts
 * clientErrorHandler), case by case: the network fuzz reaches the 400 and 431 answers, not a
 * request timeout (Node's requestTimeout is 300 s) nor the sockets already gone.
 */
import t from 'tap';
import type { Socket } from 'node:net';
import { clientErrorHandler } from '../../server/src/plugins/errors.js';

function fakeSocket(state: { destroyed?: boolean; writable?: boolean } = {}) {
  const written: string[] = [];
  let destroyedWith: unknown = null;
  const socket = {
    destroyed: state.destroyed ?? false,
    writable: state.writable ?? true,
    write: (s: string) => written.push(s),
    destroy: (e: unknown) => {
      destroyedWith = e;
    },
  };
  return { socket: socket as unknown as Socket, written, destroyed: () => destroyedWith };
}

const error = (code: string) => Object.assign(new Error(code), { code });

t.test('each parser refusal is answered in the error shape, then the connection is closed', async (t) => {
  for (const [code, status, name] of [
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request-timeout'],
    ['HPE_HEADER_OVERFLOW', 431, 'headers-too-large'],
    ['HPE_INVALID_METHOD', 400, 'bad-request'],
  ] as const) {
    const s = fakeSocket();
    const err = error(code);
    clientErrorHandler(err, s.socket);
    t.equal(s.written.length, 1, `${code}: one response`);
    const [head = '', body = ''] = (s.written[0] ?? '').split('\r\n\r\n');
    t.match(
      head,
      new RegExp(
        `^HTTP/1\\.1 ${status} .*\\r\\nContent-Length: ${Buffer.byteLength(body)}\\r\\nContent-Type: application/json; charset=utf-8\\r\\nConnection: close$`,
      ),
      `${code}: ${status}`,
    );
    t.same(Object.keys(JSON.parse(body)), ['error', 'message'], `${code}: {error, message}`);
    t.equal(JSON.parse(body).error, name, `${code}: error ${name}`);
    t.equal(s.destroyed(), err, `${code}: the connection is closed`);
  }
});

t.test('nothing is written to a connection that is gone or not writable', async (t) => {
  const reset = fakeSocket();
  clientErrorHandler(error('ECONNRESET'), reset.socket);
  const gone = fakeSocket({ destroyed: true });
  clientErrorHandler(error('HPE_INVALID_METHOD'), gone.socket);
  t.same([reset.written, reset.destroyed(), gone.written, gone.destroyed()], [[], null, [], null], 'reset or destroyed: left alone');
  const halfClosed = fakeSocket({ writable: false });
  const err = error('HPE_INVALID_METHOD');
  clientErrorHandler(err, halfClosed.socket);
  t.same([halfClosed.written, halfClosed.destroyed()], [[], err], 'not writable: only closed');
});
