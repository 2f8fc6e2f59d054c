/**
 * Which refusals are counted rather than each written to the audit log, and the row that stands
 * for those counted (security/audit-repeats.ts does the counting, service.ts the wiring).
 *
 * A flood of requests nobody is authenticated for (logins with made-up user IDs, activations with
 * made-up proofs) would otherwise write, and sync, one row each. Only a refusal that changes
 * nothing but the log qualifies: a wrong code against a real token also counts a failure, and
 * stays a row of its own. A caller with a credential (an actor) is never aggregated: it is
 * accountable for each request. Repeats share a key by what the rows would have said but for
 * the serial and the user ID, so that one address spraying user IDs is still one key.
 */
import type { AuditEntry } from '../store/types.js';
import type { Write } from './decide.js';

/** The audit row of `writes` when they are an anonymous refusal alone, whose repeats may be counted; else null. */
export function repeatable(writes: readonly Write[]): AuditEntry | null {
  if (writes.length !== 1) return null;
  const [w] = writes;
  if (w?.kind !== 'audit' || w.entry.type !== 'reject' || w.entry.actor != null) return null;
  return w.entry;
}

/** What the repeats of a refusal have in common: its type, reason and client address. */
export const repeatKey = (e: AuditEntry): string => JSON.stringify([e.type, e.reason ?? null, e.ip ?? null]);

/**
 * The row standing for the refusals counted so far (`summary`, null before the first) and
 * `counted`: their type, reason and address; the latest one's time; the serial and user ID all of
 * them named, else null; no actor, no moving factor; how many they are (a row that stood for
 * several already counts as that many).
 */
export function summaryEntry(summary: AuditEntry | null, counted: AuditEntry): AuditEntry {
  const serial = counted.serial ?? null;
  const userId = counted.userId ?? null;
  return {
    at: summary === null ? counted.at : Math.max(summary.at, counted.at),
    type: counted.type,
    serial: summary === null || summary.serial === serial ? serial : null,
    userId: summary === null || summary.userId === userId ? userId : null,
    ip: counted.ip ?? null,
    actor: null,
    reason: counted.reason ?? null,
    movingFactor: null,
    repeats: (summary?.repeats ?? 0) + (counted.repeats ?? 1),
  };
}
