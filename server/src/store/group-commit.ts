/**
 * Group commit, as databases do it for their own log (Gray & Reuter, "Transaction Processing",
 * §9.4.7; PostgreSQL's commit_delay; MySQL's binlog group commit): a durable commit costs one
 * fsync, typically 0.1–10 ms, which alone caps a store that commits each request on its own at a
 * few thousand requests per second. So writes submitted while the event loop is busy are queued
 * and run together in one transaction with one fsync, on the next turn of the loop (setImmediate,
 * i.e. after the I/O callbacks of the current turn have queued theirs) or as soon as the batch
 * is full. Each caller's promise settles only after the whole batch has committed: nothing is
 * acknowledged that a crash could still take back.
 *
 * Every operation runs isolated (a savepoint), so one that throws (a duplicate serial, say) undoes
 * only its own writes and rejects only its own caller. Operations run one after another in
 * submission order, so compare-and-set semantics hold inside a batch exactly as across batches.
 */
export interface GroupCommitOptions {
  /** Runs `work` in one transaction and commits it durably; throws if the commit fails. */
  transaction(work: () => void): void;
  /** Runs `op` inside the current transaction so that a throw undoes only its writes. */
  isolate<T>(op: () => T): T;
  /** false: every operation commits on its own, at once (one fsync each). Default true. */
  enabled?: boolean;
  /** Operations per transaction at most. Default 512. */
  maxBatch?: number;
}

interface Queued {
  op: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommit {
  submit<T>(op: () => T): Promise<T>;
  /** Commits what is queued, now. */
  flush(): void;
}

export function createGroupCommit(opts: GroupCommitOptions): GroupCommit {
  const enabled = opts.enabled ?? true;
  const maxBatch = enabled ? (opts.maxBatch ?? 512) : 1;
  let queue: Queued[] = [];
  let scheduled: NodeJS.Immediate | null = null;

  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = null;
    const batch = queue;
    if (batch.length === 0) return;
    queue = [];
    const settled: { ok: boolean; value: unknown }[] = [];
    try {
      opts.transaction(() => {
        for (const q of batch) {
          try {
            settled.push({ ok: true, value: opts.isolate(q.op) });
          } catch (error) {
            settled.push({ ok: false, value: error });
          }
        }
      });
    } catch (commitError) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is durable.
      for (const q of batch) q.reject(commitError);
      return;
    }
    batch.forEach((q, i) => {
      const s = settled[i] as { ok: boolean; value: unknown };
      if (s.ok) q.resolve(s.value);
      else q.reject(s.value);
    });
  };

  return {
    flush,
    submit<T>(op: () => T): Promise<T> {
      const promise = new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      });
      if (queue.length >= maxBatch) flush();
      else scheduled ??= setImmediate(flush);
      return promise;
    },
  };
}
