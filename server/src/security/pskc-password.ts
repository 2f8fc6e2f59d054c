/**
 * Password-protected PSKC documents (RFC 6030 §6.2): the key is PBKDF2 of the password, up to
 * MAX_PBKDF2_ITERATIONS rounds — seconds of CPU that must not stop the event loop. parsePskc
 * defers each derivation it meets; it runs here on libuv's pool (node:crypto's pbkdf2, a second
 * implementation beside @noble/hashes', which the tests compare) and the document is parsed again
 * with the key. One derivation at a time per process, so imports never take the pool from the
 * password hashing of logins (security/password.ts runs two at a time on its four threads).
 */
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { parsePskc, PskcDerivationNeeded, type ParsePskcOptions, type PskcDerivation, type PskcKey } from '@kodeviser/shared/pskc';

const pbkdf2Async = promisify(pbkdf2);
let queue: Promise<unknown> = Promise.resolve();

/** PBKDF2 of `password` as `d` says, on libuv's pool, after the derivations queued before it. */
export function derivePskcKey(password: string, d: PskcDerivation): Promise<Uint8Array> {
  const run = queue.then(async () => new Uint8Array(await pbkdf2Async(password, d.salt, d.iterations, d.keyBytes, d.hash)));
  queue = run.catch(() => undefined);
  return run;
}

/** parsePskc(xml) with `password`, every PBKDF2 derivation run off the event loop. */
export async function parsePskcWithPassword(
  xml: string,
  password: string,
  opts: Omit<ParsePskcOptions, 'password' | 'preSharedKey' | 'derivedKeys' | 'deferDerivation'> = {},
): Promise<PskcKey[]> {
  const derivedKeys = new Map<string, Uint8Array>();
  // Each pass derives one key the document needs (one per cipher key size it uses, three at most).
  for (;;) {
    try {
      return parsePskc(xml, { ...opts, password, derivedKeys, deferDerivation: true });
    } catch (e) {
      if (!(e instanceof PskcDerivationNeeded) || derivedKeys.has(e.id)) throw e;
      derivedKeys.set(e.id, await derivePskcKey(password, e.derivation));
    }
  }
}
