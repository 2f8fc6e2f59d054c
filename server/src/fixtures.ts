/**
 * Fixtures for test suites (KODEVISER_FIXTURES=file.json, applied at every start, idempotently):
 * users, each with a test identity, a device and a password; operators, with the bearer tokens
 * the suite already knows; and OpenID clients, with their ids and secrets. Everything goes
 * through the service's own decisions, as a service centre would do it: the device imported,
 * the identity proven (actor "fixtures"), the device activated with the user's password.
 *
 *   {
 *     "users": [{ "userId": "alice", "password": "alice-password-1",
 *                 "identity": { "nationalId": "0101901234", "document": { "type": "passport", "country": "DK", "number": "P1" } },
 *                 "device": { "serial": "10-0000000-9", "profile": "totp-sha1", "keyHex": "3132…" } }],
 *     "operators": [{ "name": "Counter 1", "token": "kvc_…43 characters" }],
 *     "clients": [{ "client_id": "my-app", "client_secret": "…", "name": "My app", "redirect_uris": ["http://localhost:3000/cb"] }]
 *   }
 *
 * A client may add post_logout_redirect_uris, backchannel_logout_uri, and token_endpoint_auth_method: client_secret_basic
 * (the default), client_secret_post, or none for a public client (then no client_secret).
 *
 * The activation spends one code, as any does: a time-based device's of the 30-second step
 * before now (so the code it shows now is free; past the middle of a step it waits for the next
 * one, at most 15 s), an event-based device's first (counter 0: make its device file with
 * `kodeviser manufacture --counter 1`).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { createOtp, KodeviserError, parseSerial, PROFILES, type ProfileName } from '@kodeviser/shared';
import type { CredentialService } from './domain/credentials.js';
import type { IdentityEvidence } from './domain/identity.js';
import type { Clock, TokenService } from './domain/types.js';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, type NewClient, type OidcHost } from './oidc/host.js';
import type { TokenStore } from './store/types.js';

export interface FixtureUser {
  userId: string;
  password: string;
  identity: IdentityEvidence;
  device: { serial: string; profile: ProfileName; keyHex: string };
}

export interface Fixtures {
  users: FixtureUser[];
  operators: Array<{ name: string; token: string }>;
  clients: NewClient[];
}

const bad = (where: string, what: string): KodeviserError => new KodeviserError('ERR_ARGUMENT', `fixtures: ${where} ${what}`);
const str = (v: unknown, where: string): string => {
  if (typeof v !== 'string' || v.length === 0) throw bad(where, 'must be a non-empty string');
  return v;
};
const list = (v: unknown, where: string): unknown[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(where, 'must be a list');
  return v;
};
const obj = (v: unknown, where: string): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(where, 'must be an object');
  return v as Record<string, unknown>;
};

/** The fixtures `text` holds, their shape checked (the service checks the rest when applying them). */
export function parseFixtures(text: string): Fixtures {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new KodeviserError('ERR_ARGUMENT', `fixtures: not JSON (${(e as Error).message})`);
  }
  const root = obj(json, 'the file');
  return {
    users: list(root.users, 'users').map((u, i) => {
      const at = `users[${i}]`;
      const user = obj(u, at);
      const device = obj(user.device, `${at}.device`);
      const identity = obj(user.identity, `${at}.identity`);
      const document = obj(identity.document, `${at}.identity.document`);
      const profile = str(device.profile, `${at}.device.profile`);
      if (!(PROFILES as readonly string[]).includes(profile)) throw bad(`${at}.device.profile`, `must be one of ${PROFILES.join(', ')}`);
      return {
        userId: str(user.userId, `${at}.userId`),
        password: str(user.password, `${at}.password`),
        identity: {
          nationalId: str(identity.nationalId, `${at}.identity.nationalId`),
          document: {
            type: str(document.type, `${at}.identity.document.type`) as IdentityEvidence['document']['type'],
            country: str(document.country, `${at}.identity.document.country`),
            number: str(document.number, `${at}.identity.document.number`),
          },
        },
        device: {
          serial: parseSerial(str(device.serial, `${at}.device.serial`)),
          profile: profile as ProfileName,
          keyHex: str(device.keyHex, `${at}.device.keyHex`),
        },
      };
    }),
    operators: list(root.operators, 'operators').map((o, i) => {
      const op = obj(o, `operators[${i}]`);
      return { name: str(op.name, `operators[${i}].name`), token: str(op.token, `operators[${i}].token`) };
    }),
    clients: list(root.clients, 'clients').map((c, i) => {
      const at = `clients[${i}]`;
      const cl = obj(c, at);
      const id = str(cl.client_id, `${at}.client_id`);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw bad(`${at}.client_id`, 'must be 1 to 64 letters, digits, _ . or -');
      const method = cl.token_endpoint_auth_method ?? 'client_secret_basic';
      if (!(CLIENT_AUTH_METHODS as readonly unknown[]).includes(method)) {
        throw bad(`${at}.token_endpoint_auth_method`, `must be one of ${CLIENT_AUTH_METHODS.join(', ')}`);
      }
      let secret: string | undefined;
      if (method === 'none') {
        if (cl.client_secret !== undefined) throw bad(`${at}.client_secret`, 'must be left out: a public client (none) has no secret');
      } else {
        secret = str(cl.client_secret, `${at}.client_secret`);
        if (secret.length < 32) throw bad(`${at}.client_secret`, 'must be at least 32 characters');
      }
      return {
        client_id: id,
        client_secret: secret,
        token_endpoint_auth_method: method as ClientAuthMethod,
        ...(cl.backchannel_logout_uri === undefined
          ? {}
          : { backchannel_logout_uri: str(cl.backchannel_logout_uri, `${at}.backchannel_logout_uri`) }),
        name: str(cl.name, `${at}.name`),
        redirect_uris: list(cl.redirect_uris, `${at}.redirect_uris`).map((r, j) => str(r, `${at}.redirect_uris[${j}]`)),
        ...(cl.post_logout_redirect_uris === undefined
          ? {}
          : {
              post_logout_redirect_uris: list(cl.post_logout_redirect_uris, `${at}.post_logout_redirect_uris`).map((r, j) =>
                str(r, `${at}.post_logout_redirect_uris[${j}]`),
              ),
            }),
      };
    }),
  };
}

