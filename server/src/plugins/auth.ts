/**
 * Bearer-token checks for the admin API and /v1/validate (RFC 6750 §2.1 `Authorization: Bearer`).
 * Tokens are compared in constant time: both sides are MACed (HMAC-SHA-256) first so that the
 * comparison (crypto.timingSafeEqual) runs over equal lengths and the time taken does not even
 * reveal the configured token's length. A failure is a 401 with `WWW-Authenticate: Bearer` and the
 * same message whether the header was missing, malformed or wrong.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createHmac } from '@kodeviser/shared';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { HttpError } from './errors.js';

// Keyed with a random key of this process: HMAC-SHA-256 (RFC 2104) from the shared core rather
// than node:crypto's SHA-256, because createHash makes a native object per call (an OpenSSL
// context behind a weak handle, which the garbage collector must then finalise): ~5 µs of every
// /v1/validate in a profile, against ~1 µs for the core's HMAC, whose padded key states are
// computed once.
const keyed = createHmac('sha256', randomBytes(32));
function digest(token: string): Uint8Array {
  return keyed.mac(Buffer.from(token, 'utf8'));
}

export interface BearerAuth {
  /** onRequest hook: admin token only */
  requireAdmin: onRequestHookHandler;
  /** onRequest hook: admin or service token */
  requireAdminOrService: onRequestHookHandler;
}

export function bearerAuth(adminToken: string, serviceToken: string | null): BearerAuth {
  const admin = digest(adminToken);
  const service = serviceToken === null ? null : digest(serviceToken);

  const presented = (request: FastifyRequest): Uint8Array | null => {
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    return m?.[1] === undefined ? null : digest(m[1]);
  };
  const refuse = (): HttpError =>
    new HttpError(401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer …)', {
      'www-authenticate': 'Bearer realm="kodeviser"',
    });

  // Callback hooks rather than async ones: /v1/validate runs one on every request, and an async
  // hook costs a promise and a microtask turn each time.
  return {
    requireAdmin(request, _reply, done) {
      const got = presented(request);
      done(got === null || !timingSafeEqual(got, admin) ? refuse() : undefined);
    },
    requireAdminOrService(request, _reply, done) {
      const got = presented(request);
      if (got === null) {
        done(refuse());
        return;
      }
      // Both comparisons always run, so timing does not tell which token was tried.
      const isAdmin = timingSafeEqual(got, admin);
      const isService = service !== null && timingSafeEqual(got, service);
      done(!isAdmin && !isService ? refuse() : undefined);
    },
  };
}
