/**
 * Verifying, checkpointing and archiving the audit log (audit-chain.ts, security/audit-checkpoint.ts),
 * on any store's AuditArchive: what the `audit` command (audit-command.ts) runs.
 *
 * - verify: every lane's chain from the newest archive checkpoint (or from the start) to the rows
 *   committed now, and every later checkpoint's heads against the rows it covers;
 * - checkpoint: verify, then sign where the lanes stand and store it (checkpointNew: only the rows
 *   since the newest checkpoint, as the server does on its own);
 * - archive: verify, write the rows up to a time to a file (JSON lines, ending in the checkpoint
 *   that pins them), make it durable, then record the checkpoint and prune those rows. The file
 *   verifies on its own (verifyArchive), from the checkpoint it starts at to the one it ends with.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { bytesToHex, hexToBytes, isKodeviserError, KodeviserError, movingFactorFromJson, movingFactorToJson } from '@kodeviser/shared';
import { followChains, sameHash, type ChainBreak, type ChainRow, type LaneHead } from './store/audit-chain.js';
import type { AuditArchive, StoredCheckpoint } from './store/types.js';
import {
  CHECKPOINT_TYPE,
  CheckpointError,
  headsOf,
  lanesOf,
  openCheckpoint,
  signCheckpoint,
  type CheckpointKey,
  type CheckpointPayload,
} from './security/audit-checkpoint.js';

const BATCH = 10_000;

export interface VerifyReport {
  /** Rows whose hashes were checked. */
  rows: number;
  /** The rows checked were those with after < id ≤ upTo. */
  after: number;
  upTo: number;
  /** Where each lane stands at upTo. */
  heads: Map<number, LaneHead>;
  breaks: ChainBreak[];
  /** Checkpoints whose signature failed, or whose heads the rows no longer reach. */
  badCheckpoints: Array<{ id: number; problem: string }>;
  /** The checkpoint the walk started from (the newest archive one), if any. */
  start: { checkpoint: StoredCheckpoint; payload: CheckpointPayload } | null;
  /** The newest checkpoint that verified, if any. */
  newest: StoredCheckpoint | null;
  /** Rows after the newest good checkpoint: the tail no signature protects yet. */
  unprotected: number;
}

export const verified = (r: VerifyReport): boolean => r.breaks.length === 0 && r.badCheckpoints.length === 0;

const sameHeads = (a: ReadonlyMap<number, LaneHead>, b: ReadonlyMap<number, LaneHead>): string | null => {
  for (const lane of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(lane);
    const y = b.get(lane);
    if (x === undefined || y === undefined) return `lane ${lane} is ${x === undefined ? 'missing from the rows' : 'not in the checkpoint'}`;
    if (x.id !== y.id || !sameHash(x.hash, y.hash)) return `lane ${lane}: row ${x.id} in the rows, row ${y.id} in the checkpoint`;
  }
  return null;
};

/** Every stored checkpoint, opened: those whose signature and ids hold, and what is wrong with the others. */
async function openCheckpoints(
  archive: AuditArchive,
  key: CheckpointKey,
): Promise<{ good: Array<{ checkpoint: StoredCheckpoint; payload: CheckpointPayload }>; bad: Array<{ id: number; problem: string }> }> {
  const good: Array<{ checkpoint: StoredCheckpoint; payload: CheckpointPayload }> = [];
  const bad: Array<{ id: number; problem: string }> = [];
  for (const checkpoint of await archive.checkpoints()) {
    try {
      const payload = await openCheckpoint(checkpoint.jws, key);
      if (payload.upTo !== checkpoint.upToId || payload.prunedTo !== checkpoint.prunedToId) {
        throw new CheckpointError('its row says other ids than its signed payload');
      }
      good.push({ checkpoint, payload });
    } catch (e) {
      bad.push({ id: checkpoint.id, problem: (e as Error).message });
    }
  }
  return { good, bad };
}

