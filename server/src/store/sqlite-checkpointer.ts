/**
 * WAL checkpoints off the event loop (SQLite, "Write-Ahead Logging" §3 "Checkpointing", and
 * sqlite3_wal_checkpoint_v2's PASSIVE mode).
 *
 * A checkpoint copies the pages of the write-ahead log back into the database file and syncs
 * both, so that the log can start over. SQLite runs it inside the COMMIT that takes the log past
 * wal_autocheckpoint pages, on the committing thread: for the store that is the event loop, and
 * here each one stopped every request for 20-40 ms (two fsyncs, the one of the database file
 * after thousands of random page writes), every few thousand accepts, which is what a p99 sees.
 *
 * So a worker thread with its own connection runs PASSIVE checkpoints every `intervalMs`: it
 * copies and syncs the bulk of the log while the event loop goes on committing (PASSIVE never
 * waits for, nor blocks, the writer or readers). The sync is the worker's own fdatasync of the
 * database file: SQLite syncs it only after a checkpoint that copied the whole log, and under
 * steady writes none does, so with a million tokens (every accept a different page) hundreds of
 * megabytes of copied pages stayed dirty in the kernel (170 MB seen in /proc/meminfo) until the
 * store's autocheckpoint synced them on the event loop, or the kernel's writeback flushed them in
 * bursts that the log's own fdatasyncs then queued behind. It cannot finish the job alone:
 * under steady load new frames arrive while it copies, and the log only starts over when a
 * checkpoint has copied all of it. The store's own autocheckpoint still does that last step,
 * now with little left to copy or sync (the log itself is synced by every group commit
 * already), so its pause is a small fraction of what it was. If the worker fails, that autocheckpoint does it all, as
 * before: slower, never wrong. A fault that may pass — the disk full (a checkpoint that needs the
 * database file to grow), the database locked or failing for a while — fails that checkpoint only,
 * and the next one tries again: the log keeps every frame until a checkpoint has copied and synced
 * it, so nothing is lost meanwhile. Any other error ends the worker.
 *
 * The worker's code is a string run with `eval`, so it runs the same from the TypeScript sources
 * (tests, tsx) and from the compiled files; it loads the same better-sqlite3 as the store.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { fdatasyncSync, openSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
// NORMAL: the checkpoint syncs the log before copying, and the database after copying all of it.
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
const dbFile = openSync(workerData.path, 'r+');
let copied = -1;
// An error ends the worker (and the store's autocheckpoint does the work from then on), but for
// one that may pass, which fails this checkpoint only.
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR)/;
const transient = (e) => typeof e?.code === 'string' && TRANSIENT.test(e.code);
const checkpoint = () => {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  // SQLite syncs the database file only after a checkpoint that copied the whole log, which under
  // steady writes none does (frames arrive while it copies): so sync what this one copied.
  const synced = r.checkpointed > 0 && r.checkpointed !== copied ? 1 : 0;
  if (synced) fdatasyncSync(dbFile);
  copied = r.checkpointed;
  return { log: r.log, checkpointed: r.checkpointed, busy: r.busy, synced };
};
const timer = setInterval(() => {
  try {
    checkpoint();
  } catch (e) {
    if (!transient(e)) throw e;
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'checkpoint') {
    try {
      parentPort.postMessage(checkpoint());
    } catch (e) {
      if (!transient(e)) throw e;
      parentPort.postMessage({ error: { code: e.code, message: e.message } });
    }
  }
  if (m === 'close') {
    clearInterval(timer);
    closeSync(dbFile);
    db.close();
    parentPort.close();
  }
});
`;

export interface CheckpointReport {
  /** Frames in the log. */
  log: number;
  /** Frames of it copied into the database so far. */
  checkpointed: number;
  /** 1 when another checkpoint held the lock (this one did nothing). */
  busy: number;
  /** 1 when the worker synced the database file after this checkpoint (it copied frames). */
  synced: number;
}

export interface Checkpointer {
  /** Runs one checkpoint now (besides the periodic ones); resolves with its report. */
  checkpoint(): Promise<CheckpointReport>;
  /** Stops the worker and closes its connection. */
  close(): Promise<void>;
}

export interface CheckpointerOptions {
  /** Milliseconds between checkpoints (default 1000). */
  intervalMs?: number;
}

export function startCheckpointer(path: string, opts: CheckpointerOptions = {}): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver: createRequire(import.meta.url).resolve('better-sqlite3'), intervalMs: opts.intervalMs ?? 1000 },
  });
  // The worker must never keep the process alive, nor take it down: without it, the store's own
  // autocheckpoint does the work.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  let failure: Error | null = null;
  worker.on('error', (e: unknown) => {
    // better-sqlite3's SqliteError crosses the thread boundary as a plain object with its code.
    failure = e instanceof Error ? e : Object.assign(new Error(`the checkpointer failed: ${(e as { code?: string }).code}`), e);
  });
  const waiting: Array<{ resolve: (r: CheckpointReport) => void; reject: (e: Error) => void }> = [];
  // Replies come in the order of the requests: the worker runs one message at a time. A checkpoint
  // that failed for a reason that may pass (SQLITE_FULL, say) is its own reply's error only.
  worker.on('message', (m: CheckpointReport | { error: { code: string; message: string } }) => {
    const w = waiting.shift() as (typeof waiting)[number];
    if ('error' in m) w.reject(Object.assign(new Error(`the checkpoint failed: ${m.error.message}`), { code: m.error.code }));
    else w.resolve(m);
  });
  let stopped = false;
  void exited.then(() => {
    stopped = true;
    for (const w of waiting.splice(0)) w.reject(failure ?? new Error('the checkpointer has stopped'));
  });

  return {
    checkpoint(): Promise<CheckpointReport> {
      if (stopped) return Promise.reject(failure ?? new Error('the checkpointer has stopped'));
      // Referenced while a reply is due, so the process waits for it.
      worker.ref();
      return new Promise<CheckpointReport>((resolve, reject) => {
        waiting.push({ resolve, reject });
        worker.postMessage('checkpoint');
      }).finally(() => {
        if (waiting.length === 0) worker.unref();
      });
    },
    async close(): Promise<void> {
      worker.ref(); // until it has closed its connection
      worker.postMessage('close');
      await exited;
    },
  };
}
