/**
 * What both adapters share about the audit log's rows: the column shape (the same table in
 * SQLite and PostgreSQL, snake_case), its mapping to the AuditEvent the service sees, and the cap
 * on one audit query.
 */
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
  moving_factor: number | null;
}

export function toEvent(r: AuditRow): AuditEvent {
  return {
    id: r.id,
    at: r.at,
    type: r.type,
    serial: r.serial,
    userId: r.user_id,
    ip: r.ip,
    actor: r.actor,
    reason: r.reason,
    movingFactor: r.moving_factor,
  };
}

export const MAX_AUDIT_LIMIT = 1000;
