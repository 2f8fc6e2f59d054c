/**
 * The OpenID provider's entries in the SQLite store (types.ts OidcStore; oidc-rows.ts says how
 * they are kept): reads through the store's read batching, writes through its group commit, as
 * every other read and write of the store (sqlite.ts).
 */
import type Database from 'better-sqlite3';
import { OIDC_ENTRY_COLUMNS, OIDC_SWEEP_CHUNK, oidcEntryOf, oidcListed, oidcValues, storedKey, type OidcRow } from './oidc-rows.js';
import type { OidcStore } from './types.js';

/** How the store runs a read (batched) and a write (group committed). */
export interface SqliteAccess {
  read<T>(fn: () => T): Promise<T>;
  write<T>(op: () => T): Promise<T>;
}

export function createSqliteOidc(db: Database.Database, { read, write }: SqliteAccess): OidcStore {
  const live = '(expires_at IS NULL OR expires_at > @now)';
  const sql = {
    // A replaced entry keeps when it was created, unless it had expired (then it is a new one).
    upsert: db.prepare(`INSERT INTO oidc_entries (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, NULL, @now)
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
        user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL,
        created_at = CASE WHEN oidc_entries.expires_at <= @now THEN excluded.created_at ELSE oidc_entries.created_at END`),
    find: db.prepare(`SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = @model AND id = @id AND ${live}`),
    byUid: db.prepare(
      `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = @model AND uid = @value AND ${live}
      ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
    byUserCode: db.prepare(
      `SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = @model AND user_code = @value AND ${live}
      ORDER BY created_at DESC, rowid DESC LIMIT 1`,
    ),
    consume: db.prepare('UPDATE oidc_entries SET consumed_at = ? WHERE model = ? AND id = ?'),
    destroy: db.prepare('DELETE FROM oidc_entries WHERE model = ? AND id = ?'),
    revoke: db.prepare('DELETE FROM oidc_entries WHERE grant_id = ?'),
    list: db.prepare(`SELECT ${OIDC_ENTRY_COLUMNS} FROM oidc_entries WHERE model = @model AND ${live} ORDER BY created_at, rowid`),
    sweep: db.prepare(
      `DELETE FROM oidc_entries WHERE rowid IN (SELECT rowid FROM oidc_entries WHERE expires_at <= ? LIMIT ${OIDC_SWEEP_CHUNK})`,
    ),
  };

  return {
    async upsert(model, id, payload, expiresAt) {
      // Serialised before it is queued: a payload JSON cannot hold fails its caller alone.
      const values = oidcValues(model, id, payload, expiresAt);
      await write(() => {
        sql.upsert.run(...values, { now: Date.now() });
      });
    },
    find: (model, id, now) =>
      read(() => oidcEntryOf(sql.find.get({ model: storedKey(model), id: storedKey(id), now }) as OidcRow | undefined)),
    findBy: (model, field, value, now) =>
      read(() =>
        oidcEntryOf(
          (field === 'uid' ? sql.byUid : sql.byUserCode).get({ model: storedKey(model), value: storedKey(value), now }) as
            OidcRow | undefined,
        ),
      ),
    consume: (model, id, at) =>
      write(() => {
        sql.consume.run(at, storedKey(model), storedKey(id));
      }),
    destroy: (model, id) =>
      write(() => {
        sql.destroy.run(storedKey(model), storedKey(id));
      }),
    revokeByGrantId: (grantId) =>
      write(() => {
        sql.revoke.run(storedKey(grantId));
      }),
    list: (model, now) => read(() => (sql.list.all({ model: storedKey(model), now }) as OidcRow[]).map(oidcListed)),
    // A chunk per write, so the group commit's other writes wait for one chunk at most.
    async sweep(now) {
      let deleted = 0;
      for (;;) {
        const n = await write(() => sql.sweep.run(now).changes);
        deleted += n;
        if (n < OIDC_SWEEP_CHUNK) return deleted;
      }
    },
  };
}