export function readFixtures(path: string): Fixtures {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KodeviserError(
      'ERR_ARGUMENT',
      `fixtures: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseFixtures(text);
}

export interface FixtureDeps {
  service: TokenService;
  credentials: CredentialService;
  oidc: OidcHost;
  store: TokenStore;
  clock: Clock;
  /** Waits `ms` (default: a timer); a test with a fake clock advances it instead. */
  sleep?: (ms: number) => Promise<void>;
}

const CTX = { ip: '127.0.0.1', actor: 'fixtures' } as const;

/** Applies `f`: what is there already is left as it is. Returns what was made, by name. */
export async function applyFixtures(f: Fixtures, d: FixtureDeps): Promise<string[]> {
  const made: string[] = [];
  for (const u of f.users) {
    const { serial, profile, keyHex } = u.device;
    if ((await d.service.getUser(u.userId))?.activeDevice?.serial === serial) continue;
    const key = Buffer.from(keyHex, 'hex');
    if ((await d.service.getToken(serial)) === null) await d.service.importTokens([{ serial, profile, key }], 'fixtures');
    const proof = await d.service.prove({ identity: u.identity, userId: u.userId }, CTX);
    if ('refused' in proof)
      throw new KodeviserError('ERR_ARGUMENT', `fixtures: user ${u.userId}: the identity cannot be proven (${proof.refused})`);
    const otp = createOtp({ profile, key });
    if (otp.mode === 'totp') {
      // The code of the step before now teaches the server that the device is ½ to 1½ steps
      // behind (the accept measures its clock at the step's middle). Past the middle of a step
      // that is over a step, and the device, on time, can fall outside the window at its next
      // code; so past the middle, the activation waits for the next step to begin.
      const intoMs = (d.clock.now() - otp.t0 * 1000) % (otp.step * 1000);
      if (intoMs >= (otp.step * 1000) / 2) await (d.sleep ?? delay)(otp.step * 1000 - intoMs + 50);
    }
    const code = otp.mode === 'totp' ? otp.generate(otp.stepAt(d.clock.now() / 1000) - 1) : otp.generate(0);
    const outcome = await d.service.activate({ proofId: proof.proofId, serial, otp: code, password: u.password }, CTX);
    if (outcome.result !== 'accept') {
      throw new KodeviserError('ERR_ARGUMENT', `fixtures: user ${u.userId}: device ${serial} could not be activated (${outcome.result})`);
    }
    made.push(`user ${u.userId}`);
  }
  for (const o of f.operators) {
    if ((await d.credentials.principalOf(o.token)) !== null) continue;
    await d.credentials.create({ role: 'operator', name: o.name }, 'fixtures', CTX, o.token);
    made.push(`operator ${o.name}`);
  }
  for (const c of f.clients) {
    if ((await d.store.oidc.find('Client', c.client_id, d.clock.now())) !== null) continue;
    try {
      await d.oidc.addClient(c);
    } catch (e) {
      throw new KodeviserError('ERR_ARGUMENT', `fixtures: client ${c.client_id}: ${(e as Error).message}`);
    }
    made.push(`client ${c.client_id}`);
  }
  return made;
}
