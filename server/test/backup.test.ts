// `kodeviser-server backup --to FILE`: a consistent copy of a live SQLite database. The server
// (build() over the real SQLite store) keeps validating codes — every accept a token update and
// an audit row — while the backup command runs as a process of its own on the same file. The
// copy is one snapshot: everything committed before the backup began is in it, nothing torn (each
// token's last accepted counter is its last audited accept), PRAGMA integrity_check is ok. Then
// the restore the README describes — a new data directory, the file put in place, no -wal/-shm,
// the same master key — and a server started there accepts the next code of a restored device.
// The command's refusals: no --to, an existing file, no database, PostgreSQL.
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pino from 'pino';
import { backupCommand, backupSqlite } from '../src/backup.js';
import { start } from '../src/main.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';
import { asService, device, importDevices, post, SERVICE_TOKEN, testApp, type Device } from './http-helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = pino({ level: 'silent' });

/** Runs `main.ts backup …` as its own process (as an operator would run main.js). */
function runBackupProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=kodeviser-src', join(root, 'server', 'src', 'main.ts'), 'backup', ...args],
      { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function auditRows(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

t.test('a backup taken while the server writes is one consistent snapshot; restored, a server runs on it', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'kodeviser.db');
  // SQLite's own checkpoints only (no checkpointer thread): the last commits live in the log
  // alone, so a copy that missed the log (a plain file copy) would miss them.
  const live = await testApp(t, { store: openSqliteStore(dbPath, { checkpointIntervalMs: 0 }) });
  const app = live.app;

  // Many tokens (a copy of some size), a few of them busy, and one never used until the restore.
  const busy: Device[] = Array.from({ length: 8 }, () => device('hotp-sha1'));
  const quiet = device('hotp-sha1');
  const idle = Array.from({ length: 400 }, () => device('hotp-sha1'));
  await importDevices(app, ...busy, quiet);
  for (let i = 0; i < idle.length; i += 100) await importDevices(app, ...idle.slice(i, i + 100));

  // The writers: each busy device pressed and validated over and over (an accept: the token's
  // counter moves and an audit row is written), until told to stop.
  let stop = false;
  let written = 0;
  const statuses = new Map<number, number>();
  const writers = busy.map(async (d) => {
    while (!stop) {
      const res = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      written++;
    }
  });
  while (written < 400) await new Promise((r) => setTimeout(r, 20));

  const before = auditRows(dbPath);
  const writtenBefore = written;
  const dest = join(dir, 'backups', 'kodeviser-backup.db');
  mkdirSync(dirname(dest));
  const run = await runBackupProcess(['--to', dest, '--database-url', `sqlite:${dbPath}`]);
  const writtenDuring = written - writtenBefore;
  const after = auditRows(dbPath);
  stop = true;
  await Promise.all(writers);

  t.equal(run.code, 0, `the backup command succeeds${run.stderr ? `: ${run.stderr}` : ''}`);
  t.match(run.stdout, /^backed up .*kodeviser\.db to .*kodeviser-backup\.db: \d+ pages, \d+ bytes, integrity ok, in \d+ ms\n$/);
  t.ok(writtenDuring > 0, `the server went on writing while the backup ran (${writtenDuring} validations)`);
  t.same([...statuses.keys()], [200], 'every validation was answered 200 (accepted), none held up or failed');
  t.equal(statSync(dest).mode & 0o777, 0o600, 'the backup is readable by its owner only (it holds sealed seeds and password hashes)');
  t.notOk(existsSync(`${dest}-wal`) || existsSync(`${dest}-shm`) || existsSync(`${dest}-journal`), 'one file, nothing beside it');

  // The copy on its own: intact, and a snapshot between the two counts.
  const copy = new Database(dest, { readonly: true, fileMustExist: true });
  t.same(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }], 'PRAGMA integrity_check: ok');
  t.equal(copy.pragma('journal_mode', { simple: true }), 'delete', 'a rollback-journal file: no -wal needed to read it');
  const copied = (copy.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  copy.close();
  t.ok(copied >= before, `every audit row committed before the backup is in it (${copied} ≥ ${before})`);
  t.ok(copied <= after, `and none after it ended (${copied} ≤ ${after})`);

  // Restore, as the README says: into a new data directory, the server stopped there (it never
  // ran), no -wal/-shm beside the file.
  const restoredDir = tempDir(t);
  const restoredDb = join(restoredDir, 'kodeviser.db');
  copyFileSync(dest, restoredDb);
  const store = openSqliteStore(restoredDb);
  try {
    for (const d of [...busy, quiet, ...idle]) {
      if ((await store.getToken(d.serial)) === null) t.fail(`${d.serial} is missing from the restored database`);
    }
    t.pass(`all ${busy.length + 1 + idle.length} tokens are there`);
    for (const d of busy) {
      const token = await store.getToken(d.serial);
      const accepts = (await store.queryAudit({ serial: d.serial, limit: 1000 })).filter((e) => e.type === 'accept');
      t.ok(accepts.length > 0, `${d.serial}: its accepts are audited`);
      t.equal(
        token?.lastMovingFactor,
        Math.max(...accepts.map((e) => Number(e.movingFactor ?? -1))),
        `${d.serial}: its last accepted counter is its last audited accept (token and audit from one snapshot)`,
      );
    }
  } finally {
    await store.close();
  }

  // A server on the restored directory, with the master key the seeds were sealed under, accepts
  // the next code of a restored device.
  const started = await start({
    argv: ['--port', '0', '--data-dir', restoredDir],
    env: {
      KODEVISER_MASTER_KEY: Buffer.from(live.config.masterKey).toString('hex'),
      KODEVISER_SERVICE_TOKEN: SERVICE_TOKEN,
      KODEVISER_ADMIN_TOKEN: 'admin-token-for-backup-tests',
    },
    logger: silent,
    print: () => undefined,
  });
  t.teardown(() => started.stop());
  const check = await fetch(`${started.url}/v1/validate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...asService },
    body: JSON.stringify({ serial: quiet.serial, otp: quiet.press() }),
  });
  t.match(await check.json(), { result: 'accept', serial: quiet.serial }, 'the restored server accepts its code');
});

t.test('backupSqlite on its own: a copy of a closed database too', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'kodeviser.db');
  const store = openSqliteStore(dbPath);
  await store.close();
  const done = await backupSqlite(dbPath, join(dir, 'copy.db'));
  t.ok(done.pages > 0 && done.bytes > 0);
  const copy = new Database(join(dir, 'copy.db'), { readonly: true });
  t.same(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
  copy.close();
});

t.test('the command refuses, in one line and exit 1, what it cannot do', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'kodeviser.db');
  await openSqliteStore(dbPath).close();
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = '';
    let err = '';
    const code = await backupCommand(argv, { env, cwd: dir, out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };

  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.out, /^Usage: kodeviser-server backup --to FILE/);

  t.match(await run([]), { code: 1, err: /--to FILE is required/ });
  t.match(await run(['--to', 'x.db', '--bogus']), { code: 1, err: /Unknown option '--bogus'/ });

  writeFileSync(join(dir, 'taken.db'), 'precious');
  t.match(await run(['--to', 'taken.db', '--data-dir', '.']), {
    code: 1,
    err: /taken\.db exists: give a new file name \(a backup never overwrites\)/,
  });
  t.equal(readFileSync(join(dir, 'taken.db'), 'utf8'), 'precious', 'an existing file is never overwritten');

  const nowhere = await run(['--to', 'n.db', '--data-dir', 'no-such-dir']);
  t.match(nowhere, { code: 1, err: /no database at .*no-such-dir\/kodeviser\.db/ });
  t.notOk(existsSync(join(dir, 'no-such-dir')), 'no data directory is made (nor a master key)');

  t.match(await run(['--to', 'missing-dir/b.db', '--data-dir', '.']), {
    code: 1,
    err: /the directory of .*missing-dir\/b\.db does not exist/,
  });

  const pg = await run(['--to', 'pg.db'], { DATABASE_URL: 'postgres://u:secret@db.example/kv' });
  t.match(pg, { code: 1, err: /PostgreSQL: back it up with pg_dump .*pg_basebackup with WAL archiving/ });
  t.notMatch(pg.err, /secret/, 'the URL (it may hold a password) is not echoed');

  const ok = await run(['--to', 'ok.db'], { KODEVISER_DATA_DIR: '.' });
  t.equal(ok.code, 0, 'KODEVISER_DATA_DIR names the database as for the server');
  t.match(ok.out, /^backed up .*kodeviser\.db to .*ok\.db/);
});

t.test('main.js --help mentions the backup command', async (t) => {
  const run = await new Promise<string>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=kodeviser-src', join(root, 'server', 'src', 'main.ts'), '--help'],
      {
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', () => resolve(out));
  });
  t.match(run, /^Usage: kodeviser-server \[--port N\]/);
  t.match(run, /Usage: kodeviser-server backup --to FILE/);
});
