/**
 * How a random secret the server hands out (a credential's bearer token, a proof id) is stored and
 * looked up: its SHA-256, hex. A secret of 128 bits or more needs no slow, salted hash: nothing
 * shorter than the secret itself can be guessed, and the digest lets the store find it by index.
 */
import { createHash } from 'node:crypto';

export const secretDigest = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');
