/**
 * Keeping the lab's device in the browser (emulator/src/lab/storage.ts): one key, reads and
 * writes that never throw, and a saver that writes on a change at most once per interval.
 */
import t from 'tap';
import { STORAGE_KEY, ThrottledSaver, forgetStored, readStored, writeStored, type KeyValueStore } from '../src/lab/storage.js';

function memoryStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

const refusing: KeyValueStore = {
  getItem: () => {
    throw new Error('SecurityError');
  },
  setItem: () => {
    throw new Error('QuotaExceededError');
  },
  removeItem: () => {
    throw new Error('SecurityError');
  },
};

t.test('the key, and a store that refuses is no error', (t) => {
  t.equal(STORAGE_KEY, 'kodeviser-lab-device');
  const s = memoryStore();
  t.equal(readStored(s), null);
  t.equal(writeStored(s, '{"a":1}'), true);
  t.equal(s.map.get(STORAGE_KEY), '{"a":1}');
  t.equal(readStored(s), '{"a":1}');
  forgetStored(s);
  t.equal(readStored(s), null);
  t.equal(readStored(refusing), null);
  t.equal(writeStored(refusing, 'x'), false);
  t.doesNotThrow(() => forgetStored(refusing));
  t.equal(readStored(null), null);
  t.equal(writeStored(null, 'x'), false);
  t.end();
});

function fakeTimers() {
  let now = 0;
  const due: Array<{ at: number; fn: () => void; live: boolean }> = [];
  return {
    now: () => now,
    set: (fn: () => void, ms: number) => {
      const h = { at: now + ms, fn, live: true };
      due.push(h);
      return h;
    },
    clear: (h: unknown) => void ((h as { live: boolean }).live = false),
    advance(ms: number) {
      now += ms;
      for (const h of due.splice(0)) {
        if (h.live && h.at <= now) h.fn();
        else if (h.live) due.push(h);
      }
    },
    get pending() {
      return due.filter((h) => h.live).length;
    },
  };
}

t.test('saves at once, then at most once per interval, the last state', (t) => {
  const timers = fakeTimers();
  let saves = 0;
  const saver = new ThrottledSaver(() => void saves++, 1000, timers);
  saver.changed();
  t.equal(saves, 1, 'the first change is saved at once');
  t.equal(saver.pending, false);
  saver.changed();
  saver.changed();
  saver.changed();
  t.equal(saves, 1, 'changes within the interval wait');
  t.equal(saver.pending, true);
  t.equal(timers.pending, 1, 'one timer however many changes');
  timers.advance(999);
  t.equal(saves, 1);
  timers.advance(1);
  t.equal(saves, 2, 'then one save for all of them');
  timers.advance(5000);
  t.equal(saves, 2, 'nothing changed, nothing saved');
  saver.changed();
  t.equal(saves, 3, 'a change after a quiet interval is saved at once');
  saver.changed();
  saver.flush();
  t.equal(saves, 4, 'flush saves what is pending (the page going away)');
  t.equal(timers.pending, 0, 'and cancels the timer');
  saver.flush();
  t.equal(saves, 4, 'flush with nothing pending saves nothing');
  t.end();
});
