/**
 * HMAC (RFC 2104, FIPS 198-1) with SHA-1, SHA-256 and SHA-512 (FIPS 180-4: sha1.ts, sha256.ts,
 * sha512.ts). An OTP MACs an 8-byte counter, so createHmac does the key-dependent work once,
 * RFC 2104 §4's "precomputed" inner and outer states: the compressions of the ipad and opad
 * blocks. After that macCounter is exactly two compressions, one of (counter ‖ 0x80 ‖ zeros ‖
 * bit length of block + 8 bytes) from the inner state and one of (inner digest ‖ 0x80 ‖ zeros ‖
 * bit length of block + digest bytes) from the outer state, on blocks whose padding words are
 * written once per module, and it allocates nothing: the digest words come back in an array the
 * next call reuses. A server checking a window of moving factors per login runs this once per
 * candidate, which is why it is the hot path. mac() is the general form for messages of any
 * length.
 */
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';
import { absorbPadded, wordsToBytes, type Compress32 } from './md-padding.js';
import { sha1, SHA1_INITIAL_STATE, SHA1_SCHEDULE_WORDS, sha1Compress } from './sha1.js';
import { sha256, SHA256_INITIAL_STATE, SHA256_SCHEDULE_WORDS, sha256Compress } from './sha256.js';
import { sha512, SHA512_INITIAL_STATE, SHA512_SCHEDULE_WORDS, sha512Compress } from './sha512.js';

export type HashName = 'sha1' | 'sha256' | 'sha512';

export interface Hmac {
  readonly hash: HashName;
  /** 20, 32 or 64. */
  readonly outputBytes: number;
  /** The MAC of a message of any length, in a new array. */
  mac(message: Uint8Array): Uint8Array;
  /**
   * The MAC of an 8-byte big-endian counter (RFC 4226 §5.2) given as its high and low unsigned
   * 32-bit halves, as big-endian signed 32-bit words (5, 8 or 16) in an array that the next
   * call overwrites: the OTP hot path reads its truncation from the words and keeps nothing.
   */
  macCounter(high: number, low: number): Int32Array;
}

interface WordHash {
  compress: Compress32;
  digest(message: Uint8Array): Uint8Array;
  /** The initial hash value as words, copied (a memcpy) to start each keyed state. */
  initialState: Int32Array;
  digestWords: number;
  /** 64, or 128 for SHA-512. */
  blockBytes: number;
  /**
   * Scratch schedules shared by every key of this hash (JavaScript runs one call at a time and
   * each call fills the words it reads): `counterBlock` and `digestBlock` carry the padding of
   * the two macCounter blocks, written here once; `scratch` serves mac() and key setup.
   */
  counterBlock: Int32Array;
  digestBlock: Int32Array;
  scratch: Int32Array;
  /** Key setup's scratch: the padded key as words. */
  keyWords: Int32Array;
}

function wordHash(
  compress: Compress32,
  digest: (m: Uint8Array) => Uint8Array,
  initialState: readonly number[],
  scheduleWords: number,
  blockBytes: number,
): WordHash {
  // The state is as long as the digest (16 words of SHA-512 = 8 64-bit words as pairs); the
  // bit length goes in the block's last word (absorbPadded).
  const digestWords = initialState.length;
  const lastWord = blockBytes / 4 - 1;
  const counterBlock = new Int32Array(scheduleWords);
  counterBlock[2] = 0x80000000 | 0;
  counterBlock[lastWord] = (blockBytes + 8) * 8;
  const digestBlock = new Int32Array(scheduleWords);
  digestBlock[digestWords] = 0x80000000 | 0;
  digestBlock[lastWord] = (blockBytes + 4 * digestWords) * 8;
  return {
    compress,
    digest,
    initialState: Int32Array.from(initialState),
    digestWords,
    blockBytes,
    counterBlock,
    digestBlock,
    scratch: new Int32Array(scheduleWords),
    keyWords: new Int32Array(blockBytes / 4),
  };
}

const WORD_HASHES = {
  sha1: wordHash(sha1Compress, sha1, SHA1_INITIAL_STATE, SHA1_SCHEDULE_WORDS, 64),
  sha256: wordHash(sha256Compress, sha256, SHA256_INITIAL_STATE, SHA256_SCHEDULE_WORDS, 64),
  sha512: wordHash(sha512Compress, sha512, SHA512_INITIAL_STATE, SHA512_SCHEDULE_WORDS, 128),
} as const;

export function createHmac(hash: HashName, key: Uint8Array): Hmac {
  if (hash !== 'sha1' && hash !== 'sha256' && hash !== 'sha512') {
    throw new KodeviserError('ERR_ARGUMENT', `hash must be sha1, sha256 or sha512, got ${String(hash)}`);
  }
  requireBytes(key, 'key');
  return createWordHmac(hash, WORD_HASHES[hash], key);
}

function checkCounterHalves(high: number, low: number): void {
  if (high >>> 0 !== high || low >>> 0 !== low) {
    throw new KodeviserError('ERR_ARGUMENT', `high and low must be unsigned 32-bit integers, got ${String(high)} and ${String(low)}`);
  }
}

function createWordHmac(hash: HashName, spec: WordHash, key: Uint8Array): Hmac {
  const { compress, initialState, digestWords, blockBytes, counterBlock, digestBlock, scratch, keyWords } = spec;
  const blockWords = blockBytes / 4;
  // RFC 2104 §2: a key longer than the block is hashed first, a shorter one padded with zeros.
  const k = key.length > blockBytes ? spec.digest(key) : key;
  // The key as big-endian words, once; each padded block is then one XOR per word (the
  // compression uses `scratch` as its schedule, so the block is written afresh for each).
  keyWords.fill(0);
  for (let j = 0; j < k.length; j++) keyWords[j >>> 2] = (keyWords[j >>> 2] as number) | ((k[j] as number) << (24 - 8 * (j & 3)));
  const padState = (pad: number): Int32Array => {
    for (let j = 0; j < blockWords; j++) scratch[j] = (keyWords[j] as number) ^ pad;
    const state = initialState.slice();
    compress(state, scratch);
    return state;
  };
  const inner = padState(0x36363636);
  const outer = padState(0x5c5c5c5c);
  // No key-derived words left behind in the shared scratch.
  keyWords.fill(0);
  scratch.fill(0);
  const result = new Int32Array(digestWords);

  return {
    hash,
    outputBytes: 4 * digestWords,
    mac(message) {
      requireBytes(message, 'message');
      const state = inner.slice();
      absorbPadded(compress, state, scratch, message, blockBytes, blockBytes);
      const innerDigest = wordsToBytes(state, digestWords, new Uint8Array(4 * digestWords));
      state.set(outer);
      absorbPadded(compress, state, scratch, innerDigest, blockBytes, blockBytes);
      return wordsToBytes(state, digestWords, innerDigest);
    },
    macCounter(high, low) {
      checkCounterHalves(high, low);
      counterBlock[0] = high;
      counterBlock[1] = low;
      for (let j = 0; j < digestWords; j++) result[j] = inner[j] as number;
      compress(result, counterBlock);
      for (let j = 0; j < digestWords; j++) {
        digestBlock[j] = result[j] as number;
        result[j] = outer[j] as number;
      }
      compress(result, digestBlock);
      return result;
    },
  };
}
