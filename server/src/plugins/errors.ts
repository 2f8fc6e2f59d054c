/**
 * One error shape for every failure: `{ error, message }`, where `error` is a stable machine
 * code and `message` names the problem for a person. Bad input of any kind is a 4xx naming what
 * was wrong, never a 500 and never a stack trace (OWASP ASVS 7.4.1: errors reveal nothing of the
 * internals). What is mapped:
 *  - fastify's own FST_ERR_* codes (schema validation, content type, body size, malformed JSON);
 *  - KodeviserError codes from @kodeviser/shared (bad serial, PSKC refused, key length …);
 *  - ServiceError codes from the token service (duplicate serial, unknown token, wrong state) and
 *    its store (unavailable: the database locked, full, read-only or out of reach → 503);
 *  - HttpError, thrown by the routes for auth, not-found and conflicts;
 *  - anything else: 500 with a generic message, logged without request data.
 * Client errors are logged at debug level with their code only: a malformed body's message could
 * echo what the client sent, and that may be a password.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isKodeviserError } from '@kodeviser/shared';
import { isServiceError } from '../domain/errors.js';

/** An error the route layer means to send as it is. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly error: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, error: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.error = error;
    this.headers = headers;
  }
}

/** The body every error response has (also the schema every route declares for its 4xx/5xx). */
export interface ErrorBody {
  error: string;
  message: string;
}

export const errorBodySchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every failure: a stable machine code and a message naming the problem.',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'stable machine code, e.g. bad-request, unauthorized, not-found' },
    message: { type: 'string', description: 'what was wrong, for a person' },
  },
  additionalProperties: false,
} as const;

const FASTIFY_CODES: Readonly<Record<string, { status: number; error: string; message?: string }>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported-media-type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload-too-large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'bad-request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'bad-request', message: 'the body is empty but Content-Type says JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'bad-request', message: 'the body is not valid JSON' },
  FST_ERR_BAD_URL: { status: 400, error: 'bad-request' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, error: 'uri-too-long' },
};

const KODEVISER_CODES: Readonly<Record<string, string>> = {
  ERR_SERIAL: 'bad-serial',
  ERR_PSKC: 'bad-pskc',
  ERR_PSKC_MAC: 'bad-pskc',
  ERR_PSKC_DECRYPT: 'bad-pskc',
  ERR_UNKNOWN_PROFILE: 'bad-profile',
  ERR_KEY_LENGTH: 'bad-key',
};

const SERVICE_CODES: Readonly<Record<string, { status: number; error: string; retryAfter?: number }>> = {
  ERR_DUPLICATE_SERIAL: { status: 409, error: 'duplicate-serial' },
  ERR_UNKNOWN_TOKEN: { status: 404, error: 'unknown-token' },
  ERR_TOKEN_STATE: { status: 409, error: 'token-state' },
  ERR_UNKNOWN_CREDENTIAL: { status: 404, error: 'unknown-credential' },
  ERR_WEAK_PASSWORD: { status: 400, error: 'weak-password' },
  ERR_NOT_REPLACED: { status: 409, error: 'not-replaced' },
  ERR_TOO_LATE: { status: 409, error: 'too-late' },
  ERR_UNKNOWN_USER: { status: 404, error: 'unknown-user' },
  ERR_STORE_CLOSED: { status: 503, error: 'unavailable' },
  ERR_BUSY: { status: 503, error: 'busy', retryAfter: 1 },
  // The database locked by another process, its disk full, read-only, failing or out of reach.
  ERR_UNAVAILABLE: { status: 503, error: 'unavailable', retryAfter: 1 },
};

/** The status, body and headers an error is sent with. */
export function describeError(err: FastifyError | Error): { status: number; body: ErrorBody; headers?: Readonly<Record<string, string>> } {
  if (err instanceof HttpError) {
    return { status: err.statusCode, body: { error: err.error, message: err.message }, headers: err.headers };
  }
  if (isServiceError(err)) {
    const known = SERVICE_CODES[err.code];
    // ERR_SEED (a seed that does not decrypt: wrong master key?) is the server's fault: 500.
    if (known) {
      const body = { error: known.error, message: err.message };
      return known.retryAfter === undefined
        ? { status: known.status, body }
        : { status: known.status, body, headers: { 'retry-after': String(known.retryAfter) } };
    }
  }
  if (isKodeviserError(err)) {
    return { status: 400, body: { error: KODEVISER_CODES[err.code] ?? 'bad-request', message: err.message } };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    // fastify's message already names the place: "body/otp must match pattern …"
    return { status: 400, body: { error: 'bad-request', message: fe.message } };
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return { status: known.status, body: { error: known.error, message: known.message ?? fe.message } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Other client errors fastify raises (e.g. a parser's): the message is fastify's, not ours;
    // keep it short and generic rather than echo anything the client sent.
    return {
      status: fe.statusCode,
      body: { error: 'bad-request', message: `the request could not be read (${fe.code ?? 'client error'})` },
    };
  }
  return { status: 500, body: { error: 'internal', message: 'internal server error' } };
}

/** Sends `err` as `{error, message}`; the error handler and fastify's frameworkErrors both use it. */
export function sendError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers } = describeError(err);
  if (status === 503 && isServiceError(err)) {
    // An expected condition (busy, a store unavailable): one line, no stack.
    // With the driver's code when there is one (SQLITE_BUSY, 55P03), never its stack.
    const cause = (err.cause as { code?: unknown } | undefined)?.code;
    // A refusal for load (busy) at debug: a flood of them would otherwise cost a log write each.
    const level = err.code === 'ERR_BUSY' ? 'debug' : 'warn';
    request.log[level](typeof cause === 'string' ? { code: err.code, cause } : { code: err.code }, err.message);
  } else if (status >= 500) {
    // The stack is for the log only. Nothing of the request body is in it.
    const fe = err as FastifyError;
    request.log.error({ err: { type: err.name, code: fe.code, message: err.message, stack: err.stack } }, 'unexpected error');
  } else {
    request.log.debug({ statusCode: status, error: body.error }, 'request refused');
  }
  if (headers) reply.headers(headers);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export function installErrorHandlers(app: FastifyInstance): void {
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node answers it with an empty
  // body unless told not to (build() sets http.requireHostHeader: false); this hook answers it
  // in the error shape instead.
  // A callback hook, not an async one: it runs on every request, and an async hook costs a
  // promise and a microtask turn each time.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      done(new HttpError(400, 'bad-request', 'an HTTP/1.1 request needs a Host header'));
      return;
    }
    done();
  });
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(err, request, reply));
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    return reply.code(404).send({ error: 'not-found', message: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });
}

/**
 * What Node's HTTP parser refuses before fastify has a request — a malformed request line or
 * header, headers over Node's 16 KiB limit, a request not received in time — answered with the
 * same `{error, message}` shape (fastify's default writes `{error:"Bad Request", message:"Client
 * Error", statusCode}`), then the connection is closed, as Node and fastify do.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body]: [number, string, ErrorBody] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', { error: 'request-timeout', message: 'the request was not received in time' }]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            { error: 'headers-too-large', message: 'the request headers are larger than the server accepts' },
          ]
        : [400, 'Bad Request', { error: 'bad-request', message: 'the request is not valid HTTP/1.1' }];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}
