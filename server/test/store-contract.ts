/**
 * The TokenStore contract (src/store/types.ts) as one reusable suite, run against every adapter:
 * store-contract-sqlite.test.ts and store-contract-postgres.test.ts. Whatever a caller may rely
 * on is here: the snapshot an attempt decides on, each write as it lands, all-or-nothing
 * attempts, and above all that concurrent attempts are decided one after the other, each on the
 * rows as the one before left them (within one store and across two stores over the same
 * database, i.e. two server instances), an append-only audit log enforced by the database
 * itself, and acknowledgement only after commit. The decisions here are small ones written for
 * the test (helpers/writes.ts); the policy's own are domain-decide.test.ts's. Adapter-specific
 * checks (journal modes, migrations tables, group commit) stay in the adapter's own test file.
 */
import type { Test } from 'tap';
import { makeSerial } from '@kodeviser/shared';
import { decideRevokeCredential, type CredentialRecord } from '../src/domain/credentials.js';
import { EMPTY_SNAPSHOT, type Decision, type Snapshot, type Write } from '../src/domain/decide.js';
import { NO_DRIFT } from '../src/domain/policy.js';
import {
  decideOrderStep,
  decidePlaceOrder,
  DEFAULT_ORDER_POLICY,
  newOrderId,
  type Delivery,
  type OrderRecord,
} from '../src/domain/orders.js';
import type { AuditEntry, NewTokenRecord, Origin, TokenDrift, TokenStore } from '../src/store/types.js';
import { applyWrites, audited, consumed, spend } from './helpers/writes.js';

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

const NOTHING = EMPTY_SNAPSHOT;

const credentialRow = (n: number, over: Partial<CredentialRecord> = {}): CredentialRecord => ({
  id: `cred-${String(n).padStart(16, '0')}`,
  role: 'operator',
  name: `desk ${n}`,
  tokenHash: String(n).padStart(64, 'a'),
  createdAt: T0 + n,
  expiresAt: null,
  revokedAt: null,
  serials: null,
  ...over,
});

const HOME: Delivery = {
  method: 'post',
  address: { name: 'Ida Holm', street: 'Nørregade 7, 2. tv', postcode: '8000', city: 'Aarhus C', country: 'DK' },
};
const orderRow = (n: number, over: Partial<OrderRecord> = {}): OrderRecord => ({
  id: `ord_${String.fromCharCode(97 + n).repeat(26)}`,
  trackingHash: String(n).padStart(64, 't'),
  userId: 'ida',
  status: 'placed',
  priceOre: 0,
  delivery: HOME,
  createdAt: T0 + n,
  updatedAt: T0 + n,
  expectedBy: { earliest: '2026-01-06', latest: '2026-01-12' },
  paymentReference: null,
  serial: null,
  ...over,
});
/** A user with a proof of 15 minutes from T0: the writes. */
const userWithProof = (userId: string, idHash: string): Write[] => [
  { kind: 'create-user', userId, passwordHash: null, identityHash: `identity-${userId}`, at: T0 },
  {
    kind: 'create-proof',
    proof: { idHash, userId, documentHash: null, actor: 'cred-1', createdAt: T0, expiresAt: T0 + 900_000, usedAt: null },
  },
];

/** The writes of an activation that binds token `n` to `userId` (a new user, or replacing `replaces`). */
function bindWrites(n: number, movingFactor: number, userId: string, o: Origin, replaces?: number): Write[] {
  const s = serial(n);
  const entry = { at: o.at, userId, ip: o.ip };
  const writes: Write[] = [
    consumed(s, movingFactor, { at: o.at }),
    replaces === undefined
      ? { kind: 'create-user', userId, passwordHash: `h${n}`, identityHash: null, at: o.at }
      : { kind: 'set-password', userId, passwordHash: `h${n}`, at: o.at },
  ];
  if (replaces !== undefined && replaces !== n) {
    writes.push(
      { kind: 'deactivate', serial: serial(replaces), at: o.at, replacedBy: s },
      audited({ ...entry, type: 'deactivate', serial: serial(replaces), reason: `replaced by ${s}` }),
    );
  }
  writes.push(
    { kind: 'assign', serial: s, userId, at: o.at },
    audited({ ...entry, type: 'activate', serial: s }),
    audited({ ...entry, type: 'accept', serial: s, movingFactor }),
  );
  return writes;
}

/**
 * An activation decided as the policy would in outline: create a user that does not exist, or
 * replace the active token `replaces` of one that does; anything else is refused, unwritten.
 */
const activation =
  (n: number, userId: string, replaces: string | null) =>
  ({ user, userToken }: Snapshot): Decision<'created' | 'replaced' | 'refused'> => {
    if (user === null && replaces === null) return { result: 'created', writes: bindWrites(n, 0, userId, at()) };
    if (user !== null && replaces !== null && userToken?.serial === replaces) {
      return { result: 'replaced', writes: bindWrites(n, 0, userId, at(), Number(replaces.slice(0, 9)) - 200_000_000) };
    }
    return { result: 'refused', writes: [] };
  };

/** Counts one failure of the key's token, noting the count it saw; blocks from the third. */
const failOnce =
  (seen: number[], blockMs: (failures: number) => number) =>
  ({ token }: Snapshot): Decision<number> => {
    const t = token!;
    const failures = t.failures + 1;
    seen.push(failures);
    const writes: Write[] = [
      { kind: 'failures', serial: t.serial, failures },
      audited({ at: T0, type: 'reject', serial: t.serial, reason: 'bad-otp' }),
    ];
    if (failures >= 3) writes.push({ kind: 'block', serial: t.serial, until: Math.max(t.blockedUntil ?? 0, T0 + blockMs(failures)) });
    return { result: failures, writes };
  };

