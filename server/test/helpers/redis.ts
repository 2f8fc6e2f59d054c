/**
 * Redis for tests: the server's URL (KODEVISER_TEST_REDIS_URL, default the local one), a
 * reachability check that answers within ~2 s, and a key prefix of its own per test (ioredis
 * reads `keyPrefix` from the URL's query), whose keys are deleted when the test ends.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import type { TapLike } from './db.js';

export const REDIS_URL = process.env.KODEVISER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** null when Redis at `url` answers PING within `timeoutMs`, else why not. */
export async function redisUnreachable(url: string = REDIS_URL, timeoutMs = 2000): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: string | undefined;
  redis.on('error', (e: Error) => (cause ??= e.message));
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (e) {
    // ioredis rejects with "Connection is closed."; the error event said why.
    return cause ?? (e as Error).message;
  } finally {
    redis.disconnect();
  }
}

/** true when Redis answers; otherwise a plainly named skipped test on `t`, and false. */
export async function requireRedis(t: Test, what: string, url: string = REDIS_URL): Promise<boolean> {
  const why = await redisUnreachable(url);
  if (why !== null) void t.skip(`Redis not reachable at ${new URL(url).host} (${why}): ${what} skipped`, () => undefined);
  return why === null;
}

/** A REDIS_URL whose keys all start with a fresh prefix; they are deleted at teardown. */
export function tempRedisUrl(t: TapLike, url: string = REDIS_URL): { url: string; prefix: string } {
  const prefix = `kvtest-${randomBytes(6).toString('hex')}:`;
  t.teardown(async () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });
  const u = new URL(url);
  u.searchParams.set('keyPrefix', prefix);
  return { url: u.toString(), prefix };
}
