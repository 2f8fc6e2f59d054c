/**
 * The pages' own cookies: small JSON values signed by @fastify/cookie (HMAC-SHA-256 under a key
 * derived from the master key, so every instance reads every other's), each with its expiry
 * inside, always HttpOnly and Secure when the request came over TLS (directly or as the trusted
 * proxy says). SameSite is each cookie's: Lax for the login interaction, which a relying party's
 * cross-site redirect must carry; Strict for everything else.
 */
import { hkdfSync } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The cookie-signing key: HKDF-SHA-256 (RFC 5869) of the master key, for this use only. */
export function cookieKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), 'kodeviser pages cookies v1', 32));
}

export interface SignedCookie {
  name: string;
  path: string;
  sameSite: 'lax' | 'strict';
  /** how long it holds, ms */
  ttlMs: number;
}

/** Sets `cookie` to `value` until now + ttl. */
export function setSigned(reply: FastifyReply, cookie: SignedCookie, value: object, now: number): void {
  const text = Buffer.from(JSON.stringify({ ...value, exp: now + cookie.ttlMs })).toString('base64url');
  reply.setCookie(cookie.name, text, {
    path: cookie.path,
    sameSite: cookie.sameSite,
    httpOnly: true,
    secure: 'auto',
    signed: true,
    maxAge: Math.ceil(cookie.ttlMs / 1000),
  });
}

/** The value `cookie` holds, when it is ours (its signature checks) and has not expired; else null. */
export function readSigned<T extends object>(request: FastifyRequest, cookie: SignedCookie, now: number): T | null {
  const raw = request.cookies[cookie.name];
  if (raw === undefined) return null;
  const { valid, value } = request.unsignCookie(raw);
  if (!valid || value === null) return null;
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as T & { exp?: unknown };
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.exp !== 'number' || parsed.exp <= now) return null;
    return parsed;
  } catch {
    return null;
  }
}

export function clearSigned(reply: FastifyReply, cookie: SignedCookie): void {
  reply.clearCookie(cookie.name, { path: cookie.path, sameSite: cookie.sameSite, httpOnly: true, secure: 'auto' });
}
