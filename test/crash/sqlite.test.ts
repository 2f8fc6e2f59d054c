/**
 * Crash safety on SQLite: the server process killed with SIGKILL under
 * validation load, restarted on the same file, checked by harness.ts. The integrity check opens
 * the file as the kill left it (with its WAL), read-only, and runs PRAGMA integrity_check.
 * CI runs 8 kills; KODEVISER_FULL=1 runs 24. KODEVISER_CRASH_SEED=<n> repeats a run's moments.
 */
import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freshSettings } from '../helpers/server-process.js';
import { seedFrom } from '../helpers/random.js';
import { runCrashCycles } from './harness.js';

const full = process.env.KODEVISER_FULL === '1';
const seed = seedFrom('KODEVISER_CRASH_SEED');
// The full run takes minutes on a busy machine: beyond the runner's 300 s per file.
if (full) t.setTimeout(30 * 60_000);

function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

t.test(`SQLite: ${full ? 24 : 8} kills under load, seed ${seed}`, async (t) => {
  const settings = freshSettings({ env: { KODEVISER_RATE_LIMIT_IP: '0' } });
  t.teardown(settings.cleanup);
  const started = Date.now();
  const report = await runCrashCycles(t, {
    store: 'SQLite',
    settings,
    kills: full ? 24 : 8,
    seed,
    tokensPerRound: 48,
    minDelayMs: 50,
    maxDelayMs: full ? 3000 : 1200,
    integrityCheck: async () => integrityCheck(join(settings.dataDir, 'kodeviser.db')),
  });
  t.ok(report.answeredAccepts > 0, 'the load got accepts answered before the kills');
  t.comment(`SQLite: ${JSON.stringify(report)} in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed})`);
});
