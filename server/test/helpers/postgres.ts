/**
 * PostgreSQL for tests: the server's URL (KODEVISER_TEST_PG_URL, default the local trust-auth
 * `test` database), a reachability check that answers within ~2 s, and a schema of its own per
 * test — CREATE SCHEMA kv_<random>, reached through the connection's
 * `options=-c search_path=…` — dropped when the test ends, so runs never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import type { TapLike } from './db.js';

export const PG_URL = process.env.KODEVISER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL without its password, to name the server in a skip message. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  u.password = '';
  return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

/** null when PostgreSQL at `url` answers `SELECT 1` within `timeoutMs`, else why not. */
export async function postgresUnreachable(url: string = PG_URL, timeoutMs = 2000): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (e) {
    return (e as Error).message || (e as { code?: string }).code || 'connection failed';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The skip message when PostgreSQL at `url` does not answer, else null. */
export async function skipMessage(url: string = PG_URL, what = 'the PostgreSQL suite skipped'): Promise<string | null> {
  const why = await postgresUnreachable(url);
  return why === null ? null : `PostgreSQL not reachable at ${displayUrl(url)} (${why}): ${what}`;
}

/**
 * Resolves true when PostgreSQL answers; otherwise records a plainly named skipped test on `t`
 * and resolves false, so the caller leaves its PostgreSQL tests out and the rest runs on.
 */
export async function requirePostgres(t: Test, url: string = PG_URL, what?: string): Promise<boolean> {
  const message = await skipMessage(url, what);
  if (message !== null) void t.skip(message, () => undefined);
  return message === null;
}

/** `url` with the connection's search_path set to `schema` (and nothing else changed). */
export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** A fresh schema, dropped at teardown; returns the URL whose connections work in it. */
export async function tempSchema(t: TapLike, url: string = PG_URL): Promise<{ schema: string; url: string }> {
  const schema = `kv_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const drop = new pg.Client({ connectionString: url });
    await drop.connect();
    try {
      await drop.query(`DROP SCHEMA ${schema} CASCADE`);
    } finally {
      await drop.end();
    }
  });
  return { schema, url: withSearchPath(url, schema) };
}
