/**
 * Coded errors, as Node and fastify do it: callers branch on `code`, people read `message`.
 * Every message names the argument that was wrong, so a one-line CLI error or an HTTP 400 body
 * can be built from it without a stack trace.
 */
export type KodeviserErrorCode =
  | 'ERR_UNKNOWN_PROFILE'
  | 'ERR_KEY_LENGTH'
  | 'ERR_DIGITS'
  | 'ERR_MOVING_FACTOR'
  | 'ERR_ARGUMENT'
  | 'ERR_SERIAL'
  | 'ERR_PSKC'
  | 'ERR_PSKC_MAC'
  | 'ERR_PSKC_DECRYPT';

export class KodeviserError extends Error {
  readonly code: KodeviserErrorCode;
  constructor(code: KodeviserErrorCode, message: string) {
    super(message);
    this.name = 'KodeviserError';
    this.code = code;
  }
}

export function isKodeviserError(e: unknown): e is KodeviserError {
  return e instanceof KodeviserError;
}
