/**
 * The keys that sign receipts (receipts.ts): Ed25519 (RFC 8037), used for nothing else, kept in the
 * database as sealed secrets (seed-vault.ts: AES-256-GCM under the master key), so that every
 * instance over one database signs with the same key and publishes the same set.
 *
 * Generations, not one row changed in place: generation n is the secret `receipt-key:n`, the
 * newest one signs, and every one stays published (a receipt signed before a rotation still
 * verifies). A rotation creates the next generation in an attempt, so of two instances rotating at
 * once, one makes it and the other finds it made. Another instance learns of a rotation when its
 * cache (RECEIPT_KEYS_TTL_MS) runs out; until then it signs with the previous key, which stays
 * published.
 */
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ed25519FromSeed } from './ed25519.js';
import { storedSecret, type SeedVault } from './seed-vault.js';
import type { TokenStore } from '../store/types.js';

export const RECEIPT_KEYS_TTL_MS = 30_000;
const NAME = (generation: number): string => `receipt-key:${generation}`;

export interface ReceiptKey {
  generation: number;
  kid: string;
  privateKey: KeyObject;
  /** The public JWK as published (kid, alg, use). */
  jwk: JWK;
}

export interface ReceiptKeys {
  /** The key that signs now: the newest generation (made on first use). */
  current(): Promise<ReceiptKey>;
  /** Every generation's public key, newest first. */
  published(): Promise<JWK[]>;
  /** Makes the next generation and returns it (the previous ones stay published). */
  rotate(): Promise<ReceiptKey>;
}

async function keyOf(generation: number, seed: Uint8Array): Promise<ReceiptKey> {
  const { privateKey, jwk, kid } = await ed25519FromSeed(seed);
  return { generation, kid, privateKey, jwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

export function receiptKeys(store: TokenStore, vault: SeedVault, now: () => number): ReceiptKeys {
  let cache: { keys: ReceiptKey[]; until: number } | null = null;

  /** Generation `n` as stored, or null. */
  const read = async (n: number): Promise<ReceiptKey | null> => {
    const sealed = (await store.snapshot({ secretName: NAME(n) })).secret;
    return sealed === null ? null : keyOf(n, vault.open(NAME(n), sealed));
  };
  /** Generation `n`, made unless another instance made it first. */
  const make = async (n: number): Promise<ReceiptKey> => keyOf(n, await storedSecret(store, vault, NAME(n)));
  /** Every generation, oldest first, read from 1 until one is missing (rotations are rare). */
  const readAll = async (): Promise<ReceiptKey[]> => {
    const keys: ReceiptKey[] = [];
    for (let n = 1; ; n++) {
      const key = await read(n);
      if (key === null) break;
      keys.push(key);
    }
    if (keys.length === 0) keys.push(await make(1));
    cache = { keys, until: now() + RECEIPT_KEYS_TTL_MS };
    return keys;
  };
  // One read at a time: a burst of requests as the cache runs out waits for the same one.
  let loading: Promise<ReceiptKey[]> | null = null;
  const load = (): Promise<ReceiptKey[]> => {
    if (cache !== null && cache.until > now()) return Promise.resolve(cache.keys);
    return (loading ??= readAll().finally(() => {
      loading = null;
    }));
  };

  return {
    current: async () => (await load()).at(-1)!,
    published: async () => (await load()).map((k) => k.jwk).reverse(),
    async rotate() {
      cache = null;
      const keys = await load();
      const next = await make(keys.length + 1);
      cache = null;
      return next;
    },
  };
}
