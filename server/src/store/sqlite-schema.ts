/**
 * The SQLite schema as numbered migrations, applied in order, each in its own transaction and
 * recorded in schema_migrations, so a database file of an older server is brought forward when a
 * newer one opens it (the way Rails, Flyway and node-pg-migrate keep a version table). Never edit
 * a migration that has shipped: append one.
 *
 * Rules the database itself enforces, so no code path can break them:
 * - one active token per user: a partial unique index on assignments(user_id) WHERE active = 1;
 * - one user per token: assignments.serial is the primary key;
 * - the audit log is append-only: triggers abort any UPDATE or DELETE on it;
 * - a token's status is one of three.
 *
 * The audit log of one token is a chain (migration 3): audit.prev_id points at the token's
 * previous row and tokens.last_audit_id at its newest. A row joins its token's chain when the
 * token exists and the row names no user or the token's user (a token is bound to one user, ever:
 * assignments.serial is the key); the other rows (an unknown serial, another user's attempt, a
 * user event with no token) are indexed by the partial indexes audit_unchained_by_*.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tokens, users, assignments, audit',
    sql: `
      CREATE TABLE tokens (
        serial                TEXT    PRIMARY KEY,
        profile               TEXT    NOT NULL,
        digits                INTEGER NOT NULL,
        step                  INTEGER NOT NULL,
        t0                    INTEGER NOT NULL,
        seed_ciphertext       BLOB    NOT NULL,
        seed_nonce            BLOB    NOT NULL,
        key_version           INTEGER NOT NULL,
        status                TEXT    NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'locked', 'revoked')),
        last_moving_factor    INTEGER NOT NULL,
        drift                 INTEGER NOT NULL DEFAULT 0,
        failures              INTEGER NOT NULL DEFAULT 0,
        blocked_until         INTEGER,
        pending_moving_factor INTEGER,
        pending_at            INTEGER,
        imported_at           INTEGER NOT NULL,
        last_used_at          INTEGER
      ) WITHOUT ROWID;

      CREATE TABLE users (
        user_id       TEXT    PRIMARY KEY,
        password_hash TEXT    NOT NULL,
        updated_at    INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE assignments (
        serial         TEXT    PRIMARY KEY REFERENCES tokens (serial),
        user_id        TEXT    NOT NULL REFERENCES users (user_id),
        active         INTEGER NOT NULL CHECK (active IN (0, 1)),
        activated_at   INTEGER NOT NULL,
        deactivated_at INTEGER
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX one_active_token_per_user ON assignments (user_id) WHERE active = 1;

      CREATE TABLE audit (
        id            INTEGER PRIMARY KEY, -- no AUTOINCREMENT needed: rows are never deleted, so ids only grow
        at            INTEGER NOT NULL,
        type          TEXT    NOT NULL,
        serial        TEXT,
        user_id       TEXT,
        ip            TEXT,
        actor         TEXT,
        reason        TEXT,
        moving_factor INTEGER
      );
      CREATE INDEX audit_by_serial ON audit (serial, id) WHERE serial IS NOT NULL;
      CREATE INDEX audit_by_user ON audit (user_id, id) WHERE user_id IS NOT NULL;
      CREATE INDEX audit_by_time ON audit (at);
      CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    // A totp token's clock as an offset in ms and a rate in ppm (domain/policy.ts). A whole-step
    // drift d was measured as the token's step minus the server's, so the offset it stands for
    // is d steps (the window it gave is then exactly the old one); no rate yet, and no rate
    // variance: the first accept measures the offset anew and learns no rate from this estimate.
    // `drift` stays, still written in whole steps, so the previous server can run on this file.
    version: 2,
    name: 'tokens: clock offset (ms) and rate (ppm)',
    sql: `
      ALTER TABLE tokens ADD COLUMN drift_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tokens ADD COLUMN drift_ppm REAL NOT NULL DEFAULT 0;
      ALTER TABLE tokens ADD COLUMN drift_ppm_var REAL;
      UPDATE tokens SET drift_ms = drift * step * 1000 WHERE drift <> 0;
    `,
  },
  {
    version: 3,
    name: 'audit rows chained per token instead of indexed by serial and user',
    // Every accept used to insert into two indexes keyed by serial and by user: a random page of
    // each dirtied per request, each written to the log at commit (two write syscalls per page)
    // and copied back at checkpoint; half of an accept's write cost, measured. A token's audit
    // rows are now a chain instead: each row points at the token's previous row, and the token
    // row, which an accept rewrites anyway, points at the newest. Rows that cannot join a chain
    // (no such token, or a user other than the token's) keep small partial indexes.
    sql: `
      ALTER TABLE audit ADD COLUMN chained INTEGER NOT NULL DEFAULT 0 CHECK (chained IN (0, 1));
      ALTER TABLE audit ADD COLUMN prev_id INTEGER;
      ALTER TABLE tokens ADD COLUMN last_audit_id INTEGER;
      CREATE INDEX assignments_by_user ON assignments (user_id);

      DROP TRIGGER audit_is_append_only_update;
      UPDATE audit SET chained = 1
        WHERE serial IN (SELECT serial FROM tokens)
          AND (user_id IS NULL OR user_id = (SELECT a.user_id FROM assignments a WHERE a.serial = audit.serial));
      UPDATE audit SET prev_id = (SELECT max(b.id) FROM audit b WHERE b.serial = audit.serial AND b.chained = 1 AND b.id < audit.id)
        WHERE chained = 1;
      CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      UPDATE tokens SET last_audit_id = (SELECT max(id) FROM audit WHERE audit.serial = tokens.serial AND audit.chained = 1);

      DROP INDEX audit_by_serial;
      DROP INDEX audit_by_user;
      CREATE INDEX audit_unchained_by_serial ON audit (serial, id) WHERE chained = 0 AND serial IS NOT NULL;
      CREATE INDEX audit_unchained_by_user ON audit (user_id, id) WHERE chained = 0 AND user_id IS NOT NULL;
    `,
  },
];

/** Applies the migrations `db` has not seen; returns the versions applied. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const done = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
