/**
 * What a user and an issuer do with a device, over HTTP against the running server: import the
 * seed file, activate (user ID, serial from the back, a code, a new password), log in (user ID,
 * code, password). The password is registered as a secret; codes are registered when pressed.
 */
import { createOtp, hexToBytes } from '@kodeviser/shared';
import type { Device } from './kodeviser.js';
import type { E2eServer, Reply } from './server.js';

export interface User {
  userId: string;
  password: string;
}

let users = 0;
/** A fresh user with a password of its own (registered as a secret). */
export function newUser(server: E2eServer, name: string): User {
  users += 1;
  return { userId: `${name}-${users}`, password: server.secret(`pw-${name}-${users}-${Math.random().toString(36).slice(2)}`) };
}

export async function importDevice(server: E2eServer, device: Device): Promise<Reply> {
  return server.importPskc(device.pskc);
}

/** Activates `device` for `user`; an existing user proves itself with `current`, a code of its active device. */
export async function activate(server: E2eServer, user: User, device: Device, otp: string, current?: string): Promise<Reply> {
  const proof = current === undefined ? {} : { currentOtp: current, currentPassword: user.password };
  return server.post('/v1/activate', { userId: user.userId, serial: device.serial, otp, password: user.password, ...proof });
}

export async function login(server: E2eServer, user: User, otp: string): Promise<Reply> {
  return server.post('/v1/authenticate', { userId: user.userId, otp, password: user.password });
}

export async function validate(server: E2eServer, device: Device, otp: string): Promise<Reply> {
  return server.post('/v1/validate', { serial: device.serial, otp }, { admin: true });
}

/**
 * A 6-digit code that is NOT the device's code for any moving factor in [from, to] — a "wrong
 * code" that cannot be right by chance. Computed from the seed the suite chose.
 */
export function wrongCode(device: Device, from: number, to: number): string {
  const otp = createOtp({ profile: device.profile, key: hexToBytes(device.keyHex) });
  for (let guess = 123_456; ; guess = (guess + 7_919) % 1_000_000) {
    const code = String(guess).padStart(6, '0');
    if (otp.verify(code, { from, to }) === null) return code;
  }
}

/** The audit events of one serial, newest first. */
export async function auditOf(
  server: E2eServer,
  device: Device,
): Promise<Array<{ type: string; reason: string | null; movingFactor: number | null; at: number }>> {
  const res = await server.get(`/v1/audit?serial=${device.serial}&limit=1000`, { admin: true });
  if (res.status !== 200) throw new Error(`GET /v1/audit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.events;
}
