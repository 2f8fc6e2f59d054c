// PSKC (RFC 6030) is a separate entry point, @kodeviser/shared/pskc: its XML parser is most of
// the start-up cost of a `kodeviser press` process, which never needs it.
export * from './errors.js';
export * from './bytes.js';
export type { BlockCipher } from './block-cipher.js';
export * from './aes.js';
export * from './des.js';
export * from './cmac.js';
export * from './gcm.js';
export * from './hmac.js';
export * from './moving-factor.js';
export * from './otp.js';
export * from './serial.js';
