/**
 * Bearer-token checks (RFC 6750 §2.1 `Authorization: Bearer`): each route names the roles it
 * admits, and the request's principal (who the token is, for the audit log) is set on the request.
 *
 * The configured admin and service tokens are compared in constant time: both sides are MACed
 * (HMAC-SHA-256) first so that the comparison (crypto.timingSafeEqual) runs over equal lengths
 * and the time taken does not even reveal a configured token's length. A credential's token
 * (domain/credentials.ts: `kvc_` and 256 random bits) is looked up by its hash instead. A failure
 * is a 401 with `WWW-Authenticate: Bearer` and the same message whether the header was missing,
 * malformed, wrong, expired, revoked or of a role the route does not admit.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createHmac } from '@kodeviser/shared';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { CREDENTIAL_TOKEN_PREFIX, type Principal } from '../domain/credentials.js';
import { HttpError } from './errors.js';
import { LRUCache } from 'lru-cache';
import type { SharedState } from '../security/shared-state.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token is, on routes that require one; null elsewhere. */
    principal: Principal | null;
  }
}

export type Role = Principal['role'];

// Keyed with a random key of this process: HMAC-SHA-256 (RFC 2104) from the shared core rather
// than node:crypto's SHA-256, because createHash makes a native object per call (an OpenSSL
// context behind a weak handle, which the garbage collector must then finalise): ~5 µs of every
// /v1/validate in a profile, against ~1 µs for the core's HMAC, whose padded key states are
// computed once.
const keyed = createHmac('sha256', randomBytes(32));
function digest(token: string): Uint8Array {
  return keyed.mac(Buffer.from(token, 'utf8'));
}

const ADMIN: Principal = Object.freeze({ role: 'admin', actor: 'admin' });
const SERVICE: Principal = Object.freeze({ role: 'service', actor: 'service' });

export interface BearerAuth {
  /** An onRequest hook admitting a bearer of one of `roles`. */
  require(...roles: Role[]): onRequestHookHandler;
}

export interface BearerAuthOptions {
  adminToken: string;
  serviceToken: string | null;
  /** The credential a `kvc_` token is, while usable (domain/credentials.ts principalOf). */
  credentialOf(token: string): Promise<Principal | null>;
  /**
   * At most `limit` failed bearer tokens per client IP in a window of `windowMs` (counted in
   * `state`, shared by the instances when it is Redis); beyond, the address is refused (429)
   * for the rest of the window without its tokens being looked at. Absent: no limit.
   */
  failures?: { limit: number; windowMs: number; state: SharedState };
}

interface FailureWindow {
  start: number;
  count: number;
}

export function bearerAuth({ adminToken, serviceToken, credentialOf, failures }: BearerAuthOptions): BearerAuth {
  const admin = digest(adminToken);
  const service = serviceToken === null ? null : digest(serviceToken);
  // The addresses over the limit, and until when: looked up in this process on every request, so
  // that /v1/validate pays no round trip to Redis (an instance learns of an address at its first
  // failure there).
  const refusedUntil = new LRUCache<string, number>({ max: 100_000 });
  const tooMany = (until: number): HttpError => {
    const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    return new HttpError(429, 'rate-limited', `too many failed bearer tokens from this address; retry in ${seconds} s`, {
      'retry-after': String(seconds),
    });
  };
  /** A failed bearer token: counted; the answer is 401, or 429 once the address is over the limit. */
  const failed = (request: FastifyRequest, done: (e: Error) => void): void => {
    if (failures === undefined) return done(refuse());
    const { limit, windowMs, state } = failures;
    const now = Date.now();
    state
      .update<FailureWindow, FailureWindow>(`bearer:${request.ip}`, (current) => {
        const w = current === null || current.start + windowMs <= now ? { start: now, count: 1 } : { ...current, count: current.count + 1 };
        return { value: w, ttlMs: w.start + windowMs - now, result: w };
      })
      .then(
        (w) => {
          if (w.count <= limit) return done(refuse());
          refusedUntil.set(request.ip, w.start + windowMs);
          done(tooMany(w.start + windowMs));
        },
        () => done(refuse()),
      );
  };

  const presented = (request: FastifyRequest): string | null => {
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    return m?.[1] ?? null;
  };
  const refuse = (): HttpError =>
    new HttpError(401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer …)', {
      'www-authenticate': 'Bearer realm="kodeviser"',
    });
  /** The configured token `token` is, comparing with both always, so timing does not tell which was tried. */
  const configured = (token: string): Principal | null => {
    const got = digest(token);
    const isAdmin = timingSafeEqual(got, admin);
    const isService = service !== null && timingSafeEqual(got, service);
    return isAdmin ? ADMIN : isService ? SERVICE : null;
  };

  return {
    require(...roles) {
      const admits = new Set<Role>(roles);
      // A callback hook rather than an async one: /v1/validate runs one on every request, and an
      // async hook costs a promise and a microtask turn each time; only credentials need the store.
      return (request, _reply, done) => {
        if (failures !== undefined && refusedUntil.size > 0) {
          const until = refusedUntil.get(request.ip);
          if (until !== undefined && until > Date.now()) return done(tooMany(until));
        }
        const token = presented(request);
        if (token === null) return done(refuse());
        // A token that is no one's is counted (a guess); a real one of another role is not.
        if (!token.startsWith(CREDENTIAL_TOKEN_PREFIX)) {
          const who = configured(token);
          if (who === null) return failed(request, done);
          if (!admits.has(who.role)) return done(refuse());
          request.principal = who;
          return done();
        }
        credentialOf(token).then(
          (who) => {
            if (who === null) return failed(request, done);
            if (!admits.has(who.role)) return done(refuse());
            request.principal = who;
            done();
          },
          (e: unknown) => done(e as Error),
        );
      };
    },
  };
}
