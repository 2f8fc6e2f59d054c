/**
 * The PostgreSQL schema as numbered migrations, recorded in kodeviser_migrations — the same
 * tables, columns and rules as the SQLite schema (sqlite-schema.ts), in PostgreSQL's types:
 * bigint for unix ms and moving factors (read back as JS numbers, see postgres.ts), bytea for
 * sealed seeds, boolean for the active flag. Never edit a migration that has shipped: append one.
 *
 * Several server instances may start together against one database, so all pending migrations
 * run in ONE transaction that first takes a transaction-scoped advisory lock (the way Flyway and
 * node-pg-migrate serialise concurrent runs): the second and third instance wait for the first
 * to commit, then find nothing left to do. PostgreSQL's DDL is transactional, so a migration that
 * fails leaves no half-made table behind.
 *
 * Rules the database itself enforces, so no code path (nor a hand-typed SQL session) can break them:
 * - one active token per user: a partial unique index on assignments (user_id) WHERE active;
 * - one user per token: assignments.serial is the primary key;
 * - the audit log is append-only: triggers refuse UPDATE and TRUNCATE on it, and DELETE of a row
 *   no checkpoint has archived (migration 9); each row's hash is made by the database (audit_chain);
 * - a token's status is one of three.
 */
import type { ClientBase } from 'pg';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/** Any constant works as long as every instance uses the same one: 'kode' 'visr' in ASCII. */
export const MIGRATION_LOCK_KEY = 0x6b6f6465_76697372n;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'tokens, users, assignments, audit',
    sql: `
      CREATE TABLE tokens (
        serial                text    PRIMARY KEY,
        profile               text    NOT NULL,
        digits                integer NOT NULL,
        step                  integer NOT NULL,
        t0                    bigint  NOT NULL,
        seed_ciphertext       bytea   NOT NULL,
        seed_nonce            bytea   NOT NULL,
        key_version           integer NOT NULL,
        status                text    NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'locked', 'revoked')),
        last_moving_factor    bigint  NOT NULL,
        drift                 bigint  NOT NULL DEFAULT 0,
        failures              integer NOT NULL DEFAULT 0,
        blocked_until         bigint,
        pending_moving_factor bigint,
        pending_at            bigint,
        imported_at           bigint  NOT NULL,
        last_used_at          bigint
      );

      CREATE TABLE users (
        user_id       text   PRIMARY KEY,
        password_hash text   NOT NULL,
        updated_at    bigint NOT NULL
      );

      CREATE TABLE assignments (
        serial         text    PRIMARY KEY REFERENCES tokens (serial),
        user_id        text    NOT NULL REFERENCES users (user_id),
        active         boolean NOT NULL,
        activated_at   bigint  NOT NULL,
        deactivated_at bigint
      );
      CREATE UNIQUE INDEX one_active_token_per_user ON assignments (user_id) WHERE active;

      CREATE TABLE audit (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            bigint NOT NULL,
        type          text   NOT NULL,
        serial        text,
        user_id       text,
        ip            text,
        actor         text,
        reason        text,
        moving_factor bigint
      );
      CREATE INDEX audit_by_serial ON audit (serial, id) WHERE serial IS NOT NULL;
      CREATE INDEX audit_by_user ON audit (user_id, id) WHERE user_id IS NOT NULL;
      CREATE INDEX audit_by_time ON audit (at);
      CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
      CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
    `,
  },
  {
    // As SQLite's version 2 (sqlite-schema.ts): the whole-step drift becomes an offset of as
    // many steps, no rate; `drift` stays, written in whole steps for the previous server.
    version: 2,
    name: 'tokens: clock offset (ms) and rate (ppm)',
    sql: `
      ALTER TABLE tokens
        ADD COLUMN drift_ms      bigint           NOT NULL DEFAULT 0,
        ADD COLUMN drift_ppm     double precision NOT NULL DEFAULT 0,
        ADD COLUMN drift_ppm_var double precision;
      UPDATE tokens SET drift_ms = drift * step * 1000 WHERE drift <> 0;
    `,
  },
  {
    version: 3,
    name: 'credentials',
    sql: `
      CREATE TABLE credentials (
        id         text   PRIMARY KEY,
        role       text   NOT NULL CHECK (role IN ('operator', 'proofing', 'service')),
        name       text   NOT NULL,
        token_hash text   NOT NULL UNIQUE,
        created_at bigint NOT NULL,
        expires_at bigint,
        revoked_at bigint
      );
    `,
  },
  {
    version: 4,
    name: 'identities: users without a password yet, linked to an identity; proofs; sealed secrets',
    sql: `
      ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL, ADD COLUMN identity_hash text UNIQUE;
      CREATE TABLE proofs (
        id_hash       text   PRIMARY KEY,
        user_id       text   NOT NULL REFERENCES users (user_id),
        document_hash text,
        actor         text   NOT NULL,
        created_at    bigint NOT NULL,
        expires_at    bigint NOT NULL,
        used_at       bigint
      );
      CREATE TABLE secrets (
        name        text    PRIMARY KEY,
        ciphertext  bytea   NOT NULL,
        nonce       bytea   NOT NULL,
        key_version integer NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'life cycle: which device replaced an assignment; when a user was created',
    sql: `
      ALTER TABLE assignments ADD COLUMN replaced_by text;
      ALTER TABLE users ADD COLUMN created_at bigint;
      UPDATE users SET created_at = updated_at;
    `,
  },
  {
    version: 6,
    name: 'audit rows name users by pseudonym, so that erasing a user leaves the log untouched',
    // Each user gets a random pseudonym (a space in it: no user ID has one); the rows written
    // before are pseudonymised once, here, with the append-only trigger lifted for it. A row
    // naming a user ID no user had stays as it was typed.
    sql: `
      ALTER TABLE users ADD COLUMN pseudonym text NOT NULL UNIQUE DEFAULT ('u ' || replace(gen_random_uuid()::text, '-', ''));
      ALTER TABLE audit DISABLE TRIGGER audit_is_append_only;
      UPDATE audit SET user_id = u.pseudonym FROM users u WHERE u.user_id = audit.user_id;
      ALTER TABLE audit ENABLE TRIGGER audit_is_append_only;
    `,
  },
  {
    version: 7,
    name: 'credentials: a metrics role; a service credential scoped to a range of serials',
    sql: `
      ALTER TABLE credentials DROP CONSTRAINT credentials_role_check,
        ADD CONSTRAINT credentials_role_check CHECK (role IN ('operator', 'proofing', 'service', 'metrics')),
        ADD COLUMN serial_from text,
        ADD COLUMN serial_to text,
        ADD CONSTRAINT credentials_serials_check CHECK ((serial_from IS NULL) = (serial_to IS NULL));
    `,
  },
  {
    version: 8,
    name: 'users: wrong codes in the current window (the guessing budget an accept does not reset)',
    sql: `ALTER TABLE users ADD COLUMN guess_window_start bigint, ADD COLUMN guess_count integer;`,
  },
  {
    version: 9,
    name: 'audit: hash chains per lane (tamper-evident), repeats counted, checkpoints, pruning of archived rows',
    // audit-chain.ts says why lanes and what a row's hash covers; here the database makes the
    // hash, in a trigger, from the row as stored (its user's pseudonym resolved): the lane's head
    // is its row in audit_lanes, locked by the first row of a transaction and written with the
    // rows, so a rollback takes it back with them. The rows written before are chained here, in id order, in a lane of their own.
    // A row may be deleted only once a checkpoint says it was archived; checkpoints never change.
    sql: `
      ALTER TABLE audit ADD COLUMN repeats integer NOT NULL DEFAULT 1 CHECK (repeats >= 1),
        ADD COLUMN lane bigint, ADD COLUMN hash bytea;
      CREATE TABLE audit_lanes (
        id        bigserial PRIMARY KEY,
        opened_at bigint    NOT NULL,
        head      bytea     NOT NULL DEFAULT '\\x${'00'.repeat(32)}'::bytea
      );
      CREATE TABLE audit_checkpoints (
        id           bigserial PRIMARY KEY,
        at           bigint NOT NULL,
        up_to_id     bigint NOT NULL,
        pruned_to_id bigint,
        jws          text   NOT NULL
      );
      CREATE TRIGGER audit_checkpoints_are_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();

      CREATE FUNCTION audit_field(v text) RETURNS text IMMUTABLE LANGUAGE sql
        AS $$ SELECT CASE WHEN v IS NULL THEN '-' ELSE octet_length(v)::text || ':' || v END $$;
      CREATE FUNCTION audit_content(r audit) RETURNS bytea STABLE LANGUAGE sql AS $$
        SELECT convert_to(concat_ws(',', 'v1', audit_field(r.id::text), audit_field(r.lane::text), audit_field(r.at::text),
          audit_field(r.type), audit_field(r.serial), audit_field(r.user_id), audit_field(r.ip), audit_field(r.actor),
          audit_field(r.reason), audit_field(r.moving_factor::text), audit_field(r.repeats::text)), 'UTF8') $$;
      -- The head as it stands in this transaction is kept in a transaction-local setting and
      -- written to audit_lanes once per statement: updating the lane's row for each row would
      -- leave a chain of dead versions that every later update in the transaction walks (an
      -- import of 10 000 tokens, quadratic).
      CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          setting text := 'kodeviser.audit_head_' || NEW.lane;
          prev bytea := decode(NULLIF(current_setting(setting, true), ''), 'hex');
        BEGIN
          IF NEW.lane IS NULL THEN RAISE EXCEPTION 'an audit row needs a lane'; END IF;
          IF prev IS NULL THEN
            SELECT head INTO prev FROM audit_lanes WHERE id = NEW.lane FOR UPDATE;
            IF NOT FOUND THEN RAISE EXCEPTION 'no audit lane %', NEW.lane; END IF;
          END IF;
          NEW.hash := sha256(prev || audit_content(NEW));
          PERFORM set_config(setting, encode(NEW.hash, 'hex'), true);
          RETURN NEW;
        END $$;
      CREATE FUNCTION audit_lane_heads() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE audit_lanes l SET head = n.hash
            FROM (SELECT DISTINCT ON (lane) lane, hash FROM inserted ORDER BY lane, id DESC) n WHERE l.id = n.lane;
          RETURN NULL;
        END $$;

      DROP TRIGGER audit_is_append_only ON audit;
      DO $$
        DECLARE r audit; l bigint; h bytea := '\\x${'00'.repeat(32)}'::bytea;
        BEGIN
          IF EXISTS (SELECT 1 FROM audit) THEN
            INSERT INTO audit_lanes (opened_at) VALUES ((extract(epoch FROM now()) * 1000)::bigint) RETURNING id INTO l;
            FOR r IN SELECT * FROM audit ORDER BY id LOOP
              r.lane := l;
              h := sha256(h || audit_content(r));
              UPDATE audit SET lane = l, hash = h WHERE id = r.id;
            END LOOP;
            UPDATE audit_lanes SET head = h WHERE id = l;
          END IF;
        END $$;
      CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();
      CREATE FUNCTION audit_only_archived_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.id > COALESCE((SELECT max(pruned_to_id) FROM audit_checkpoints), 0) THEN
            RAISE EXCEPTION 'the audit log is append-only: only rows archived under a checkpoint may be pruned';
          END IF;
          RETURN OLD;
        END $$;
      CREATE TRIGGER audit_only_archived_rows_deleted BEFORE DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_only_archived_rows_deleted();
      CREATE TRIGGER audit_chain BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_chain();
      CREATE TRIGGER audit_lane_heads AFTER INSERT ON audit REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION audit_lane_heads();
    `,
  },
  {
    version: 10,
    name: 'orders of code displays',
    // As SQLite's version 12 (sqlite-schema.ts).
    sql: `
      CREATE TABLE orders (
        id                text   PRIMARY KEY,
        tracking_hash     text   NOT NULL UNIQUE,
        user_id           text   REFERENCES users (user_id),
        status            text   NOT NULL CHECK (status IN ('awaiting-payment', 'placed', 'shipped', 'ready-for-pickup',
                                                             'delivered', 'collected', 'cancelled')),
        price_ore         bigint NOT NULL CHECK (price_ore >= 0),
        delivery_method   text   NOT NULL CHECK (delivery_method IN ('post', 'pickup')),
        address           text,
        centre            text,
        created_at        bigint NOT NULL,
        updated_at        bigint NOT NULL,
        expected_earliest text   NOT NULL,
        expected_latest   text   NOT NULL,
        payment_reference text,
        serial            text   UNIQUE REFERENCES tokens (serial),
        CHECK ((delivery_method = 'post') = (address IS NOT NULL) AND (delivery_method = 'pickup') = (centre IS NOT NULL)),
        CHECK ((serial IS NULL) = (status IN ('awaiting-payment', 'placed', 'cancelled')))
      );
      CREATE INDEX orders_by_user ON orders (user_id, status) WHERE user_id IS NOT NULL;
      CREATE INDEX orders_by_status ON orders (status, created_at);
      CREATE INDEX orders_by_time ON orders (created_at);
    `,
  },
  {
    version: 11,
    name: "the OpenID provider's entries",
    // As SQLite's version 13 (sqlite-schema.ts). The payload is JSON text, not jsonb: jsonb
    // refuses what JSON.stringify may write (\u0000, a lone surrogate's escape) and reorders
    // keys; nothing queries inside it (the fields that are looked up have columns). seq orders
    // the entries created in one millisecond, as SQLite's rowid does.
    sql: `
      CREATE TABLE oidc_entries (
        model       text   NOT NULL,
        id          text   NOT NULL,
        payload     text   NOT NULL,
        grant_id    text,
        uid         text,
        user_code   text,
        expires_at  bigint,
        consumed_at bigint,
        created_at  bigint NOT NULL,
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oidc_entries_by_grant ON oidc_entries (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oidc_entries_by_uid ON oidc_entries (model, uid) WHERE uid IS NOT NULL;
      CREATE INDEX oidc_entries_by_user_code ON oidc_entries (model, user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oidc_entries_by_expiry ON oidc_entries (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
];

/**
 * Applies the migrations the database (the schema first on the connection's search_path) has not
 * seen, in one transaction under the advisory lock; returns the versions applied.
 */
export async function migratePostgres(client: ClientBase, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS kodeviser_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM kodeviser_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO kodeviser_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        Date.now(),
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  }
}