/** Walks the log as the report says; never throws for what it finds, only for a store that fails. */
export async function verifyLog(archive: AuditArchive, key: CheckpointKey): Promise<VerifyReport> {
  const { good, bad: badCheckpoints } = await openCheckpoints(archive, key);
  // A row pruned under a checkpoint that does not verify is simply missing: the chain breaks there.
  const archived = good.filter((g) => g.payload.prunedTo !== null);
  const start = archived.reduce<(typeof archived)[number] | null>(
    (a, g) => (a === null || g.payload.prunedTo! > a.payload.prunedTo! ? g : a),
    null,
  );
  const after = start?.payload.prunedTo ?? 0;
  const heads = start === null ? new Map<number, LaneHead>() : headsOf(start.payload.lanes);
  const upTo = await archive.boundary();
  const pending = good.filter((g) => g.payload.upTo > after).sort((a, b) => a.payload.upTo - b.payload.upTo);
  const breaks: ChainBreak[] = [];
  let rows = 0;
  let newest: StoredCheckpoint | null = start?.checkpoint ?? null;
  let unprotected = 0;
  // Compares the heads with each checkpoint whose rows have all been walked.
  const settle = (reached: number): void => {
    while (pending.length > 0 && pending[0]!.payload.upTo <= reached) {
      const { checkpoint, payload } = pending.shift()!;
      const differs = sameHeads(heads, headsOf(payload.lanes));
      if (differs === null) {
        // Every row walked so far is at or below it (settle runs before each row is walked).
        newest = checkpoint;
        unprotected = 0;
      } else badCheckpoints.push({ id: checkpoint.id, problem: `the rows up to ${payload.upTo} do not reach its heads: ${differs}` });
    }
  };
  for (let from = after; ;) {
    const batch = await archive.rows(from, upTo, BATCH);
    if (batch.length === 0) break;
    for (const r of batch) {
      settle(r.id - 1);
      followChains([r], heads, breaks);
      unprotected++;
    }
    rows += batch.length;
    from = batch[batch.length - 1]!.id;
  }
  settle(upTo);
  // A checkpoint past the rows there are: rows it covered were removed from the end.
  for (const { checkpoint, payload } of pending) {
    badCheckpoints.push({ id: checkpoint.id, problem: `it covers rows up to ${payload.upTo}, the log ends at ${upTo}` });
  }
  return { rows, after, upTo, heads, breaks, badCheckpoints, start, newest, unprotected };
}

/** Verifies the log and, if it verifies, signs where its lanes stand and stores that checkpoint. */
export async function checkpointLog(
  archive: AuditArchive,
  key: CheckpointKey,
  now: number,
): Promise<{ report: VerifyReport; checkpoint: string | null }> {
  const report = await verifyLog(archive, key);
  if (!verified(report)) return { report, checkpoint: null };
  const payload: CheckpointPayload = {
    typ: CHECKPOINT_TYPE,
    v: 1,
    at: now,
    upTo: report.upTo,
    lanes: lanesOf(report.heads),
    prunedTo: null,
    archive: null,
  };
  const jws = await signCheckpoint(payload, key);
  await archive.addCheckpoint({ at: now, upToId: report.upTo, prunedToId: null, jws });
  return { report, checkpoint: jws };
}

export interface NewCheckpoint {
  /** Rows walked: those after the newest checkpoint (every row, when there was none). */
  rows: number;
  breaks: ChainBreak[];
  /** Checkpoints whose signature failed (then nothing is signed: someone wrote to the checkpoints). */
  badCheckpoints: Array<{ id: number; problem: string }>;
  /** What was signed and stored; null: nothing new, or the log does not verify. */
  checkpoint: string | null;
}

/**
 * A checkpoint of what came since the newest checkpoint: the rows after it walked from the heads
 * it signed, and, when they chain, signed and stored — what the server does on its own every
 * KODEVISER_AUDIT_CHECKPOINT_MS. The rows before the newest checkpoint are not walked again: its
 * signature protects them, and `audit verify` walks them all. Every checkpoint's signature is
 * checked, and a bad one stops it, as does a break; with no checkpoint yet, it is checkpointLog.
 */
