/**
 * A totp token as a schema-version-1 database held it, its drift in whole steps, and what must
 * hold once a current store has opened (and migrated) that database: the drift became an offset
 * of as many steps, so the window is the one the token had, and the token keeps accepting and
 * starts learning its rate. Used by the SQLite and the PostgreSQL migration tests alike; each
 * writes the row with its own SQL.
 */
import type { Test } from 'tap';
import { createOtp, makeSerial } from '@kodeviser/shared';
import { createTokenService } from '../../src/domain/service.js';
import { createSeedVault } from '../../src/security/seed-vault.js';
import type { TokenStore } from '../../src/store/types.js';
import { FakeClock } from './clock.js';
import { CTX, FAST_SCRYPT, MASTER_KEY } from './service.js';

const DAY = 86_400_000;
/** 18 s into a 30-s step: where an offset of 3 steps and one of 3½ steps give different windows. */
const NOW = Date.UTC(2026, 0, 1) + 18_000;
const key = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
const otp = createOtp({ profile: 'totp-sha1', key });
const STEP = otp.stepAt(Math.floor(NOW / 1000));

export const V1_SERIAL = makeSerial('510000000');

/** The tokens row of version 1, column by column: three steps ahead when last used a week ago. */
export function v1TokenRow() {
  const seed = createSeedVault({ masterKey: MASTER_KEY }).seal(V1_SERIAL, key);
  return {
    serial: V1_SERIAL,
    profile: 'totp-sha1',
    digits: 6,
    step: 30,
    t0: 0,
    seed_ciphertext: Buffer.from(seed.ciphertext),
    seed_nonce: Buffer.from(seed.nonce),
    key_version: seed.keyVersion,
    last_moving_factor: STEP - 20_160 + 3,
    drift: 3,
    imported_at: NOW - 30 * DAY,
    last_used_at: NOW - 7 * DAY,
  };
}

/** The checks, on a store opened over the migrated database. */
export async function checkMigratedDrift(t: Test, store: TokenStore): Promise<void> {
  t.same(
    (await store.getToken(V1_SERIAL))?.drift,
    { steps: 3, offsetMs: 90_000, ratePpm: 0, rateVar: null },
    'three steps of offset, no rate, no measurement',
  );
  const clock = new FakeClock(NOW);
  const service = createTokenService({ store, clock, masterKey: MASTER_KEY, scrypt: FAST_SCRYPT });
  const validate = (step: number) => service.validate({ serial: V1_SERIAL, otp: otp.generate(step) }, CTX);
  t.match(await service.getToken(V1_SERIAL), { drift: 3, driftSeconds: 90, driftPpm: 0 });
  t.same(await validate(STEP + 5), { result: 'resync-started', serial: V1_SERIAL }, 'the window is still STEP+2..STEP+4');
  t.same(await validate(STEP + 3), { result: 'accept', serial: V1_SERIAL, movingFactor: STEP + 3 }, 'and the token keeps accepting');
  t.same(
    (await store.getToken(V1_SERIAL))?.drift,
    { steps: 3, offsetMs: 87_000, ratePpm: 0, rateVar: 225 },
    'measured at the middle of the step',
  );
  // A fortnight later the token gained 30 s more: accepted, and its rate learnt from then on.
  clock.advance(14 * DAY);
  const ahead = otp.stepAt(Math.floor((clock.now() + 117_000) / 1000));
  t.same(await validate(ahead), { result: 'accept', serial: V1_SERIAL, movingFactor: ahead });
  const info = await service.getToken(V1_SERIAL);
  t.ok(info !== null && info.driftPpm > 16 && info.driftPpm < 17.5, `rate learnt: ${info?.driftPpm} ppm`);
}
