/** The shape of the decision both stores write in their fastest form (sqlite.ts, postgres.ts). */
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
