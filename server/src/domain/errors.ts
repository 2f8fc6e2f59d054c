/**
 * Errors of admin requests that cannot apply, coded like Node's and KodeviserError: routes branch
 * on `code` (ERR_DUPLICATE_SERIAL → 409, ERR_UNKNOWN_TOKEN → 404, ERR_TOKEN_STATE → 409,
 * ERR_UNKNOWN_CREDENTIAL → 404, ERR_WEAK_PASSWORD → 400, ERR_SEED → 500). Bad arguments throw KodeviserError from
 * @kodeviser/shared (→ 400).
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
  | 'ERR_STORE_CLOSED';

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

export function isServiceError(e: unknown): e is ServiceError {
  return e instanceof ServiceError;
}
