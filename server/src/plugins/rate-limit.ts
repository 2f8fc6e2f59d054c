/**
 * Rate limits (@fastify/rate-limit): one per client IP on every route, and one per user (perUserKey)
 * on the routes that check a user's code. Counted in memory, per instance — or, with REDIS_URL, in the plugin's
 * Redis store (one Lua INCR+PEXPIRE per request), so that several instances behind a load
 * balancer share one count. Should Redis stop answering, requests pass unlimited rather than
 * fail (skipOnError): these limits are about volume, and the defence against guessing — the
 * block after three wrong codes — lives in the database and holds regardless. The per-user one is keyed
 * on the parsed body, so it runs as a preHandler; it uses the plugin's manual limiter
 * (createRateLimit) because the plugin's hook-style limiter runs at most once per request, and
 * the per-IP limit has already run by then. Both answer 429 `{error:"rate-limited"}` with
 * Retry-After. These limits are about volume; the service's block after three wrong codes is
 * about guessing and is separate.
 */
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { RateLimitConfig } from '../config.js';
import { HttpError } from './errors.js';
import { secretDigest } from '../security/secret-digest.js';

function refusal(ttlInSeconds: number, what: string): HttpError {
  const seconds = Math.max(1, ttlInSeconds);
  return new HttpError(429, 'rate-limited', `too many requests ${what}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * What a per-user limit counts on: the user ID; for a request that names none, the device it is
 * about (activation), else the proof it spends (reset), as a digest (a proof id is a secret, and
 * the key goes to Redis).
 */
function perUserKey(request: FastifyRequest): string {
  const body = (request.body ?? {}) as { userId?: unknown; serial?: unknown; proofId?: unknown };
  if (typeof body.userId === 'string') return `user:${body.userId}`;
  if (typeof body.serial === 'string') return `serial:${body.serial.replace(/-/g, '')}`;
  return `proof:${typeof body.proofId === 'string' ? secretDigest(body.proofId) : ''}`;
}

/** Registers the per-IP limit; returns the per-userId limiter (null when it is off). */
export async function installRateLimits(app: FastifyInstance, limits: RateLimitConfig): Promise<preHandlerHookHandler | null> {
  // The settings @fastify/rate-limit recommends: a limiter must not hold a request up for long.
  const redis = limits.redisUrl ? new Redis(limits.redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1 }) : undefined;
  if (redis) {
    redis.on('error', (e: Error) => app.log.warn({ err: { type: e.name, message: e.message } }, 'rate-limit Redis unavailable'));
    // disconnect, not quit: quit would wait for a Redis that is down; a count lost at shutdown is harmless.
    app.addHook('onClose', async () => redis.disconnect());
  }
  // A request whose client hung up before its hooks ran has no address (request.ip is undefined
  // once the socket is closed), and the plugin's key generator throws on it: a 500 logged with a
  // stack trace for a reply nobody will read. Refuse it first (app-level hooks run before the
  // plugin's route-level one, with no I/O in between, so the socket cannot close in the gap).
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.ip === undefined) {
      done(new HttpError(400, 'bad-request', 'the client closed the connection'));
      return;
    }
    done();
  });
  await app.register(rateLimit, {
    ...(redis ? { redis, nameSpace: 'kodeviser-rate-limit:', skipOnError: true } : {}),
    global: limits.perIp > 0,
    max: limits.perIp,
    timeWindow: limits.windowMs,
    errorResponseBuilder: (_request, context) => refusal(Math.ceil(context.ttl / 1000), 'from this address'),
  });
  if (limits.perUser <= 0) return null;
  const check = app.createRateLimit({
    max: limits.perUser,
    timeWindow: limits.windowMs,
    keyGenerator: perUserKey,
  });
  return async (request) => {
    const r = await check(request);
    if (!r.isAllowed && r.isExceeded) throw refusal(r.ttlInSeconds, 'for this user');
  };
}
