/**
 * What a user, an issuer and an operator do with a device, over HTTP against the running server:
 * import the seed file; prove the user's identity (an operator at a service centre, with the
 * operator credential the admin made: POST /v1/proofs), or the owner's own proof with the current
 * login (POST /v1/proofs/self); activate (the proof, serial from the back, a code, a new password);
 * log in (user ID, code, password). Passwords, the operator's token, proof ids, national IDs and
 * document numbers are registered as secrets; codes are registered when pressed.
 */
import { createOtp, hexToBytes } from '@kodeviser/shared';
import { identityOf } from '../../helpers/identities.js';
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

export interface Operator {
  /** the credential's id, the actor its proofs are audited under */
  id: string;
  /** `Bearer <its token>` */
  authorization: string;
}

const operators = new WeakMap<E2eServer, Promise<Operator>>();
/** The server's operator credential, made once by the admin (POST /v1/credentials). */
export function operatorOf(server: E2eServer): Promise<Operator> {
  let made = operators.get(server);
  if (made === undefined) {
    made = server.post('/v1/credentials', { role: 'operator', name: 'service centre (e2e)' }, { admin: true }).then((res) => {
      if (res.status !== 201) throw new Error(`POST /v1/credentials: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id as string, authorization: `Bearer ${server.secret(res.body.token as string)}` };
    });
    operators.set(server, made);
  }
  return made;
}

/** An operator's proof of `user`'s identity (its test identity: one person per user ID): the proof id. */
export async function proofFor(server: E2eServer, user: User): Promise<string> {
  const identity = identityOf(user.userId);
  server.secret(identity.nationalId);
  server.secret(identity.document.number);
  const res = await server.post(
    '/v1/proofs',
    { identity, userId: user.userId },
    { headers: { authorization: (await operatorOf(server)).authorization } },
  );
  if (res.status !== 201 || res.body.userId !== user.userId) throw new Error(`POST /v1/proofs: ${res.status} ${JSON.stringify(res.body)}`);
  return server.secret(res.body.proofId as string);
}

/** The owner's own proof (POST /v1/proofs/self): a login with `otp`, a code of the active device; the reply. */
export async function selfProof(server: E2eServer, user: User, otp: string): Promise<Reply> {
  const res = await server.post('/v1/proofs/self', { userId: user.userId, otp, password: user.password });
  if (typeof res.body?.proofId === 'string') server.secret(res.body.proofId);
  return res;
}

/**
 * Activates `device` for `user` (password `user.password`) with `proofId`, by default a fresh
 * proof of the user's identity by the operator, as a service centre gives it.
 */
export async function activate(server: E2eServer, user: User, device: Device, otp: string, proofId?: string): Promise<Reply> {
  const proof = proofId ?? (await proofFor(server, user));
  return server.post('/v1/activate', { proofId: proof, serial: device.serial, otp, password: user.password });
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
