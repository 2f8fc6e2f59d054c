/**
 * Errors of admin requests that cannot apply, coded like Node's and KodeviserError: routes branch
 * on `code` (ERR_DUPLICATE_SERIAL → 409, ERR_UNKNOWN_TOKEN → 404, ERR_TOKEN_STATE → 409,
 * ERR_UNKNOWN_CREDENTIAL → 404, ERR_WEAK_PASSWORD → 400, ERR_SEED → 500, ERR_UNAVAILABLE → 503). Bad arguments
 * throw KodeviserError from @kodeviser/shared (→ 400).
 */
export type ServiceErrorCode =
  | 'ERR_DUPLICATE_SERIAL'
  | 'ERR_UNKNOWN_TOKEN'
  | 'ERR_TOKEN_STATE'
  | 'ERR_UNKNOWN_CREDENTIAL'
  | 'ERR_WEAK_PASSWORD'
  | 'ERR_NOT_REPLACED'
  | 'ERR_TOO_LATE'
  | 'ERR_UNKNOWN_USER'
  | 'ERR_SEED'
  | 'ERR_STORE_CLOSED'
  | 'ERR_BUSY'
  | 'ERR_UNAVAILABLE';

export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  /** The token the error is about, when there is one. */
  readonly serial: string | undefined;
  constructor(code: ServiceErrorCode, message: string, serial?: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.serial = serial;
  }
}

export class DuplicateSerialError extends ServiceError {
  constructor(serial: string) {
    super('ERR_DUPLICATE_SERIAL', `serial ${serial} is already imported`, serial);
    this.name = 'DuplicateSerialError';
  }
}

/**
 * The database cannot serve the request now, for a reason that may pass: its write lock held by
 * another process past the busy or lock timeout, a statement past its timeout, the disk full, the
 * file read-only, an I/O error, the connection lost (ERR_UNAVAILABLE, answered 503 with
 * Retry-After). `cause` is the driver's error, for the log; the message names the condition only.
 */
export class StoreUnavailableError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super('ERR_UNAVAILABLE', message);
    this.name = 'StoreUnavailableError';
    if (cause !== undefined) this.cause = cause;
  }
}

export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof ServiceError;
}