export function storeContract(tap: Test, name: string, open: OpenContractStore): void {
  tap.test(`${name}: the TokenStore contract`, async (tap) => {
    tap.test('the audit log refuses UPDATE and DELETE, whoever asks', async (t) => {
      const store = await open(t);
      await applyWrites(store, [audited({ at: T0, type: 'lock', serial: serial(1), actor: 'admin' })]);
      await t.rejects(store.raw(`UPDATE audit SET reason = 'x'`), /append-only/);
      await t.rejects(store.raw('DELETE FROM audit'), /append-only/);
      t.equal((await store.queryAudit({})).length, 1);
    });

    tap.test("the snapshot: the token, its owner ever, the user and the user's active token", async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1), row(2), row(3)], at());
      t.same(await store.snapshot({}), NOTHING, 'an empty key reads nothing');
      t.same(await store.snapshot({ serial: serial(9), userId: 'nobody', credentialId: 'cred-0' }), NOTHING);
      await applyWrites(store, bindWrites(1, 0, 'alice', at()));
      await applyWrites(store, bindWrites(2, 0, 'alice', at(), 1));
      const seen = await store.snapshot({ serial: serial(1), userId: 'alice' });
      t.match(seen, {
        token: { serial: serial(1), userId: null, lastMovingFactor: 0 },
        tokenOwner: 'alice',
        user: { userId: 'alice', passwordHash: 'h2' },
        userToken: { serial: serial(2), userId: 'alice' },
      });
      const inside = await store.attempt({ serial: serial(1), userId: 'alice' }, (s) => ({ result: s, writes: [] }));
      t.same(inside, seen, 'an attempt decides on the same rows');
      const own = await store.snapshot({ serial: serial(2), userId: 'alice' });
      t.same(own.userToken, own.token, "the user's active token, asked for by its serial too");
      t.match(await store.snapshot({ userId: 'alice' }), { token: null, tokenOwner: null, userToken: { serial: serial(2) } });
      t.match(await store.snapshot({ serial: serial(3) }), { token: { serial: serial(3) }, tokenOwner: null, user: null, userToken: null });
    });

    tap.test('credentials: created, read by id and by token hash, listed, revoked once among concurrent revocations', async (t) => {
      const store = await open(t);
      const other = await store.another();
      const expiring = credentialRow(2, { role: 'proofing', expiresAt: T0 + 99 });
      await applyWrites(store, [{ kind: 'create-credential', credential: credentialRow(1) }]);
      await applyWrites(store, [{ kind: 'create-credential', credential: expiring }]);
      await t.rejects(
        applyWrites(store, [{ kind: 'create-credential', credential: credentialRow(1, { tokenHash: 'b'.repeat(64) }) }]),
        'an id taken',
      );
      await t.rejects(
        applyWrites(store, [{ kind: 'create-credential', credential: credentialRow(3, { tokenHash: expiring.tokenHash }) }]),
        'a token hash taken',
      );
      t.same(await store.snapshot({ credentialId: expiring.id }), { ...NOTHING, credential: expiring });
      t.same(await other.getCredential({ tokenHash: expiring.tokenHash }), expiring, 'by its hash, on another instance');
      t.equal(await store.getCredential({ tokenHash: 'c'.repeat(64) }), null);
      t.same(await store.listCredentials(), [credentialRow(1), expiring], 'oldest first');
      const scoped = credentialRow(4, { role: 'service', tokenHash: 'd'.repeat(64), serials: { from: serial(1), to: serial(9) } });
      await applyWrites(store, [{ kind: 'create-credential', credential: scoped }]);
      t.same(await other.getCredential({ tokenHash: scoped.tokenHash }), scoped, "a service credential's serials kept");
      const metricsRow = credentialRow(5, { role: 'metrics', tokenHash: 'e'.repeat(64) });
      await applyWrites(store, [{ kind: 'create-credential', credential: metricsRow }]);
      t.same(await store.getCredential({ tokenHash: metricsRow.tokenHash }), metricsRow, 'a metrics credential');
      const o = { ...at(50), actor: 'admin' };
      const revocations = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).attempt({ credentialId: credentialRow(1).id }, (s) => decideRevokeCredential(s, o)),
        ),
      );
      t.ok(
        revocations.every((r) => r?.revokedAt === T0 + 50),
        'every one answers revoked',
      );
      t.equal(
        (await store.queryAudit({})).filter((e) => e.type === 'credential-revoke').length,
        1,
        'one revocation written: each decided on the row as the one before left it',
      );
      t.match(await store.getCredential({ tokenHash: credentialRow(1).tokenHash }), { revokedAt: T0 + 50 });
      await t.rejects(
        applyWrites(store, [{ kind: 'revoke-credential', id: credentialRow(1).id, at: T0 }]),
        'a revoked credential is not revoked again',
      );
      await t.rejects(applyWrites(store, [{ kind: 'revoke-credential', id: 'cred-none', at: T0 }]), 'nor an unknown one');
    });

    tap.test('proofs: created, read by their hash with their user, spent once among concurrent spends on two instances', async (t) => {
      const store = await open(t);
      const other = await store.another();
      const proof = {
        idHash: 'p'.repeat(64),
        userId: 'carol',
        documentHash: 'd1',
        actor: 'cred-1',
        createdAt: T0,
        expiresAt: T0 + 900_000,
        usedAt: null,
      };
      await applyWrites(store, [
        { kind: 'create-user', userId: 'carol', passwordHash: null, identityHash: 'i1', at: T0 },
        { kind: 'create-proof', proof },
      ]);
      await t.rejects(
        applyWrites(store, [{ kind: 'create-proof', proof: { ...proof, userId: 'nobody', idHash: 'q'.repeat(64) } }]),
        'a proof of no user',
      );
      t.same(await other.snapshot({ proofIdHash: proof.idHash }), { ...NOTHING, proof }, 'by its hash, on another instance');
      t.match(await store.snapshot({ proofIdHash: proof.idHash, userId: 'carol' }), {
        proof,
        user: { userId: 'carol', passwordHash: null, identityHash: 'i1' },
      });
      t.equal((await store.snapshot({ proofIdHash: 'r'.repeat(64) })).proof, null);
      // Each spends the proof when the snapshot shows it unspent, as the decisions do.
      const spends = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).attempt({ proofIdHash: proof.idHash, userId: 'carol' }, ({ proof: p }) =>
            p?.usedAt === null
              ? { result: 'spent', writes: [{ kind: 'use-proof', idHash: proof.idHash, at: T0 + i }] }
              : { result: 'refused', writes: [] },
          ),
        ),
      );
      t.same(spends.filter((r) => r === 'spent').length, 1, 'one spend; the others saw it spent');
      t.match((await store.snapshot({ proofIdHash: proof.idHash })).proof, { usedAt: Number });
      await t.rejects(applyWrites(store, [{ kind: 'use-proof', idHash: proof.idHash, at: T0 }]), 'a spent proof is not spent again');
    });

    tap.test('orders: created, read by id, tracking hash and status, stepped only from the status the decision saw', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1), row(2)], at());
      await applyWrites(store, userWithProof('ida', 'p'.repeat(64)));
      const pickup = orderRow(1, { delivery: { method: 'pickup', centre: 'Borgerservice Aarhus' } });
      const anonymous = orderRow(2, { userId: null, status: 'awaiting-payment', priceOre: 4176 });
      const home = orderRow(3);
      for (const o of [pickup, anonymous, home]) await applyWrites(store, [{ kind: 'create-order', order: o }]);
      await t.rejects(applyWrites(store, [{ kind: 'create-order', order: orderRow(1, { trackingHash: 'x'.repeat(64) }) }]), 'an id taken');
      await t.rejects(
        applyWrites(store, [{ kind: 'create-order', order: orderRow(4, { trackingHash: home.trackingHash }) }]),
        'a tracking hash taken',
      );
      await t.rejects(applyWrites(store, [{ kind: 'create-order', order: orderRow(5, { userId: 'nobody' }) }]), 'an order of no user');
      await t.rejects(store.raw(`UPDATE orders SET status = 'lost' WHERE id = '${home.id}'`), /check/i, 'a status is one of seven');

      t.same(await other.getOrder(home.id), home, 'read back whole on another instance, the address too');
      t.same(await other.getOrder(pickup.id), pickup);
      t.same(await store.getOrderByTracking(anonymous.trackingHash), anonymous, 'by its tracking hash');
      t.equal(await store.getOrder('ord_nothing'), null);
      t.equal(await store.getOrderByTracking('0'.repeat(64)), null);
      t.same(
        (await store.listOrders({ limit: 10 })).map((o) => o.id),
        [home.id, anonymous.id, pickup.id],
        'newest first',
      );
      t.same(
        (await store.listOrders({ status: 'placed', limit: 10 })).map((o) => o.id),
        [home.id, pickup.id],
      );
      t.same(
        (await store.listOrders({ limit: 1 })).map((o) => o.id),
        [home.id],
        'at most the limit',
      );
      t.match(await store.snapshot({ orderId: home.id, userId: 'ida' }), { order: home, userOrders: 2, user: { userId: 'ida' } });
      t.match(await store.snapshot({ userId: 'ida' }), { order: null, userOrders: 0 }, "a user's orders are read with an order's key only");

      // A step applies from the status the decision saw, and only from it.
      const o = { ...at(50), actor: 'admin' };
      const ship = { kind: 'update-order', id: home.id, from: 'placed', to: 'shipped', at: T0 + 50, serial: serial(1) } as const;
      await applyWrites(store, [ship]);
      t.match(await store.getOrder(home.id), { status: 'shipped', serial: serial(1), updatedAt: T0 + 50 });
      await t.rejects(applyWrites(other, [ship]), 'not from a status it is no longer at');
      await t.rejects(
        applyWrites(store, [{ kind: 'update-order', id: pickup.id, from: 'placed', to: 'ready-for-pickup', at: T0, serial: serial(1) }]),
        'a serial sent with one order at most',
      );
      await t.rejects(
        applyWrites(store, [{ kind: 'update-order', id: pickup.id, from: 'placed', to: 'ready-for-pickup', at: T0, serial: serial(9) }]),
        'a serial of a device the store has',
      );
      t.match(await store.getOrder(pickup.id), { status: 'placed', serial: null }, 'nothing written');
      t.match(await store.snapshot({ orderId: pickup.id, serial: serial(1) }), {
        order: { id: pickup.id },
        orderOfSerial: { id: home.id },
      });
      t.equal((await store.snapshot({ orderId: pickup.id, serial: serial(2) })).orderOfSerial, null);
      await applyWrites(store, [
        { kind: 'update-order', id: anonymous.id, from: 'awaiting-payment', to: 'placed', at: T0 + 60, paymentReference: 'psp-1' },
      ]);
      t.match(await other.getOrder(anonymous.id), { status: 'placed', paymentReference: 'psp-1', serial: null });

      // Steps decided on two instances at once: each on the row as the one before left it. Whichever
      // comes first may be taken (a fulfilment reads its serial's token, so its key names it).
      const steps = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).attempt(i < 3 ? { orderId: pickup.id } : { orderId: pickup.id, serial: serial(2) }, (s) =>
            decideOrderStep(s, i < 3 ? { kind: 'cancel' } : { kind: 'fulfil', serial: serial(2) }, o),
          ),
        ),
      );
      const taken = steps.filter((r) => !('refused' in r));
      t.equal(taken.length, 1, 'one step taken');
      t.ok(
        steps.every((r) => !('refused' in r) || (r.refused === 'illegal-transition' && r.status === (taken[0] as OrderRecord).status)),
        'the others refused, naming the status it left',
      );
      t.equal((await store.queryAudit({})).filter((e) => e.type === 'order').length, 1, 'one step audited');
      t.equal((await store.listOrders({ status: 'placed', limit: 10 })).length, 1, 'the anonymous order, paid');
    });

    tap.test("one user's orders placed at once on two instances are priced one after the other: never four free", async (t) => {
      const store = await open(t);
      const other = await store.another();
      for (let round = 0; round < 3; round++) {
        const userId = `buyer-${round}`;
        const idHash = String(round).padStart(64, 'p');
        await applyWrites(store, userWithProof(userId, idHash));
        const placed = await Promise.all(
          Array.from({ length: 4 }, (_, i) => {
            const orderId = newOrderId();
            const n = { id: orderId, trackingHash: `${round}${i}`.padStart(64, 'h'), delivery: HOME, withProof: true };
            return (i % 2 ? other : store).attempt({ orderId, proofIdHash: idHash, userId }, (s) =>
              decidePlaceOrder(s, n, at(round * 10 + i), DEFAULT_ORDER_POLICY, () => false),
            );
          }),
        );
        t.same(
          placed.map((p) => ('refused' in p ? -1 : p.priceOre)).sort((a, b) => a - b),
          [0, 0, 0, 4176],
          `round ${round}: three free, the fourth paid`,
        );
        t.same(placed.map((p) => ('refused' in p ? p.refused : p.status)).sort(), ['awaiting-payment', 'placed', 'placed', 'placed']);
      }
      t.equal((await store.listOrders({ limit: 100 })).length, 12);
    });

    tap.test('erasing a user deletes its orders (their addresses) and revokes the devices they sent', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1), row(2)], at());
      await applyWrites(store, userWithProof('ida', 'p'.repeat(64)));
      const sent = orderRow(1, { status: 'shipped', serial: serial(1) });
      const waiting = orderRow(2);
      const anonymous = orderRow(3, { userId: null, status: 'awaiting-payment', priceOre: 4176 });
      await applyWrites(
        store,
        [sent, waiting, anonymous].map((order) => ({ kind: 'create-order', order }) as const),
      );
      await applyWrites(store, [{ kind: 'erase-user', userId: 'ida' }]);
      t.equal(await store.getOrder(sent.id), null, 'its orders are gone');
      t.equal(await store.getOrder(waiting.id), null);
      t.same(await store.getOrder(anonymous.id), anonymous, "another's order stays");
      t.match(await store.getToken(serial(1)), { status: 'revoked' }, 'the device sent to it revoked for good');
      t.match(await store.getToken(serial(2)), { status: 'enabled' }, 'no other');
      const [left] = await store.raw(`SELECT count(*) AS n FROM orders WHERE address LIKE '%Nørregade%'`);
      t.equal(Number(left?.n), 1, "only the anonymous order's address is left");
    });

    tap.test('one active token per user is a database constraint, and a write that cannot apply rolls its attempt back', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1), row(2)], at());
      await applyWrites(store, bindWrites(1, 0, 'alice', at()));
      await t.rejects(
        store.raw(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serial(2)}', 'alice', TRUE, 0)`),
        /unique constraint/i,
      );
      await t.rejects(
        store.raw(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serial(9)}', 'bob', TRUE, 0)`),
        /foreign key/i,
        'assignments reference tokens and users',
      );
      const unchanged = async (what: string) => {
        t.match(
          await store.snapshot({ serial: serial(2), userId: 'alice' }),
          {
            token: { lastMovingFactor: -1, userId: null },
            tokenOwner: null,
            user: { passwordHash: 'h1' },
            userToken: { serial: serial(1) },
          },
          `${what}: nothing written`,
        );
        t.equal(await store.snapshot({ userId: 'bob' }).then((s) => s.user), null, `${what}: no user created`);
      };
      const attempts: Array<[string, Write[]]> = [
        [
          'a second active token for alice',
          [
            consumed(serial(2), 0),
            { kind: 'set-password', userId: 'alice', passwordHash: 'x', at: T0 },
            { kind: 'assign', serial: serial(2), userId: 'alice', at: T0 },
          ],
        ],
        [
          'a user created twice',
          [consumed(serial(2), 0), { kind: 'create-user', userId: 'alice', passwordHash: 'x', identityHash: null, at: T0 }],
        ],
        [
          "alice's token bound to bob",
          [
            consumed(serial(2), 0),
            { kind: 'create-user', userId: 'bob', passwordHash: 'x', identityHash: null, at: T0 },
            { kind: 'assign', serial: serial(1), userId: 'bob', at: T0 },
          ],
        ],
        [
          'a moving factor not above the last',
          [consumed(serial(2), 0), audited({ at: T0, type: 'accept', serial: serial(2) }), consumed(serial(2), 0)],
        ],
        ['a password for nobody', [consumed(serial(2), 0), { kind: 'set-password', userId: 'nobody', passwordHash: 'x', at: T0 }]],
        ['a token not active deactivated', [consumed(serial(2), 0), { kind: 'deactivate', serial: serial(2), at: T0, replacedBy: null }]],
        ['an unknown token', [consumed(serial(2), 0), { kind: 'failures', serial: serial(9), failures: 1 }]],
      ];
      for (const [what, writes] of attempts) {
        await t.rejects(applyWrites(store, writes), `${what}: refused`);
        await unchanged(what);
      }
      t.equal((await store.queryAudit({ serial: serial(2) })).length, 1, 'no audit row of the attempts rolled back (the import only)');

      // Deactivating first, the second token is bound; then alice's first comes back.
      await applyWrites(store, bindWrites(2, 0, 'alice', at(), 1));
      t.match(await store.snapshot({ serial: serial(1), userId: 'alice' }), {
        token: { userId: null },
        tokenOwner: 'alice',
        user: { passwordHash: 'h2' },
        userToken: { serial: serial(2) },
      });
      t.same(
        (await store.queryAudit({ userId: 'alice' })).map((e) => [e.type, e.serial]),
        [
          ['accept', serial(2)],
          ['activate', serial(2)],
          ['deactivate', serial(1)],
          ['accept', serial(1)],
          ['activate', serial(1)],
        ],
      );
      await applyWrites(store, [
        { kind: 'deactivate', serial: serial(2), at: T0, replacedBy: null },
        { kind: 'assign', serial: serial(1), userId: 'alice', at: T0 },
      ]);
      t.equal((await store.snapshot({ userId: 'alice' })).userToken?.serial, serial(1), "a token's former user may have it back");
    });

    tap.test('activations of one user on two instances at once are decided one after the other', async (t) => {
      const store = await open(t);
      const other = await store.another();
      const rounds = 5;
      await store.insertTokens(
        Array.from({ length: 3 * rounds }, (_, i) => row(i)),
        at(),
      );
      const activate = (s: TokenStore, n: number, userId: string, replaces: string | null) =>
        s.attempt({ serial: serial(n), userId }, activation(n, userId, replaces));
      for (let r = 0; r < rounds; r++) {
        const userId = `user-${r}`;
        const [a, b, c] = [3 * r, 3 * r + 1, 3 * r + 2];
        const created = await Promise.all([activate(store, a, userId, null), activate(other, b, userId, null)]);
        t.same([...created].sort(), ['created', 'refused'], `round ${r}: one creates the user, the other sees it created`);
        const winner = created[0] === 'created' ? a : b;
        const loser = winner === a ? b : a;
        t.equal((await store.getToken(serial(loser)))?.lastMovingFactor, -1, `round ${r}: the loser's code is not consumed`);
        const replaced = await Promise.all([activate(store, c, userId, serial(winner)), activate(other, loser, userId, serial(winner))]);
        t.same([...replaced].sort(), ['refused', 'replaced'], `round ${r}: one replaces the device, the other sees it replaced`);
        const now = replaced[0] === 'replaced' ? c : loser;
        const active = await store.raw(`SELECT serial FROM assignments WHERE user_id = '${userId}' AND active = TRUE`);
        t.same(
          active.map((x) => x.serial),
          [serial(now)],
          `round ${r}: one active token, the winner's`,
        );
        const deactivations = (await store.queryAudit({ userId })).filter((e) => e.type === 'deactivate');
        t.same(
          deactivations.map((e) => e.serial),
          [serial(winner)],
          `round ${r}: only the replaced token deactivated`,
        );
      }
    });

    tap.test('accepting a moving factor: each attempt decides on the row the one before left, also among concurrent ones', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      const attempt = (movingFactor: number, drift: TokenDrift = NO_DRIFT) =>
        store.attempt({ serial: serial(1) }, spend(movingFactor, at(), drift));
      t.same((await Promise.all([attempt(5), attempt(5)])).sort(), ['accepted', 'replay']);
      t.equal(await attempt(3), 'replay', 'lower is a replay');
      t.match(await store.getToken(serial(1)), { lastMovingFactor: 5, failures: 2 });
      // Every field of the clock comes back as written: a rate and its variance are doubles, exactly.
      const ahead: TokenDrift = { steps: 2, offsetMs: 74_321, ratePpm: 17.123456789012345, rateVar: 41.000000000000014 };
      t.equal(await attempt(6, ahead), 'accepted');
      t.match(await store.getToken(serial(1)), { lastMovingFactor: 6, drift: ahead, failures: 0, lastUsedAt: T0 });
      const big = 2 ** 40 + 3;
      const behind: TokenDrift = { steps: -7, offsetMs: -(2 ** 40) - 5, ratePpm: -99.5, rateVar: 1e-9 };
      t.equal(await attempt(big, behind), 'accepted');
      t.same((await store.getToken(serial(1)))?.drift, behind, 'offsets beyond 32 bits come back as numbers');
      t.match(await store.getToken(serial(1)), { lastMovingFactor: big }, 'moving factors beyond 32 bits come back as numbers');
      t.equal(await attempt(big + 1), 'accepted');
      t.same((await store.getToken(serial(1)))?.drift, NO_DRIFT, 'no rate variance (null) comes back null');
    });

    tap.test('the same code sent to two instances 60 times is accepted exactly once', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1), row(2)], at());
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => (i % 2 ? other : store).attempt({ serial: serial(1 + (i % 4 < 2 ? 0 : 1)) }, spend(42, at()))),
      );
      t.equal(results.filter((r) => r === 'accepted').length, 2, 'one accept per token');
      t.equal(results.filter((r) => r === 'replay').length, 58, 'every other one is a replay');
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
      await Promise.all(factors.map((f, i) => (i % 2 ? other : store).attempt({ serial: serial(1) }, spend(f, at()))));
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

    tap.test('failures sent to two instances at once: each count seen once, as the one before wrote it', async (t) => {
      const store = await open(t);
      const other = await store.another();
      await store.insertTokens([row(1)], at());
      const seen: number[] = [];
      const fail = failOnce(seen, (n) => 1000 * (30 - n));
      await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? other : store).attempt({ serial: serial(1) }, fail)));
      t.same(
        [...seen].sort((a, b) => a - b),
        Array.from({ length: 24 }, (_, i) => i + 1),
        'counts 1..24, each exactly once',
      );
      t.match(await store.getToken(serial(1)), { failures: 24, blockedUntil: T0 + 27_000 }, 'the block as the decisions wrote it');
      t.equal((await store.queryAudit({ serial: serial(1) })).filter((e) => e.type === 'reject').length, 24);
    });

    tap.test('each write as it lands on the token', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1, { lastMovingFactor: 10 })], at());
      const s = serial(1);
      const token = () => store.getToken(s);
      // A right code with a wrong second factor: consumed, the clock measured, the failures kept.
      await applyWrites(store, [
        { kind: 'failures', serial: s, failures: 2 },
        { kind: 'block', serial: s, until: T0 + 9 },
      ]);
      const drift: TokenDrift = { steps: 1, offsetMs: 41_000, ratePpm: 2.5, rateVar: 12.75 };
      await applyWrites(store, [consumed(s, 14, { drift, at: T0 + 1, success: false })]);
      t.match(
        await token(),
        { lastMovingFactor: 14, drift, failures: 2, blockedUntil: T0 + 9, lastUsedAt: T0 + 1 },
        'consume without success',
      );
      await applyWrites(store, [{ kind: 'start-resync', serial: s, pending: { movingFactor: 80, at: T0 + 5 } }]);
      t.same((await token())?.pendingResync, { movingFactor: 80, at: T0 + 5 }, 'a resync pending');
      await applyWrites(store, [{ kind: 'failures', serial: s, failures: 3 }]);
      t.match(await token(), { failures: 3, pendingResync: null }, 'a failure cancels it');
      await applyWrites(store, [{ kind: 'start-resync', serial: s, pending: { movingFactor: 80, at: T0 + 6 } }]);
      await applyWrites(store, [consumed(s, 81, { at: T0 + 7 })]);
      t.match(
        await token(),
        { lastMovingFactor: 81, failures: 0, blockedUntil: null, pendingResync: null },
        'consume with success clears them all',
      );
      await applyWrites(store, [
        { kind: 'status', serial: s, status: 'locked' },
        { kind: 'block', serial: s, until: T0 + 99 },
      ]);
      t.match(await token(), { status: 'locked', blockedUntil: T0 + 99 });
      await applyWrites(store, [consumed(s, 500, { at: T0 + 8 })]);
      t.match(
        await token(),
        { status: 'locked', lastMovingFactor: 500, blockedUntil: null },
        'a locked token consumes as decided (an admin resync)',
      );
      await applyWrites(store, [
        { kind: 'status', serial: s, status: 'enabled' },
        { kind: 'block', serial: s, until: null },
      ]);
      t.match(await token(), { status: 'enabled', blockedUntil: null });
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
      await applyWrites(
        store,
        [
          { at: T0, type: 'import', serial: serial(1) },
          { at: T0 + 10, type: 'accept', serial: serial(1), userId: 'u1', movingFactor: 3 },
          { at: T0 + 20, type: 'reject', serial: serial(2), userId: 'u1', reason: 'bad-otp', ip: '203.0.113.9' },
          { at: T0 + 30, type: 'lock', serial: serial(2), actor: 'admin' },
        ].map((e) => audited(e as AuditEntry)),
      );
      await applyWrites(store, []);
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
      await applyWrites(
        store,
        Array.from({ length: 1200 }, (_, i) => audited({ at: T0 + 100 + i, type: 'reject' })),
      );
      t.equal((await store.queryAudit({ limit: 5000 })).length, 1000, 'at most 1000 per query');
      t.equal(await store.ping(), true);
    });

    tap.test('audit queries by serial and user find every matching row, whatever its history', async (t) => {
      // A history in which rows belong to a token's own record and rows do not: a serial seen
      // before it was imported, another user's attempt on a bound token, a user's event with no
      // token, a token bound to its user, then replaced, locked and revoked; times not always
      // in the order of the rows. Every filtered query must equal the whole log, filtered.
      const store = await open(t);
      const log = (...entries: AuditEntry[]) => applyWrites(store, entries.map(audited));
      await log({ at: T0 + 5, type: 'reject', serial: serial(3), reason: 'unknown-token', ip: '203.0.113.1' });
      await store.insertTokens([row(1), row(2), row(3)], at(10));
      await applyWrites(store, bindWrites(1, 0, 'alice', at(20)));
      await log(
        { at: T0 + 30, type: 'reject', serial: serial(1), userId: 'bob', reason: 'assigned-elsewhere' },
        { at: T0 + 25, type: 'reject', userId: 'carol', reason: 'not-activated' },
        { at: T0 + 31, type: 'reject', serial: serial(3), userId: 'bob', reason: 'bad-otp' },
      );
      await store.attempt({ serial: serial(1) }, spend(1, { ...at(40), userId: 'alice' }));
      await store.attempt({ serial: serial(1) }, spend(1, { ...at(45), userId: 'alice' }));
      await applyWrites(store, bindWrites(2, 0, 'alice', at(50), 1));
      await applyWrites(store, [
        { kind: 'status', serial: serial(1), status: 'locked' },
        audited({ at: T0 + 60, type: 'lock', serial: serial(1), actor: 'admin' }),
      ]);
      await applyWrites(store, bindWrites(3, 0, 'bob', at(65)));
      await applyWrites(store, [
        { kind: 'status', serial: serial(2), status: 'revoked' },
        { kind: 'deactivate', serial: serial(2), at: T0 + 70, replacedBy: null },
        audited({ at: T0 + 70, type: 'revoke', serial: serial(2), userId: 'alice', actor: 'admin' }),
      ]);
      await log({ at: T0 + 1, type: 'reject', serial: serial(2), userId: 'alice', reason: 'revoked' });

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
          store.attempt({ serial: serial(i) }, spend(7, at())).then(async (r) => {
            const [peek] = await store.raw(`SELECT last_moving_factor AS m FROM tokens WHERE serial = '${serial(i)}'`);
            if (r !== 'accepted' || Number(peek?.m) !== 7) unseen.push(serial(i));
          }),
        ),
      );
      t.same(unseen, [], 'every acknowledged accept was already committed');
    });

    tap.test("the OpenID provider's entries (store.oidc)", async (tap) => {
      /** Far after any clock the tests run by: an entry that expires then is replaced as a live one. */
      const LATER = Date.UTC(2100, 0, 1);
      const payloadOf = (e: { payload: Record<string, unknown> } | null) => e?.payload ?? null;

      tap.test('upsert and find: the payload whole, replaced, until it expires', async (t) => {
        const { oidc } = await open(t);
        const payload = {
          accountId: 'alice',
          grantId: 'g1',
          scope: 'openid email',
          claims: { id_token: { email: null, name: { essential: true } } },
          iat: 1_767_225_600,
          exp: 1_767_229_200,
          kind: 'AccessToken',
          resources: ['https://api.example', 'urn:x'],
          extra: { 'ø ÿ 😀': [1.5, -2, true, false, null, { deep: 'é\n"\\' }] },
        };
        await oidc.upsert('AccessToken', 'at-1', payload, T0 + 3600_000);
        t.same(await oidc.find('AccessToken', 'at-1', T0), { payload, expiresAt: T0 + 3600_000, consumedAt: null });
        t.strictSame(payloadOf(await oidc.find('AccessToken', 'at-1', T0)), payload, 'deep-equal, every value its type');
        t.equal(await oidc.find('AccessToken', 'at-2', T0), null, 'no such id');
        t.equal(await oidc.find('RefreshToken', 'at-1', T0), null, 'nor under another model');

        t.equal(await oidc.find('AccessToken', 'at-1', T0 + 3600_000), null, 'expired at exactly expiresAt');
        t.equal(await oidc.find('AccessToken', 'at-1', T0 + 3600_001), null, 'and after');
        t.ok(await oidc.find('AccessToken', 'at-1', T0 + 3599_999), 'found a millisecond before');

        await oidc.upsert('AccessToken', 'at-1', { accountId: 'bob' }, T0 + 10);
        t.same(
          await oidc.find('AccessToken', 'at-1', T0),
          { payload: { accountId: 'bob' }, expiresAt: T0 + 10, consumedAt: null },
          'replaced whole',
        );
        t.equal(await oidc.find('AccessToken', 'at-1', T0 + 10), null, 'with its new expiry');
        await oidc.upsert('AccessToken', 'at-1', { accountId: 'bob' }, T0 + 5_000);
        t.ok(await oidc.find('AccessToken', 'at-1', T0 + 10), 'an expired entry upserted again lives again');

        await oidc.upsert('Client', 'client-1', { client_id: 'client-1', redirect_uris: ['https://rp.example/cb'] }, null);
        t.same(
          await oidc.find('Client', 'client-1', Number.MAX_SAFE_INTEGER),
          {
            payload: { client_id: 'client-1', redirect_uris: ['https://rp.example/cb'] },
            expiresAt: null,
            consumedAt: null,
          },
          'null expiry: never expires',
        );
        const found = await oidc.find('Client', 'client-1', T0);
        (found?.payload.redirect_uris as string[]).push('mutated');
        t.same(
          payloadOf(await oidc.find('Client', 'client-1', T0)),
          { client_id: 'client-1', redirect_uris: ['https://rp.example/cb'] },
          'each read a fresh object',
        );
      });

      tap.test('consume marks it; an upsert clears the mark; destroy removes it', async (t) => {
        const { oidc } = await open(t);
        await oidc.upsert('AuthorizationCode', 'code-1', { grantId: 'g1' }, T0 + 60_000);
        await oidc.upsert('AuthorizationCode', 'code-2', { grantId: 'g1' }, T0 + 60_000);
        await oidc.consume('AuthorizationCode', 'code-1', T0 + 5);
        t.same(await oidc.find('AuthorizationCode', 'code-1', T0 + 6), {
          payload: { grantId: 'g1' },
          expiresAt: T0 + 60_000,
          consumedAt: T0 + 5,
        });
        t.equal((await oidc.find('AuthorizationCode', 'code-2', T0 + 6))?.consumedAt, null, 'another entry untouched');
        await oidc.consume('AuthorizationCode', 'none', T0 + 5);
        await oidc.consume('AccessToken', 'code-2', T0 + 5);
        t.equal(await oidc.find('AuthorizationCode', 'none', T0), null, 'consuming what is not there makes nothing');
        t.equal((await oidc.find('AuthorizationCode', 'code-2', T0))?.consumedAt, null, "nor marks another model's");
        await oidc.upsert('AuthorizationCode', 'code-1', { grantId: 'g1', again: true }, T0 + 60_000);
        t.equal((await oidc.find('AuthorizationCode', 'code-1', T0))?.consumedAt, null, 'an upsert clears consumedAt');

        await oidc.destroy('AuthorizationCode', 'code-1');
        t.equal(await oidc.find('AuthorizationCode', 'code-1', T0), null, 'destroyed');
        t.ok(await oidc.find('AuthorizationCode', 'code-2', T0), 'the other stays');
        await oidc.destroy('AuthorizationCode', 'code-1');
        await oidc.destroy('Session', 'code-2');
        t.ok(await oidc.find('AuthorizationCode', 'code-2', T0), 'destroying what is not there, or under another model, removes nothing');
      });

      tap.test('findBy uid and userCode, within the model, until it expires', async (t) => {
        const store = await open(t);
        const { oidc } = store;
        await oidc.upsert('Session', 'sess-1', { uid: 'uid-1', accountId: 'alice' }, T0 + 1000);
        await oidc.upsert('Session', 'sess-2', { uid: 'uid-2', accountId: 'bob' }, T0 + 1000);
        await oidc.upsert('Interaction', 'int-1', { uid: 'uid-3', userCode: 'ABCD-EFGH' }, T0 + 1000);
        await oidc.upsert('DeviceCode', 'dc-1', { userCode: 'WXYZ-1234', grantId: 'g1' }, T0 + 1000);
        t.same(await oidc.findBy('Session', 'uid', 'uid-1', T0), {
          payload: { uid: 'uid-1', accountId: 'alice' },
          expiresAt: T0 + 1000,
          consumedAt: null,
        });
        t.same(payloadOf(await oidc.findBy('Session', 'uid', 'uid-2', T0)), { uid: 'uid-2', accountId: 'bob' });
        t.equal(await oidc.findBy('Session', 'uid', 'uid-3', T0), null, "not another model's uid");
        t.equal(await oidc.findBy('Session', 'uid', 'uid-9', T0), null, 'no such uid');
        t.same(payloadOf(await oidc.findBy('DeviceCode', 'userCode', 'WXYZ-1234', T0)), { userCode: 'WXYZ-1234', grantId: 'g1' });
        t.equal(await oidc.findBy('DeviceCode', 'userCode', 'ABCD-EFGH', T0), null, "not another model's user code");
        t.equal(await oidc.findBy('DeviceCode', 'uid', 'WXYZ-1234', T0), null, 'a user code is no uid');
        t.equal(await oidc.findBy('Session', 'uid', 'uid-1', T0 + 1000), null, 'expired at exactly expiresAt');
        t.ok(await oidc.findBy('Session', 'uid', 'uid-1', T0 + 999));

        await oidc.upsert('Session', 'sess-1', { uid: 'uid-1b', accountId: 'alice' }, T0 + 1000);
        t.equal(await oidc.findBy('Session', 'uid', 'uid-1', T0), null, 'a replaced payload: its old uid no longer finds it');
        t.same(payloadOf(await oidc.findBy('Session', 'uid', 'uid-1b', T0)), { uid: 'uid-1b', accountId: 'alice' }, 'its new one does');
        await oidc.upsert('Session', 'sess-3', { uid: 42 }, T0 + 1000);
        t.equal(await oidc.findBy('Session', 'uid', '42', T0), null, 'a uid that is no string is not indexed');
        t.same(
          await store.raw(`SELECT id, uid, user_code, grant_id FROM oidc_entries WHERE id IN ('sess-3', 'dc-1') ORDER BY id`),
          [
            { id: 'dc-1', uid: null, user_code: 'WXYZ-1234', grant_id: 'g1' },
            { id: 'sess-3', uid: null, user_code: null, grant_id: null },
          ],
          'the indexed columns',
        );
        await oidc.destroy('Session', 'sess-2');
        t.equal(await oidc.findBy('Session', 'uid', 'uid-2', T0), null, 'destroyed');
      });

      tap.test('revokeByGrantId destroys the grant and every entry of it, of any model, and nothing else', async (t) => {
        const { oidc } = await open(t);
        const ofGrant = [
          ['Grant', 'g1'],
          ['AuthorizationCode', 'code-1'],
          ['AccessToken', 'at-1'],
          ['RefreshToken', 'rt-1'],
        ] as const;
        for (const [model, id] of ofGrant) {
          await oidc.upsert(model, id, model === 'Grant' ? { jti: 'g1', grantId: 'g1' } : { grantId: 'g1' }, T0 + 1000);
        }
        await oidc.upsert('AccessToken', 'at-2', { grantId: 'g2' }, T0 + 1000);
        await oidc.upsert('AccessToken', 'at-3', { grantId: 7 }, T0 + 1000);
        await oidc.upsert('Session', 'sess-1', { uid: 'u', authorizations: { client: { grantId: 'g1' } } }, T0 + 1000);
        await oidc.revokeByGrantId('g1');
        for (const [model, id] of ofGrant) {
          t.equal(await oidc.find(model, id, T0), null, `${model} ${id} revoked`);
        }
        t.ok(await oidc.find('AccessToken', 'at-2', T0), "another grant's entry stays");
        t.ok(await oidc.find('AccessToken', 'at-3', T0), 'an entry whose grantId is no string stays');
        t.ok(await oidc.find('Session', 'sess-1', T0), 'a payload naming the grant deeper down stays');
        await oidc.revokeByGrantId('7');
        t.ok(await oidc.find('AccessToken', 'at-3', T0));
        await oidc.revokeByGrantId('none');
        t.ok(await oidc.find('AccessToken', 'at-2', T0), 'revoking an unknown grant removes nothing');
      });

      tap.test('list: the live entries of one model, oldest first', async (t) => {
        const { oidc } = await open(t);
        t.same(await oidc.list('Client', T0), [], 'none yet');
        await oidc.upsert('Client', 'c-zed', { client_id: 'c-zed' }, null);
        await oidc.upsert('Client', 'c-alpha', { client_id: 'c-alpha' }, LATER);
        await oidc.upsert('Client', 'c-gone', { client_id: 'c-gone' }, T0 + 10);
        await oidc.upsert('Client', 'c-mid', { client_id: 'c-mid' }, null);
        await oidc.upsert('Session', 's-1', { uid: 'x' }, null);
        await oidc.upsert('Client', 'c-zed', { client_id: 'c-zed', client_name: 'renamed' }, null);
        t.same(
          await oidc.list('Client', T0),
          [
            { id: 'c-zed', payload: { client_id: 'c-zed', client_name: 'renamed' }, expiresAt: null, consumedAt: null },
            { id: 'c-alpha', payload: { client_id: 'c-alpha' }, expiresAt: LATER, consumedAt: null },
            { id: 'c-gone', payload: { client_id: 'c-gone' }, expiresAt: T0 + 10, consumedAt: null },
            { id: 'c-mid', payload: { client_id: 'c-mid' }, expiresAt: null, consumedAt: null },
          ],
          'in the order they were created (a replace keeps its place), of this model only',
        );
        t.same(
          (await oidc.list('Client', T0 + 10)).map((e) => e.id),
          ['c-zed', 'c-alpha', 'c-mid'],
          'an expired one left out',
        );
        await oidc.destroy('Client', 'c-alpha');
        t.same(
          (await oidc.list('Client', T0)).map((e) => e.id),
          ['c-zed', 'c-gone', 'c-mid'],
        );
        t.same(await oidc.list('Nothing', T0), []);
      });

      tap.test('sweep deletes what expired at or before now, in chunks, and says how many', async (t) => {
        const s = await open(t);
        const { oidc } = s;
        await oidc.upsert('AccessToken', 'a', {}, T0 + 10);
        await oidc.upsert('Session', 'b', { uid: 'b' }, T0 + 20);
        await oidc.upsert('Interaction', 'c', {}, T0 + 30);
        await oidc.upsert('Client', 'd', {}, null);
        t.equal(await oidc.sweep(T0 + 9), 0, 'nothing expired yet');
        t.equal(await oidc.sweep(T0 + 20), 2, 'expired before and at now');
        t.equal(await oidc.find('AccessToken', 'a', T0), null, 'gone, even for a reader before its expiry');
        t.equal(await oidc.findBy('Session', 'uid', 'b', T0), null);
        t.ok(await oidc.find('Interaction', 'c', T0 + 29), 'the rest stays');
        t.ok(await oidc.find('Client', 'd', T0 + 10_000_000));
        t.equal(await oidc.sweep(T0 + 20), 0, 'swept once');
        // More than one chunk (5000): written by SQL both databases read alike.
        await s.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001)
          INSERT INTO oidc_entries (model, id, payload, expires_at, created_at) SELECT 'AccessToken', 'bulk-' || i, '{}', 5, 0 FROM n`);
        t.equal(await oidc.sweep(T0 + 30), 5002, 'every chunk counted');
        t.same(
          await oidc.list('Client', T0),
          [{ id: 'd', payload: {}, expiresAt: null, consumedAt: null }],
          'a never-expiring entry is never swept',
        );
        t.same(await s.raw('SELECT count(*) AS n FROM oidc_entries').then((r) => Number(r[0]?.n)), 1);
      });

      tap.test('ids, models and indexed values kept as given: any string, none refused, none confused', async (t) => {
        const { oidc } = await open(t);
        const ids = [
          'plain',
          '',
          ' ',
          'a\0b',
          '\0',
          '\ud800',
          '\udbff',
          '\udc00x',
          'x\ud83d',
          '\uffff',
          '\uffffplain',
          '\uffff0061',
          'a',
          'Ølé 😀 ñ 中文',
          'it\'s "quoted" \\ % _',
          'x'.repeat(400),
        ];
        for (const [i, id] of ids.entries()) await oidc.upsert('Odd\0Model', id, { i, uid: id, userCode: id, grantId: id }, null);
        t.same(
          (await oidc.list('Odd\0Model', T0)).map((e) => e.id),
          ids,
          'listed back exactly, each once',
        );
        t.same(await oidc.list('Odd', T0), [], 'a model is matched whole');
        for (const [i, id] of ids.entries()) {
          if ((await oidc.find('Odd\0Model', id, T0))?.payload.i !== i) t.fail(`find ${JSON.stringify(id)}`);
          if ((await oidc.findBy('Odd\0Model', 'uid', id, T0))?.payload.i !== i) t.fail(`findBy uid ${JSON.stringify(id)}`);
          if ((await oidc.findBy('Odd\0Model', 'userCode', id, T0))?.payload.i !== i) t.fail(`findBy userCode ${JSON.stringify(id)}`);
        }
        t.pass('each found by its id, uid and user code, and by no other');
        t.equal(await oidc.find('Odd\0Model', '\ud801', T0), null, 'another lone surrogate finds nothing');
        t.equal(await oidc.find('Odd\0Model', 'a\0', T0), null);
        await oidc.consume('Odd\0Model', '\0', T0 + 1);
        t.equal((await oidc.find('Odd\0Model', '\0', T0))?.consumedAt, T0 + 1);
        t.equal((await oidc.find('Odd\0Model', '', T0))?.consumedAt, null);
        await oidc.revokeByGrantId('\ud800');
        await oidc.destroy('Odd\0Model', 'a\0b');
        t.same(
          (await oidc.list('Odd\0Model', T0)).map((e) => e.id),
          ids.filter((id) => id !== '\ud800' && id !== 'a\0b'),
          'revoked and destroyed by their own keys only',
        );
        const payload = { text: 'nul \0, lone \ud800 and \udfff, pair 😀', [`key\0${'\udc00'}`]: ['\uffff'] };
        await oidc.upsert('Session', 'odd-payload', payload, null);
        t.strictSame(payloadOf(await oidc.find('Session', 'odd-payload', T0)), payload, 'any string in a payload comes back as it was');
      });

      tap.test('two instances over one database: each sees what the other wrote', async (t) => {
        const store = await open(t);
        const other = await store.another();
        await store.oidc.upsert('Session', 'sess-1', { uid: 'uid-1', accountId: 'alice' }, T0 + 1000);
        await other.oidc.upsert('AuthorizationCode', 'code-1', { grantId: 'g1', accountId: 'alice' }, T0 + 1000);
        await other.oidc.upsert('Client', 'client-1', { client_id: 'client-1' }, null);
        t.same(payloadOf(await other.oidc.find('Session', 'sess-1', T0)), { uid: 'uid-1', accountId: 'alice' });
        t.same(payloadOf(await other.oidc.findBy('Session', 'uid', 'uid-1', T0)), { uid: 'uid-1', accountId: 'alice' });
        t.same(payloadOf(await store.oidc.find('AuthorizationCode', 'code-1', T0)), { grantId: 'g1', accountId: 'alice' });
        await store.oidc.consume('AuthorizationCode', 'code-1', T0 + 3);
        t.equal((await other.oidc.find('AuthorizationCode', 'code-1', T0 + 4))?.consumedAt, T0 + 3, 'consumed on one, seen on the other');
        t.same(
          (await store.oidc.list('Client', T0)).map((e) => e.id),
          ['client-1'],
        );
        await other.oidc.revokeByGrantId('g1');
        t.equal(await store.oidc.find('AuthorizationCode', 'code-1', T0), null, 'revoked on one, gone on the other');
        await store.oidc.destroy('Client', 'client-1');
        t.equal(await other.oidc.find('Client', 'client-1', T0), null);
        t.equal(await other.oidc.sweep(T0 + 1000), 1, "one sweeps the other's entries");
        t.equal(await store.oidc.find('Session', 'sess-1', T0), null);

        // Replaced on both at once: one of the payloads, whole.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? other : store).oidc.upsert('Session', 'raced', { n: i, uid: `u${i}`, half: i % 2 }, T0 + 1000),
          ),
        );
        const raced = await store.oidc.find('Session', 'raced', T0);
        const n = raced?.payload.n as number;
        t.same(raced?.payload, { n, uid: `u${n}`, half: n % 2 }, `one whole payload (${n})`);
        t.same(payloadOf(await store.oidc.findBy('Session', 'uid', `u${n}`, T0)), raced?.payload, 'its uid indexed with it');
        t.same(await other.oidc.list('Session', T0), [{ id: 'raced', ...raced }], 'one entry');
      });

      tap.test('a payload JSON cannot hold fails that upsert alone', async (t) => {
        const { oidc } = await open(t);
        const circular: Record<string, unknown> = { a: 1 };
        circular.self = circular;
        await t.rejects(oidc.upsert('Session', 'bad', circular, null), TypeError);
        await oidc.upsert('Session', 'good', { a: 1 }, null);
        t.equal(await oidc.find('Session', 'bad', T0), null);
        t.ok(await oidc.find('Session', 'good', T0));
      });
    });

    tap.test('close commits what is under way, then refuses', async (t) => {
      const store = await open(t);
      await store.insertTokens([row(1)], at());
      const pending = store.attempt({ serial: serial(1) }, spend(1, at()));
      await store.close();
      t.equal(await pending, 'accepted');
      await store.close();
      for (const call of [
        () => store.getToken(serial(1)),
        () => store.snapshot({ serial: serial(1), userId: 'x' }),
        () => store.attempt({ serial: serial(1) }, spend(2, at())),
        () => store.insertTokens([row(2)], at()),
        () => applyWrites(store, []),
        () => store.queryAudit({}),
        () => store.ping(),
        () => store.oidc.upsert('Session', 'x', {}, null),
        () => store.oidc.find('Session', 'x', T0),
        () => store.oidc.list('Client', T0),
        () => store.oidc.sweep(T0),
      ]) {
        await t.rejects(call() as Promise<unknown>, { code: 'ERR_STORE_CLOSED' });
      }
      const reopened = await store.another();
      t.equal((await reopened.getToken(serial(1)))?.lastMovingFactor, 1, 'the accept is in the database');
    });
  });
}
