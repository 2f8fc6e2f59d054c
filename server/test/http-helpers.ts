/**
 * The app under test: the real build() over the real service and a real SQLite file, with a fake
 * clock, cheap scrypt (the production cost is the core's to test), known tokens, and optionally
 * the log captured in memory. Requests go through inject(): the full fastify pipeline, no socket.
 */
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createOtp, makeSerial, type Otp, type ProfileName } from '@kodeviser/shared';
import { build, sharedStateFor } from '../src/app.js';
import type { ServerConfig } from '../src/config.js';
import { createTokenService } from '../src/domain/service.js';
import type { TokenService } from '../src/domain/types.js';
import { createLogger } from '../src/plugins/logger.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { FakeClock } from './helpers/clock.js';
import { tempDir, type TapLike } from './helpers/db.js';
import { identityOf } from '../../test/helpers/identities.js';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const SERVICE_TOKEN = 'service-token-for-tests-0123456789';
export const PSKC_KEY_HEX = '12345678901234567890123456789012';
export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const asService = { authorization: `Bearer ${SERVICE_TOKEN}` };

export interface TestApp {
  app: FastifyInstance;
  service: TokenService;
  clock: FakeClock;
  config: ServerConfig;
  /** every log line written so far (when captureLog) */
  log(): string;
}

export interface TestAppOptions {
  rateLimit?: Partial<ServerConfig['rateLimit']>;
  trustProxy?: number | string;
  policy?: ServerConfig['policy'];
  serviceToken?: string | null;
  pskcKey?: Uint8Array | null;
  captureLog?: boolean;
  /** let build() make the service from the config, as main.ts does */
  ownService?: boolean;
  /** a service to use instead of the real one (to reach failure paths the real one never takes) */
  service?: (real: TokenService) => TokenService;
  /** the store to run on instead of a fresh SQLite file (the app closes it) */
  store?: TokenStore;
  /** KODEVISER_LAB_DIR and _DEVICE: the device lab served at /lab/ */
  lab?: ServerConfig['lab'];
  /** KODEVISER_AUDIT_REPEAT_WINDOW_MS (default: the service's, 60 s) */
  auditRepeatWindowMs?: number;
  /** KODEVISER_ORDER_POLICY (default: domain/orders.ts DEFAULT_ORDER_POLICY) */
  orderPolicy?: ServerConfig['orderPolicy'];
  /** KODEVISER_FORM_VALIDITY_MS and KODEVISER_SIMULATED_PASSPORT (pages/index.ts) */
  pages?: ServerConfig['pages'];
  /** how often expired OpenID entries are swept (default: the app's, 10 minutes) */
  oidcSweepMs?: number;
  /** KODEVISER_AUDIT_CHECKPOINT_MS (default: the app's, an hour) */
  auditCheckpointMs?: number;
}

export async function testApp(t: TapLike, opts: TestAppOptions = {}): Promise<TestApp> {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const store = opts.store ?? openSqliteStore(join(dir, 'kodeviser.db'));
  const config: ServerConfig = {
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    database: { kind: 'sqlite', path: join(dir, 'kodeviser.db') },
    masterKey: Uint8Array.from({ length: 32 }, (_, i) => 255 - i),
    adminToken: ADMIN_TOKEN,
    serviceToken: opts.serviceToken === undefined ? SERVICE_TOKEN : opts.serviceToken,
    pskcKey: opts.pskcKey === undefined ? null : opts.pskcKey,
    rateLimit: { perIp: 0, perUser: 0, windowMs: 60_000, ...opts.rateLimit },
    logLevel: opts.captureLog ? 'trace' : 'silent',
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
    ...(opts.policy !== undefined ? { policy: opts.policy } : {}),
    ...(opts.auditRepeatWindowMs !== undefined ? { auditRepeatWindowMs: opts.auditRepeatWindowMs } : {}),
    ...(opts.orderPolicy !== undefined ? { orderPolicy: opts.orderPolicy } : {}),
    ...(opts.lab !== undefined ? { lab: opts.lab } : {}),
    ...(opts.pages !== undefined ? { pages: opts.pages } : {}),
    ...(opts.oidcSweepMs !== undefined ? { oidcSweepMs: opts.oidcSweepMs } : {}),
    ...(opts.auditCheckpointMs !== undefined ? { auditCheckpointMs: opts.auditCheckpointMs } : {}),
  };
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const shared = sharedStateFor(config, logger);
  const real = createTokenService({
    store,
    clock,
    guesses: shared.state,
    masterKey: config.masterKey,
    scrypt: { N: 2 ** 4, r: 1, p: 1 },
    logger,
    ...(config.policy ? { policy: config.policy } : {}),
    ...(config.auditRepeatWindowMs !== undefined ? { auditRepeats: { windowMs: config.auditRepeatWindowMs } } : {}),
    ...(config.orderPolicy !== undefined ? { orders: { policy: config.orderPolicy } } : {}),
  });
  const service = opts.service ? opts.service(real) : real;
  // Without a service of its own, build() makes the production one from the config (real scrypt
  // cost): `ownService` tests that path.
  const app = await build({ config, store, clock, logger, ...(opts.ownService === true ? {} : { service, shared }) });
  t.teardown(() => shared.close());
  t.teardown(() => app.close());
  return { app, service: real, clock, config, log: () => lines.join('') };
}

