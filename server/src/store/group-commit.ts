/**
 * Group commit, as databases do it for their own log (Gray & Reuter, "Transaction Processing",
 * §9.4.7; PostgreSQL's commit_delay; MySQL's binlog group commit): a durable commit costs one
 * fsync, typically 0.1–10 ms, which alone caps a store that commits each request on its own at a
 * few thousand requests per second. So writes submitted while the event loop is busy are queued
 * and run together in one transaction, on the next turn of the loop (setImmediate, i.e. after
 * the I/O callbacks of the current turn have queued theirs) or as soon as the batch is full.
 *
 * Durability is a second, asynchronous stage when the store gives a `sync` (sqlite.ts: an
 * fdatasync of the write-ahead log on libuv's thread pool): a batch commits to the OS, then one
 * sync makes it durable, while the event loop goes on (the sync ran on the main thread before,
 * blocking every request for its ~4 ms). Writes submitted while a sync is in flight queue up and
 * commit together when it ends, followed by the next sync (a full batch commits at once
 * anyway). Without `sync`, `transaction` must itself be durable.
 *
 * Either way each caller's promise settles only after its batch is durable: nothing is
 * acknowledged that a crash could still take back. A failed sync is fatal (as in PostgreSQL
 * since "fsyncgate": after a failed fsync the kernel may have dropped the dirty pages, so a retry
 * proves nothing): the writes waiting on it and every later submit reject with its error.
 *
 * Every operation runs isolated (a savepoint), so one that throws (a duplicate serial, say) undoes
 * only its own writes and rejects only its own caller. Operations run one after another in
 * submission order, so compare-and-set semantics hold inside a batch exactly as across batches.
 */
export interface GroupCommitOptions {
  /** Runs `work` in one transaction and commits it (durably unless `sync` is given); throws if the commit fails. */
  transaction(work: () => void): void;
  /** Runs `op` inside the current transaction so that a throw undoes only its writes. */
  isolate<T>(op: () => T): T;
  /** Makes every commit so far durable. */
  sync?: () => Promise<void>;
  /** false: every operation commits on its own, at once. Default true. */
  enabled?: boolean;
  /** Operations per transaction at most. Default 512. */
  maxBatch?: number;
}

interface Queued {
  op: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A committed operation waiting for durability: its outcome, and its caller to tell. */
interface Committed {
  caller: Queued;
  ok: boolean;
  value: unknown;
}

export interface GroupCommit {
  submit<T>(op: () => T): Promise<T>;
  /** Commits what is queued now, and resolves once everything committed is durable. */
  drain(): Promise<void>;
  /** Whether a sync has failed (every write rejects from then on). */
  readonly failed: boolean;
}

const settle = ({ caller, ok, value }: Committed): void => (ok ? caller.resolve(value) : caller.reject(value));

export function createGroupCommit(opts: GroupCommitOptions): GroupCommit {
  const enabled = opts.enabled ?? true;
  const maxBatch = enabled ? (opts.maxBatch ?? 512) : 1;
  const { sync } = opts;
  let queue: Queued[] = [];
  let scheduled: NodeJS.Immediate | null = null;
  /** Committed, not yet covered by a sync. */
  let unsynced: Committed[] = [];
  /** The sync in flight, if any. */
  let syncing: Promise<void> | null = null;
  let failure: { error: unknown } | null = null;

  const fail = (error: unknown, callers: Iterable<Queued>): void => {
    failure = { error };
    for (const caller of callers) caller.reject(error);
  };

  const startSync = (syncNow: () => Promise<void>): void => {
    const covered = unsynced;
    unsynced = [];
    syncing = syncNow().then(
      () => {
        syncing = null;
        covered.forEach(settle);
        // What queued up meanwhile commits now, as one transaction, and the next sync starts.
        flush();
        if (!syncing && unsynced.length > 0) startSync(syncNow);
      },
      (error: unknown) => {
        syncing = null;
        // Nothing that waited is known to be durable, nor is anything committed after it.
        fail(error, [...covered, ...unsynced].map((c) => c.caller).concat(queue));
        unsynced = [];
        queue = [];
      },
    );
  };

  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = null;
    const batch = queue;
    if (batch.length === 0) return;
    queue = [];
    const committed: Committed[] = [];
    try {
      opts.transaction(() => {
        for (const caller of batch) {
          try {
            committed.push({ caller, ok: true, value: opts.isolate(caller.op) });
          } catch (error) {
            committed.push({ caller, ok: false, value: error });
          }
        }
      });
    } catch (commitError) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is committed.
      for (const q of batch) q.reject(commitError);
      return;
    }
    if (!sync) {
      committed.forEach(settle);
      return;
    }
    for (const c of committed) unsynced.push(c);
    if (!syncing) startSync(sync);
  };

  return {
    submit<T>(op: () => T): Promise<T> {
      if (failure) return Promise.reject(failure.error);
      const promise = new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      });
      if (queue.length >= maxBatch) flush();
      // While a sync runs, writes wait for its end to commit: whenever they committed, they would
      // be answered only after the next sync, and one transaction for all of them writes each
      // page they share once (the audit log's last pages, say) and takes the locks once.
      else if (!syncing) scheduled ??= setImmediate(flush);
      return promise;
    },
    get failed(): boolean {
      return failure !== null;
    },
    async drain(): Promise<void> {
      flush();
      while (syncing) await syncing;
      if (failure) throw failure.error;
    },
  };
}
