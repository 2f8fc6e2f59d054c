/**
 * A decision's writes (domain/decide.ts) as SQLite statements, run inside the store's write
 * transaction. Each is a translation, no rule: the decision was made on the rows as they are in
 * that transaction, so a write that changes no row where the decision expected one is a broken
 * invariant (apply.ts), which rolls the transaction back.
 *
 * Cost per accept, the reason for the shapes here: every statement costs a few microseconds of
 * the event loop's time whatever it does (binding, stepping, turning the row into JS), so the
 * common accept is two statements, the compare-and-set that also moves the token's audit chain
 * and the chained audit insert, with positional parameters (no object built per call).
 */
import type Database from 'better-sqlite3';
import type { Write } from '../domain/decide.js';
import { unapplied } from './apply.js';
import { CREDENTIAL_COLUMNS, credentialValues, ORDER_COLUMNS, orderValues, PROOF_COLUMNS, proofValues } from './rows.js';
import type { ChainHead, SqliteAuditLog } from './sqlite-audit.js';
import { serialKey } from './sqlite-rows.js';
import type { AuditEntry } from './types.js';

export interface SqliteWriter {
  /** One write, as SQL. */
  apply(w: Write): void;
  /**
   * The common accept (apply.ts commonAccept) of a token whose chain head the attempt has just
   * read: the same rows apply() would write, in two statements instead of four (appending would
   * read the head again and update the token a second time), which at a million tokens is two
   * descents of the tokens B-tree saved.
   */
  acceptChained(c: Extract<Write, { kind: 'consume' }>, e: AuditEntry, head: ChainHead): void;
}