export async function checkpointNew(archive: AuditArchive, key: CheckpointKey, now: number): Promise<NewCheckpoint> {
  const { good, bad: badCheckpoints } = await openCheckpoints(archive, key);
  const newest = good.reduce<CheckpointPayload | null>((n, g) => (n === null || g.payload.upTo > n.upTo ? g.payload : n), null);
  if (badCheckpoints.length > 0) return { rows: 0, breaks: [], badCheckpoints, checkpoint: null };
  if (newest === null) {
    const { report, checkpoint } = await checkpointLog(archive, key, now);
    return { rows: report.rows, breaks: report.breaks, badCheckpoints: report.badCheckpoints, checkpoint };
  }
  const heads = headsOf(newest.lanes);
  const upTo = await archive.boundary();
  const breaks: ChainBreak[] = [];
  let rows = 0;
  for (let from = newest.upTo; ;) {
    const batch = await archive.rows(from, upTo, BATCH);
    if (batch.length === 0) break;
    followChains(batch, heads, breaks);
    rows += batch.length;
    from = batch[batch.length - 1]!.id;
  }
  if (rows === 0 || breaks.length > 0) return { rows, breaks, badCheckpoints, checkpoint: null };
  const payload: CheckpointPayload = { typ: CHECKPOINT_TYPE, v: 1, at: now, upTo, lanes: lanesOf(heads), prunedTo: null, archive: null };
  const jws = await signCheckpoint(payload, key);
  await archive.addCheckpoint({ at: now, upToId: upTo, prunedToId: null, jws });
  return { rows, breaks, badCheckpoints, checkpoint: jws };
}

export interface ArchiveResult {
  report: VerifyReport;
  /** null: nothing was archived (the log does not verify, or has no rows that old) */
  archived: { file: string; after: number; upTo: number; rows: number; pruned: number; checkpoint: string } | null;
}

/** The first line of an archive file. */
interface ArchiveHeader {
  format: 'kodeviser-audit-archive';
  v: 1;
  /** The rows are those with after < id ≤ upTo. */
  after: number;
  upTo: number;
  /** The checkpoint the rows' lanes start from (the previous archive's), or null: from the start. */
  start: string | null;
}

/** A row as a line of JSON: its moving factor as JSON writes one (a decimal string above 2^53 − 1), its hash in hex. */
const rowLine = (r: ChainRow): string =>
  JSON.stringify({
    ...r,
    moving_factor: r.moving_factor === null ? null : movingFactorToJson(r.moving_factor),
    hash: r.hash === null ? null : bytesToHex(r.hash),
  });

/**
 * Archives the rows from before `before` (unix ms) to the new file `to` (mode 0600) and prunes
 * them. Refuses (ERR_ARGUMENT) when `to` exists or its directory does not; archives nothing when
 * the log does not verify or there is nothing that old.
 */
