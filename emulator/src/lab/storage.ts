/**
 * Keeping the lab's device across reloads: the device file in the browser's storage under one
 * key, written on every change but at most once per interval (a running lab changes all the
 * time), and once more when the page goes away. Storage that refuses (private mode, quota) is
 * reported to the caller, never thrown. Pure: the store and the timers come in.
 */

export const STORAGE_KEY = 'kodeviser-lab-device';

/** The part of the Web Storage API the lab uses. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SaverTimers {
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** The stored text, or null when there is none or the store cannot be read. */
export function readStored(store: KeyValueStore | null): string | null {
  try {
    return store?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

/** Writes `text`; false when the store refused. */
export function writeStored(store: KeyValueStore | null, text: string): boolean {
  if (store === null) return false;
  try {
    store.setItem(STORAGE_KEY, text);
    return true;
  } catch {
    return false;
  }
}

export function forgetStored(store: KeyValueStore | null): void {
  try {
    store?.removeItem(STORAGE_KEY);
  } catch {
    // nothing kept, nothing to forget
  }
}

/**
 * Calls `save` after a change: at once when the last save is at least `intervalMs` old,
 * otherwise once when the interval is over (however many changes came meanwhile).
 */
export class ThrottledSaver {
  private last = -Infinity;
  private timer: unknown = null;
  private dirty = false;

  constructor(
    private readonly save: () => void,
    private readonly intervalMs: number,
    private readonly timers: SaverTimers,
  ) {}

  changed(): void {
    this.dirty = true;
    if (this.timer !== null) return;
    const wait = this.last + this.intervalMs - this.timers.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  /** Saves now if anything changed since the last save. */
  flush(): void {
    if (this.timer !== null) {
      this.timers.clear(this.timer);
      this.timer = null;
    }
    if (!this.dirty) return;
    this.dirty = false;
    this.last = this.timers.now();
    this.save();
  }

  get pending(): boolean {
    return this.dirty;
  }
}
