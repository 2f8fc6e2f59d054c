/**
 * JSON Schemas (draft-07, what fastify's Ajv and @fastify/swagger speak) shared by the routes.
 * Each route declares a request AND a response schema: requests are validated before a handler
 * runs (so handlers see well-typed input), responses are serialised by fast-json-stringify, which
 * also drops any property a schema does not list — a seed can never leak through a reply by
 * accident. Serials are matched loosely here (10 digits or NN-NNNNNNN-N) and checked properly
 * (Luhn) by parseSerial, so a bad check digit gets its own message.
 */
import { PROFILES } from '@kodeviser/shared';

export const serialSchema = {
  type: 'string',
  description: 'token serial: 10 digits (the last a Luhn check digit), or printed as NN-NNNNNNN-N',
  pattern: '^([0-9]{10}|[0-9]{2}-[0-9]{7}-[0-9])$',
  examples: ['1234567897', '12-3456789-7'],
} as const;

export const otpSchema = {
  type: 'string',
  description: 'the one-time code shown by the token',
  pattern: '^[0-9]{6,8}$',
} as const;

export const userIdSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'user identifier (printable ASCII, no spaces)',
} as const;

export const passwordSchema = {
  type: 'string',
  minLength: 8,
  maxLength: 256,
  description: "the user's password (at least 8 characters, NIST SP 800-63B §5.1.1.2)",
} as const;

export const proofIdSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description: 'a proof of identity (POST /v1/proofs or /v1/proofs/self), valid 15 minutes, spent by its first use',
} as const;

/**
 * A moving factor in a reply: up to 2^63 − 1 (@kodeviser/shared moving-factor.ts), an integer up to
 * 2^53 − 1 and a decimal string above, which a JSON number would round in most readers. Replies
 * write it with movingFactorToJson (fast-json-stringify refuses a bigint here rather than print it).
 */
export function movingFactorSchema(description: string, nullable: boolean) {
  return {
    type: nullable ? ['integer', 'string', 'null'] : ['integer', 'string'],
    pattern: '^[0-9]+$',
    description: `${description}; a decimal string when above 2^53 − 1 (9007199254740991)`,
  } as const;
}

export const profileSchema = { type: 'string', enum: [...PROFILES], description: 'OTP profile (docs/otp-algorithms.md)' } as const;

export const errorRef = { $ref: 'Error#' } as const;

/** The error responses every route may give besides its own. */
export function errorResponses(...codes: number[]): Record<number, typeof errorRef> {
  const out: Record<number, typeof errorRef> = {};
  for (const c of [400, 429, 500, ...codes]) out[c] = errorRef;
  return out;
}

export const serialParams = {
  type: 'object',
  required: ['serial'],
  properties: { serial: serialSchema },
  additionalProperties: false,
} as const;

export const bearerSecurity = [{ bearer: [] }];
