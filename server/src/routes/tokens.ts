/**
 * Token administration (admin bearer token): import, inspect, lock, unlock, revoke, resync.
 *
 * Import takes JSON (`{tokens:[{serial, profile, keyHex, …}]}`) or a PSKC document (RFC 6030,
 * `Content-Type: application/pskc+xml`), both all or nothing: every record is checked and turned
 * into a TokenImport before the service sees any, and the service imports them in one transaction
 * (a duplicate serial → 409 naming it, nothing imported). A PSKC document's secrets are decrypted
 * with the pre-shared key from the request's X-PSKC-Key header or, failing that, the configured
 * KODEVISER_PSKC_KEY, or with a key derived from the X-PSKC-Password header (PBKDF2, off the event
 * loop: security/pskc-password.ts); a tampered document (ValueMAC mismatch), or one read with a
 * wrong key or password, is refused whole by parsePskc.
 *
 * A PSKC key's serial is DeviceInfo/SerialNo, or the Key Id when there is none; it must be a
 * kodeviser serial (10 digits, Luhn) — a vendor serial of another format is refused naming the
 * key rather than silently mapped, since the user types this serial at activation.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KodeviserError, hexToBytes, movingFactorFromJson, movingFactorToJson, parseSerial } from '@kodeviser/shared';
import { parsePskc } from '@kodeviser/shared/pskc';
import type { ProfileName } from '@kodeviser/shared';
import type { PskcKey } from '@kodeviser/shared/pskc';
import type { TokenImport, TokenInfo, TokenService } from '../domain/types.js';
import type { BearerAuth, Role } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import { parsePskcWithPassword } from '../security/pskc-password.js';
import { bearerSecurity, errorResponses, movingFactorSchema, otpSchema, profileSchema, serialParams, serialSchema } from './schemas.js';

export const PSKC_CONTENT_TYPE = 'application/pskc+xml';
/** A PSKC document or a JSON batch may be large; every other route keeps the 16 KiB default. */
export const IMPORT_BODY_LIMIT = 1024 * 1024;
export const MAX_IMPORT_RECORDS = 10_000;

interface JsonImportBody {
  tokens: Array<{
    serial: string;
    profile: ProfileName;
    keyHex: string;
    digits?: number;
    step?: number;
    t0?: number;
    counter?: number | string;
  }>;
}

const jsonImportSchema = {
  type: 'object',
  required: ['tokens'],
  additionalProperties: false,
  properties: {
    tokens: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_IMPORT_RECORDS,
      items: {
        type: 'object',
        required: ['serial', 'profile', 'keyHex'],
        additionalProperties: false,
        properties: {
          serial: serialSchema,
          profile: profileSchema,
          keyHex: { type: 'string', pattern: '^([0-9a-fA-F]{2}){1,64}$', description: 'the seed, hex' },
          digits: { type: 'integer', minimum: 6, maximum: 8, default: 6 },
          step: { type: 'integer', enum: [30, 60], description: 'totp time step in seconds (default 30)' },
          t0: { type: 'integer', minimum: 0, description: 'totp T0, unix seconds (default 0)' },
          counter: {
            // anyOf, not a type list: Ajv's strict mode warns on a union type in a request schema
            anyOf: [
              { type: 'integer', minimum: 0 },
              { type: 'string', pattern: '^[0-9]+$' },
            ],
            description:
              'hotp: counter of the next code (default 0), up to 2^63 − 1 (9223372036854775807); above 2^53 − 1 (9007199254740991) as a decimal string, which a JSON number cannot carry exactly',
          },
        },
      },
    },
  },
} as const;

const tokenInfoSchema = {
  type: 'object',
  description: 'a token as an admin sees it: never the seed',
  required: [
    'serial',
    'profile',
    'digits',
    'step',
    't0',
    'status',
    'lastMovingFactor',
    'drift',
    'driftSeconds',
    'driftPpm',
    'failures',
    'blockedUntil',
    'resyncPending',
    'userId',
    'importedAt',
    'lastUsedAt',
  ],
  additionalProperties: false,
  properties: {
    serial: { type: 'string' },
    profile: { type: 'string' },
    digits: { type: 'integer' },
    step: { type: 'integer' },
    t0: { type: 'integer' },
    status: { type: 'string', enum: ['enabled', 'locked', 'revoked'] },
    lastMovingFactor: movingFactorSchema('last accepted hotp counter or totp step', true),
    drift: { type: 'integer', description: "totp: the step the token's clock is predicted to be in now minus the server's (0 for hotp)" },
    driftSeconds: { type: 'number', description: "totp: the token's clock minus the server's now, as predicted, seconds (0 for hotp)" },
    driftPpm: {
      type: 'number',
      description: "totp: how fast the token's clock gains (+) or loses (−), ppm, as learnt from its accepts (0 for hotp)",
    },
    failures: { type: 'integer', description: 'consecutive failures' },
    blockedUntil: { type: ['integer', 'null'], description: 'unix ms' },
    resyncPending: { type: 'boolean' },
    userId: { type: ['string', 'null'] },
    importedAt: { type: 'integer', description: 'unix ms' },
    lastUsedAt: { type: ['integer', 'null'], description: 'unix ms' },
  },
} as const;

