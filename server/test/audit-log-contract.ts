/**
 * The audit log's chains, checkpoints and archive (src/store/audit-chain.ts, src/audit-log.ts) as
 * one suite run against both stores (audit-log-sqlite.test.ts, audit-log-postgres.test.ts). On
 * PostgreSQL the hashes are made by the database's trigger, so the verifier (JS) passing there is
 * the check of the second implementation against the first.
 */
import type { Test } from 'tap';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSerial } from '@kodeviser/shared';
import { archiveLog, checkpointLog, checkpointNew, verified, verifyArchive, verifyLog } from '../src/audit-log.js';
import { checkpointKey, type CheckpointKey } from '../src/security/audit-checkpoint.js';
import type { AuditEntry, NewTokenRecord, TokenStore } from '../src/store/types.js';
import { tempDir } from './helpers/db.js';
import { applyWrites, audited, consumed } from './helpers/writes.js';
import { row } from './store-contract.js';

export interface AuditContractStore {
  store: TokenStore;
  /** Another store on the same database (another server instance). */
  another(): Promise<TokenStore>;
  /** Runs SQL on a connection of its own. */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  /** Runs SQL with the log's append-only guards lifted: what someone with the database could do. */
  tamper(sql: string): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const serial = (n: number) => makeSerial(String(300_000_000 + n));
const token = (n: number): NewTokenRecord => row(n, { serial: serial(n) });
const MASTER = new Uint8Array(32).fill(7);

/** Audit rows of every shape: unchained, a user unknown, text in several scripts, nulls. */
async function fill(store: TokenStore, from: number, n: number, at: number): Promise<void> {
  const entries: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push({
      at: at + i,
      type: 'reject',
      serial: i % 3 === 0 ? null : serial(from + i),
      userId: i % 2 === 0 ? `user ${from + i} æøå 名前 👤` : null,
      ip: i % 5 === 0 ? null : '2001:db8::7',
      reason: i % 4 === 0 ? 'bad-otp' : `reason, with: commas ${i}`,
      // every other one above 2^53 − 1, odd: a bigint that a read as a double would change, breaking the chain
      movingFactor: i % 7 !== 0 ? null : i % 14 === 0 ? 16887061004979671n + BigInt(i) : 2 ** 40 + i,
      repeats: 1 + (i % 3),
    });
  }
  // One attempt per row, several at once: in PostgreSQL, several lanes.
  await Promise.all(entries.map((e) => store.attempt({}, () => ({ result: undefined, writes: [{ kind: 'audit', entry: e }] }))));
}

