/**
 * The SQLite schema as numbered migrations, applied in order, each in its own transaction and
 * recorded in schema_migrations, so a database file of an older server is brought forward when a
 * newer one opens it (the way Rails, Flyway and node-pg-migrate keep a version table). Never edit
 * a migration that has shipped: append one.
 *
 * Rules the database itself enforces, so no code path can break them:
 * - one active token per user: a partial unique index on assignments(user_id) WHERE active = 1;
 * - one user per token: assignments.serial is the primary key;
 * - the audit log is append-only: triggers abort any UPDATE, and any DELETE of a row no
 *   checkpoint has archived (migration 11; audit-archive.ts);
 * - a token's status is one of three.
 *
 * The audit log of one token is a chain (migration 3): audit.prev_id points at the token's
 * previous row and tokens.last_audit_id at its newest. A row joins its token's chain when the
 * token exists and the row names no user or the token's user (a token is bound to one user, ever:
 * assignments.serial is the key); the other rows (an unknown serial, another user's attempt, a
 * user event with no token) are indexed by the partial indexes audit_unchained_by_*.
 */
import type Database from 'better-sqlite3';
import { chainHash, GENESIS, type ChainContent } from './audit-chain.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * The migration rebuilds a table that others reference (SQLite's "Making Other Kinds Of Table
   * Schema Changes", ALTER TABLE §7): it runs with foreign keys off, so that dropping the old table
   * neither fails nor cascades, and the references are checked (foreign_key_check) before it commits.
   */
  rebuildsTables?: boolean;
  /** What SQL cannot do, run after `sql` in the same transaction. */
  run?: (db: Database.Database) => void;
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
  {
    version: 4,
    name: 'tokens keyed by the serial as a number (a rowid table)',
    // Version 1 made tokens a WITHOUT ROWID table keyed by the serial's text. Such a table is a
    // B-tree whose interior pages hold whole rows, which SQLite advises against for rows over about
    // 1/20 of a page ("The WITHOUT ROWID Optimization" §4); a token's row is ~95 bytes on 1 KiB
    // pages. With a million tokens that was 15,872 interior pages over 111,111 leaves, 7 levels:
    // every read and every compare-and-set of a validation walked 7 pages, and the interior alone
    // outgrew a useful page cache. Keyed by its rowid, the serial's ten digits as a number, the
    // table has 1,544 interior pages over 125,000 leaves, 4 levels; measured in-process at a
    // million tokens, 4.5 µs less CPU per validation (of ~38). The text serial stays, unique,
    // for the references of assignments and for lookups by join; the CHECK ties the two.
    rebuildsTables: true,
    sql: `
      CREATE TABLE tokens_by_number (
        serial_key            INTEGER PRIMARY KEY,
        serial                TEXT    NOT NULL UNIQUE
                                      CHECK (length(serial) = 10 AND serial NOT GLOB '*[^0-9]*' AND serial_key = CAST(serial AS INTEGER)),
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
        last_used_at          INTEGER,
        drift_ms              INTEGER NOT NULL DEFAULT 0,
        drift_ppm             REAL    NOT NULL DEFAULT 0,
        drift_ppm_var         REAL,
        last_audit_id         INTEGER
      );
      INSERT INTO tokens_by_number (serial_key, serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version,
          status, last_moving_factor, drift, failures, blocked_until, pending_moving_factor, pending_at, imported_at,
          last_used_at, drift_ms, drift_ppm, drift_ppm_var, last_audit_id)
        SELECT CAST(serial AS INTEGER), serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version,
          status, last_moving_factor, drift, failures, blocked_until, pending_moving_factor, pending_at, imported_at,
          last_used_at, drift_ms, drift_ppm, drift_ppm_var, last_audit_id
        FROM tokens ORDER BY serial;
      DROP TABLE tokens;
      ALTER TABLE tokens_by_number RENAME TO tokens;
    `,
  },
  {
    version: 5,
    name: 'credentials',
    sql: `
      CREATE TABLE credentials (
        id         TEXT    PRIMARY KEY,
        role       TEXT    NOT NULL CHECK (role IN ('operator', 'proofing', 'service')),
        name       TEXT    NOT NULL,
        token_hash TEXT    NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
      );
    `,
  },
  {
    version: 6,
    name: 'identities: users without a password yet, linked to an identity; proofs; sealed secrets',
    // SQLite cannot drop a column's NOT NULL in place: the users table is rebuilt (the
    // assignments' reference to it is by name, and is checked before the migration commits).
    rebuildsTables: true,
    sql: `
      CREATE TABLE users_v6 (
        user_id       TEXT    PRIMARY KEY,
        password_hash TEXT,
        updated_at    INTEGER NOT NULL,
        identity_hash TEXT    UNIQUE
      ) WITHOUT ROWID;
      INSERT INTO users_v6 (user_id, password_hash, updated_at) SELECT user_id, password_hash, updated_at FROM users;
      DROP TABLE users;
      ALTER TABLE users_v6 RENAME TO users;

      CREATE TABLE proofs (
        id_hash       TEXT    PRIMARY KEY,
        user_id       TEXT    NOT NULL REFERENCES users (user_id),
        document_hash TEXT,
        actor         TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        used_at       INTEGER
      ) WITHOUT ROWID;

      CREATE TABLE secrets (
        name        TEXT    PRIMARY KEY,
        ciphertext  BLOB    NOT NULL,
        nonce       BLOB    NOT NULL,
        key_version INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: 'life cycle: which device replaced an assignment; when a user was created',
    sql: `
      ALTER TABLE assignments ADD COLUMN replaced_by TEXT;
      ALTER TABLE users ADD COLUMN created_at INTEGER;
      UPDATE users SET created_at = updated_at;
    `,
  },
  {
    version: 8,
    name: 'audit rows name users by pseudonym, so that erasing a user leaves the log untouched',
    // Each user gets a random pseudonym (a space in it: no user ID has one), copied into its
    // assignments so that an accept's audit row finds it in the token's row. The rows written
    // before are pseudonymised once, here (the append-only trigger lifted for it, as in migration
    // 3); a row naming a user ID no user had stays as it was typed.
    sql: `
      ALTER TABLE users ADD COLUMN pseudonym TEXT;
      UPDATE users SET pseudonym = 'u ' || lower(hex(randomblob(16)));
      CREATE UNIQUE INDEX users_by_pseudonym ON users (pseudonym);
      ALTER TABLE assignments ADD COLUMN pseudonym TEXT;
      UPDATE assignments SET pseudonym = (SELECT u.pseudonym FROM users u WHERE u.user_id = assignments.user_id);

      DROP TRIGGER audit_is_append_only_update;
      UPDATE audit SET user_id = (SELECT u.pseudonym FROM users u WHERE u.user_id = audit.user_id)
        WHERE user_id IN (SELECT user_id FROM users);
      CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 9,
    name: 'credentials: a metrics role; a service credential scoped to a range of serials',
    // SQLite cannot change a CHECK in place: the table is rebuilt (nothing references it).
    rebuildsTables: true,
    sql: `
      CREATE TABLE credentials_v9 (
        id          TEXT    PRIMARY KEY,
        role        TEXT    NOT NULL CHECK (role IN ('operator', 'proofing', 'service', 'metrics')),
        name        TEXT    NOT NULL,
        token_hash  TEXT    NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        revoked_at  INTEGER,
        serial_from TEXT,
        serial_to   TEXT,
        CHECK ((serial_from IS NULL) = (serial_to IS NULL))
      );
      INSERT INTO credentials_v9 (id, role, name, token_hash, created_at, expires_at, revoked_at)
        SELECT id, role, name, token_hash, created_at, expires_at, revoked_at FROM credentials;
      DROP TABLE credentials;
      ALTER TABLE credentials_v9 RENAME TO credentials;
    `,
  },
  {
    version: 10,
    name: 'users: wrong codes in the current window (the guessing budget an accept does not reset)',
    sql: `
      ALTER TABLE users ADD COLUMN guess_window_start INTEGER;
      ALTER TABLE users ADD COLUMN guess_count INTEGER;
    `,
  },
  {
    version: 11,
    name: 'audit: hash chains per lane (tamper-evident), repeats counted, checkpoints, pruning of archived rows',
    // audit-chain.ts says why lanes and what a row's hash covers. The rows written before are
    // chained here, in id order, in a lane of their own. A row may be deleted only once a
    // checkpoint (signed, audit-checkpoint.ts) says it was archived; checkpoints are never changed.
    sql: `
      ALTER TABLE audit ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1);
      ALTER TABLE audit ADD COLUMN lane INTEGER;
      ALTER TABLE audit ADD COLUMN hash BLOB;
      CREATE TABLE audit_lanes (
        id        INTEGER PRIMARY KEY,
        opened_at INTEGER NOT NULL
      );
      CREATE TABLE audit_checkpoints (
        id           INTEGER PRIMARY KEY,
        at           INTEGER NOT NULL,
        up_to_id     INTEGER NOT NULL,
        pruned_to_id INTEGER,
        jws          TEXT    NOT NULL
      );
      CREATE TRIGGER audit_checkpoints_are_append_only_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
      CREATE TRIGGER audit_checkpoints_are_append_only_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
      DROP TRIGGER audit_is_append_only_delete;
      CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
        WHEN OLD.id > COALESCE((SELECT max(pruned_to_id) FROM audit_checkpoints), 0)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only rows archived under a checkpoint may be pruned'); END;
    `,
    run: (db) => {
      if (db.prepare('SELECT 1 FROM audit LIMIT 1').get() === undefined) return;
      const lane = Number(db.prepare('INSERT INTO audit_lanes (opened_at) VALUES (?)').run(Date.now()).lastInsertRowid);
      const batch = db.prepare(
        'SELECT id, at, type, serial, user_id, ip, actor, reason, moving_factor FROM audit WHERE id > ? ORDER BY id LIMIT 10000',
      );
      const set = db.prepare('UPDATE audit SET lane = ?, hash = ? WHERE id = ?');
      db.exec('DROP TRIGGER audit_is_append_only_update');
      let head = GENESIS;
      let after = 0;
      for (;;) {
        const rows = batch.all(after) as Array<Omit<ChainContent, 'lane' | 'repeats'>>;
        if (rows.length === 0) break;
        for (const r of rows) {
          head = chainHash(head, { ...r, lane, repeats: 1 });
          set.run(lane, head, r.id);
          after = r.id;
        }
      }
      db.exec(`CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`);
    },
  },
  {
    version: 12,
    name: 'orders of code displays',
    // domain/orders.ts. The address is JSON text (post) or the centre's name (pickup); a device
    // is sent with one order at most (serial UNIQUE) and an order has one once it has left the
    // factory. A rowid table: an order's row (its address) is too big for a WITHOUT ROWID one.
    sql: `
      CREATE TABLE orders (
        id                TEXT    PRIMARY KEY,
        tracking_hash     TEXT    NOT NULL UNIQUE,
        user_id           TEXT    REFERENCES users (user_id),
        status            TEXT    NOT NULL CHECK (status IN ('awaiting-payment', 'placed', 'shipped', 'ready-for-pickup',
                                                              'delivered', 'collected', 'cancelled')),
        price_ore         INTEGER NOT NULL CHECK (price_ore >= 0),
        delivery_method   TEXT    NOT NULL CHECK (delivery_method IN ('post', 'pickup')),
        address           TEXT,
        centre            TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        expected_earliest TEXT    NOT NULL,
        expected_latest   TEXT    NOT NULL,
        payment_reference TEXT,
        serial            TEXT    UNIQUE REFERENCES tokens (serial),
        CHECK ((delivery_method = 'post') = (address IS NOT NULL) AND (delivery_method = 'pickup') = (centre IS NOT NULL)),
        CHECK ((serial IS NULL) = (status IN ('awaiting-payment', 'placed', 'cancelled')))
      );
      CREATE INDEX orders_by_user ON orders (user_id, status) WHERE user_id IS NOT NULL;
      CREATE INDEX orders_by_status ON orders (status, created_at);
      CREATE INDEX orders_by_time ON orders (created_at);
    `,
  },
  {
    version: 13,
    name: "the OpenID provider's entries",
    // store/oidc-rows.ts: each instance of one of oidc-provider's models by its id, its payload
    // JSON text, until it expires (ms; NULL: never). grant_id, uid and user_code are the payload's
    // fields of those names, for revoking a grant and finding by uid or user code. A rowid table
    // (a session's payload is too big for a WITHOUT ROWID one), whose rowid orders the entries
    // created in one millisecond.
    sql: `
      CREATE TABLE oidc_entries (
        model       TEXT    NOT NULL,
        id          TEXT    NOT NULL,
        payload     TEXT    NOT NULL,
        grant_id    TEXT,
        uid         TEXT,
        user_code   TEXT,
        expires_at  INTEGER,
        consumed_at INTEGER,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oidc_entries_by_grant ON oidc_entries (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oidc_entries_by_uid ON oidc_entries (model, uid) WHERE uid IS NOT NULL;
      CREATE INDEX oidc_entries_by_user_code ON oidc_entries (model, user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oidc_entries_by_expiry ON oidc_entries (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
];

/** Applies the migrations `db` has not seen; returns the versions applied. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    // A no-op inside a transaction, so set around it.
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        m.run?.(db);
        if (m.rebuildsTables) {
          const broken = db.pragma('foreign_key_check') as Array<{ table: string; parent: string }>;
          if (broken.length > 0) {
            throw new Error(
              `migration ${m.version} would break ${broken.length} reference(s), the first from ${broken[0]!.table} to ${broken[0]!.parent}`,
            );
          }
        }
        record.run(m.version, m.name, Date.now());
      }).immediate();
    } finally {
      db.pragma(`foreign_keys = ${foreignKeys}`);
    }
    applied.push(m.version);
  }
  return applied;
}
