/**
 * Tokens for the system tests, made the way a factory makes them — a fresh serial (Luhn check
 * digit) and a random seed per device — with the codes computed by the shared OTP core
 * (createOtp), the same algorithm the token firmware runs, and imported over the admin API.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createOtp, makeSerial, type Otp, type ProfileName } from '@kodeviser/shared';
import type { Client } from './http-client.js';

export interface TestDevice {
  serial: string;
  profile: ProfileName;
  keyHex: string;
  otp: Otp;
}

/** Serials from a random 9-digit start, so runs (and files run in parallel) on one database never collide. */
export function serialSource(): () => string {
  let body = randomInt(100_000_000, 900_000_000);
  return () => makeSerial(String(body++));
}

export function makeDevices(count: number, profile: ProfileName = 'hotp-sha1', nextSerial: () => string = serialSource()): TestDevice[] {
  return Array.from({ length: count }, () => {
    const key = randomBytes(20);
    return { serial: nextSerial(), profile, keyHex: key.toString('hex'), otp: createOtp({ profile, key }) };
  });
}

/** Imports devices with one JSON request; throws with the reply unless it is a 201. */
export async function importDevices(client: Client, devices: readonly TestDevice[]): Promise<void> {
  const reply = await client.post(
    '/v1/tokens',
    { tokens: devices.map((d) => ({ serial: d.serial, profile: d.profile, keyHex: d.keyHex })) },
    { admin: true },
  );
  if (reply.status !== 201) throw new Error(`import of ${devices.length} tokens failed: ${reply.status} ${reply.text}`);
}
