/**
 * NIST SP 800-63B §5.1.1.2: a password a user chooses is refused when it is on a list of commonly
 * used ones. The list is zxcvbn-ts's (@zxcvbn-ts/language-common: 49 233 passwords ranked by their
 * frequency in leaked-password lists, MIT); the 17 950 of 8 characters or more matter here,
 * shorter ones being refused by length. Compared without case ("Password1" is as common as
 * "password1"). Built once, on first use (~20 ms).
 */
import zxcvbnCommon from '@zxcvbn-ts/language-common';

/** The fewest characters a password may have (NIST SP 800-63B §5.1.1.2: at least 8). */
export const MIN_PASSWORD_LENGTH = 8;

let common: Set<string> | null = null;

export function isCommonPassword(password: string): boolean {
  common ??= new Set(
    zxcvbnCommon.dictionary['passwords-common'].filter((p) => p.length >= MIN_PASSWORD_LENGTH).map((p) => p.toLowerCase()),
  );
  return common.has(password.toLowerCase());
}

/** Why `password` may not be chosen, or null. */
export function weakPassword(password: string): string | null {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (isCommonPassword(password)) return 'the password is one of the most commonly used ones: choose another';
  return null;
}
