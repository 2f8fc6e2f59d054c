// The fixtures of the pure decisions' tests (domain-decide, domain-lifecycle): a token of SERIAL
// (hotp-sha1, the RFC 4226 key, at moving factor 9), snapshots frozen all the way down, and what a
// decision's failure cost.
import { createOtp, makeSerial } from '@kodeviser/shared';
import { EMPTY_SNAPSHOT, type Decision, type Snapshot, type Write } from '../../src/domain/decide.js';
import { NO_DRIFT } from '../../src/domain/policy.js';
import type { Origin, TokenRecord } from '../../src/store/types.js';

export const AT = Date.UTC(2026, 5, 1, 12);
export const SERIAL = makeSerial('400000001');
export const KEY = new TextEncoder().encode('12345678901234567890');
export const otp = createOtp({ profile: 'hotp-sha1', key: KEY });
export const o: Origin = { at: AT, ip: '192.0.2.9', userId: null };
export const base = { at: AT, ip: '192.0.2.9', userId: null, actor: null, reason: null, movingFactor: null };

export function token(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    serial: SERIAL,
    profile: 'hotp-sha1',
    digits: 6,
    step: 30,
    t0: 0,
    seed: { ciphertext: new Uint8Array(0), nonce: new Uint8Array(0), keyVersion: 1 },
    status: 'enabled',
    lastMovingFactor: 9,
    drift: NO_DRIFT,
    failures: 0,
    blockedUntil: null,
    pendingResync: null,
    userId: null,
    importedAt: AT - 86_400_000,
    lastUsedAt: AT - 3_600_000,
    ...over,
  };
}

/** Object.freeze all the way down: a decision that changed its snapshot would throw. */
export function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) frozen(v);
  }
  return value;
}

/** A snapshot with nothing read but what `over` names. */
export const snap = (over: Partial<Snapshot> = {}): Snapshot => frozen({ ...EMPTY_SNAPSHOT, ...over });

/**
 * What a decision's failure cost, as its writes say: 'locked' (a 'status' write to locked),
 * 'blocked' (a 'block' write with an end), or null; of `serial`'s writes only.
 */
export function consequence(d: Decision<unknown> | null, serial = SERIAL): 'locked' | 'blocked' | null {
  const mine = (d?.writes ?? []).filter((w) => 'serial' in w && w.serial === serial);
  if (mine.some((w) => w.kind === 'status' && w.status === 'locked')) return 'locked';
  if (mine.some((w) => w.kind === 'block' && w.until !== null)) return 'blocked';
  return null;
}

/** The consume write of `movingFactor` of `serial` at AT (`success`: an accept's, clearing failures and block). */
export const consume = (serial: string, movingFactor: number, success = true): Write => ({
  kind: 'consume',
  serial,
  movingFactor,
  drift: NO_DRIFT,
  at: AT,
  success,
});
