/**
 * The Merkle–Damgård framing SHA-1, SHA-256 and SHA-512 share (FIPS 180-4 §5.1, §5.2): blocks of
 * big-endian words in, the padded tail, the digest out as bytes.
 */

/** A compression function over one block held as big-endian words in w (16 words, or 32 for SHA-512). */
export type Compress32 = (state: Int32Array, w: Int32Array) => void;

/**
 * Hashes `message` onward from `state`, which has already absorbed `priorBytes` bytes (a
 * multiple of the block: 0 for a plain digest, one block after an HMAC pad), with the padding
 * of FIPS 180-4 §5.1: 0x80, zeros and the message's bit length in the block's last eighth (a
 * 64-bit length in a 64-byte block for SHA-1 and SHA-256, 128-bit in a 128-byte block for
 * SHA-512, whose upper half is zero for any message JavaScript can hold); the digest is left in
 * `state`. `w` is the compression's block or schedule array.
 */
export function absorbPadded(
  compress: Compress32,
  state: Int32Array,
  w: Int32Array,
  message: Uint8Array,
  priorBytes: number,
  blockBytes = 64,
): void {
  const blockWords = blockBytes / 4;
  const n = message.length;
  const fullBlocks = Math.floor(n / blockBytes);
  let i = 0;
  for (let block = 0; block < fullBlocks; block++) {
    for (let j = 0; j < blockWords; j++, i += 4) {
      w[j] =
        ((message[i] as number) << 24) |
        ((message[i + 1] as number) << 16) |
        ((message[i + 2] as number) << 8) |
        (message[i + 3] as number);
    }
    compress(state, w);
  }
  // The tail, 0x80, zeros and the length: one block, or two when the tail leaves no room for
  // the length.
  w.fill(0, 0, blockWords);
  const tail = n - i;
  for (let j = 0; j < tail; j++) w[j >>> 2] = (w[j >>> 2] as number) | ((message[i + j] as number) << (24 - 8 * (j & 3)));
  w[tail >>> 2] = (w[tail >>> 2] as number) | (0x80 << (24 - 8 * (tail & 3)));
  if (tail >= blockBytes - blockBytes / 8) {
    compress(state, w);
    w.fill(0, 0, blockWords);
  }
  const bits = (priorBytes + n) * 8;
  w[blockWords - 2] = Math.floor(bits / 2 ** 32);
  w[blockWords - 1] = bits >>> 0;
  compress(state, w);
}

/** Writes the first `count` words big-endian into out[0..4·count − 1]. */
export function wordsToBytes(words: Int32Array, count: number, out: Uint8Array): Uint8Array {
  for (let j = 0; j < count; j++) {
    const word = words[j] as number;
    out[4 * j] = word >>> 24;
    out[4 * j + 1] = word >>> 16;
    out[4 * j + 2] = word >>> 8;
    out[4 * j + 3] = word;
  }
  return out;
}
