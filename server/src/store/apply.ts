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
  return new Error(`the store could not apply '${w.kind}' to ${about(w)} as decided: a broken invariant`);
}

function about(w: Write): string {
  switch (w.kind) {
    case 'create-user':
    case 'set-password':
    case 'link-identity':
    case 'erase-user':
    case 'guesses':
      return `user ${w.userId}`;
    case 'create-credential':
      return `credential ${w.credential.id}`;
    case 'revoke-credential':
      return `credential ${w.id}`;
    case 'create-proof':
      return `a proof for user ${w.proof.userId}`;
    case 'use-proof':
      return 'a proof';
    case 'create-secret':
      return `secret ${w.name}`;
    case 'create-order':
      return `order ${w.order.id}`;
    case 'update-order':
      return `order ${w.id} (from ${w.from})`;
    case 'audit':
      return 'the audit log';
    default:
      return `token ${w.serial}`;
  }
}
