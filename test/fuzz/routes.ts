/**
 * One hostile-request arbitrary per route of the API, built over `Pools` — the serials, codes,
 * user and credentials that exist on the server under test — so the same generators drive the
 * in-process suites (inject) and the run over a real socket.
 */
import fc from 'fast-check';
import { makeSerial, profileInfo, PROFILES } from '@kodeviser/shared';
import { JSON_BODY_LIMIT } from '../../server/src/app.js';
import { IMPORT_BODY_LIMIT, MAX_IMPORT_RECORDS, PSKC_CONTENT_TYPE } from '../../server/src/routes/tokens.js';
import {
  ALL_METHODS,
  DEEP_ARRAYS,
  authorization,
  hostileString,
  jsonBody,
  jsonContentType,
  jsonObject,
  method,
  pathSegment,
  pct,
  request,
  type FuzzRequest,
} from './hostile.js';
import { hostilePskcBody, pskcKeyHeader } from './hostile-pskc.js';

export interface Pools {
  /** `Bearer <admin token>` */
  adminAuth: string;
  serial: fc.Arbitrary<string>;
  code: fc.Arbitrary<string>;
  userId: string;
  password: string;
  /**
   * Proofs of identity made in setup (POST /v1/proofs by an operator), for the user and for others:
   * the first case to use one spends it, so later ones send a spent proof, as an attacker replaying
   * one would.
   */
  proofIds: readonly string[];
}

/** JSON text of a string value. */
const str = (a: fc.Arbitrary<string>): fc.Arbitrary<string> => a.map((s) => JSON.stringify(s));

const query = fc.oneof(
  { arbitrary: fc.constant(''), weight: 8 },
  { arbitrary: fc.tuple(hostileString, hostileString).map(([k, v]) => `?${pct(k)}=${pct(v)}`), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '?',
      '??',
      '?&&&',
      '?a',
      '?a=1&a=2',
      '?__proto__[x]=1',
      '?constructor[prototype][x]=1',
      '#frag',
      '?%',
      '?%zz=1',
    ),
    weight: 1,
  },
);

export const ROUTES = [
  'POST /v1/tokens (JSON)',
  'POST /v1/tokens (PSKC)',
  'GET /v1/tokens/:serial',
  'POST /v1/tokens/:serial/lock',
  'POST /v1/tokens/:serial/unlock',
  'POST /v1/tokens/:serial/revoke',
  'POST /v1/tokens/:serial/resync',
  'POST /v1/activate',
  'POST /v1/authenticate',
  'POST /v1/users/self/password',
  'POST /v1/users/self/password-reset',
  'POST /v1/validate',
  'GET /v1/audit',
  'POST /v1/orders',
  'GET /v1/orders/:id',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'any method, any path',
] as const;
export type RouteName = (typeof ROUTES)[number];

