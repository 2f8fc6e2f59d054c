/** What both stores share in applying a decision's writes (sqlite-writes.ts, postgres.ts). */
import type { Write } from '../domain/decide.js';
import type { AuditEntry } from './types.js';

/**
 * The common accept, a successful consume and its accept row and nothing else, taken apart; null
 * for any other decision, which the store writes one write at a time.
 */
export function commonAccept(writes: readonly Write[]): { consume: Extract<Write, { kind: 'consume' }>; entry: AuditEntry } | null {
  if (writes.length !== 2) return null;
  const [first, second] = writes;
  if (first?.kind !== 'consume' || !first.success || second?.kind !== 'audit' || second.entry.type !== 'accept') return null;
  return { consume: first, entry: second.entry };
}

/**
 * A write that changed no row although the decision, made on the rows inside the same atomic
 * unit, said it would: a broken invariant, never an outcome. Thrown, it rolls the unit back.
 */
export function unapplied(w: Write): Error {
  const about =
    'serial' in w
      ? `token ${w.serial}`
      : 'userId' in w
        ? `user ${w.userId}`
        : 'id' in w
          ? `credential ${w.id}`
          : w.kind === 'create-credential'
            ? `credential ${w.credential.id}`
            : 'the audit log';
  return new Error(`the store could not apply '${w.kind}' to ${about} as decided: a broken invariant`);
}
