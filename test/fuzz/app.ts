/**
 * The app the in-process fuzz suites hammer: the real build() over the real service and a real
 * SQLite file (server/test/http-helpers.ts: cheap scrypt, rate limits off so that every case
 * reaches its route, a fixed clock), requests through inject() — the full fastify pipeline
 * without a socket, ~10× faster than HTTP, which is what makes 10,000 cases per route cheap.
 * The database goes to /dev/shm when there is one: these suites test input handling, not
 * durability, and an fsync per accepted write would make them disk-bound.
 *
 * The app is seeded with hotp tokens (one activated for a user with a known password, through an
 * operator's proof of identity) and with proofs not yet spent, for that user and for users without
 * a device, so that valid-looking fields name things that exist and a share of the cases reaches
 * the store: an activation or a password reset may spend a real proof.
 */
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import tap, { type Test } from 'tap';
import type { InjectOptions } from 'fastify';
import { activate, admin, device, importDevices, proofFor, testApp, type Device, type TestApp } from '../../server/test/http-helpers.js';
import type { FuzzRequest } from './hostile.js';
import { fuzzRoute, type FuzzReply } from './check.js';
import { routeArbitrary, type Pools, type RouteName } from './routes.js';

export const ADMIN_AUTH = admin.authorization;
export const USER_PASSWORD = 'correct horse battery';

export interface FuzzApp extends TestApp {
  devices: Device[];
  /** a user with an active token (devices[0]) and USER_PASSWORD */
  userId: string;
  send(req: FuzzRequest): Promise<FuzzReply>;
  /** after a run: /healthz answers and a fresh token's first code is accepted */
  stillServes(t: Test): Promise<void>;
  /** for the routes' arbitraries: serials (imported ones, and valid ones nobody imported), codes (real and random), the user, proofs */
  pools: Pools;
}

export async function fuzzApp(t: Test): Promise<FuzzApp> {
  if (existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
  const base = await testApp(t);
  const devices = Array.from({ length: 8 }, () => device('hotp-sha1'));
  await importDevices(base.app, ...devices);
  const userId = 'fuzz-user';
  const first = devices[0] as Device;
  const activated = await activate(base.app, { userId, serial: first.serial, otp: first.press(), password: USER_PASSWORD });
  if (activated.statusCode !== 200) throw new Error(`activation failed: ${activated.body}`);
  // Proofs for the user (a new device, a reset) and for four users that have no device yet.
  const proofIds: string[] = [];
  for (const user of [userId, userId, 'fuzz-other-1', 'fuzz-other-2', userId, 'fuzz-other-3', 'fuzz-other-4', userId]) {
    proofIds.push(await proofFor(base.app, user));
  }
  const realCodes = devices.flatMap((d) => Array.from({ length: 12 }, (_, i) => d.otp.generate(d.counter + i)));
  const unknownSerial = device('hotp-sha1').serial;
  const serial = fc.oneof(
    fc.constantFrom(...devices.map((d) => d.serial)),
    fc.constant(unknownSerial),
    fc.constantFrom(...devices.map((d) => `${d.serial.slice(0, 2)}-${d.serial.slice(2, 9)}-${d.serial.slice(9)}`)),
  );
  const code = fc.oneof(fc.constantFrom(...realCodes), fc.stringMatching(/^[0-9]{6}$/));
  return {
    ...base,
    devices,
    userId,
    send: async (req) => {
      const res = await base.app.inject(req as InjectOptions);
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    },
    pools: { adminAuth: ADMIN_AUTH, serial, code, userId, password: USER_PASSWORD, proofIds },
    async stillServes(t) {
      const health = await base.app.inject({ method: 'GET', url: '/healthz' });
      t.equal(health.statusCode, 200, 'still answers /healthz');
      const fresh = device('hotp-sha1');
      await importDevices(base.app, fresh);
      const res = await base.app.inject({
        method: 'POST',
        url: '/v1/validate',
        headers: admin,
        payload: { serial: fresh.serial, otp: fresh.press() },
      });
      t.same([res.statusCode, JSON.parse(res.body).result], [200, 'accept'], 'still accepts a valid code');
      const newcomer = device('hotp-sha1');
      await importDevices(base.app, newcomer);
      const joined = await activate(base.app, {
        userId: 'fuzz-newcomer',
        serial: newcomer.serial,
        otp: newcomer.press(),
        password: USER_PASSWORD,
      });
      t.same(
        [joined.statusCode, JSON.parse(joined.body)],
        [200, { result: 'accept', userId: 'fuzz-newcomer' }],
        'still activates with a fresh proof',
      );
    },
  };
}

/**
 * A fuzz file: one app, each route's run in turn (KODEVISER_FUZZ_RUNS cases), then the check
 * that it still serves. Returns each route's status counts.
 */
export function fuzzFile(
  title: string,
  routes: readonly RouteName[],
  after?: (t: Test, statuses: Map<RouteName, Map<number, number>>) => void,
): void {
  tap.test(title, async (t) => {
    const f = await fuzzApp(t);
    const statuses = new Map<RouteName, Map<number, number>>();
    for (const route of routes) statuses.set(route, await fuzzRoute(t, route, f.send, routeArbitrary(route, f.pools)));
    after?.(t, statuses);
    await f.stillServes(t);
  });
}
