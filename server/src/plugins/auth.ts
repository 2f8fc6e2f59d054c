/**
 * Bearer-token checks for the admin API and /v1/validate (RFC 6750 §2.1 `Authorization: Bearer`).
 * Tokens are compared in constant time: both sides are hashed with SHA-256 first so that the
 * comparison (crypto.timingSafeEqual) runs over equal lengths and the time taken does not even
 * reveal the configured token's length. A failure is a 401 with `WWW-Authenticate: Bearer` and the
 * same message whether the header was missing, malformed or wrong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { HttpError } from './errors.js';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
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

  const presented = (request: FastifyRequest): Buffer | null => {
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
