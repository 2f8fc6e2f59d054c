/**
 * The TokenStore contract (src/store/types.ts) as one reusable suite, run against every adapter:
 * store-contract-sqlite.test.ts and store-contract-postgres.test.ts. Whatever a caller may rely
 * on is here — results, audit events, all-or-nothing writes — and above all the rules that must
 * hold under concurrency: compare-and-set accepts (within one store and across two stores over
 * the same database, i.e. two server instances), atomic failure counts, one active token per
 * user, an append-only audit log enforced by the database itself, and acknowledgement only after
 * commit. Adapter-specific checks (journal modes, migrations tables, group commit) stay in the
 * adapter's own test file.
 */
import type { Test } from 'tap';
import { makeSerial } from '@kodeviser/shared';
import { NO_DRIFT } from '../src/domain/policy.js';
import type { AttemptCommand, AttemptResult, NewTokenRecord, Origin, TokenDrift, TokenStore } from '../src/store/types.js';

/** A store under test, with what the contract needs to look past it. */
export interface ContractStore extends TokenStore {
  /**
   * Runs one SQL statement on a connection of its own, outside the store (to show that the
   * database itself refuses something, or that a write is visible elsewhere once acknowledged).
   * The contract uses only SQL that SQLite and PostgreSQL both read the same way.
   */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  /** Another store over the same database: a second server instance, in effect. */
  another(): Promise<TokenStore>;
}

/** Opens a fresh, empty database for one test; the opener closes and removes it when `t` ends. */
export type OpenContractStore = (t: Test) => Promise<ContractStore>;

const T0 = Date.UTC(2026, 0, 1);
const at = (ms = 0): Origin => ({ at: T0 + ms, ip: '198.51.100.7' });
export const serial = (n: number) => makeSerial(String(200_000_000 + n));
export const row = (n: number, over: Partial<NewTokenRecord> = {}): NewTokenRecord => ({
  serial: serial(n),
  profile: 'hotp-sha1',
  digits: 6,
  step: 30,
  t0: 0,
  seed: { ciphertext: Uint8Array.of(n & 0xff, 1, 2, 3), nonce: new Uint8Array(12).fill(n & 0xff), keyVersion: 1 },
  lastMovingFactor: -1,
  drift: NO_DRIFT,
  ...over,
});
const never = () => ({ blockForMs: 0, lock: false });
export const attempt = (n: number, over: Partial<AttemptCommand> = {}): AttemptCommand => ({
  serial: serial(n),
  origin: at(),
  success: true,
  reason: 'bad-otp',
  onFailure: never,
  ...over,
});
const outcomes = (rs: AttemptResult[]) => rs.map((r) => r.outcome);

