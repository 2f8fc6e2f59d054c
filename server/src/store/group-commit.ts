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
 * sync makes it durable, while the event loop goes on (on the main thread it would block every
 * request for its ~4 ms). While a sync is in flight the next batch does not wait
 * idle: its writes run as they arrive, turn by turn, inside one open transaction, and that
 * transaction commits the moment the sync ends, followed at once by the next sync. So the event
 * loop does a batch's work while the disk syncs the previous one, and the end of a sync costs only
 * a COMMIT before the disk is busy again and the waiting callers are answered (with the work
 * left for the end of the sync, the replies and the next sync both wait for it: 4-12 % fewer
 * validations per second, measured in alternated pairs at 10 k and 1 M tokens).
 * A batch that fills up commits without waiting for the sync, and the next sync covers it.
 * Without `sync`, `commit` must itself be durable, and every batch commits in its own turn.
 *
 * Either way each caller's promise settles only after its batch is durable: nothing is
 * acknowledged that a crash could still take back. A failed sync is fatal (as in PostgreSQL
 * since "fsyncgate": after a failed fsync the kernel may have dropped the dirty pages, so a retry
 * proves nothing): the writes waiting on it and every later submit reject with its error. A
 * failed begin or commit rejects its batch only (the transaction, if any, is rolled back), and the
 * next batch begins afresh: a database locked by another process past the busy timeout, or a full
 * disk, fails the writes of the time and no others, so the store recovers once the cause is gone.
 *
 * Every operation runs isolated (a savepoint), so one that throws (a duplicate serial, say) undoes
 * only its own writes and rejects only its own caller. Operations run one after another in
 * submission order, so compare-and-set semantics hold inside a batch exactly as across batches.
 */
export interface GroupCommitOptions {
  /** Opens the write transaction the next operations run in. */
  begin(): void;
  /** Commits it (durably unless `sync` is given); throws if the commit fails. */
  commit(): void;
  /** Undoes the open transaction, if one is still open (after a failed commit). */
  rollback(): void;
  /** Runs `op` inside the open transaction so that a throw undoes only its writes. */
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

/** An operation that has run: its outcome, and its caller to tell once its transaction is durable. */
interface Ran {
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

const settle = ({ caller, ok, value }: Ran): void => (ok ? caller.resolve(value) : caller.reject(value));

export function createGroupCommit(opts: GroupCommitOptions): GroupCommit {
  const enabled = opts.enabled ?? true;
  const maxBatch = enabled ? (opts.maxBatch ?? 512) : 1;
  const { sync } = opts;
  let queue: Queued[] = [];
  let scheduled: NodeJS.Immediate | null = null;
  /** The operations run in the open transaction, or null when none is open. */
  let open: Ran[] | null = null;
  /** Committed, not yet covered by a sync. */
  let unsynced: Ran[] = [];
  /** The sync in flight, if any. */
  let syncing: Promise<void> | null = null;
  let failure: { error: unknown } | null = null;

  /** A rollback that fails too (the connection's I/O failing) leaves nothing more to undo: its error is not the caller's news. */
  const rollback = (): void => {
    try {
      opts.rollback();
    } catch {
      // The error that made the rollback needed is what the callers hear.
    }
  };

  const fail = (error: unknown, callers: Iterable<Queued>): void => {
    failure = { error };
    for (const caller of callers) caller.reject(error);
  };

  /** Runs the queued operations in the open transaction (opening it first if need be). */
  const runQueued = (): void => {
    const batch = queue;
    queue = [];
    if (open === null) {
      try {
        opts.begin();
      } catch (beginError) {
        // BEGIN failed (the database is locked by another process past the busy timeout, say).
        for (const q of batch) q.reject(beginError);
        return;
      }
      open = [];
    }
    for (const caller of batch) {
      try {
        open.push({ caller, ok: true, value: opts.isolate(caller.op) });
      } catch (error) {
        open.push({ caller, ok: false, value: error });
      }
    }
  };

  /** Commits the open transaction; its operations then wait for a sync (or settle, without one). */
  const commitOpen = (): void => {
    const ran = open as Ran[];
    open = null;
    try {
      opts.commit();
    } catch (commitError) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is committed.
      rollback();
      for (const r of ran) r.caller.reject(commitError);
      return;
    }
    if (!sync) ran.forEach(settle);
    else for (const r of ran) unsynced.push(r);
  };

  const startSync = (syncNow: () => Promise<void>): void => {
    const covered = unsynced;
    unsynced = [];
    syncing = syncNow().then(
      () => {
        syncing = null;
        covered.forEach(settle);
        // The batch that ran meanwhile commits now, and the next sync starts.
        flush();
      },
      (error: unknown) => {
        syncing = null;
        // Nothing that waited is known to be durable, nor is anything committed after it; what
        // ran in the open transaction is rolled back.
        if (open !== null) rollback();
        fail(error, [...covered, ...unsynced, ...(open ?? [])].map((c) => c.caller).concat(queue));
        open = null;
        unsynced = [];
        queue = [];
      },
    );
  };

  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = null;
    if (queue.length > 0) runQueued();
    // While a sync is in flight the transaction stays open for the next turns' writes, unless full.
    if (open !== null && (!syncing || open.length >= maxBatch)) commitOpen();
    if (sync && !syncing && unsynced.length > 0) startSync(sync);
  };

  return {
    submit<T>(op: () => T): Promise<T> {
      if (failure) return Promise.reject(failure.error);
      const promise = new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      });
      if (queue.length + (open?.length ?? 0) >= maxBatch) flush();
      else scheduled ??= setImmediate(flush);
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
