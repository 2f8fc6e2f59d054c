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
}

export function bearerAuth({ adminToken, serviceToken, credentialOf }: BearerAuthOptions): BearerAuth {
  const admin = digest(adminToken);
  const service = serviceToken === null ? null : digest(serviceToken);

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
        const token = presented(request);
        if (token === null) return done(refuse());
        if (!token.startsWith(CREDENTIAL_TOKEN_PREFIX)) {
          const who = configured(token);
          if (who === null || !admits.has(who.role)) return done(refuse());
          request.principal = who;
          return done();
        }
        credentialOf(token).then(
          (who) => {
            if (who === null || !admits.has(who.role)) return done(refuse());
            request.principal = who;
            done();
          },
          (e: unknown) => done(e as Error),
        );
      };
    },
  };
}
