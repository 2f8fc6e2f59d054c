/**
 * The server's pino logger. Secrets never reach a log (OWASP Logging Cheat Sheet: never log
 * authentication passwords, session tokens, keys): request bodies are not logged at all — fastify's
 * request serializer writes method, url, host and remote address only — and pino's `redact`
 * censors the places a secret could still turn up should someone log a request or a body object:
 * the Authorization and X-PSKC-Key headers and the body fields that carry codes, passwords or keys.
 */
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { LogLevel } from '../config.js';

const SECRET_FIELDS = ['otp', 'otp1', 'otp2', 'password', 'keyHex', 'key', 'adminToken', 'serviceToken', 'masterKey'];

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-pskc-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-pskc-key"]',
  ...SECRET_FIELDS.flatMap((f) => [f, `body.${f}`, `req.body.${f}`, `*.${f}`]),
  'body.tokens[*].keyHex',
  'req.body.tokens[*].keyHex',
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, destination ?? pino.destination(1));
}