function fromJson(body: JsonImportBody): TokenImport[] {
  return body.tokens.map((t, i) => {
    const record: TokenImport = {
      serial: parseSerialOf(t.serial, `tokens[${i}].serial`),
      profile: t.profile,
      key: hexToBytes(t.keyHex, `tokens[${i}].keyHex`),
    };
    if (t.digits !== undefined) record.digits = t.digits;
    if (t.step !== undefined) record.step = t.step;
    if (t.t0 !== undefined) record.t0 = t.t0;
    if (t.counter !== undefined) record.counter = movingFactorFromJson(t.counter, `tokens[${i}].counter`);
    return record;
  });
}

/** A token as a reply carries it: its moving factor as JSON writes one (movingFactorSchema). */
const tokenInfoJson = (info: TokenInfo) =>
  typeof info.lastMovingFactor === 'bigint' ? { ...info, lastMovingFactor: movingFactorToJson(info.lastMovingFactor) } : info;

function parseSerialOf(text: string, where: string): string {
  try {
    return parseSerial(text);
  } catch (e) {
    throw new KodeviserError('ERR_SERIAL', `${where}: ${(e as Error).message}`);
  }
}

function fromPskcKey(key: PskcKey, index: number): TokenImport {
  const name = `key "${key.id}" (#${index + 1})`;
  if (key.profile === null) {
    throw new KodeviserError('ERR_UNKNOWN_PROFILE', `${name}: algorithm ${key.algorithm} is not one of the kodeviser OTP profiles`);
  }
  const record: TokenImport = {
    serial: parseSerialOf(key.serial ?? key.id, `${name}: ${key.serial === undefined ? 'Key Id' : 'DeviceInfo/SerialNo'} as serial`),
    profile: key.profile,
    key: key.secret,
    digits: key.digits,
  };
  if (key.counter !== undefined) record.counter = key.counter;
  if (key.time !== undefined) record.t0 = key.time;
  if (key.timeInterval !== undefined) record.step = key.timeInterval;
  if (key.timeDrift !== undefined) record.drift = key.timeDrift;
  return record;
}

export interface TokenRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  pskcKey: Uint8Array | null;
}