export function routeArbitrary(route: RouteName, p: Pools): fc.Arbitrary<FuzzRequest> {
  const admin = authorization(p.adminAuth);
  const segment = pathSegment(p.serial);
  const userId = fc.oneof(fc.constant(p.userId), fc.stringMatching(/^[\x21-\x7e]{1,20}$/), hostileString);
  const password = fc.oneof(fc.constant(p.password), fc.string({ minLength: 8, maxLength: 40 }), hostileString);
  // A proof id: a real one (spent or not), one of the right shape nobody issued (128 bits in
  // base64url, as the server makes them, or any length the schema lets through), or hostile.
  const proofId = fc.oneof(
    ...(p.proofIds.length > 0 ? [{ arbitrary: fc.constantFrom(...p.proofIds), weight: 3 }] : []),
    { arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url')), weight: 2 },
    { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), weight: 1 },
    { arbitrary: hostileString, weight: 1 },
  );
  const anyBody = fc.option(jsonBody({ bodyLimit: JSON_BODY_LIMIT, fields: {} }), { freq: 4 });
  // One case in six is a well-formed request with valid-looking fields, so that the service and
  // the store see plenty of traffic (verdicts, blocks) between the hostile cases.
  const post = (url: string, fields: Record<string, fc.Arbitrary<string>>, auth: string | null = null) =>
    fc.oneof(
      {
        arbitrary: fc
          .tuple(method('POST'), auth === null ? fc.constant(null) : authorization(auth), jsonBody({ bodyLimit: JSON_BODY_LIMIT, fields }))
          .map(([m, a, b]) => request(m, url, { authorization: a, 'content-type': b.contentType }, b.payload)),
        weight: 5,
      },
      {
        arbitrary: fc.record(fields).map((values) =>
          request(
            'POST',
            url,
            { authorization: auth, 'content-type': 'application/json' },
            `{${Object.entries(values)
              .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
              .join(',')}}`,
          ),
        ),
        weight: 1,
      },
    );

  switch (route) {
    case 'POST /v1/tokens (JSON)': {
      const serial = fc.oneof(
        fc.integer({ min: 100_000_000, max: 999_999_999 }).map((n) => makeSerial(String(n))),
        p.serial,
      );
      const record = jsonObject({
        serial: str(serial),
        profile: str(fc.constantFrom(...PROFILES)),
        keyHex: str(fc.uint8Array({ minLength: 16, maxLength: 64 }).map((b) => Buffer.from(b).toString('hex'))),
        digits: fc.constantFrom('6', '7', '8'),
        step: fc.constantFrom('30', '60'),
        t0: fc.nat().map(String),
        counter: fc.nat().map(String),
      });
      // Records right in every field (key length to match the profile), so whole batches get imported too.
      const validRecord = fc
        .record({ serial, profile: fc.constantFrom(...PROFILES), digits: fc.constantFrom(6, 7, 8), fill: fc.nat({ max: 255 }) })
        .map(({ serial: s, profile, digits, fill }) =>
          JSON.stringify({
            serial: s,
            profile,
            digits,
            keyHex: Buffer.alloc(profileInfo(profile).keyBytes, fill).toString('hex'),
          }),
        );
      const tokens = fc.oneof(
        { arbitrary: fc.array(record, { maxLength: 3 }).map((r) => `[${r.join(',')}]`), weight: 6 },
        {
          arbitrary: fc
            .array(fc.oneof({ arbitrary: validRecord, weight: 5 }, { arbitrary: record, weight: 1 }), { minLength: 1, maxLength: 3 })
            .map((r) => `[${r.join(',')}]`),
          weight: 4,
        },
        {
          arbitrary: fc.constantFrom(
            '[]',
            'null',
            '{}',
            '"tokens"',
            DEEP_ARRAYS,
            `[${Array.from({ length: MAX_IMPORT_RECORDS + 1 }, () => '{}').join(',')}]`,
          ),
          weight: 1,
        },
      );
      const huge = `{"tokens":[{"serial":"${'9'.repeat(IMPORT_BODY_LIMIT)}"}]}`;
      const body = fc.oneof(
        { arbitrary: jsonObject({ tokens }), weight: 20 },
        { arbitrary: jsonObject({ tokens }).chain((s) => fc.nat({ max: s.length }).map((n) => s.slice(0, n))), weight: 2 },
        { arbitrary: fc.constantFrom('', '{', '[]', 'null', huge, `{"tokens":${DEEP_ARRAYS}}`), weight: 1 },
      );
      const hostile = fc
        .tuple(method('POST'), admin, body, jsonContentType)
        .map(([m, a, payload, type]) => request(m, '/v1/tokens', { authorization: a, 'content-type': type }, payload));
      const valid = fc
        .array(validRecord, { minLength: 1, maxLength: 3 })
        .map((r) =>
          request('POST', '/v1/tokens', { authorization: p.adminAuth, 'content-type': 'application/json' }, `{"tokens":[${r.join(',')}]}`),
        );
      return fc.oneof({ arbitrary: hostile, weight: 9 }, { arbitrary: valid, weight: 1 });
    }
    case 'POST /v1/tokens (PSKC)':
      return fc
        .tuple(
          method('POST'),
          admin,
          hostilePskcBody,
          fc.constantFrom(
            PSKC_CONTENT_TYPE,
            PSKC_CONTENT_TYPE,
            PSKC_CONTENT_TYPE,
            `${PSKC_CONTENT_TYPE}; charset=utf-8`,
            'application/xml',
            'text/xml',
          ),
        )
        .chain(([m, a, doc, type]) =>
          pskcKeyHeader(doc.encrypted).map((key) =>
            request(m, '/v1/tokens', { authorization: a, 'content-type': type, 'x-pskc-key': key }, doc.xml),
          ),
        );
    case 'GET /v1/tokens/:serial':
      return fc.tuple(method('GET'), admin, segment, query).map(([m, a, s, q]) => request(m, `/v1/tokens/${s}${q}`, { authorization: a }));
    case 'POST /v1/tokens/:serial/lock':
    case 'POST /v1/tokens/:serial/unlock':
    case 'POST /v1/tokens/:serial/revoke': {
      const action = route.split('/').pop() as string;
      return fc
        .tuple(method('POST'), admin, segment, query, anyBody)
        .map(([m, a, s, q, b]) =>
          request(m, `/v1/tokens/${s}/${action}${q}`, { authorization: a, 'content-type': b?.contentType ?? null }, b?.payload),
        );
    }
    case 'POST /v1/tokens/:serial/resync':
      return fc
        .tuple(method('POST'), admin, segment, jsonBody({ bodyLimit: JSON_BODY_LIMIT, fields: { otp1: str(p.code), otp2: str(p.code) } }))
        .map(([m, a, s, b]) => request(m, `/v1/tokens/${s}/resync`, { authorization: a, 'content-type': b.contentType }, b.payload));
    case 'POST /v1/activate':
      return post('/v1/activate', { proofId: str(proofId), serial: str(p.serial), otp: str(p.code), password: str(password) });
    case 'POST /v1/authenticate':
      return post('/v1/authenticate', { userId: str(userId), otp: str(p.code), password: str(password) });
    case 'POST /v1/users/self/password':
      return post('/v1/users/self/password', {
        userId: str(userId),
        otp: str(p.code),
        oldPassword: str(password),
        newPassword: str(password),
      });
    case 'POST /v1/users/self/password-reset':
      return post('/v1/users/self/password-reset', { proofId: str(proofId), otp: str(p.code), newPassword: str(password) });
    case 'POST /v1/validate':
      return post('/v1/validate', { serial: str(p.serial), otp: str(p.code) }, p.adminAuth);
    case 'GET /v1/audit': {
      const param = (name: string, valid: fc.Arbitrary<string>) =>
        fc.oneof(
          { arbitrary: valid.map((v) => `${name}=${pct(v)}`), weight: 4 },
          { arbitrary: hostileString.map((v) => `${name}=${pct(v)}`), weight: 2 },
          { arbitrary: fc.constantFrom(name, `${name}=`, `${name}[]=1`, `${name}[__proto__]=1`, `${name}=%`, `${name}=%zz`), weight: 1 },
        );
      const params = fc.array(
        fc.oneof(
          param('serial', p.serial),
          param('userId', fc.constantFrom(p.userId, 'nobody')),
          param(
            'since',
            fc.oneof(
              fc.nat().map(String),
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
              fc.constantFrom('9'.repeat(30), '-1', '1e3', '2026-13-45T99:99:99Z'),
            ),
          ),
          param('limit', fc.oneof(fc.integer({ min: -5, max: 1500 }).map(String), fc.constantFrom('0100', '1.5', '1e2'))),
          fc.tuple(hostileString, hostileString).map(([k, v]) => `${pct(k)}=${pct(v)}`),
          fc.constantFrom('__proto__=x', 'constructor[prototype][admin]=1', '&', '=', '%'),
        ),
        { maxLength: 4 },
      );
      return fc
        .tuple(method('GET'), admin, params)
        .map(([m, a, ps]) => request(m, `/v1/audit${ps.length ? `?${ps.join('&')}` : ''}`, { authorization: a }));
    }
    case 'POST /v1/orders': {
      // An address, or a centre, of right-looking and hostile fields.
      const text = (valid: string) => str(fc.oneof({ arbitrary: fc.constant(valid), weight: 3 }, { arbitrary: hostileString, weight: 1 }));
      const address = jsonObject({
        name: text('Ida Holm'),
        street: text('Nørregade 7'),
        postcode: text('8000'),
        city: text('Aarhus C'),
        country: str(fc.oneof(fc.constantFrom('DK', 'SE', 'dk', 'XX'), hostileString)),
      });
      const delivery = fc.oneof(
        jsonObject({ method: str(fc.constantFrom('post', 'pickup', 'drone')), address }),
        jsonObject({ method: str(fc.constantFrom('pickup', 'post')), centre: text('Borgerservice Aarhus') }),
      );
      return post('/v1/orders', { proofId: str(proofId), delivery });
    }
    case 'GET /v1/orders/:id': {
      const id = pathSegment(fc.oneof(fc.constant(`ord_${'a'.repeat(26)}`), fc.stringMatching(/^ord_[a-z2-7]{26}$/)));
      const tracking = fc.oneof(
        query,
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `?tracking=${Buffer.from(b).toString('base64url')}`),
        hostileString.map((v) => `?tracking=${pct(v)}`),
      );
      return fc
        .tuple(method('GET'), fc.option(admin, { freq: 2 }), id, tracking)
        .map(([m, a, i, q]) => request(m, `/v1/orders/${i}${q}`, { authorization: a ?? null }));
    }
    case 'GET /healthz':
    case 'GET /readyz':
    case 'GET /metrics': {
      const path = route.slice(4);
      // A scrape costs milliseconds whatever the request, and its answer does not depend on the
      // request: /metrics cases are weighted towards what is refused (other methods) instead.
      const m =
        route === 'GET /metrics'
          ? fc.oneof({ arbitrary: fc.constant('GET'), weight: 1 }, { arbitrary: fc.constantFrom(...ALL_METHODS), weight: 2 })
          : method('GET');
      return fc
        .tuple(m, fc.option(fc.constantFrom(p.adminAuth, 'Bearer nope', 'garbage'), { freq: 3 }), query, anyBody)
        .map(([m, a, q, b]) => request(m, `${path}${q}`, { authorization: a, 'content-type': b?.contentType ?? null }, b?.payload));
    }
    case 'any method, any path': {
      const segments = fc.array(pathSegment(fc.constantFrom('v1', 'tokens', 'audit', 'validate', 'docs', 'healthz', '..', '.')), {
        maxLength: 5,
      });
      return fc
        .tuple(fc.constantFrom(...ALL_METHODS, 'TRACE', 'PROPFIND'), admin, segments, query, anyBody)
        .map(([m, a, segs, q, b]) =>
          request(m, `/${segs.join('/')}${q}`, { authorization: a, 'content-type': b?.contentType ?? null }, b?.payload),
        );
    }
  }
}
