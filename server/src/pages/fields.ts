/**
 * A form's fields checked as the JSON API's schemas check them (routes/schemas.ts holds each rule
 * once; the pages read the same patterns and lengths), each failure a message for the person, in
 * their language, shown next to the field. The service still decides everything else.
 */
import { isKodeviserError, parseSerial } from '@kodeviser/shared';
import { otpSchema, passwordSchema, proofIdSchema, serialSchema, userIdSchema } from '../routes/schemas.js';
import { COMMON, format, type Lang } from './i18n.js';

type CommonText = keyof (typeof COMMON)['en'];

export interface FieldRule {
  min?: number;
  max: number;
  pattern?: RegExp;
  /** the COMMON text for a value of the wrong form */
  formatText?: CommonText;
}

export const USER_ID: FieldRule = { max: userIdSchema.maxLength, pattern: new RegExp(userIdSchema.pattern), formatText: 'userIdFormat' };
export const OTP: FieldRule = { max: 8, pattern: new RegExp(otpSchema.pattern), formatText: 'otpFormat' };
export const PASSWORD: FieldRule = { min: passwordSchema.minLength, max: passwordSchema.maxLength };
export const SERIAL: FieldRule = { max: 12, pattern: new RegExp(serialSchema.pattern), formatText: 'serialFormat' };
export const PROOF_ID: FieldRule = { max: 64, pattern: new RegExp(proofIdSchema.pattern) };

/**
 * A page form's body schema: every field a string (a repeated one, an array, is refused before
 * the handler). What each must hold is checked by the handler, which answers on the page.
 */
export const formSchema = (...fields: readonly string[]) => ({
  type: 'object',
  properties: Object.fromEntries(['_csrf', ...fields].map((f) => [f, { type: 'string' }])),
});

/** A field's value as typed: a string, '' when absent (or not a string: a repeated field). */
export const valueOf = (body: unknown, name: string): string => {
  const v = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof v === 'string' ? v : '';
};

/** Digits typed with spaces ("123 456", "12 3456789 7") as the API reads them. */
export const compact = (value: string): string => value.replace(/\s+/g, '');

/**
 * What is wrong with `value` by `rule`, or null. `name` is the field as a sentence names it
 * ("user ID", "bruger-id"); `wrongForm`, what to say of a value of the wrong form (default: the
 * rule's own text).
 */
export function fieldProblem(value: string, rule: FieldRule, name: string, lang: Lang, wrongForm?: string): string | null {
  const t = COMMON[lang];
  const names = { field: name, Field: capitalised(name) };
  if (value.length === 0) return format(t.required, names);
  if (value.length > rule.max) return format(t.tooLong, { ...names, max: rule.max });
  if (rule.min !== undefined && value.length < rule.min) return format(t.tooShort, { ...names, min: rule.min });
  if (rule.pattern !== undefined && !rule.pattern.test(value)) return wrongForm ?? t[rule.formatText ?? 'badForm'];
  return null;
}

/** `problem` when `parse` (the domain's own check of a value) refuses it, else null. */
export function refusedBy(parse: () => unknown, problem: string): string | null {
  try {
    parse();
    return null;
  } catch (e) {
    if (isKodeviserError(e)) return problem;
    throw e;
  }
}

/** `{[key]: value}`, or nothing when there is no value: a form's errors, field by field. */
export const nonNull = <K extends string>(key: K, value: string | null): Partial<Record<K, string>> =>
  value === null ? {} : ({ [key]: value } as Record<K, string>);

/** A serial as typed (spaces allowed) → its ten digits, or the problem with it. */
export function serialOf(value: string, lang: Lang, name: string): { serial: string } | { problem: string } {
  const typed = compact(value);
  const problem = fieldProblem(typed, SERIAL, name, lang) ?? refusedBy(() => parseSerial(typed), COMMON[lang].serialCheck);
  return problem === null ? { serial: parseSerial(typed) } : { problem };
}

const capitalised = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
