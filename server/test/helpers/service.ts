/**
 * A TokenService on a real SQLite file with a fake clock, cheap scrypt parameters (the default
 * cost is tested once, in security-password.test.ts) and a known master key.
 */
import { createOtp, makeSerial, type Otp, type ProfileName } from '@kodeviser/shared';
import { createTokenService, type TokenServiceOptions } from '../../src/domain/service.js';
import type { ActivationOutcome, TokenService } from '../../src/domain/types.js';
import { identityOf } from '../../../test/helpers/identities.js';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite.js';
import type { TokenStore } from '../../src/store/types.js';
import { FakeClock } from './clock.js';
import { tempDbPath, type TapLike } from './db.js';

export const MASTER_KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const FAST_SCRYPT = { N: 2 ** 4, r: 1, p: 1 };
export const CTX = { ip: '192.0.2.1' };

export interface Fixture {
  service: TokenService;
  store: TokenStore;
  clock: FakeClock;
  path: string;
}

export function serviceFixture(
  t: TapLike,
  opts: { store?: SqliteStoreOptions; service?: Partial<TokenServiceOptions>; path?: string; clock?: FakeClock } = {},
): Fixture {
  const path = opts.path ?? tempDbPath(t);
  const opened = openSqliteStore(path, opts.store);
  const store: TokenStore = opened;
  const clock = opts.clock ?? new FakeClock();
  const service = createTokenService({ store, clock, masterKey: MASTER_KEY, scrypt: FAST_SCRYPT, ...opts.service });
  t.teardown(() => service.close());
  return { service, store, clock, path };
}

let next = 100_000_000;
/** A fresh Luhn-valid serial. */
export function newSerial(): string {
  return makeSerial(String(next++));
}

export interface TestToken {
  serial: string;
  otp: Otp;
  key: Uint8Array;
}

/** Imports one token and returns a generator of its codes (the device, in effect). */
export async function importToken(
  service: TokenService,
  profile: ProfileName = 'hotp-sha1',
  extra: { counter?: number; drift?: number; step?: number; digits?: number } = {},
): Promise<TestToken> {
  const serial = newSerial();
  const key = Uint8Array.from({ length: 20 }, (_, i) => (i * 7 + serial.charCodeAt(9)) & 0xff);
  const keyFor = profile.endsWith('aes128') || profile.endsWith('tdes') ? key.subarray(0, 16) : key;
  await service.importTokens([{ serial, profile, key: keyFor, ...extra }], 'test-admin');
  return {
    serial,
    key: keyFor,
    otp: createOtp({
      profile,
      key: keyFor,
      ...(extra.step ? { step: extra.step } : {}),
      ...(extra.digits ? { digits: extra.digits } : {}),
    }),
  };
}

/** The totp step of the fake clock. */
export function stepOf(token: TestToken, clock: FakeClock): number {
  return token.otp.stepAt(Math.floor(clock.now() / 1000));
}

/** The credential id the test proofs are made under (the audit's actor). */
export const TEST_OPERATOR = 'cred-test-operator';

/** A proof of identity for `userId` (its test identity, helpers/identities.ts), by TEST_OPERATOR. */
export async function proofFor(service: TokenService, userId: string, ctx: { ip: string } = CTX): Promise<string> {
  const made = await service.prove({ identity: identityOf(userId), userId }, { ...ctx, actor: TEST_OPERATOR });
  if ('refused' in made) throw new Error(`no proof for ${userId}: ${made.refused}`);
  return made.proofId;
}

/** Activation as the service now asks for it: a proof for `userId`, then the device's code and the new password. */
export async function activateUser(
  service: TokenService,
  req: { userId: string; serial: string; otp: string; password: string },
  ctx: { ip: string } = CTX,
): Promise<ActivationOutcome> {
  const { userId, ...rest } = req;
  return service.activate({ proofId: await proofFor(service, userId, ctx), ...rest }, ctx);
}
