/**
 * Passwords: scrypt (RFC 7914) through node:crypto's asynchronous scrypt, which runs on libuv's
 * thread pool, so a 30–100 ms hash does not stall the event loop that serves validations.
 * Parameters N = 2^15, r = 8, p = 1 (32 MiB, one hash ≈ 50–100 ms on a server core): RFC 7914 §2
 * suggests 2^14 for interactive logins; OWASP's Password Storage Cheat Sheet asks for 2^17
 * (or N = 2^15 with p = 3). We sit between them because every login here also needs a one-time
 * code from a device the attacker must hold, and a login path of 300 ms on two shared cores would
 * invite a cheap denial of service. Raise them with createPasswordHasher(params): the parameters
 * are stored with each hash, `scrypt$N$r$p$salt$hash` (salt and hash
 * base64url), so raising them later does not invalidate existing hashes.
 * Verification compares in constant time (crypto.timingSafeEqual).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { KodeviserError } from '@kodeviser/shared';
import { ServiceError } from '../domain/errors.js';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function checkParams({ N, r, p }: ScryptParams): void {
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0) {
    throw new KodeviserError('ERR_ARGUMENT', `scrypt N must be a power of two above 1, got ${String(N)}`);
  }
  if (!Number.isSafeInteger(r) || r < 1 || !Number.isSafeInteger(p) || p < 1) {
    throw new KodeviserError('ERR_ARGUMENT', 'scrypt r and p must be positive integers');
  }
}

function derive(password: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  // node refuses above maxmem (default 32 MiB); scrypt needs 128·N·r bytes plus a little.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 2 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export interface PasswordHasher {
  readonly params: Readonly<ScryptParams>;
  hash(password: string): Promise<string>;
  /** False for a wrong password or a malformed stored hash. */
  verify(password: string, stored: string): Promise<boolean>;
  /**
   * Spends the time of one verify and answers false: for a login whose user has no password, so
   * the reply time does not tell that the user does not exist.
   */
  verifyNothing(password: string): Promise<false>;
  /** Whether one more call would be refused at once (boundedHasher): a caller may refuse before its other work. */
  saturated?(): boolean;
}

export function createPasswordHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): PasswordHasher {
  checkParams(params);
  const fixed = Object.freeze({ ...params });
  const decoyHash = randomBytes(HASH_BYTES);
  const decoySalt = randomBytes(SALT_BYTES);

  return Object.freeze({
    params: fixed,
    async hash(password: string): Promise<string> {
      if (typeof password !== 'string' || password.length === 0) {
        throw new KodeviserError('ERR_ARGUMENT', 'password must be a non-empty string');
      }
      const salt = randomBytes(SALT_BYTES);
      const key = await derive(password, salt, fixed);
      return `scrypt$${fixed.N}$${fixed.r}$${fixed.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
    },
    async verify(password: string, stored: string): Promise<boolean> {
      const m = FORMAT.exec(stored);
      if (typeof password !== 'string' || !m) return false;
      const stored_ = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
      const expected = Buffer.from(m[5] as string, 'base64url');
      try {
        checkParams(stored_);
      } catch {
        return false;
      }
      const key = await derive(password, Buffer.from(m[4] as string, 'base64url'), stored_);
      return key.length === expected.length && timingSafeEqual(key, expected);
    },
    async verifyNothing(password: string): Promise<false> {
      const key = await derive(String(password), decoySalt, fixed);
      timingSafeEqual(key, decoyHash);
      return false;
    },
  });
}

export interface HashingLimits {
  /** Hashes running at once (default 2 of libuv's 4 threads: the rest stay free for files and DNS). */
  concurrency: number;
  /** Hashes waiting for a turn (default 100); beyond, ERR_BUSY (HTTP 503 with Retry-After). */
  queue: number;
}

/** The refusal of a hash beyond the queue (HTTP 503 busy). */
export const hashingBusy = (): ServiceError => new ServiceError('ERR_BUSY', 'too many logins at once: try again in a moment');

export const DEFAULT_HASHING_LIMITS: Readonly<HashingLimits> = Object.freeze({ concurrency: 2, queue: 100 });

/**
 * `hasher` with its work bounded: at most `concurrency` hashes at once and `queue` waiting, in
 * the order asked; one more is refused at once (ServiceError ERR_BUSY), so that a flood of logins
 * costs a refusal each, not a growing wait for everyone.
 */
export function boundedHasher(hasher: PasswordHasher, limits: HashingLimits = DEFAULT_HASHING_LIMITS): PasswordHasher {
  const { concurrency, queue } = limits;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || !Number.isSafeInteger(queue) || queue < 0) {
    throw new KodeviserError('ERR_ARGUMENT', 'hashing concurrency must be a positive integer and its queue a non-negative one');
  }
  let running = 0;
  const waiting: Array<() => void> = [];
  const turn = async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= concurrency) {
      if (waiting.length >= queue) throw hashingBusy();
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else running++;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next === undefined) running--;
      else next();
    }
  };
  return Object.freeze({
    params: hasher.params,
    hash: (password: string) => turn(() => hasher.hash(password)),
    verify: (password: string, stored: string) => turn(() => hasher.verify(password, stored)),
    verifyNothing: (password: string) => turn(() => hasher.verifyNothing(password)),
    saturated: () => running >= concurrency && waiting.length >= queue,
  });
}
