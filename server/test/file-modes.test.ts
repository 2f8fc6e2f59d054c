/**
 * Every file the server creates that holds secrets — the SQLite database and its -wal and -shm
 * files (sealed seeds, password hashes, the audit log), the master key, the admin token — is
 * readable by its owner only (0600) whatever the process umask: a container or a service manager
 * often runs with umask 0 or 022, under which SQLite's default (0644) would let every local user
 * read the database.
 */
import t from 'tap';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { start } from '../src/main.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';
import { applyWrites, audited } from './helpers/writes.js';

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(3, '0');

/** Runs `fn` with the process umask set to `mask`, restoring the old one afterwards. */
async function underUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

for (const mask of [0o000, 0o022]) {
  t.test(`the SQLite store's database, -wal and -shm files are 0600 under umask ${mask.toString(8).padStart(3, '0')}`, async (t) => {
    const path = join(tempDir(t), 'kodeviser.db');
    await underUmask(mask, async () => {
      for (const groupCommit of [true, false]) {
        const file = groupCommit ? path : `${path}-2`;
        const store = openSqliteStore(file, { groupCommit, checkpointIntervalMs: 0 });
        try {
          await applyWrites(store, [audited({ at: 1, type: 'import', serial: '0000000001' })]);
          for (const f of [file, `${file}-wal`, `${file}-shm`]) {
            t.ok(existsSync(f), `${f} exists after a write`);
            t.equal(modeOf(f), '600', `${f} (group commit ${groupCommit}) is 0600`);
          }
        } finally {
          await store.close();
        }
      }
    });
  });
}

t.test('start() under umask 000: every file it creates in the data dir is 0600, the dir 0700', async (t) => {
  const dir = join(tempDir(t), 'data');
  const files = await underUmask(0, async () => {
    const started = await start({
      argv: ['--port', '0', '--data-dir', dir],
      env: {},
      logger: pino({ level: 'silent' }),
      print: () => undefined,
    });
    try {
      return Object.fromEntries(readdirSync(dir).map((f) => [f, modeOf(join(dir, f))]));
    } finally {
      await started.stop();
    }
  });
  t.same(
    files,
    {
      'admin-token': '600',
      'kodeviser.db': '600',
      'kodeviser.db-shm': '600',
      'kodeviser.db-wal': '600',
      'master.key': '600',
    },
    'the secrets and the database, with its -wal and -shm files',
  );
  t.equal(modeOf(dir), '700', 'the data dir');
});
