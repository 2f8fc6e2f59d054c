/**
 * A bounded least-recently-used map, on the insertion order of a JS Map (a hit is re-inserted at
 * the end; the first key is the eldest). The service keeps prepared `Otp` objects in one, keyed by
 * serial and master-key version, so a validation neither decrypts the seed nor schedules its key
 * again; the bound keeps a million-token server's memory flat.
 */
import { KodeviserError } from '@kodeviser/shared';

export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new KodeviserError('ERR_ARGUMENT', `capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as K);
  }
}