export function auditLogContract(t: Test, name: string, open: (t: Test) => Promise<AuditContractStore>): void {
  let key: CheckpointKey;
  t.before(async () => {
    key = await checkpointKey(MASTER);
  });

  t.test(`${name}: every row is chained; the verifier recomputes every hash`, async (t) => {
    const { store, another } = await open(t);
    await store.insertTokens([token(1), token(2)], { at: T0, ip: null, actor: 'admin' });
    await fill(store, 10, 40, T0 + 1000);
    const second = await another();
    await fill(second, 100, 20, T0 + 2000);
    const r = await verifyLog(store.auditArchive, key);
    t.ok(verified(r), 'verifies');
    t.equal(r.rows, 62);
    t.ok(r.heads.size >= 2, `two instances, two lanes at least (${r.heads.size})`);
    t.equal(r.newest, null);
    t.equal(r.unprotected, 62, 'no checkpoint: every row unprotected');
    const events = await store.queryAudit({ limit: 1000 });
    t.same(
      events.filter((e) => e.type === 'reject').reduce((n, e) => n + e.repeats, 0),
      [...Array(40).keys(), ...Array(20).keys()].reduce((n, i) => n + 1 + (i % 3), 0),
      'repeats are stored as written',
    );
  });

  t.test(`${name}: a row changed, removed or slipped in breaks the chain; a checkpoint catches a rewritten one`, async (t) => {
    const { store, tamper, raw } = await open(t);
    await fill(store, 0, 30, T0);
    const { checkpoint } = await checkpointLog(store.auditArchive, key, T0 + 10_000);
    t.ok(checkpoint, 'checkpoint made');
    const before = await verifyLog(store.auditArchive, key);
    t.ok(verified(before));
    t.equal(before.unprotected, 0, 'every row under the checkpoint');

    // A row with a later one in its lane (PostgreSQL's concurrent writes use several lanes).
    const [{ id: changed }] = (await raw(
      'SELECT a.id FROM audit a WHERE EXISTS (SELECT 1 FROM audit b WHERE b.lane = a.lane AND b.id > a.id) ORDER BY a.id LIMIT 1 OFFSET 5',
    )) as [{ id: number }];
    await tamper(`UPDATE audit SET reason = 'nothing happened' WHERE id = ${changed}`);
    const r = await verifyLog(store.auditArchive, key);
    t.notOk(verified(r));
    t.same(
      r.breaks.map((b) => b.id),
      [changed],
      'the changed row, only',
    );

    await tamper(`DELETE FROM audit WHERE id = ${changed}`);
    const r2 = await verifyLog(store.auditArchive, key);
    t.equal(r2.breaks.length, 1, 'a removed row: the next one of its lane breaks');
    t.ok(r2.breaks[0]!.id > changed);

    // Someone with the database rewrites every hash from there on: the chain holds again, but the
    // checkpoint's heads are not reached.
    const rows = await store.auditArchive.rows(0, 1e12, 1000);
    const { chainHash, GENESIS } = await import('../src/store/audit-chain.js');
    const heads = new Map<number, Uint8Array>();
    for (const row of rows) {
      const h = chainHash(heads.get(row.lane!) ?? GENESIS, { ...row, lane: row.lane! });
      heads.set(row.lane!, h);
      await tamper(`UPDATE audit SET hash = ${hexLiteral(name, h)} WHERE id = ${row.id}`);
    }
    const r3 = await verifyLog(store.auditArchive, key);
    t.equal(r3.breaks.length, 0, 'the rewritten chain holds');
    t.equal(r3.badCheckpoints.length, 1, 'the checkpoint does not');
    t.match(r3.badCheckpoints[0]!.problem, /do not reach its heads/);
  });

  t.test(`${name}: the server's checkpoints walk only the rows since the newest one, and sign only rows that chain`, async (t) => {
    const { store, another, tamper, raw } = await open(t);
    await fill(store, 0, 20, T0);
    const first = await checkpointNew(store.auditArchive, key, T0 + 100);
    t.ok(first.checkpoint, 'no checkpoint yet: the whole log walked, then signed');
    t.equal(first.rows, 20);
    t.equal((await checkpointNew(store.auditArchive, key, T0 + 200)).checkpoint, null, 'nothing new: nothing signed');
    t.equal((await store.auditArchive.checkpoints()).length, 1);

    await fill(store, 100, 7, T0 + 1000);
    await fill(await another(), 200, 5, T0 + 2000);
    const next = await checkpointNew(store.auditArchive, key, T0 + 3000);
    t.equal(next.rows, 12, 'only the rows since the newest checkpoint');
    t.ok(next.checkpoint);
    const all = await verifyLog(store.auditArchive, key);
    t.ok(verified(all), 'the full walk agrees with each checkpoint');
    t.equal(all.unprotected, 0, 'every row under a checkpoint');
    t.equal(all.newest?.jws, next.checkpoint, 'the newest one is it');

    // A row after the newest checkpoint changed: a break, and nothing signed over it.
    await fill(store, 300, 6, T0 + 4000);
    const [{ id: changed }] = (await raw('SELECT MIN(id) AS id FROM audit WHERE at >= ' + (T0 + 4000))) as [{ id: number }];
    await tamper(`UPDATE audit SET reason = 'nothing happened' WHERE id = ${changed}`);
    const refused = await checkpointNew(store.auditArchive, key, T0 + 5000);
    t.equal(refused.checkpoint, null, 'a break: no checkpoint');
    t.same(
      refused.breaks.map((b) => b.id),
      [changed],
      'the row named',
    );
    t.equal((await store.auditArchive.checkpoints()).length, 2);

    // A checkpoint signed with another key (someone with the database): nothing signed until looked at.
    const other = await checkpointKey(new Uint8Array(32).fill(9));
    const { store: s2 } = await open(t);
    await fill(s2, 0, 3, T0);
    await checkpointLog(s2.auditArchive, other, T0 + 300);
    await fill(s2, 10, 3, T0 + 400);
    const forged = await checkpointNew(s2.auditArchive, key, T0 + 500);
    t.equal(forged.checkpoint, null);
    t.match(forged.badCheckpoints, [{ problem: /signature does not verify/ }]);
  });

  t.test(`${name}: rows removed from the end, below a checkpoint, are found; a forged checkpoint is`, async (t) => {
    const { store, tamper, raw } = await open(t);
    await fill(store, 0, 10, T0);
    await checkpointLog(store.auditArchive, key, T0 + 100);
    const [{ id }] = (await raw('SELECT MAX(id) AS id FROM audit')) as [{ id: number }];
    await tamper(`DELETE FROM audit WHERE id = ${id}`);
    const r = await verifyLog(store.auditArchive, key);
    t.notOk(verified(r));
    t.match(r.badCheckpoints[0]?.problem, /log ends at|do not reach/);

    const other = await checkpointKey(new Uint8Array(32).fill(9));
    const forged = await checkpointLog(store.auditArchive, other, T0 + 200);
    t.equal(forged.checkpoint, null, 'a broken log gets no checkpoint');
    const { store: s2 } = await open(t);
    await fill(s2, 0, 3, T0);
    await checkpointLog(s2.auditArchive, other, T0 + 300);
    const r2 = await verifyLog(s2.auditArchive, key);
    t.match(r2.badCheckpoints[0]?.problem, /signature does not verify/, 'signed with another key');
  });

  t.test(`${name}: rows are deleted only once archived; the archive verifies alone; the rest still does`, async (t) => {
    const { store, raw } = await open(t);
    const dir = tempDir(t);
    await store.insertTokens([token(1)], { at: T0, ip: null, actor: 'admin' });
    await fill(store, 0, 25, T0 + 1_000);
    await fill(store, 50, 25, T0 + 100_000);
    await t.rejects(raw('DELETE FROM audit'), /append-only/, 'the database refuses to delete unarchived rows');

    const to = join(dir, 'audit-1.jsonl');
    const first = await archiveLog(store.auditArchive, key, { before: T0 + 50_000, to, now: T0 + 200_000 });
    t.ok(first.archived, 'archived');
    t.equal(first.archived!.rows, 26, 'the import and the first 25');
    t.equal(first.archived!.pruned, 26);
    t.equal(statSync(to).mode & 0o777, 0o600);
    t.same(await verifyArchive(to, key), { rows: 26, after: 0, upTo: first.archived!.upTo, problems: [] });
    const left = await verifyLog(store.auditArchive, key);
    t.ok(verified(left), 'the rest verifies from the archive checkpoint');
    t.equal(left.rows, 26, 'the later 25 and the archive row');
    t.equal(left.after, first.archived!.upTo);
    const archiveRow = (await store.queryAudit({ limit: 1 }))[0]!;
    t.equal(archiveRow.type, 'archive');
    t.match(archiveRow.reason, /archived to audit-1\.jsonl, sha256 [0-9a-f]{64}/);
    t.same(await store.queryAudit({ serial: serial(1), limit: 10 }), [], "the token's pruned chain ends quietly");
    await t.rejects(raw(`DELETE FROM audit WHERE id = ${left.upTo}`), /append-only/, 'still refused past the archive');

    const again = await archiveLog(store.auditArchive, key, { before: T0 + 50_000, to: join(dir, 'empty.jsonl'), now: T0 + 200_001 });
    t.equal(again.archived, null, 'nothing older left');
    t.notOk(existsSync(join(dir, 'empty.jsonl')));
    await t.rejects(archiveLog(store.auditArchive, key, { before: T0 + 50_000, to, now: T0 }), /exists/);

    const to2 = join(dir, 'audit-2.jsonl');
    const second = await archiveLog(store.auditArchive, key, { before: T0 + 10_000_000_000, to: to2, now: T0 + 300_000 });
    t.equal(second.archived!.rows, 26);
    t.same((await verifyArchive(to2, key)).problems, [], "the second archive starts at the first one's checkpoint");
    t.ok(verified(await verifyLog(store.auditArchive, key)));

    // A file changed afterwards does not verify.
    const lines = readFileSync(to, 'utf8').split('\n');
    lines[3] = lines[3]!.replace('"type":"reject"', '"type":"accept"');
    writeFileSync(to, lines.join('\n'));
    const bad = await verifyArchive(to, key);
    t.ok(bad.problems.length >= 2, bad.problems.join('; '));
    t.match(bad.problems.join('\n'), /hash does not follow/);
    t.match(bad.problems.join('\n'), /sha256 differs/);
  });

  t.test(`${name}: a write that fails and rolls back leaves the chain whole`, async (t) => {
    const { store } = await open(t);
    await store.insertTokens([token(1)], { at: T0, ip: null });
    await t.rejects(store.insertTokens([token(2), token(1)], { at: T0 + 1, ip: null }), /already imported/);
    // An audit row, then a write that cannot apply (no such token): the unit rolls back whole.
    const entry: AuditEntry = { at: T0 + 1, type: 'reject', serial: null, reason: 'rolled back' };
    await t.rejects(applyWrites(store, [audited(entry), consumed(serial(99), 5, { at: T0 + 1 })]));
    await t.rejects(applyWrites(store, [audited(entry), consumed(serial(98), 5, { at: T0 + 1 })]));
    await store.insertTokens([token(3)], { at: T0 + 2, ip: null });
    await fill(store, 0, 5, T0 + 3);
    const r = await verifyLog(store.auditArchive, key);
    t.same(r.breaks, []);
    t.equal(r.rows, 7);
  });
}

/** A byte string literal in the store's SQL. */
function hexLiteral(name: string, b: Uint8Array): string {
  const hex = Buffer.from(b).toString('hex');
  return name === 'SQLite' ? `X'${hex}'` : `'\\x${hex}'::bytea`;
}
