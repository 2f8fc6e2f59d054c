/**
 * `kodeviser-server audit …` (npm run audit -- …): verify, checkpoint and archive the audit log of
 * the server's database (audit-log.ts), or verify an archive file, or print the checkpoints'
 * public key. One line per outcome on stdout; exit 0 when all is well, 1 when the log or a file
 * does not verify or an operation is refused (one line on stderr), 2 for a usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { archiveLog, checkpointLog, verified, verifyArchive, verifyLog, type VerifyReport } from './audit-log.js';
import { loadConfig, MASTER_KEY_FILE } from './config.js';
import { checkpointKey, keyFromJwk, publicJwk, type CheckpointKey } from './security/audit-checkpoint.js';
import { openStore } from './store/open.js';
import type { TokenStore } from './store/types.js';

export const AUDIT_USAGE = `Usage: kodeviser-server audit COMMAND [--data-dir DIR] [--database-url URL]

  verify                         check every row's hash chain and every checkpoint (exit 1 if any fails)
  verify --archive FILE [--public-key JWK-FILE]
                                 check an archive file on its own (with the key printed by \`audit key\`)
  checkpoint                     verify, then sign where the log stands and keep it; prints the checkpoint
  archive --to FILE (--before DATE | --older-than DAYS)
                                 verify, write the rows from before DATE to FILE (new, mode 0600), prune them
  key                            print the checkpoints' public key (a JWK) for an auditor

The database and the master key (checkpoints are signed with a key derived from it) are the
server's: DATABASE_URL, KODEVISER_MASTER_KEY(_FILE), KODEVISER_DATA_DIR, as for the server.
`;

export interface AuditCommandOptions {
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
  now?: () => number;
}

class UsageError extends Error {}

const DAY_MS = 86_400_000;

function parseBefore(before: string | undefined, olderThan: string | undefined, now: number): number {
  if ((before === undefined) === (olderThan === undefined)) throw new UsageError('archive needs one of --before DATE or --older-than DAYS');
  if (olderThan !== undefined) {
    if (!/^[0-9]+$/.test(olderThan)) throw new UsageError('--older-than must be a whole number of days');
    return now - Number(olderThan) * DAY_MS;
  }
  const at = Date.parse(before!);
  if (!Number.isFinite(at)) throw new UsageError('--before must be an ISO 8601 date or date-time (2026-01-01, 2026-01-01T00:00:00Z)');
  return at;
}

function describe(r: VerifyReport): string {
  const lanes = r.heads.size;
  const range = r.rows === 0 ? 'no rows' : `${r.rows} rows (ids ${r.after + 1}-${r.upTo}) in ${lanes} lane${lanes === 1 ? '' : 's'}`;
  const start =
    r.start === null ? 'from the first row' : `from archive checkpoint #${r.start.checkpoint.id} (rows up to ${r.after} archived)`;
  const newest = r.newest === null ? 'no checkpoint yet' : `newest checkpoint #${r.newest.id}`;
  return `${range}, ${start}; ${newest}, ${r.unprotected} rows after it not yet covered by one`;
}

function problems(r: VerifyReport): string[] {
  return [
    ...r.breaks
      .slice(0, 20)
      .map(
        (b) =>
          `row ${b.id} (lane ${b.lane ?? 'none'}): ${b.problem === 'hash' ? 'its hash does not follow from the row before it in its lane' : 'it has no hash'}`,
      ),
    ...(r.breaks.length > 20 ? [`… and ${r.breaks.length - 20} more rows`] : []),
    ...r.badCheckpoints.map((c) => `checkpoint #${c.id}: ${c.problem}`),
  ];
}

export async function auditCommand(argv: readonly string[], opts: AuditCommandOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = opts.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = opts.now ?? Date.now;
  let flags;
  let command: string | undefined;
  let before = 0;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: {
        archive: { type: 'string' },
        'public-key': { type: 'string' },
        to: { type: 'string' },
        before: { type: 'string' },
        'older-than': { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
    flags = parsed.values;
    if (flags.help) {
      out(AUDIT_USAGE);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new UsageError('give one command: verify, checkpoint, archive or key');
    command = parsed.positionals[0];
    if (!['verify', 'checkpoint', 'archive', 'key'].includes(command!)) throw new UsageError(`unknown command ${command}`);
    if (command !== 'archive' && (flags.to ?? flags.before ?? flags['older-than']) !== undefined) {
      throw new UsageError('--to, --before and --older-than are for archive');
    }
    if (command === 'archive' && flags.to === undefined) throw new UsageError('archive needs --to FILE');
    if (flags['public-key'] !== undefined && flags.archive === undefined) throw new UsageError('--public-key is for verify --archive');
    if (flags.archive !== undefined && command !== 'verify') throw new UsageError('--archive is for verify');
    if (command === 'archive') before = parseBefore(flags.before, flags['older-than'], now());
  } catch (e) {
    err(`kodeviser-server audit: ${(e as Error).message}\n${AUDIT_USAGE}`);
    return 2;
  }

  const cwd = process.cwd();
  let key: CheckpointKey;
  let store: TokenStore | null = null;
  try {
    if (flags['public-key'] !== undefined) {
      key = await keyFromJwk(JSON.parse(readFileSync(resolve(cwd, flags['public-key']), 'utf8')));
    } else {
      // The key must be the server's: a master key generated now would sign with a stranger's.
      const dataDir = resolve(cwd, flags['data-dir'] ?? (env.KODEVISER_DATA_DIR || './data'));
      if (!env.KODEVISER_MASTER_KEY && !env.KODEVISER_MASTER_KEY_FILE && !existsSync(join(dataDir, MASTER_KEY_FILE))) {
        throw new Error(`no master key in ${dataDir} (nor KODEVISER_MASTER_KEY): run this where the server runs, with its settings`);
      }
      const configArgv = [
        ...(flags['data-dir'] !== undefined ? ['--data-dir', flags['data-dir']] : []),
        ...(flags['database-url'] !== undefined ? ['--database-url', flags['database-url']] : []),
      ];
      const { config } = loadConfig({ argv: configArgv, env, cwd });
      key = await checkpointKey(config.masterKey);
      if (command === 'key') {
        out(JSON.stringify(await publicJwk(key)));
        return 0;
      }
      if (flags.archive === undefined) store = await openStore(config.database);
    }

    if (flags.archive !== undefined) {
      const file = resolve(cwd, flags.archive);
      if (!existsSync(file)) throw new Error(`no file ${file}`);
      const r = await verifyArchive(file, key);
      for (const p of r.problems) out(p);
      if (r.problems.length > 0) {
        err(`the archive ${file} does NOT verify (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})`);
        return 1;
      }
      out(`the archive ${file} verifies: ${r.rows} rows (ids ${r.after + 1}-${r.upTo}), signed by key ${key.kid}`);
      return 0;
    }
    const archive = store!.auditArchive;
    if (command === 'verify') {
      const r = await verifyLog(archive, key);
      for (const p of problems(r)) out(p);
      if (!verified(r)) {
        err(`the audit log does NOT verify: ${r.breaks.length} rows out of chain, ${r.badCheckpoints.length} checkpoints failing`);
        return 1;
      }
      out(`the audit log verifies: ${describe(r)}`);
      return 0;
    }
    if (command === 'checkpoint') {
      const { report, checkpoint } = await checkpointLog(archive, key, now());
      for (const p of problems(report)) out(p);
      if (checkpoint === null) {
        err('the audit log does NOT verify: no checkpoint made');
        return 1;
      }
      out(checkpoint);
      out(
        `checkpoint made up to row ${report.upTo} (${report.heads.size} lane${report.heads.size === 1 ? '' : 's'}); keep a copy of the line above apart from the database`,
      );
      return 0;
    }
    const to = resolve(cwd, flags.to!);
    const { report, archived } = await archiveLog(archive, key, { before, to, now: now() });
    for (const p of problems(report)) out(p);
    if (!verified(report)) {
      err('the audit log does NOT verify: nothing archived');
      return 1;
    }
    if (archived === null) {
      out(`nothing to archive: no rows from before ${new Date(before).toISOString()} that are not archived already`);
      return 0;
    }
    out(
      `archived ${archived.rows} rows (ids ${archived.after + 1}-${archived.upTo}, before ${new Date(before).toISOString()}) to ${archived.file}; ${archived.pruned} pruned from the database`,
    );
    return 0;
  } catch (e) {
    err(`kodeviser-server audit: ${(e as Error).message.split('\n')[0]}`);
    return 1;
  } finally {
    await store?.close();
  }
}
