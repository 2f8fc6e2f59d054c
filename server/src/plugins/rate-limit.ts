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
 *
 * A Redis that hangs (stopped, partitioned, swamped) rather than refusing must not hang the
 * requests either: every Redis client here (redisClient) gives each command at most
 * `redisTimeoutMs`, then fails it — and a failure lets the request through (skipOnError).
 */
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_TIMEOUT_MS, type RateLimitConfig } from '../config.js';
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

/**
 * An ioredis client that holds no caller up for longer than about `timeoutMs` (ioredis's own
 * defaults wait forever for a reply: a stopped Redis keeps its TCP connection open and never
 * answers, so neither an error nor skipOnError ever comes):
 *  - connectTimeout: the TCP connect;
 *  - commandTimeout: each command, whether written or queued while (re)connecting, fails with
 *    "Command timed out";
 *  - socketTimeout: a connection on which a command waits that long without a byte in reply is
 *    dropped and reconnected, so the commands after it fail at once (below) instead of each
 *    waiting out its own timeout;
 *  - the offline queue, on at first so that the commands of the first requests wait (at most
 *    the timeout) for the first connection, is switched off once the client has connected or
 *    failed: from then on, while it is not connected, a command fails at once.
 */
export function redisClient(url: string, timeoutMs: number = DEFAULT_REDIS_TIMEOUT_MS): Redis {
  const redis = new Redis(url, {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
  });
  const failFast = (): void => {
    redis.options.enableOfflineQueue = false;
  };
  redis.once('ready', failFast);
  redis.once('error', failFast);
  return redis;
}

/**
 * Registers the per-IP limit; returns the limiter of the routes that hash a password (per IP and
 * per user; null when both are off).
 */
export async function installRateLimits(app: FastifyInstance, limits: RateLimitConfig): Promise<preHandlerHookHandler | null> {
  // A limiter must not hold a request up for long: see redisClient.
  const redis = limits.redisUrl ? redisClient(limits.redisUrl, limits.redisTimeoutMs) : undefined;
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
  // The routes that hash a password (a login, an activation, a self proof, a password change or
  // reset) cost ~100 ms of a hashing thread each: per address, no more of them than the hashing
  // capacity can serve (default 30 a minute: a person or a test suite is never stopped by it).
  const loginsPerIp = limits.perIp > 0 ? (limits.loginsPerIp ?? DEFAULT_LOGINS_PER_IP) : 0;
  const perIp =
    loginsPerIp > 0
      ? app.createRateLimit({ max: loginsPerIp, timeWindow: limits.windowMs, keyGenerator: (request) => `login:${request.ip}` })
      : null;
  const perUser =
    limits.perUser > 0 ? app.createRateLimit({ max: limits.perUser, timeWindow: limits.windowMs, keyGenerator: perUserKey }) : null;
  if (perIp === null && perUser === null) return null;
  return async (request) => {
    if (perIp !== null) {
      const r = await perIp(request);
      if (!r.isAllowed && r.isExceeded) throw refusal(r.ttlInSeconds, 'of this kind from this address');
    }
    if (perUser !== null) {
      const r = await perUser(request);
      if (!r.isAllowed && r.isExceeded) throw refusal(r.ttlInSeconds, 'for this user');
    }
  };
}

/** Logins (and the other routes that hash a password) a minute per client address. */
export const DEFAULT_LOGINS_PER_IP = 30;

/** Orders (POST /v1/orders) an hour per client address, by default. */
export const DEFAULT_ORDERS_PER_IP = 30;
export const ORDERS_WINDOW_MS = 3_600_000;

/**
 * The limit of POST /v1/orders, an onRequest hook (its body is not read when over it): orders an
 * hour per client address, counted where the other limits are (Redis when configured). Anyone may
 * order, and an anonymous order costs nothing until it is paid, so an address that orders more
 * than a household would is refused (429 with Retry-After). Null when it is off (0, or the per-IP
 * limit off).
 */
export function ordersLimit(app: FastifyInstance, limits: RateLimitConfig): onRequestHookHandler | null {
  const max = limits.perIp > 0 ? (limits.ordersPerIp ?? DEFAULT_ORDERS_PER_IP) : 0;
  if (max === 0) return null;
  const limiter = app.createRateLimit({ max, timeWindow: ORDERS_WINDOW_MS, keyGenerator: (request) => `orders:${request.ip}` });
  return async (request) => {
    const r = await limiter(request);
    if (!r.isAllowed && r.isExceeded) throw refusal(r.ttlInSeconds, 'of orders from this address');
  };
}
