// Decisions for the store tests, written by hand: the writes of domain/decide.ts's shapes, and
// small decides that show how a store runs them (each on the rows as the one before left them).
import type { Decision, Snapshot, Write } from '../../src/domain/decide.js';
import { NO_DRIFT } from '../../src/domain/policy.js';
import type { AttemptKey, AuditEntry, Origin, TokenDrift, TokenStore } from '../../src/store/types.js';

/** Applies `writes` as one attempt on `key` (nothing read by default). */
export const applyWrites = (store: TokenStore, writes: readonly Write[], key: AttemptKey = {}): Promise<void> =>
  store.attempt(key, () => ({ result: undefined, writes }));

export const audited = (entry: AuditEntry): Write => ({ kind: 'audit', entry });

export const consumed = (
  serial: string,
  movingFactor: number,
  over: { drift?: TokenDrift; at?: number; success?: boolean } = {},
): Write => ({
  kind: 'consume',
  serial,
  movingFactor,
  drift: over.drift ?? NO_DRIFT,
  at: over.at ?? 0,
  success: over.success ?? true,
});

/** The common accept's writes: the consume and its accept row (`reason`: 'resync' when it completes one). */
export const acceptWrites = (
  serial: string,
  movingFactor: number,
  o: Origin,
  drift: TokenDrift = NO_DRIFT,
  reason: string | null = null,
): Write[] => [
  consumed(serial, movingFactor, { drift, at: o.at }),
  audited({ at: o.at, type: 'accept', serial, userId: o.userId ?? null, ip: o.ip, actor: null, reason, movingFactor }),
];

/**
 * An activation's writes, in decideActivate's shape: the code spent, the user created (or,
 * `existing`, its password set), the token it `replaces` deactivated, the token assigned, and the
 * 'activate' and 'accept' rows under the user.
 */
export const activateWrites = (
  serial: string,
  movingFactor: number,
  o: Origin,
  bind: { userId: string; passwordHash: string; existing?: boolean; replaces?: string },
): Write[] => {
  const { userId, passwordHash } = bind;
  const row = { at: o.at, userId, ip: o.ip, actor: o.actor ?? null };
  const existing = bind.existing === true || bind.replaces !== undefined;
  return [
    consumed(serial, movingFactor, { at: o.at }),
    existing
      ? { kind: 'set-password', userId, passwordHash, at: o.at }
      : { kind: 'create-user', userId, passwordHash, identityHash: null, at: o.at },
    ...(bind.replaces !== undefined
      ? [
          { kind: 'deactivate', serial: bind.replaces, at: o.at, replacedBy: serial } as const,
          audited({ ...row, type: 'deactivate', serial: bind.replaces, reason: `replaced by ${serial}`, movingFactor: null }),
        ]
      : []),
    { kind: 'assign', serial, userId, at: o.at },
    audited({ ...row, type: 'activate', serial, reason: null, movingFactor: null }),
    audited({ ...row, type: 'accept', serial, reason: null, movingFactor }),
  ];
};

/**
 * Spends `movingFactor` of the key's token when it is above the last spent one; else counts a
 * replay, a failure: the compare-and-set, decided on the snapshot.
 */
export const spend =
  (movingFactor: number, o: Origin, drift: TokenDrift = NO_DRIFT) =>
  ({ token }: Snapshot): Decision<'accepted' | 'replay' | 'unknown'> => {
    if (token === null) return { result: 'unknown', writes: [] };
    const { serial } = token;
    if (token.lastMovingFactor < movingFactor) return { result: 'accepted', writes: acceptWrites(serial, movingFactor, o, drift) };
    return {
      result: 'replay',
      writes: [
        { kind: 'failures', serial, failures: token.failures + 1 },
        audited({ at: o.at, type: 'reject', serial, ip: o.ip, reason: 'replay', movingFactor }),
      ],
    };
  };
