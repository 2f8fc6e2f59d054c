/**
 * Crash safety on PostgreSQL: the server process killed with SIGKILL under
 * validation load at random moments, restarted on the same schema, checked by the store-agnostic
 * harness of test/crash/harness.ts (no answered accept accepted again, every answered accept in
 * the audit log, no moving factor accepted twice, earlier tokens' counters never move back).
 * PostgreSQL itself keeps running — it is the server that dies, mid-transaction — so what is at
 * stake is whether an `accept` is only answered after COMMIT returned. The integrity check is
 * amcheck on what the kill left: every B-tree index of the schema (heapallindexed: each heap
 * tuple is in its indexes) and the heap of every table (verify_heapam).
 * CI runs 5 kills; KODEVISER_FULL=1 runs 20. KODEVISER_CRASH_SEED=<n> repeats a run's moments.
 */
import t from 'tap';
import pg from 'pg';
import { freshSettings } from '../../test/helpers/server-process.js';
import { seedFrom } from '../../test/helpers/random.js';
import { runCrashCycles } from '../../test/crash/harness.js';
import { PG_URL, requirePostgres, tempSchema } from './helpers/postgres.js';

const full = process.env.KODEVISER_FULL === '1';
const kills = full ? 20 : 5;
const seed = seedFrom('KODEVISER_CRASH_SEED');
// The full run takes minutes on a busy machine: beyond the runner's per-file limit.
if (full) t.setTimeout(30 * 60_000);

/** amcheck over the tables and indexes of `schema`: 'ok', or what it found. */
async function integrityCheck(schema: string): Promise<string> {
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA public');
    const problems: string[] = [];
    const indexes = await db.query<{ index: string }>(
      `SELECT c.oid::regclass::text AS index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relnamespace = $1::regnamespace`,
      [schema],
    );
    for (const { index } of indexes.rows) {
      try {
        await db.query('SELECT public.bt_index_check($1::regclass, true)', [index]);
      } catch (e) {
        problems.push(`${index}: ${(e as Error).message}`);
      }
    }
    const tables = await db.query<{ table: string }>(
      `SELECT c.oid::regclass::text AS table FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = $1::regnamespace`,
      [schema],
    );
    for (const { table } of tables.rows) {
      const corrupt = await db.query('SELECT * FROM public.verify_heapam($1::regclass)', [table]);
      for (const r of corrupt.rows as Array<{ msg: string }>) problems.push(`${table}: ${r.msg}`);
    }
    if (indexes.rowCount === 0 || tables.rowCount === 0) problems.push(`nothing to check in ${schema}`);
    return problems.length === 0 ? 'ok' : problems.join('; ');
  } finally {
    await db.end();
  }
}

if (await requirePostgres(t, undefined, 'the PostgreSQL crash test skipped')) {
  t.test(`PostgreSQL: ${kills} kills under load, seed ${seed}`, async (t) => {
    const { schema, url } = await tempSchema(t);
    const settings = freshSettings({ databaseUrl: url, env: { KODEVISER_RATE_LIMIT_IP: '0' } });
    t.teardown(settings.cleanup);
    const started = Date.now();
    const report = await runCrashCycles(t, {
      store: 'PostgreSQL',
      settings,
      kills,
      seed,
      tokensPerRound: full ? 48 : 24,
      minDelayMs: 50,
      maxDelayMs: full ? 3000 : 1200,
      integrityCheck: () => integrityCheck(schema),
    });
    t.ok(report.answeredAccepts > 0, 'the load got accepts answered before the kills');
    t.comment(`PostgreSQL: ${JSON.stringify(report)} in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed})`);
  });
}
