/**
 * Repeats of a refusal counted instead of written (domain/repeats.ts says which refusals, and
 * what the row standing for them holds), so that a flood of anonymous refusals costs a row a
 * minute per address and reason rather than a synced row each.
 *
 * Per key, a window opens with a refusal that was written as a row; the refusals that come while
 * it is open are counted, not written; when it ends its count, if any, is written as one row.
 * The caller looks (`isOpen`) inside the store's unit, where it drops the row, and tells
 * (`count` or `opened`) once the unit has committed: a window that ended in between starts a new
 * count, so every refusal is either a row or counted in exactly one summary row. A refusal
 * counted but not yet written is lost with the process: at most a window's worth.
 *
 * Bounded: at most `maxKeys` windows open at once; beyond, a new key is not aggregated (each of
 * its refusals is a row, as without this). Windows end on a timer, and on the next call after
 * their end; `close()` ends them all.
 */
import { summaryEntry } from '../domain/repeats.js';
import type { AuditEntry } from '../store/types.js';

export interface TimerHandle {
  unref?(): unknown;
}

/** setTimeout and clearTimeout, injected so that tests end windows by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

const NODE_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface AuditRepeatsOptions {
  /** Writes a summary row; its failure is handed to `onError`, never thrown to a request. */
  write(entry: AuditEntry): Promise<unknown>;
  /** A summary row that could not be written (it must not throw). */
  onError?(error: unknown, entry: AuditEntry): void;
  /** How long a window stays open after the row that opened it (default 60 000 ms). */
  windowMs?: number;
  /** Windows open at once, at most (default 10 000). */
  maxKeys?: number;
  /** Unix ms (default Date.now). */
  now?(): number;
  timers?: Timers;
}

export interface AuditRepeats {
  /** Whether a refusal of `key` would be counted now; changes nothing. */
  isOpen(key: string): boolean;
  /** A refusal of `key` was written as a row: it opens a window, unless one is open or there is no room. */
  opened(key: string): void;
  /** A refusal of `key`, `entry`, was not written: it is counted. */
  count(key: string, entry: AuditEntry): void;
  /** Ends every window (its count written), stops the timer and waits for the writes. */
  close(): Promise<void>;
}

interface Window {
  endsAt: number;
  /** The row standing for the refusals counted so far; null: none yet. */
  summary: AuditEntry | null;
}

export function auditRepeats(opts: AuditRepeatsOptions): AuditRepeats {
  const windowMs = opts.windowMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 10_000;
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? NODE_TIMERS;
  const onError = opts.onError ?? (() => undefined);
  // In the order they opened, which is the order they end: the first is the next to end.
  const windows = new Map<string, Window>();
  const writing = new Set<Promise<void>>();
  let timer: TimerHandle | null = null;
  let closed = false;

  function write(summary: AuditEntry): void {
    const written: Promise<void> = opts.write(summary).then(
      () => undefined,
      (e: unknown) => onError(e, summary),
    );
    writing.add(written);
    void written.then(() => writing.delete(written));
  }

  function end(key: string, w: Window): void {
    windows.delete(key);
    if (w.summary !== null) write(w.summary);
  }

  function endExpired(at: number): void {
    for (const [key, w] of windows) {
      if (w.endsAt > at) break;
      end(key, w);
    }
  }

  function schedule(): void {
    if (timer !== null || closed) return;
    const first = windows.values().next();
    if (first.done === true) return;
    timer = timers.setTimeout(
      () => {
        timer = null;
        endExpired(now());
        schedule();
      },
      Math.max(0, first.value.endsAt - now()),
    );
    // A window still open must not keep the process alive.
    timer.unref?.();
  }

  function open(key: string, summary: AuditEntry | null): void {
    windows.set(key, { endsAt: now() + windowMs, summary });
    schedule();
  }

  return {
    isOpen(key) {
      const w = windows.get(key);
      return !closed && w !== undefined && w.endsAt > now();
    },

    opened(key) {
      endExpired(now());
      if (closed || windows.has(key) || windows.size >= maxKeys) return;
      open(key, null);
    },

    count(key, entry) {
      endExpired(now());
      const w = windows.get(key);
      if (w !== undefined) {
        w.summary = summaryEntry(w.summary, entry);
        return;
      }
      // Its window ended since the look: the count starts again, or, without room, is written now.
      const summary = summaryEntry(null, entry);
      if (closed || windows.size >= maxKeys) write(summary);
      else open(key, summary);
    },

    async close() {
      closed = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      for (const [key, w] of windows) end(key, w);
      while (writing.size > 0) await Promise.all(writing);
    },
  };
}