export function createSqliteWriter(db: Database.Database, log: SqliteAuditLog): SqliteWriter {
  const sql = {
    // consume(movingFactor, drift, driftMs, driftPpm, driftPpmVar, at, success, success, serialKey, movingFactor).
    consume: db.prepare(`UPDATE tokens SET last_moving_factor = ?, drift = ?, drift_ms = ?, drift_ppm = ?, drift_ppm_var = ?,
      last_used_at = ?, pending_moving_factor = NULL, pending_at = NULL,
      failures = CASE WHEN ? THEN 0 ELSE failures END,
      blocked_until = CASE WHEN ? THEN NULL ELSE blocked_until END
      WHERE serial_key = ? AND last_moving_factor < ?`),
    // consume for a success whose audit row joins the token's chain, the chain's head moved to the
    // id that row is about to take.
    // consumeAndChain(movingFactor, drift, driftMs, driftPpm, driftPpmVar, at, auditId, serialKey, movingFactor).
    consumeAndChain: db.prepare(`UPDATE tokens SET last_moving_factor = ?, drift = ?, drift_ms = ?, drift_ppm = ?, drift_ppm_var = ?,
      last_used_at = ?, pending_moving_factor = NULL, pending_at = NULL, failures = 0, blocked_until = NULL, last_audit_id = ?
      WHERE serial_key = ? AND last_moving_factor < ?`),
    failures: db.prepare('UPDATE tokens SET failures = ?, pending_moving_factor = NULL, pending_at = NULL WHERE serial_key = ?'),
    block: db.prepare('UPDATE tokens SET blocked_until = ? WHERE serial_key = ?'),
    status: db.prepare('UPDATE tokens SET status = ? WHERE serial_key = ?'),
    startResync: db.prepare('UPDATE tokens SET pending_moving_factor = ?, pending_at = ? WHERE serial_key = ?'),
    createUser: db.prepare(`INSERT INTO users (user_id, password_hash, identity_hash, created_at, updated_at, pseudonym)
      VALUES (?, ?, ?, ?, ?, 'u ' || lower(hex(randomblob(16))))`),
    setPassword: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE user_id = ?'),
    // A token's assignment is made once; the same user's may be made active again.
    assign: db.prepare(`INSERT INTO assignments (serial, user_id, active, activated_at, pseudonym)
      VALUES (?, ?, 1, ?, (SELECT pseudonym FROM users WHERE user_id = ?))
      ON CONFLICT (serial) DO UPDATE SET active = 1, activated_at = excluded.activated_at, deactivated_at = NULL, replaced_by = NULL
      WHERE assignments.user_id = excluded.user_id`),
    deactivate: db.prepare('UPDATE assignments SET active = 0, deactivated_at = ?, replaced_by = ? WHERE serial = ? AND active = 1'),
    createCredential: db.prepare(`INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    revokeCredential: db.prepare('UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    createProof: db.prepare(`INSERT INTO proofs (${PROOF_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    guesses: db.prepare('UPDATE users SET guess_window_start = ?, guess_count = ? WHERE user_id = ?'),
    useProof: db.prepare('UPDATE proofs SET used_at = ? WHERE id_hash = ? AND used_at IS NULL'),
    linkIdentity: db.prepare('UPDATE users SET identity_hash = ? WHERE user_id = ? AND identity_hash IS NULL'),
    createOrder: db.prepare(`INSERT INTO orders (${ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // A step, only from the status the decision saw.
    updateOrder: db.prepare(`UPDATE orders SET status = ?, updated_at = ?, payment_reference = COALESCE(?, payment_reference),
      serial = COALESCE(?, serial) WHERE id = ? AND status = ?`),
    // Erasure: every device the user ever had revoked (a token serves one user in its life, and
    // the record of whose it was goes), and those its orders sent; its proofs, orders (their
    // addresses), assignments and row deleted.
    eraseDevices: db.prepare(`UPDATE tokens SET status = 'revoked'
      WHERE serial_key IN (SELECT CAST(serial AS INTEGER) FROM assignments WHERE user_id = ?)`),
    eraseSent: db.prepare(`UPDATE tokens SET status = 'revoked'
      WHERE serial_key IN (SELECT CAST(serial AS INTEGER) FROM orders WHERE user_id = ? AND serial IS NOT NULL)`),
    eraseOrders: db.prepare('DELETE FROM orders WHERE user_id = ?'),
    eraseProofs: db.prepare('DELETE FROM proofs WHERE user_id = ?'),
    eraseAssignments: db.prepare('DELETE FROM assignments WHERE user_id = ?'),
    eraseUser: db.prepare('DELETE FROM users WHERE user_id = ?'),
    createSecret: db.prepare('INSERT INTO secrets (name, ciphertext, nonce, key_version) VALUES (?, ?, ?, ?)'),
  };
  const changed = (w: Write, r: Database.RunResult): void => {
    if (r.changes !== 1) throw unapplied(w);
  };

  return {
    apply(w) {
      switch (w.kind) {
        case 'consume': {
          const { drift } = w;
          const success = w.success ? 1 : 0;
          const key = serialKey(w.serial);
          changed(
            w,
            sql.consume.run(
              w.movingFactor,
              drift.steps,
              drift.offsetMs,
              drift.ratePpm,
              drift.rateVar,
              w.at,
              success,
              success,
              key,
              w.movingFactor,
            ),
          );
          return;
        }
        case 'failures':
          return changed(w, sql.failures.run(w.failures, serialKey(w.serial)));
        case 'block':
          return changed(w, sql.block.run(w.until, serialKey(w.serial)));
        case 'status':
          return changed(w, sql.status.run(w.status, serialKey(w.serial)));
        case 'start-resync':
          return changed(w, sql.startResync.run(w.pending.movingFactor, w.pending.at, serialKey(w.serial)));
        case 'create-user':
          return changed(w, sql.createUser.run(w.userId, w.passwordHash, w.identityHash, w.at, w.at));
        case 'set-password':
          return changed(w, sql.setPassword.run(w.passwordHash, w.at, w.userId));
        case 'assign':
          return changed(w, sql.assign.run(w.serial, w.userId, w.at, w.userId));
        case 'deactivate':
          return changed(w, sql.deactivate.run(w.at, w.replacedBy, w.serial));
        case 'create-credential':
          return changed(w, sql.createCredential.run(...credentialValues(w.credential)));
        case 'revoke-credential':
          return changed(w, sql.revokeCredential.run(w.at, w.id));
        case 'create-proof':
          return changed(w, sql.createProof.run(...proofValues(w.proof)));
        case 'guesses':
          return changed(w, sql.guesses.run(w.budget.windowStart, w.budget.count, w.userId));
        case 'use-proof':
          return changed(w, sql.useProof.run(w.at, w.idHash));
        case 'link-identity':
          return changed(w, sql.linkIdentity.run(w.identityHash, w.userId));
        case 'create-order':
          return changed(w, sql.createOrder.run(...orderValues(w.order)));
        case 'update-order':
          return changed(w, sql.updateOrder.run(w.to, w.at, w.paymentReference ?? null, w.serial ?? null, w.id, w.from));
        case 'erase-user':
          sql.eraseDevices.run(w.userId);
          sql.eraseSent.run(w.userId);
          sql.eraseOrders.run(w.userId);
          sql.eraseProofs.run(w.userId);
          sql.eraseAssignments.run(w.userId);
          return changed(w, sql.eraseUser.run(w.userId));
        case 'create-secret':
          return changed(w, sql.createSecret.run(w.name, w.sealed.ciphertext, w.sealed.nonce, w.sealed.keyVersion));
        case 'audit':
          return log.append(w.entry);
      }
    },

    acceptChained(c, e, head) {
      const { drift } = c;
      const id = log.nextId();
      changed(
        c,
        sql.consumeAndChain.run(
          c.movingFactor,
          drift.steps,
          drift.offsetMs,
          drift.ratePpm,
          drift.rateVar,
          c.at,
          id,
          head.key,
          c.movingFactor,
        ),
      );
      log.appendChained(id, e, head);
    },
  };
}