export async function tokenRoutes(app: FastifyInstance, { service, auth, pskcKey }: TokenRoutesOptions): Promise<void> {
  const ctx = (request: FastifyRequest) => ({ ip: request.ip });
  /** The audit log's actor: who the bearer is (plugins/auth.ts). */
  const actor = (request: FastifyRequest): string => request.principal?.actor ?? 'admin';
  const admin = { onRequest: auth.require('admin'), schema: { tags: ['tokens'], security: bearerSecurity } };

  app.post<{ Body: JsonImportBody | string; Headers: { 'x-pskc-key'?: string; 'x-pskc-password'?: string } }>(
    '/v1/tokens',
    {
      onRequest: admin.onRequest,
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        ...admin.schema,
        summary: 'Import tokens (JSON or PSKC), all or nothing',
        headers: {
          type: 'object',
          properties: {
            'x-pskc-key': {
              type: 'string',
              pattern: '^([0-9a-fA-F]{16}){2,4}$',
              description:
                'PSKC pre-shared key, hex: 16 bytes (aes128-cbc, kw-aes128), 24 (aes192-cbc, tripledes-cbc, kw-aes192) or 32 (aes256-cbc, kw-aes256)',
            },
            'x-pskc-password': {
              type: 'string',
              minLength: 1,
              maxLength: 1024,
              description:
                'the password of a PSKC document whose key is derived from one (RFC 6030 §6.2, PBKDF2 up to 10 000 000 iterations); never logged',
            },
          },
        },
        body: {
          content: {
            'application/json': { schema: jsonImportSchema },
            [PSKC_CONTENT_TYPE]: { schema: { type: 'string', minLength: 1, description: 'an RFC 6030 KeyContainer' } },
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['imported'],
            additionalProperties: false,
            properties: { imported: { type: 'array', items: { type: 'string' }, description: 'the serials imported' } },
          },
          ...errorResponses(401, 409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      let records: TokenImport[];
      // The body schemas are per content type: a request without a Content-Type (and so without a
      // parsed body) meets neither, and reaches this handler with no body at all.
      if (request.body === undefined || request.body === null) {
        throw new HttpError(415, 'unsupported-media-type', `a body is required, as application/json or ${PSKC_CONTENT_TYPE}`);
      }
      if (typeof request.body === 'string') {
        const header = request.headers['x-pskc-key'];
        const password = request.headers['x-pskc-password'];
        if (header !== undefined && password !== undefined) {
          throw new HttpError(400, 'bad-request', 'give X-PSKC-Key or X-PSKC-Password, not both: a document is protected by one of them');
        }
        const preSharedKey = header !== undefined ? hexToBytes(header, 'X-PSKC-Key') : pskcKey;
        const keys =
          password !== undefined
            ? await parsePskcWithPassword(request.body, password)
            : parsePskc(request.body, preSharedKey ? { preSharedKey } : {});
        records = keys.map(fromPskcKey);
      } else {
        records = fromJson(request.body);
      }
      const { imported } = await service.importTokens(records, actor(request));
      return reply.code(201).send({ imported });
    },
  );

  const getToken = async (serial: string): Promise<TokenInfo> => {
    const info = await service.getToken(serial);
    if (!info) throw new HttpError(404, 'unknown-token', `no token with serial ${serial}`);
    return info;
  };

  app.get<{ Params: { serial: string } }>(
    '/v1/tokens/:serial',
    {
      onRequest: admin.onRequest,
      schema: {
        ...admin.schema,
        summary: 'A token: profile, status, assigned user, moving factor, drift, failures, last use — never the key',
        params: serialParams,
        response: { 200: tokenInfoSchema, ...errorResponses(401, 404) },
      },
    },
    async (request) => tokenInfoJson(await getToken(parseSerial(request.params.serial))),
  );

  const actions = { lock: service.lock, unlock: service.unlock, revoke: service.revoke } as const;
  const summaries = {
    lock: 'Lock a token (no code is checked until it is unlocked; admin)',
    unlock: 'Unlock a token and clear its failure count (admin, or an operator at a service centre)',
    revoke: 'Revoke a token for good: a lost device (admin, an operator, or the proofing back-end)',
  } as const;
  // A lost device is reported at a service centre or in the app; a locked one is unlocked at the
  // counter, where the owner shows ID. Every action is audited under the credential that made it.
  const roles: Readonly<Record<keyof typeof actions, Role[]>> = {
    lock: ['admin'],
    unlock: ['admin', 'operator'],
    revoke: ['admin', 'operator', 'proofing'],
  };
  for (const action of ['lock', 'unlock', 'revoke'] as const) {
    app.post<{ Params: { serial: string } }>(
      `/v1/tokens/:serial/${action}`,
      {
        onRequest: auth.require(...roles[action]),
        schema: {
          ...admin.schema,
          summary: summaries[action],
          params: serialParams,
          response: { 200: tokenInfoSchema, ...errorResponses(401, 404, 409) },
        },
      },
      async (request) =>
        tokenInfoJson(await actions[action].call(service, parseSerial(request.params.serial), actor(request), ctx(request))),
    );
  }

  app.post<{ Params: { serial: string } }>(
    '/v1/tokens/:serial/reinstate',
    {
      onRequest: auth.require('admin', 'operator'),
      schema: {
        ...admin.schema,
        summary: 'Reverse a replacement within 7 days: this (replaced) device active again, its replacement revoked (operator)',
        description:
          'The way back when a device was replaced without its owner. The password is cleared, since whoever made the ' +
          'replacement chose it: the owner sets a new one with a proof and this device (POST /v1/users/self/password-reset).',
        params: serialParams,
        response: {
          200: {
            type: 'object',
            required: ['serial', 'userId', 'revoked'],
            additionalProperties: false,
            properties: {
              serial: { type: 'string', description: 'the device active again' },
              userId: { type: 'string' },
              revoked: { type: ['string', 'null'], description: 'the replacement, revoked; null when it was no longer active' },
            },
          },
          ...errorResponses(401, 404, 409),
        },
      },
    },
    async (request) => service.reinstate(parseSerial(request.params.serial), actor(request), ctx(request)),
  );

  app.post<{ Params: { serial: string }; Body: { otp1: string; otp2: string } }>(
    '/v1/tokens/:serial/resync',
    {
      onRequest: admin.onRequest,
      schema: {
        ...admin.schema,
        summary: 'Resynchronise a token from two consecutive codes (searched in a large window)',
        params: serialParams,
        body: {
          type: 'object',
          required: ['otp1', 'otp2'],
          additionalProperties: false,
          properties: { otp1: otpSchema, otp2: otpSchema },
        },
        response: {
          200: {
            type: 'object',
            required: ['result', 'serial', 'movingFactor', 'drift'],
            additionalProperties: false,
            properties: {
              result: { type: 'string', enum: ['resynced'] },
              serial: { type: 'string' },
              movingFactor: movingFactorSchema('the moving factor of otp2, now the last accepted', false),
              drift: { type: 'integer', description: "totp: the token's step minus the server's, whole steps (0 for hotp)" },
            },
          },
          ...errorResponses(401, 404, 409),
        },
      },
    },
    async (request) => {
      const serial = parseSerial(request.params.serial);
      const outcome = await service.resync(serial, request.body.otp1, request.body.otp2, actor(request), ctx(request));
      if (outcome.result !== 'resynced') {
        throw new HttpError(
          409,
          'resync-failed',
          `otp1 and otp2 are not two consecutive codes of token ${serial} within the resync window`,
        );
      }
      return { ...outcome, movingFactor: movingFactorToJson(outcome.movingFactor) };
    },
  );
}
