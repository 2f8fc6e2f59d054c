/**
 * What both adapters share about the audit log's rows: the column shape (the same table in
 * SQLite and PostgreSQL, snake_case), its mapping to the AuditEvent the service sees, and the cap
 * on one audit query.
 */
import type { MovingFactor } from '@kodeviser/shared';
import type { AuditEvent, AuditType } from '../domain/types.js';

export interface AuditRow {
  id: number;
  at: number;
  type: AuditType;
  serial: string | null;
  user_id: string | null;
  ip: string | null;
  actor: string | null;
  reason: string | null;
  moving_factor: MovingFactor | null;
  repeats: number;
}

/**
 * Whether an audit row's user is a pseudonym (migrations: SQLite 8, PostgreSQL 6): 'u ' and 32
 * hex digits, a space no user ID has. Other values are user IDs no user had when written.
 */
export const isPseudonym = (v: string | null): v is string => v !== null && v.startsWith('u ');

/**
 * The event of row `r`, its pseudonym turned back into the user ID by `users` (pseudonym → user
 * ID, null for a user erased since: the mapping is gone, and with it who the rows were about).
 */
export function toEvent(r: AuditRow, users: ReadonlyMap<string, string | null>): AuditEvent {
  return {
    id: r.id,
    at: r.at,
    type: r.type,
    serial: r.serial,
    userId: isPseudonym(r.user_id) ? (users.get(r.user_id) ?? null) : r.user_id,
    ip: r.ip,
    actor: r.actor,
    reason: r.reason,
    movingFactor: r.moving_factor,
    repeats: r.repeats,
  };
}

export const MAX_AUDIT_LIMIT = 1000;
