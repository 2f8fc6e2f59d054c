/**
 * Small state kept where the rate limits are, not in the database: what a user ID without a device
 * has been sent (domain/guessing.ts), and the failed bearer tokens of a client. In memory (one
 * instance), or in Redis when REDIS_URL is set, so that every instance agrees.
 *
 * In memory it is an LRU of a bounded number of keys (default 200 000): to push one key out, an
 * attacker must send that many requests naming other keys, which the per-IP limit (3000 a minute
 * by default) stretches over more than an hour from one address. In Redis each key expires when
 * its state stops mattering.
 */
import { LRUCache } from 'lru-cache';
import type { Redis } from 'ioredis';

export interface SharedState {
  get<T>(key: string): Promise<T | null>;
  /**
   * Replaces `key`'s value with what `fn` makes of the current one, as one step: no other update
   * of the key comes between the read and the write (`fn` may run again, on a newer value).
   * `ttlMs` null: kept for good (in memory, until pushed out).
   */
  update<T, R>(key: string, fn: (current: T | null) => { value: T; ttlMs: number | null; result: R }): Promise<R>;
}

export function memoryState(max = 200_000): SharedState {
  const values = new LRUCache<string, { json: string }>({ max, ttlAutopurge: false });
  return {
    async get<T>(key: string): Promise<T | null> {
      const v = values.get(key);
      return v === undefined ? null : (JSON.parse(v.json) as T);
    },
    // Synchronous from the read to the write: nothing else runs in between.
    async update<T, R>(key: string, fn: (current: T | null) => { value: T; ttlMs: number | null; result: R }): Promise<R> {
      const v = values.get(key);
      const next = fn(v === undefined ? null : (JSON.parse(v.json) as T));
      values.set(key, { json: JSON.stringify(next.value) }, next.ttlMs === null ? {} : { ttl: Math.max(1, next.ttlMs) });
      return next.result;
    },
  };
}

// Compare and set: the write happens only when the value is still the one read (or still absent).
const CAS = `
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
  return 1
end
return 0`;

export function redisState(redis: Redis, prefix = 'kodeviser-state:'): SharedState {
  return {
    async get<T>(key: string): Promise<T | null> {
      const json = await redis.get(prefix + key);
      return json === null ? null : (JSON.parse(json) as T);
    },
    async update<T, R>(key: string, fn: (current: T | null) => { value: T; ttlMs: number | null; result: R }): Promise<R> {
      for (let attempt = 0; ; attempt++) {
        const json = await redis.get(prefix + key);
        const next = fn(json === null ? null : (JSON.parse(json) as T));
        const ttl = next.ttlMs === null ? '' : String(Math.max(1, Math.ceil(next.ttlMs)));
        const set = (await redis.eval(CAS, 1, prefix + key, json ?? '', JSON.stringify(next.value), ttl)) as number;
        if (set === 1) return next.result;
        if (attempt >= 100) throw new Error(`shared state ${key}: 100 concurrent updates in a row`);
      }
    },
  };
}

/**
 * `primary`, or `fallback` while `primary` fails (a Redis that stopped answering): these states
 * are about guessing, and a request must not fail for them; each instance then counts alone.
 * A Redis that hangs rather than fails is made to fail by its client's timeouts (redisClient in
 * plugins/rate-limit.ts): no command waits longer than KODEVISER_REDIS_TIMEOUT_MS.
 */
export function withFallback(primary: SharedState, fallback: SharedState, onError: (e: Error) => void): SharedState {
  return {
    get: <T>(key: string) =>
      primary.get<T>(key).catch((e: Error) => {
        onError(e);
        return fallback.get<T>(key);
      }),
    update: <T, R>(key: string, fn: (current: T | null) => { value: T; ttlMs: number | null; result: R }) =>
      primary.update<T, R>(key, fn).catch((e: Error) => {
        onError(e);
        return fallback.update<T, R>(key, fn);
      }),
  };
}
