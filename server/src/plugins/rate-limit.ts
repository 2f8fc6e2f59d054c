/**
 * Rate limits (@fastify/rate-limit, in-memory store; a shared Redis store can come later): one per
 * client IP on every route, and one per userId on activate/authenticate. The per-user one is keyed
 * on the parsed body, so it runs as a preHandler; it uses the plugin's manual limiter
 * (createRateLimit) because the plugin's hook-style limiter runs at most once per request, and
 * the per-IP limit has already run by then. Both answer 429 `{error:"rate-limited"}` with
 * Retry-After. These limits are about volume; the service's block after three wrong codes is
 * about guessing and is separate.
 */
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { RateLimitConfig } from '../config.js';
import { HttpError } from './errors.js';

function refusal(ttlInSeconds: number, what: string): HttpError {
  const seconds = Math.max(1, ttlInSeconds);
  return new HttpError(429, 'rate-limited', `too many requests ${what}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/** Registers the per-IP limit; returns the per-userId limiter (null when it is off). */
export async function installRateLimits(app: FastifyInstance, limits: RateLimitConfig): Promise<preHandlerHookHandler | null> {
  await app.register(rateLimit, {
    global: limits.perIp > 0,
    max: limits.perIp,
    timeWindow: limits.windowMs,
    errorResponseBuilder: (_request, context) => refusal(Math.ceil(context.ttl / 1000), 'from this address'),
  });
  if (limits.perUser <= 0) return null;
  const check = app.createRateLimit({
    max: limits.perUser,
    timeWindow: limits.windowMs,
    keyGenerator: (request: FastifyRequest) => `user:${(request.body as { userId?: unknown } | undefined)?.userId as string}`,
  });
  return async (request) => {
    const r = await check(request);
    if (!r.isAllowed && r.isExceeded) throw refusal(r.ttlInSeconds, 'for this user');
  };
}
