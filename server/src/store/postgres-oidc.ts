/**
 * The OpenID provider's entries in the PostgreSQL store (types.ts OidcStore; oidc-rows.ts says how
 * they are kept): each call one statement on the pool, so every instance over the database sees
 * what another committed as soon as its call resolved. A replace is one INSERT … ON CONFLICT, so
 * two instances replacing one entry at once leave one of the two, whole.
 */
import type pg from 'pg';
import { OIDC_ENTRY_COLUMNS, OIDC_SWEEP_CHUNK, oidcEntryOf, oidcListed, oidcValues, storedKey, type OidcRow } from './oidc-rows.js';
import { stmt } from './postgres-sql.js';
import type { OidcStore } from './types.js';

const LIVE = '(expires_at IS NULL OR expires_at > $3)';

const sql = {
  // $1 model … $7 expires_at (oidcValues), $8 now. A replaced entry keeps when it was created,
  // unless it had expired (then it is a new one).
  upsert: stmt(
    'oidc_upsert',
    `INSERT INTO oidc_entries (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)
    ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
      user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL,
      created_at = CASE WHEN oidc_entries.expires_at <= excluded.created_at THEN excluded.created_at ELSE oidc_entries.created_at END`,
  ),
  find: stmt('oidc_find', `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = $1 AND id = $2 AND ${LIVE}`),
  byUid: stmt(
    'oidc_by_uid',
    `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = $1 AND uid = $2 AND ${LIVE}
    ORDER BY created_at DESC, seq DESC LIMIT 1`,
  ),
  byUserCode: stmt(
    'oidc_by_user_code',
    `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = $1 AND user_code = $2 AND ${LIVE}
    ORDER BY created_at DESC, seq DESC LIMIT 1`,
  ),
  consume: stmt('oidc_consume', 'UPDATE oidc_entries SET consumed_at = $3 WHERE model = $1 AND id = $2'),
  destroy: stmt('oidc_destroy', 'DELETE FROM oidc_entries WHERE model = $1 AND id = $2'),
  revoke: stmt('oidc_revoke', 'DELETE FROM oidc_entries WHERE grant_id = $1'),
  list: stmt(
    'oidc_list',
    `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = $1 AND (expires_at IS NULL OR expires_at > $2)
    ORDER BY created_at, seq`,
  ),
  // Rows another transaction holds (an instance sweeping at the same time, a replace) are left to
  // it or to the next sweep: two sweeps never wait for each other, nor deadlock.
  sweep: stmt(
    'oidc_sweep',
    `DELETE FROM oidc_entries WHERE (model, id) IN (
      SELECT model, id FROM oidc_entries WHERE expires_at <= $1 LIMIT ${OIDC_SWEEP_CHUNK} FOR UPDATE SKIP LOCKED)`,
  ),
};

/** `run` is the store's: refused once closed, tracked for close(), the driver's errors as the store's. */
export function createPostgresOidc(pool: pg.Pool, run: <T>(op: () => Promise<T>) => Promise<T>): OidcStore {
  const one = async (query: pg.QueryConfig) => oidcEntryOf((await pool.query<OidcRow>(query)).rows[0]);
  return {
    async upsert(model, id, payload, expiresAt) {
      // Serialised before anything is sent: a payload JSON cannot hold fails its caller alone.
      const values = oidcValues(model, id, payload, expiresAt);
      await run(() => pool.query(sql.upsert(...values, Date.now())));
    },
    find: (model, id, now) => run(() => one(sql.find(storedKey(model), storedKey(id), now))),
    findBy: (model, field, value, now) =>
      run(() => one((field === 'uid' ? sql.byUid : sql.byUserCode)(storedKey(model), storedKey(value), now))),
    consume: async (model, id, at) => {
      await run(() => pool.query(sql.consume(storedKey(model), storedKey(id), at)));
    },
    destroy: async (model, id) => {
      await run(() => pool.query(sql.destroy(storedKey(model), storedKey(id))));
    },
    revokeByGrantId: async (grantId) => {
      await run(() => pool.query(sql.revoke(storedKey(grantId))));
    },
    list: (model, now) => run(async () => (await pool.query<OidcRow>(sql.list(storedKey(model), now))).rows.map(oidcListed)),
    // A chunk per statement (each its own transaction), as the audit log is pruned.
    async sweep(now) {
      let deleted = 0;
      for (;;) {
        const n = await run(async () => (await pool.query(sql.sweep(now))).rowCount ?? 0);
        deleted += n;
        if (n < OIDC_SWEEP_CHUNK) return deleted;
      }
    },
  };
}