export async function archiveLog(
  archive: AuditArchive,
  key: CheckpointKey,
  opts: { before: number; to: string; now: number; actor?: string },
): Promise<ArchiveResult> {
  const { to, now } = opts;
  if (existsSync(to)) throw new KodeviserError('ERR_ARGUMENT', `${to} exists: give a new file name (an archive never overwrites)`);
  if (!existsSync(dirname(to))) throw new KodeviserError('ERR_ARGUMENT', `the directory of ${to} does not exist`);
  const report = await verifyLog(archive, key);
  if (!verified(report)) return { report, archived: null };
  const upTo = Math.min(await archive.lastIdAt(opts.before), report.upTo);
  if (upTo <= report.after) return { report, archived: null };

  const heads = report.start === null ? new Map<number, LaneHead>() : headsOf(report.start.payload.lanes);
  const breaks: ChainBreak[] = [];
  const digest = createHash('sha256');
  const temp = `${to}.${process.pid}.partial`;
  const fd = openSync(temp, 'wx', 0o600);
  let rows = 0;
  try {
    const write = (line: string): void => {
      const text = `${line}\n`;
      digest.update(text);
      writeSync(fd, text);
    };
    const header: ArchiveHeader = {
      format: 'kodeviser-audit-archive',
      v: 1,
      after: report.after,
      upTo,
      start: report.start?.checkpoint.jws ?? null,
    };
    write(JSON.stringify(header));
    for (let from = report.after; ;) {
      const batch = await archive.rows(from, upTo, BATCH);
      if (batch.length === 0) break;
      followChains(batch, heads, breaks);
      for (const r of batch) write(rowLine(r));
      rows += batch.length;
      from = batch[batch.length - 1]!.id;
    }
    // Read twice: what was verified must be what is written.
    if (breaks.length > 0)
      throw new KodeviserError('ERR_ARGUMENT', `the rows changed while being archived (row ${breaks[0]!.id}): nothing pruned`);
    const payload: CheckpointPayload = {
      typ: CHECKPOINT_TYPE,
      v: 1,
      at: now,
      upTo,
      lanes: lanesOf(heads),
      prunedTo: upTo,
      archive: { file: basename(to), rows, sha256: digest.digest('hex') },
    };
    const checkpoint = await signCheckpoint(payload, key);
    writeSync(fd, `${JSON.stringify({ checkpoint })}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, to);
    const dir = openSync(dirname(to), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    // Only now, with the file durable, are the rows removed.
    const pruned = await archive.prune(
      { at: now, upToId: upTo, prunedToId: upTo, jws: checkpoint },
      {
        at: now,
        type: 'archive',
        actor: opts.actor ?? 'audit command',
        reason: `rows ${report.after + 1}-${upTo} (${rows}) archived to ${basename(to)}, sha256 ${payload.archive!.sha256}`,
      },
    );
    return { report, archived: { file: to, after: report.after, upTo, rows, pruned, checkpoint } };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    rmSync(temp, { force: true });
    throw e;
  }
}

export interface ArchiveFileReport {
  rows: number;
  after: number;
  upTo: number;
  /** Empty when the file verifies. */
  problems: string[];
}

/**
 * Verifies an archive file on its own: its start checkpoint's signature, every row's hash from
 * there, and its closing checkpoint's signature, heads and digest of the lines before it.
 */
export async function verifyArchive(file: string, key: CheckpointKey): Promise<ArchiveFileReport> {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const problems: string[] = [];
  const fail = (problem: string): ArchiveFileReport => ({ rows: 0, after: 0, upTo: 0, problems: [problem] });
  let header: ArchiveHeader;
  let last: { checkpoint?: unknown };
  try {
    header = JSON.parse(lines[0] ?? '') as ArchiveHeader;
    last = JSON.parse(lines.at(-1) ?? '') as { checkpoint?: unknown };
  } catch {
    return fail('not a kodeviser audit archive (its first or last line is not JSON)');
  }
  if (header?.format !== 'kodeviser-audit-archive' || typeof last?.checkpoint !== 'string' || lines.length < 2) {
    return fail('not a kodeviser audit archive');
  }
  let heads = new Map<number, LaneHead>();
  if (header.start !== null) {
    try {
      heads = headsOf((await openCheckpoint(header.start, key)).lanes);
    } catch (e) {
      problems.push(`its start checkpoint: ${(e as Error).message}`);
    }
  }
  const breaks: ChainBreak[] = [];
  const digest = createHash('sha256').update(`${lines[0]}\n`);
  const body = lines.slice(1, -1);
  for (const [i, line] of body.entries()) {
    digest.update(`${line}\n`);
    try {
      const r = JSON.parse(line) as Omit<ChainRow, 'moving_factor' | 'hash'> & { moving_factor: unknown; hash: string | null };
      const movingFactor = r.moving_factor === null ? null : movingFactorFromJson(r.moving_factor, `line ${i + 2}: moving_factor`);
      followChains([{ ...r, moving_factor: movingFactor, hash: r.hash === null ? null : hexToBytes(r.hash) }], heads, breaks);
    } catch (e) {
      problems.push(isKodeviserError(e) ? e.message : `line ${i + 2} is not JSON`);
    }
  }
  for (const b of breaks.slice(0, 10))
    problems.push(`row ${b.id} (lane ${b.lane}): ${b.problem === 'hash' ? 'its hash does not follow' : 'no hash'}`);
  try {
    const end = await openCheckpoint(last.checkpoint, key);
    if (end.archive?.sha256 !== digest.digest('hex'))
      problems.push('the lines before its checkpoint are not those it signed (sha256 differs)');
    if (end.archive?.rows !== body.length) problems.push(`its checkpoint says ${end.archive?.rows} rows, the file has ${body.length}`);
    if (end.upTo !== header.upTo || end.prunedTo !== header.upTo) problems.push('its checkpoint covers other rows than its header says');
    const differs = sameHeads(heads, headsOf(end.lanes));
    if (differs !== null) problems.push(`the rows do not reach its checkpoint's heads: ${differs}`);
  } catch (e) {
    problems.push(`its closing checkpoint: ${(e as Error).message}`);
  }
  return { rows: body.length, after: header.after, upTo: header.upTo, problems };
}
