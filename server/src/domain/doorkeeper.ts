/**
 * The doorkeeper of TinyLFU (G. Einziger, R. Friedman, B. Manes, "TinyLFU: A Highly Efficient
 * Cache Admission Policy", ACM TOS 2017, §3.4.2): a Bloom filter of the keys seen lately, so that
 * a cache admits a key only the second time it is asked for within a window.
 *
 * Why the service wants one in front of its Otp cache: with a million tokens, each used about
 * once a day, nearly every validation is of a token not seen for hours. Cached on first sight,
 * each such Otp (~1 KB of closures and key schedules) evicted an older one and lived long enough
 * for V8 to copy it into the old generation, only to die there: a steady stream of promoted
 * garbage and old-generation collections, for a hit rate near zero. A token used again soon
 * (its user logs in twice, a resync's second code, a busy service account) is admitted on its
 * second validation, and from then on stays as long as the cache's LRU order keeps it.
 *
 * A false positive admits a key a validation early; a reset (once `window` keys have been let
 * in, so the filter never fills up) makes a few keys wait one validation more. Neither changes
 * any verdict: the cache holds derived key schedules only.
 */
import { KodeviserError } from '@kodeviser/shared';

export class Doorkeeper {
  readonly #bits: Uint32Array;
  readonly #mask: number;
  readonly #window: number;
  #added = 0;

  /** `window`: keys recorded before the filter starts over; the filter has 16 bits per key. */
  constructor(window: number) {
    if (!Number.isSafeInteger(window) || window < 1) {
      throw new KodeviserError('ERR_ARGUMENT', `window must be a positive integer, got ${String(window)}`);
    }
    // 16 bits per key and two probes: about 1.4 % false positives when full.
    const bits = 2 ** Math.max(10, Math.ceil(Math.log2(window * 16)));
    this.#bits = new Uint32Array(bits / 32);
    this.#mask = bits - 1;
    this.#window = window;
  }

  /** Whether `key` was seen since the last reset; records it either way. */
  seen(key: string): boolean {
    // FNV-1a over the key's UTF-16 units, and a second probe from the same hash (Kirsch and
    // Mitzenmacher, "Less Hashing, Same Performance", 2006).
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const a = h & this.#mask;
    const b = ((h >>> 11) | (h << 21)) & this.#mask;
    const wasSeen = this.#test(a) && this.#test(b);
    if (!wasSeen) {
      if (this.#added >= this.#window) {
        this.#bits.fill(0);
        this.#added = 0;
      }
      this.#set(a);
      this.#set(b);
      this.#added++;
    }
    return wasSeen;
  }

  #test(bit: number): boolean {
    return ((this.#bits[bit >>> 5] as number) & (1 << (bit & 31))) !== 0;
  }

  #set(bit: number): void {
    this.#bits[bit >>> 5] = (this.#bits[bit >>> 5] as number) | (1 << (bit & 31));
  }
}
