/**
 * The server checkpoints its own audit log (audit-log.ts checkpointNew) every `everyMs`, so that
 * rows are protected by a signature within that long without a cron job: the rows since the
 * newest checkpoint are walked and, if they chain, signed. A log that does not verify is logged
 * as an error each time (the rows or checkpoints at fault named, never their content) and gets no
 * checkpoint until someone looks (`npm run audit -- verify`).
 *
 * On several instances over one database each has its timer; one that finds a checkpoint younger
 * than half the period leaves it, so they take turns rather than each signing every period.
 */
import type { FastifyInstance } from 'fastify';
import { checkpointNew } from '../audit-log.js';
import type { Clock } from '../domain/types.js';
import { checkpointKey } from '../security/audit-checkpoint.js';
import type { AuditArchive } from '../store/types.js';

export interface AuditCheckpointOptions {
  archive: AuditArchive;
  masterKey: Uint8Array;
  clock: Clock;
  /** ms between checkpoints; 0: none (the `audit checkpoint` command only) */
  everyMs: number;
}

export async function auditCheckpoints(app: FastifyInstance, o: AuditCheckpointOptions): Promise<void> {
  if (o.everyMs <= 0) return;
  const key = await checkpointKey(o.masterKey);
  let running: Promise<void> | null = null;
  const take = async (): Promise<void> => {
    const now = o.clock.now();
    const newest = (await o.archive.checkpoints()).reduce((at, c) => Math.max(at, c.at), -Infinity);
    if (now - newest < o.everyMs / 2) return;
    const r = await checkpointNew(o.archive, key, now);
    if (r.breaks.length > 0 || r.badCheckpoints.length > 0) {
      app.log.error(
        { breaks: r.breaks.slice(0, 20).map((b) => b.id), badCheckpoints: r.badCheckpoints.slice(0, 20) },
        'the audit log does not verify: no checkpoint taken (npm run audit -- verify)',
      );
    } else if (r.checkpoint !== null) {
      app.log.info({ rows: r.rows }, 'audit log checkpoint taken');
    }
  };
  const timer = setInterval(() => {
    // One at a time: a slow walk is not started again under itself.
    running ??= take()
      .catch((e: unknown) => app.log.warn({ err: { message: (e as Error).message } }, 'taking an audit checkpoint failed'))
      .finally(() => {
        running = null;
      });
  }, o.everyMs);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await running;
  });
}