let nextBody = 300_000_000 + (process.pid % 1000) * 1000;
export function newSerial(): string {
  return makeSerial(String(nextBody++));
}

export interface Device {
  serial: string;
  profile: ProfileName;
  keyHex: string;
  otp: Otp;
  /** hotp: the counter of the next press */
  counter: number;
  /** hotp: the next code, as a press would show it */
  press(): string;
}

/** A token's key, as a factory would pick it: distinct per serial. */
export function keyFor(serial: string, bytes = 20): string {
  return Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 31 + Number(serial.slice(-4))) & 0xff)).toString('hex');
}

export function device(profile: ProfileName = 'hotp-sha1', serial = newSerial(), keyBytes = 20): Device {
  const keyHex = keyFor(serial, keyBytes);
  const otp = createOtp({ profile, key: Buffer.from(keyHex, 'hex') });
  const d: Device = {
    serial,
    profile,
    keyHex,
    otp,
    counter: 0,
    press: () => otp.generate(d.counter++),
  };
  return d;
}

/** Imports devices over the admin API. */
export async function importDevices(app: FastifyInstance, ...devices: Device[]): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: admin,
    payload: { tokens: devices.map((d) => ({ serial: d.serial, profile: d.profile, keyHex: d.keyHex })) },
  });
  if (res.statusCode !== 201) throw new Error(`import failed: ${res.statusCode} ${res.body}`);
  return res;
}

export function post(
  app: FastifyInstance,
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
}

export type CredentialRole = 'operator' | 'proofing' | 'service' | 'metrics';

/** A new credential of `role`, made by the admin: its bearer header. */
export async function credential(app: FastifyInstance, role: CredentialRole): Promise<Record<string, string>> {
  const res = await post(app, '/v1/credentials', { role, name: `${role} for tests` }, admin);
  if (res.statusCode !== 201) throw new Error(`credential failed: ${res.statusCode} ${res.body}`);
  return { authorization: `Bearer ${res.json().token}` };
}

const operators = new WeakMap<FastifyInstance, Promise<Record<string, string>>>();
/** The operator credential of `app`'s tests, made once. */
export function operatorOf(app: FastifyInstance): Promise<Record<string, string>> {
  let made = operators.get(app);
  if (made === undefined) {
    made = credential(app, 'operator');
    operators.set(app, made);
  }
  return made;
}

/** A proof of identity for `userId` (its test identity), by the app's operator: the proof id. */
export async function proofFor(app: FastifyInstance, userId: string): Promise<string> {
  const res = await post(app, '/v1/proofs', { identity: identityOf(userId), userId }, await operatorOf(app));
  if (res.statusCode !== 201) throw new Error(`proof failed: ${res.statusCode} ${res.body}`);
  return res.json().proofId as string;
}

/** POST /v1/activate as a user does it after an operator's proof of identity for `userId`. */
export async function activate(
  app: FastifyInstance,
  req: { userId: string; serial: string; otp: string; password: string },
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const { userId, ...rest } = req;
  return post(app, '/v1/activate', { proofId: await proofFor(app, userId), ...rest }, headers);
}
