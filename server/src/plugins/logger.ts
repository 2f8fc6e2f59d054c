/**
 * The server's pino logger. Secrets never reach a log (OWASP Logging Cheat Sheet: never log
 * authentication passwords, session tokens, keys): request bodies are not logged at all — fastify's
 * request serializer writes method, url, host and remote address only — and pino's `redact`
 * censors the places a secret could still turn up should someone log a request or a body object:
 * the Authorization, X-PSKC-Key and X-PSKC-Password headers, the body fields that carry codes,
 * passwords, proofs, keys, identity numbers or tracking tokens, an order's address, and what a
 * store row or a domain record holds (sealed seeds and secrets, password hashes, the keyed hashes
 * of an identity or a document).
 * Field names are censored at the top level and one level down (pino's paths have no recursive
 * wildcard), and in a request body; the request line's URL has its tracking token censored.
 */
import pino from 'pino';
import type { Bindings, ChildLoggerOptions, DestinationStream, Logger } from 'pino';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { LogLevel } from '../config.js';

const SECRET_FIELDS = [
  'otp',
  'otp1',
  'otp2',
  'password',
  'oldPassword',
  'newPassword',
  'proofId',
  'keyHex',
  'key',
  'adminToken',
  'serviceToken',
  'masterKey',
  'secret',
  'seed',
  'passwordHash',
  'nationalId',
  'identityHash',
  'documentHash',
  // An order's tracking token (POST /v1/orders answers it; GET /v1/orders/:id?tracking= takes it).
  'trackingToken',
  'tracking',
];

/** Headers that carry a secret (as path steps), wherever a request's headers are logged. */
const SECRET_HEADERS = ['.authorization', '["x-pskc-key"]', '["x-pskc-password"]', '.cookie'];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers${h}`, `headers${h}`]),
  ...SECRET_FIELDS.flatMap((f) => [f, `body.${f}`, `req.body.${f}`, `*.${f}`]),
  'body.tokens[*].keyHex',
  'req.body.tokens[*].keyHex',
  // An identity's document number ({identity: {nationalId, document: {type, country, number}}}).
  'document.number',
  '*.document.number',
  ...['body', 'req.body'].flatMap((b) => [`${b}.identity.nationalId`, `${b}.identity.document.number`]),
  // An order's address is personal data ({delivery: {method, address}}, an order record's delivery).
  'address',
  'delivery.address',
  '*.delivery.address',
  ...['body', 'req.body', 'order', '*.order'].map((b) => `${b}.delivery.address`),
  'query.tracking',
  'req.query.tracking',
];

/** `url` with the value of every `tracking` parameter censored: an order's tracking token travels in a query string. */
export const censorUrl = (url: string): string => (url.includes('tracking=') ? url.replace(/([?&]tracking=)[^&#]*/g, '$1[redacted]') : url);

/**
 * fastify's request line (its own serializer's fields: the method, the URL, the host and the
 * peer), the URL censored (censorUrl), whether or not the request found a route; any other
 * object logged as `req` as it is, for the redaction.
 */
function requestLine(req: unknown): unknown {
  if (typeof req !== 'object' || req === null || !('raw' in req)) return req;
  const r = req as FastifyRequest;
  return {
    method: r.method,
    url: censorUrl(r.url),
    version: r.headers?.['accept-version'],
    host: r.host,
    remoteAddress: r.ip,
    remotePort: r.socket?.remotePort,
  };
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    { level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' }, serializers: { req: requestLine } },
    destination ?? pino.destination(1),
  );
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogFn = (...args: unknown[]) => void;

/**
 * fastify's `childLoggerFactory`: each request's logger (`request.log`, bound to its request id)
 * is made only when the request first logs at a level the log keeps. fastify makes one per
 * request, and a pino child costs ~2 µs to make (bindings serialised, redaction set up) — at the
 * default level most requests never write a line, and /v1/validate is meant to take little more
 * than a plain fastify route. A child with its own level or serializers (a route's logLevel) is
 * made at once, since then the parent's level says nothing.
 */
export function lazyChildLoggerFactory(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  if (opts.level !== undefined || opts.serializers !== undefined) return parent.child(bindings, opts);
  let made: FastifyBaseLogger | undefined;
  const real = (): FastifyBaseLogger => (made ??= parent.child(bindings, opts));
  const keeps = (level: Level): boolean => (parent as unknown as Logger).isLevelEnabled?.(level) ?? true;
  const at =
    (level: Level): LogFn =>
    (...args) => {
      if (made !== undefined || keeps(level)) (real()[level] as LogFn)(...args);
    };
  const child = {
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => undefined,
    child: (b: Bindings, o?: ChildLoggerOptions) => real().child(b, o),
    get level(): string {
      return made?.level ?? parent.level;
    },
    set level(level: string) {
      real().level = level;
    },
  };
  return child as unknown as FastifyBaseLogger;
}
