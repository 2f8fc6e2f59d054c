/**
 * `kodeviser-server backup --to FILE`: a consistent copy of a live SQLite database, made with
 * SQLite's online backup API (better-sqlite3's db.backup) while the server keeps running on the
 * same file.
 *
 * The copy is taken from a connection of its own, in one step: that step reads every page inside
 * one read transaction, i.e. one snapshot of the database as of a commit (WAL mode: the server's
 * writes go on meanwhile, into the log, and are not in the copy). Copied in many small steps
 * instead, as db.backup does by default, a write by another connection between two steps would
 * restart the copy, and a busy server could keep restarting it for good.
 *
 * The copy is written to a temporary file beside FILE (mode 0600 from the start: it holds the
 * sealed seeds and the password hashes), turned into a single self-contained file (rollback
 * journal, no -wal to go with it), checked with PRAGMA integrity_check, synced, and only then
 * renamed to FILE: a FILE that exists is a whole, checked backup. FILE must not exist yet.
 *
 * Which database: the server's own settings (--data-dir / KODEVISER_DATA_DIR, --database-url /
 * DATABASE_URL), read without loadConfig, which would create a data directory and its secrets.
 * PostgreSQL has its own tools (pg_dump, pg_basebackup; see README), and is refused here.
 * The master key is not in the database: back it up once, apart from the database backups.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { KodeviserError } from '@kodeviser/shared';
import { parseDatabaseUrl } from './config.js';

export const BACKUP_USAGE = `Usage: kodeviser-server backup --to FILE [--data-dir DIR] [--database-url URL]

A consistent copy of the SQLite database, taken while the server runs (SQLite's online backup),
written to FILE (which must not exist; mode 0600) once it passes PRAGMA integrity_check.
The database is the server's: DATABASE_URL or --database-url, else <data dir>/kodeviser.db
(KODEVISER_DATA_DIR or --data-dir, default ./data). The master key is not in it: keep a copy of
that too. PostgreSQL: use pg_dump or pg_basebackup instead. Restoring: see README.
`;

export interface BackupResult {
  /** the database copied */
  from: string;
  /** the backup written */
  to: string;
  pages: number;
  bytes: number;
  ms: number;
}

function backupError(message: string): KodeviserError {
  return new KodeviserError('ERR_ARGUMENT', message);
}

/**
 * Copies the SQLite database `from` to the new file `to` as one consistent snapshot, checks the
 * copy and renames it into place. Rejects (leaving nothing at `to`) when `from` is not a
 * database, `to` exists or its directory does not, or the copy fails its integrity check.
 */
export async function backupSqlite(from: string, to: string, opts: { busyTimeoutMs?: number } = {}): Promise<BackupResult> {
  const began = performance.now();
  if (!existsSync(from)) throw backupError(`no database at ${from}`);
  if (existsSync(to)) throw backupError(`${to} exists: give a new file name (a backup never overwrites)`);
  if (!existsSync(dirname(to))) throw backupError(`the directory of ${to} does not exist`);
  // The copy goes to a temporary file beside its final name (the same file system, so that the
  // rename is atomic), created empty with mode 0600 before SQLite writes a byte of it.
  const partial = join(dirname(to), `.${basename(to)}.partial-${process.pid}`);
  closeSync(openSync(partial, 'wx', 0o600));
  try {
    // A connection of its own, read-write only so that it can join the server's WAL (it writes
    // nothing): a snapshot of the last commit, however busy the server is.
    const source = new Database(from, { fileMustExist: true });
    let pages = 0;
    try {
      source.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
      // The first step (0 pages) sizes the copy; the second copies every page at once.
      const done = await source.backup(partial, { progress: () => 0x7fffffff });
      pages = done.totalPages;
    } finally {
      source.close();
    }
    const copy = new Database(partial, { fileMustExist: true });
    try {
      // One file that stands alone: no -wal beside it (the server turns WAL back on when it opens it).
      copy.pragma('journal_mode = DELETE');
      const check = copy.pragma('integrity_check') as Array<{ integrity_check: string }>;
      if (check.length !== 1 || check[0]?.integrity_check !== 'ok') {
        throw backupError(`the copy fails PRAGMA integrity_check: ${check.map((r) => r.integrity_check).join('; ')}`);
      }
    } finally {
      copy.close();
    }
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, to);
    const dir = openSync(dirname(to), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return { from, to, pages, bytes: statSync(to).size, ms: performance.now() - began };
  } finally {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
  }
}

/**
 * The `backup` command: its arguments and the server's environment → the database to copy →
 * backupSqlite. Returns the exit code; what it did (or why not) goes to `out` / `err`, one line.
 */
export async function backupCommand(
  argv: readonly string[],
  io: { env?: NodeJS.ProcessEnv; cwd?: string; out?: (s: string) => void; err?: (s: string) => void } = {},
): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const out = io.out ?? ((s: string) => process.stdout.write(s));
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  let flags;
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        to: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err(`kodeviser-server backup: ${(e as Error).message}\n${BACKUP_USAGE}`);
    return 1;
  }
  if (flags.help === true) {
    out(BACKUP_USAGE);
    return 0;
  }
  if (flags.to === undefined || flags.to === '') {
    err(`kodeviser-server backup: --to FILE is required\n${BACKUP_USAGE}`);
    return 1;
  }
  try {
    const dataDir = resolve(cwd, flags['data-dir'] ?? (env.KODEVISER_DATA_DIR || './data'));
    const url = flags['database-url'] ?? (env.DATABASE_URL || `sqlite:${join(dataDir, 'kodeviser.db')}`);
    const database = parseDatabaseUrl(url, cwd);
    if (database.kind !== 'sqlite') {
      throw backupError(
        'the database is PostgreSQL: back it up with pg_dump (a logical copy), or pg_basebackup with WAL archiving (point-in-time recovery)',
      );
    }
    const done = await backupSqlite(database.path, resolve(cwd, flags.to));
    out(`backed up ${done.from} to ${done.to}: ${done.pages} pages, ${done.bytes} bytes, integrity ok, in ${Math.round(done.ms)} ms\n`);
    return 0;
  } catch (e) {
    err(`kodeviser-server backup: ${(e as Error).message}\n`);
    return 1;
  }
}
