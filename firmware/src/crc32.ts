/**
 * CRC-32 as in IEEE 802.3, zlib and PNG (reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF; "CRC-32/ISO-HDLC" in Greg Cook's catalogue of parametrised CRC algorithms,
 * check value 0xCBF43926 for "123456789"). Every NVM slot ends with it. CRC-32 rather than a
 * 16-bit CRC because a cut write leaves a slot whose head is new and whose tail is old: a CRC
 * that accepts such a hybrid by chance once in 2^16 cuts is too weak for a counter that must
 * never go back; 2^-32 is not.
 */
const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