export function storeContract(tap: Test, name: string, open: OpenContractStore): void {
  tap.test(`${name}: the TokenStore contract`, async (tap) => {
    tap.test('the audit log refuses UPDATE and DELETE, whoever asks', async (t) => {
      const store = await open(t);
      await store.appendAudit([{ at: T0, type: 'lock', serial: serial(1), actor: 'admin' }]);
      await t.rejects(store.raw(`UPDATE audit SET reason = 'x'`), /append-only/);
      await t.rejects(store.raw('DELETE FROM audit'), /append-only/);
      t.equal((await store.queryAudit({})).length, 1);
    });

    tap.test('one active token per user is a database constraint', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1), row(2)], at());
      await store.recordAttempt(
        attempt(1, { consume: { movingFactor: 0, drift: NO_DRIFT }, bind: { userId: 'alice', passwordHash: 'h1', replaces: null } }),
      );
      await t.rejects(
        store.raw(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serial(2)}', 'alice', TRUE, 0)`),
        /unique constraint/i,
      );
      await t.rejects(
        store.raw(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serial(9)}', 'bob', TRUE, 0)`),
        /foreign key/i,
        'assignments reference tokens and users',
      );

      // Through the store, binding a second token deactivates the first.
      await store.recordAttempt(
        attempt(2, { consume: { movingFactor: 0, drift: NO_DRIFT }, bind: { userId: 'alice', passwordHash: 'h2', replaces: serial(1) } }),
      );
      t.equal((await store.getActiveToken('alice'))?.serial, serial(2));
      t.equal((await store.getToken(serial(1)))?.userId, null);
      t.same(await store.getUser('alice'), { userId: 'alice', passwordHash: 'h2' }, 'the password is the latest');
      t.equal(await store.getUser('nobody'), null);
      t.equal(await store.getActiveToken('nobody'), null);
      const events = await store.queryAudit({ userId: 'alice' });
      t.same(
        events.map((e) => [e.type, e.serial]),
        [
          ['accept', serial(2)],
          ['activate', serial(2)],
          ['deactivate', serial(1)],
          ['accept', serial(1)],
          ['activate', serial(1)],
        ],
      );

      // A token bound to alice (even inactive) cannot be bound to bob: the attempt rolls back whole.
      await t.rejects(
        store.recordAttempt(
          attempt(1, { consume: { movingFactor: 1, drift: NO_DRIFT }, bind: { userId: 'bob', passwordHash: 'h', replaces: null } }),
        ),
        { code: 'ERR_ASSIGNED_ELSEWHERE' },
      );
      t.equal((await store.getToken(serial(1)))?.lastMovingFactor, 0, 'the code was not consumed');
      t.equal(await store.getUser('bob'), null, 'nor bob created');

      // alice takes her first token back: it is reactivated, the second deactivated.
      await store.recordAttempt(
        attempt(1, { consume: { movingFactor: 1, drift: NO_DRIFT }, bind: { userId: 'alice', passwordHash: 'h3', replaces: serial(2) } }),
      );
      t.equal((await store.getActiveToken('alice'))?.serial, serial(1));
    });

    tap.test('a binding applies only while the user is as the decision saw it; else it rolls back whole', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1), row(2), row(3)], at());
      const bind = (n: number, movingFactor: number, replaces: string | null, userId = 'alice') =>
        store.recordAttempt(attempt(n, { consume: { movingFactor, drift: NO_DRIFT }, bind: { userId, passwordHash: `h${n}`, replaces } }));
      await bind(1, 0, null);
      const unchanged = async (what: string) => {
        t.equal((await store.getActiveToken('alice'))?.serial, serial(1), `${what}: the active token is kept`);
        t.same(await store.getUser('alice'), { userId: 'alice', passwordHash: 'h1' }, `${what}: the password is kept`);
        t.equal((await store.getToken(serial(2)))?.lastMovingFactor, -1, `${what}: the code was not consumed`);
        t.equal((await store.getToken(serial(2)))?.userId, null, `${what}: the token is not bound`);
      };
      await t.rejects(bind(2, 0, null), { code: 'ERR_USER_CHANGED' }, 'creating a user that exists');
      await unchanged('creating a user that exists');
      await t.rejects(bind(2, 0, serial(3)), { code: 'ERR_USER_CHANGED' }, 'replacing a token that is not the active one');
      await unchanged('replacing another token');
      await t.rejects(bind(2, 0, serial(1), 'nobody'), { code: 'ERR_USER_CHANGED' }, 'replacing for a user that does not exist');
      t.equal(await store.getUser('nobody'), null, 'nor is that user created');
      t.equal((await store.queryAudit({ userId: 'alice' })).length, 2, 'no audit row of a binding that rolled back');

      t.same(await bind(1, 1, serial(1)), { outcome: 'accepted' }, 'the owner re-binds the active token itself');
      t.same(await bind(2, 0, serial(1)), { outcome: 'accepted' }, 'the active token replaced');
      t.equal((await store.getActiveToken('alice'))?.serial, serial(2));
      t.same(await store.getUser('alice'), { userId: 'alice', passwordHash: 'h2' });
    });

    tap.test('two instances binding one user at once: exactly one wins, the other rolls back whole', async (t) => {
      const store = await open(t);
      const other = await store.another();
      const rounds = 5;
      await store.insertTokens(
        Array.from({ length: 3 * rounds }, (_, i) => row(i)),
        at(),
      );
      const bind = (s: TokenStore, n: number, userId: string, replaces: string | null) =>
        s.recordAttempt(attempt(n, { consume: { movingFactor: 0, drift: NO_DRIFT }, bind: { userId, passwordHash: `h${n}`, replaces } }));
      const oneWins = async (results: PromiseSettledResult<AttemptResult>[], serials: string[], what: string) => {
        const won = results.findIndex((r) => r.status === 'fulfilled');
        const lost = results.find((r) => r.status === 'rejected');
        t.ok(
          won >= 0 && (lost as PromiseRejectedResult | undefined)?.reason?.code === 'ERR_USER_CHANGED',
          `${what}: one accepted, one ERR_USER_CHANGED`,
        );
        const loser = serials[1 - won] as string;
        t.equal((await store.getToken(loser))?.lastMovingFactor, -1, `${what}: the loser's code is not consumed`);
        return serials[won] as string;
      };
      for (let r = 0; r < rounds; r++) {
        const userId = `user-${r}`;
        const [a, b, c] = [3 * r, 3 * r + 1, 3 * r + 2];
        const created = await oneWins(
          await Promise.allSettled([bind(store, a, userId, null), bind(other, b, userId, null)]),
          [serial(a), serial(b)],
          `round ${r}, create`,
        );
        t.equal((await store.getActiveToken(userId))?.serial, created);
        const replaced = await oneWins(
          await Promise.allSettled([bind(store, c, userId, created), bind(other, created === serial(a) ? b : a, userId, created)]),
          [serial(c), created === serial(a) ? serial(b) : serial(a)],
          `round ${r}, replace`,
        );
        const active = await store.raw(`SELECT serial FROM assignments WHERE user_id = '${userId}' AND active = TRUE`);
        t.same(
          active.map((x) => x.serial),
          [replaced],
          `round ${r}: one active token, the winner's`,
        );
        const deactivations = (await store.queryAudit({ userId })).filter((e) => e.type === 'deactivate');
        t.same(
          deactivations.map((e) => e.serial),
          [created],
          `round ${r}: only the replaced token deactivated`,
        );
      }
    });

    tap.test('accepting a moving factor is a compare-and-set, also among concurrent writes', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      const both = await Promise.all([
        store.recordAttempt(attempt(1, { consume: { movingFactor: 5, drift: NO_DRIFT } })),
        store.recordAttempt(attempt(1, { consume: { movingFactor: 5, drift: NO_DRIFT } })),
      ]);
      t.same(outcomes(both).sort(), ['accepted', 'failed']);
      t.match(
        both.find((r) => r.outcome === 'failed'),
        { reason: 'replay', failures: 1 },
      );
      t.match(
        await store.recordAttempt(attempt(1, { consume: { movingFactor: 3, drift: NO_DRIFT } })),
        { outcome: 'failed', reason: 'replay', failures: 2 },
        'lower is a replay',
      );
      // Every field of the clock comes back as written: a rate and its variance are doubles, exactly.
      const ahead: TokenDrift = { steps: 2, offsetMs: 74_321, ratePpm: 17.123456789012345, rateVar: 41.000000000000014 };
      t.same(await store.recordAttempt(attempt(1, { consume: { movingFactor: 6, drift: ahead } })), { outcome: 'accepted' });
      t.match(await store.getToken(serial(1)), { lastMovingFactor: 6, drift: ahead, failures: 0, lastUsedAt: T0 });
      const big = 2 ** 40 + 3;
      const behind: TokenDrift = { steps: -7, offsetMs: -(2 ** 40) - 5, ratePpm: -99.5, rateVar: 1e-9 };
      t.same(await store.recordAttempt(attempt(1, { consume: { movingFactor: big, drift: behind } })), { outcome: 'accepted' });
      t.same((await store.getToken(serial(1)))?.drift, behind, 'offsets beyond 32 bits come back as numbers');
      t.match(await store.getToken(serial(1)), { lastMovingFactor: big }, 'moving factors beyond 32 bits come back as numbers');
      t.same(await store.recordAttempt(attempt(1, { consume: { movingFactor: big + 1, drift: NO_DRIFT } })), { outcome: 'accepted' });
      t.same((await store.getToken(serial(1)))?.drift, NO_DRIFT, 'no rate variance (null) comes back null');
    });

    tap.test('the same code sent to two instances 60 times is accepted exactly once', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1), row(2)], at());
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 ? other : store).recordAttempt(attempt(1 + (i % 4 < 2 ? 0 : 1), { consume: { movingFactor: 42, drift: NO_DRIFT } })),
        ),
      );
      t.equal(results.filter((r) => r.outcome === 'accepted').length, 2, 'one accept per token');
      t.ok(
        results.every((r) => r.outcome === 'accepted' || r.reason === 'replay'),
        'every other one is a replay',
      );
      for (const n of [1, 2]) {
        const events = await store.queryAudit({ serial: serial(n) });
        t.equal(events.filter((e) => e.type === 'accept').length, 1, `${serial(n)}: one accept in the audit log`);
        t.equal(events.filter((e) => e.type === 'reject' && e.reason === 'replay').length, 29, `${serial(n)}: 29 replays in the audit log`);
        t.equal((await other.getToken(serial(n)))?.failures, 29, 'each replay counted once');
      }
    });

    tap.test('racing increasing codes: accepts happen in increasing order and the highest always wins', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1)], at());
      const factors = Array.from({ length: 30 }, (_, i) => 30 - i);
      await Promise.all(
        factors.map((f, i) => (i % 2 ? other : store).recordAttempt(attempt(1, { consume: { movingFactor: f, drift: NO_DRIFT } }))),
      );
      t.equal((await store.getToken(serial(1)))?.lastMovingFactor, 30);
      const accepted = (await store.queryAudit({ serial: serial(1) }))
        .filter((e) => e.type === 'accept')
        .reverse()
        .map((e) => e.movingFactor as number);
      t.ok(
        accepted.length >= 1 && accepted.every((f, i) => i === 0 || f > (accepted[i - 1] as number)),
        `accepted in increasing order: ${accepted.join(' ')}`,
      );
      t.equal(accepted.at(-1), 30);
    });

    tap.test('failures count atomically; the policy callback decides block and lock', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      const seen: number[] = [];
      const onFailure = (n: number) => {
        seen.push(n);
        return { blockForMs: n >= 3 ? 1000 * n : 0, lock: n >= 5 };
      };
      const results = await Promise.all([1, 2, 3, 4].map(() => store.recordAttempt(attempt(1, { success: false, onFailure }))));
      t.same([...seen].sort(), [1, 2, 3, 4], 'each failure saw its own count');
      t.match(
        results.find((r) => r.outcome === 'failed' && r.failures === 4),
        { reason: 'bad-otp', blockedUntil: T0 + 4000, locked: false },
      );
      t.match(await store.getToken(serial(1)), { failures: 4, blockedUntil: T0 + 4000, status: 'enabled' });
      t.match(await store.recordAttempt(attempt(1, { success: false, onFailure })), { failures: 5, locked: true });
      t.match(await store.getToken(serial(1)), { status: 'locked' });
      t.match(
        await store.recordAttempt(attempt(1, { consume: { movingFactor: 9, drift: NO_DRIFT }, onFailure })),
        { outcome: 'failed', reason: 'locked', failures: 0, locked: true },
        'a locked token consumes nothing and counts nothing',
      );
      t.match(await store.getToken(serial(1)), { failures: 5, lastMovingFactor: -1 });
      t.match(await store.recordAttempt(attempt(7, { success: false })), { reason: 'unknown-token', locked: false });
      t.match(
        await store.recordAttempt(attempt(7, { consume: { movingFactor: 1, drift: NO_DRIFT } })),
        { reason: 'unknown-token' },
        'also with a code',
      );

      const types = (await store.queryAudit({ serial: serial(1) })).map((e) => e.type);
      t.same(types.slice(0, 3), ['reject', 'lock', 'reject'], 'the lock is audited');
      t.equal(types.filter((x) => x === 'block').length, 2);

      t.equal(await store.changeStatus({ serial: serial(1), from: ['locked'], to: 'enabled', origin: at() }), true);
      t.match(await store.getToken(serial(1)), { status: 'enabled', failures: 0, blockedUntil: null }, 'unlock clears failures and block');
    });

    tap.test('failures sent to two instances at once: each count seen once, the block never shortened', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1)], at());
      const seen: number[] = [];
      const onFailure = (n: number) => {
        seen.push(n);
        return { blockForMs: n >= 3 ? 1000 * (30 - n) : 0, lock: false };
      };
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => (i % 2 ? other : store).recordAttempt(attempt(1, { success: false, onFailure }))),
      );
      t.same(
        [...seen].sort((a, b) => a - b),
        Array.from({ length: 24 }, (_, i) => i + 1),
        'counts 1..24, each exactly once',
      );
      t.match(
        await store.getToken(serial(1)),
        { failures: 24, blockedUntil: T0 + 27_000 },
        'the longest block (from the 3rd failure) stands',
      );
      t.equal((await store.queryAudit({ serial: serial(1) })).filter((e) => e.type === 'reject').length, 24);
    });

    tap.test('a right code with a wrong second factor is consumed and still counts as a failure', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      // The code measured the token's clock all the same: that is kept with the consumed step.
      const drift: TokenDrift = { steps: 1, offsetMs: 41_000, ratePpm: 2.5, rateVar: 12.75 };
      t.match(await store.recordAttempt(attempt(1, { consume: { movingFactor: 4, drift }, success: false, reason: 'bad-password' })), {
        outcome: 'failed',
        reason: 'bad-password',
        failures: 1,
      });
      t.match(await store.getToken(serial(1)), { lastMovingFactor: 4, failures: 1, drift });
      const [ev] = await store.queryAudit({ serial: serial(1), limit: 1 });
      t.match(ev, { type: 'reject', reason: 'bad-password', movingFactor: 4, ip: '198.51.100.7' });
    });

    tap.test('pending resync: set above the last accepted only, cleared by any attempt', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1, { lastMovingFactor: 10 })], at());
      await store.startResync(serial(1), { movingFactor: 8, at: T0 }, at());
      t.equal((await store.getToken(serial(1)))?.pendingResync, null, 'not below the last accepted');
      t.equal((await store.queryAudit({ serial: serial(1) })).filter((e) => e.type === 'resync-started').length, 0, 'and not audited');
      await store.startResync(serial(1), { movingFactor: 80, at: T0 + 5 }, { ...at(5), userId: 'u' });
      t.same((await store.getToken(serial(1)))?.pendingResync, { movingFactor: 80, at: T0 + 5 });
      t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'resync-started', movingFactor: 80, userId: 'u' });
      await store.recordAttempt(attempt(1, { success: false, reason: 'resync-mismatch' }));
      t.equal((await store.getToken(serial(1)))?.pendingResync, null, 'a failure clears it');
      await store.startResync(serial(1), { movingFactor: 80, at: T0 + 6 }, at(6));
      await store.recordAttempt(attempt(1, { consume: { movingFactor: 81, drift: NO_DRIFT }, acceptNote: 'resync' }));
      t.match(await store.getToken(serial(1)), { pendingResync: null, lastMovingFactor: 81 });
      t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'accept', reason: 'resync', movingFactor: 81 });
    });

    tap.test('admin resync is a compare-and-set too, and refuses revoked tokens', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1, { lastMovingFactor: 10 })], at());
      await store.recordAttempt(attempt(1, { success: false }));
      t.equal(await store.resync(serial(1), 10, NO_DRIFT, at()), false, 'not to the same counter');
      const drift: TokenDrift = { steps: 3, offsetMs: 95_250, ratePpm: -3.25, rateVar: 0.5 };
      t.equal(await store.resync(serial(1), 500, drift, { ...at(), actor: 'admin' }), true);
      t.match(await store.getToken(serial(1)), { lastMovingFactor: 500, drift, failures: 0 });
      t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], {
        type: 'resync',
        actor: 'admin',
        movingFactor: 500,
        reason: 'drift 3',
      });
      await store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'revoked', origin: at() });
      t.equal(await store.resync(serial(1), 600, NO_DRIFT, at()), false);
    });

    tap.test('status changes apply only from the given states; revoke ends the assignment', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      await store.recordAttempt(
        attempt(1, { consume: { movingFactor: 0, drift: NO_DRIFT }, bind: { userId: 'carol', passwordHash: 'h', replaces: null } }),
      );
      t.equal(await store.changeStatus({ serial: serial(1), from: ['locked'], to: 'enabled', origin: at() }), false);
      t.equal(await store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'locked', origin: at() }), true);
      t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'lock', userId: null });
      t.equal(
        await store.changeStatus({ serial: serial(1), from: ['enabled', 'locked'], to: 'revoked', origin: { ...at(), actor: 'admin' } }),
        true,
      );
      t.match(await store.getToken(serial(1)), { status: 'revoked', userId: null });
      t.equal(await store.getActiveToken('carol'), null);
      t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'revoke', userId: 'carol', actor: 'admin' });
      t.match(await store.recordAttempt(attempt(1, { consume: { movingFactor: 5, drift: NO_DRIFT } })), {
        outcome: 'failed',
        reason: 'revoked',
        locked: false,
      });
      t.equal(await store.changeStatus({ serial: serial(5), from: ['enabled'], to: 'locked', origin: at() }), false, 'unknown serial');
    });

    tap.test('import is all or nothing and names the duplicate serial', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      await t.rejects(store.insertTokens([row(2), row(3), row(1), row(4)], at()), {
        name: 'DuplicateSerialError',
        code: 'ERR_DUPLICATE_SERIAL',
        serial: serial(1),
        message: new RegExp(serial(1)),
      });
      await t.rejects(
        store.insertTokens([row(5), row(6), row(5)], at()),
        { code: 'ERR_DUPLICATE_SERIAL', serial: serial(5) },
        'twice within one batch',
      );
      for (const n of [2, 3, 4, 5, 6]) t.equal(await store.getToken(serial(n)), null, `${serial(n)} not imported`);
      t.equal((await store.queryAudit({})).filter((e) => e.type === 'import').length, 1, 'no import events of the failed batches');
      const back = await store.getToken(serial(1));
      t.same(back?.seed, row(1).seed, 'the sealed seed comes back byte for byte');
      t.match(back, {
        profile: 'hotp-sha1',
        digits: 6,
        step: 30,
        t0: 0,
        status: 'enabled',
        importedAt: T0,
        lastUsedAt: null,
        pendingResync: null,
      });

      const drift: TokenDrift = { steps: -2, offsetMs: -120_000, ratePpm: 0, rateVar: null };
      const many = Array.from({ length: 500 }, (_, i) =>
        row(1000 + i, { profile: 'totp-sha256', digits: 8, step: 60, t0: 1_700_000_000, drift }),
      );
      await store.insertTokens(many, { ...at(), actor: 'admin' });
      t.match(await store.getToken(serial(1499)), { profile: 'totp-sha256', digits: 8, step: 60, t0: 1_700_000_000, drift });
      const imports = (await store.queryAudit({ limit: 1000 })).filter((e) => e.type === 'import');
      t.equal(imports.length, 501, 'one import event per token');
      t.match(imports[0], { serial: serial(1499), actor: 'admin' }, 'written in the order given');
    });

    tap.test('audit queries filter by serial, user and time, newest first, bounded', async (t) => {
      const store = await open(t);
      await store.appendAudit([
        { at: T0, type: 'import', serial: serial(1) },
        { at: T0 + 10, type: 'accept', serial: serial(1), userId: 'u1', movingFactor: 3 },
        { at: T0 + 20, type: 'reject', serial: serial(2), userId: 'u1', reason: 'bad-otp', ip: '203.0.113.9' },
        { at: T0 + 30, type: 'lock', serial: serial(2), actor: 'admin' },
      ]);
      await store.appendAudit([]);
      t.same(
        (await store.queryAudit({ serial: serial(1) })).map((e) => e.type),
        ['accept', 'import'],
      );
      t.same(
        (await store.queryAudit({ userId: 'u1' })).map((e) => e.at - T0),
        [20, 10],
      );
      t.same(
        (await store.queryAudit({ since: T0 + 20 })).map((e) => e.type),
        ['lock', 'reject'],
      );
      t.same(
        (await store.queryAudit({ serial: serial(2), userId: 'u1', since: T0 })).map((e) => e.type),
        ['reject'],
      );
      t.same(
        (await store.queryAudit({ limit: 1 })).map((e) => e.type),
        ['lock'],
      );
      t.equal((await store.queryAudit({ limit: 0 })).length, 1, 'limit at least 1');
      const all = await store.queryAudit({});
      t.ok(
        all.every((e, i) => i === 0 || e.id < (all[i - 1] as { id: number }).id),
        'ids grow with every event',
      );
      t.match((await store.queryAudit({ serial: serial(2) }))[1], {
        type: 'reject',
        serial: serial(2),
        userId: 'u1',
        ip: '203.0.113.9',
        actor: null,
        reason: 'bad-otp',
        movingFactor: null,
      });
      await store.appendAudit(Array.from({ length: 1200 }, (_, i) => ({ at: T0 + 100 + i, type: 'reject' as const })));
      t.equal((await store.queryAudit({ limit: 5000 })).length, 1000, 'at most 1000 per query');
      t.equal(await store.ping(), true);
    });

    tap.test('audit queries by serial and user find every matching row, whatever its history', async (t) => {
      // A history in which rows belong to a token's own record and rows do not: a serial seen
      // before it was imported, another user's attempt on a bound token, a user's event with no
      // token, a token bound to its user, then replaced, locked and revoked; times not always
      // in the order of the rows. Every filtered query must equal the whole log, filtered.
      const store = await open(t);
      await store.appendAudit([{ at: T0 + 5, type: 'reject', serial: serial(3), reason: 'unknown-token', ip: '203.0.113.1' }]);
      await store.insertTokens([row(1), row(2), row(3)], at(10));
      await store.recordAttempt(
        attempt(1, {
          origin: { ...at(20), userId: 'alice' },
          consume: { movingFactor: 0, drift: NO_DRIFT },
          bind: { userId: 'alice', passwordHash: 'h', replaces: null },
        }),
      );
      await store.appendAudit([
        { at: T0 + 30, type: 'reject', serial: serial(1), userId: 'bob', reason: 'assigned-elsewhere' },
        { at: T0 + 25, type: 'reject', userId: 'carol', reason: 'not-activated' },
        { at: T0 + 31, type: 'reject', serial: serial(3), userId: 'bob', reason: 'bad-otp' },
      ]);
      await store.recordAttempt(attempt(1, { origin: { ...at(40), userId: 'alice' }, consume: { movingFactor: 1, drift: NO_DRIFT } }));
      await store.recordAttempt(attempt(1, { origin: { ...at(45), userId: 'alice' }, consume: { movingFactor: 1, drift: NO_DRIFT } }));
      await store.recordAttempt(
        attempt(2, {
          origin: { ...at(50), userId: 'alice' },
          consume: { movingFactor: 0, drift: NO_DRIFT },
          bind: { userId: 'alice', passwordHash: 'h', replaces: serial(1) },
        }),
      );
      await store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'locked', origin: { ...at(60), actor: 'admin' } });
      await store.recordAttempt(
        attempt(3, {
          origin: { ...at(65), userId: 'bob' },
          consume: { movingFactor: 0, drift: NO_DRIFT },
          bind: { userId: 'bob', passwordHash: 'h', replaces: null },
        }),
      );
      await store.changeStatus({ serial: serial(2), from: ['enabled'], to: 'revoked', origin: { ...at(70), actor: 'admin' } });
      await store.appendAudit([{ at: T0 + 1, type: 'reject', serial: serial(2), userId: 'alice', reason: 'revoked' }]);

      const all = await store.queryAudit({ limit: 1000 });
      t.equal(all.length, 19, 'the whole log');
      let checked = 0;
      for (const s of [undefined, serial(1), serial(2), serial(3), serial(4)]) {
        for (const userId of [undefined, 'alice', 'bob', 'carol', 'dave']) {
          for (const since of [undefined, T0 + 20, T0 + 46]) {
            for (const limit of [1, 3, 1000]) {
              const q = { ...(s ? { serial: s } : {}), ...(userId ? { userId } : {}), ...(since ? { since } : {}), limit };
              const expected = all
                .filter((e) => (!s || e.serial === s) && (!userId || e.userId === userId) && (!since || e.at >= since))
                .slice(0, limit);
              const got = await store.queryAudit(q);
              if (JSON.stringify(got) !== JSON.stringify(expected)) t.same(got, expected, JSON.stringify(q));
              checked++;
            }
          }
        }
      }
      t.equal(checked, 225, '225 filtered queries, each equal to the log filtered');
      t.same(
        (await store.queryAudit({ serial: serial(3) })).map((e) => e.reason ?? e.type),
        ['accept', 'activate', 'bad-otp', 'import', 'unknown-token'],
      );
      t.same(
        (await store.queryAudit({ userId: 'alice', since: T0 + 46 })).map((e) => e.type),
        ['revoke', 'accept', 'activate', 'deactivate'],
      );
    });

    tap.test('every write is acknowledged only once committed, and visible to another connection then', async (t) => {
      const store = await open(t);
      const n = 200;
      await store.insertTokens(
        Array.from({ length: n }, (_, i) => row(i)),
        at(),
      );
      const unseen: string[] = [];
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.recordAttempt(attempt(i, { consume: { movingFactor: 7, drift: NO_DRIFT } })).then(async (r) => {
            const [peek] = await store.raw(`SELECT last_moving_factor AS m FROM tokens WHERE serial = '${serial(i)}'`);
            if (r.outcome !== 'accepted' || Number(peek?.m) !== 7) unseen.push(serial(i));
          }),
        ),
      );
      t.same(unseen, [], 'every acknowledged accept was already committed');
    });

    tap.test('close commits what is under way, then refuses', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      const pending = store.recordAttempt(attempt(1, { consume: { movingFactor: 1, drift: NO_DRIFT } }));
      await store.close();
      t.same(await pending, { outcome: 'accepted' });
      await store.close();
      for (const call of [
        () => store.getToken(serial(1)),
        () => store.getActiveToken('x'),
        () => store.getUser('x'),
        () => store.recordAttempt(attempt(1)),
        () => store.startResync(serial(1), { movingFactor: 9, at: T0 }, at()),
        () => store.resync(serial(1), 9, NO_DRIFT, at()),
        () => store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'locked', origin: at() }),
        () => store.insertTokens([row(2)], at()),
        () => store.appendAudit([]),
        () => store.queryAudit({}),
        () => store.ping(),
      ]) {
        await t.rejects(call() as Promise<unknown>, { code: 'ERR_STORE_CLOSED' });
      }
      const reopened = await store.another();
      t.equal((await reopened.getToken(serial(1)))?.lastMovingFactor, 1, 'the accept is in the database');
    });
  });
}
