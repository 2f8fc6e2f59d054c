/**
 * Test identities: a national ID per user ID, distinct for up to 100 million users in a run, and
 * valid by the server's rule (ten digits, the first six a date, DDMMYY), so that every test that
 * needs an activated user can get the proof of identity an activation now spends.
 */

/** The n-th test national ID: a date from n / 10 000, the last four digits n % 10 000. */
export function nationalIdOf(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 336 * 100 * 10_000) throw new RangeError(`n must be 0..${336 * 1_000_000 - 1}, got ${n}`);
  const date = Math.floor(n / 10_000);
  const day = 1 + (date % 28);
  const month = 1 + (Math.floor(date / 28) % 12);
  const year = Math.floor(date / 336) % 100;
  const two = (v: number) => String(v).padStart(2, '0');
  return `${two(day)}${two(month)}${two(year)}${String(n % 10_000).padStart(4, '0')}`;
}

const byUser = new Map<string, string>();
let next = 0;

/** The identity of `userId` in this process: the same user, the same person; another user, another one. */
export function identityOf(userId: string): {
  nationalId: string;
  document: { type: 'passport'; country: string; number: string };
} {
  let nationalId = byUser.get(userId);
  if (nationalId === undefined) {
    nationalId = nationalIdOf(next++);
    byUser.set(userId, nationalId);
  }
  return { nationalId, document: { type: 'passport', country: 'DK', number: `P${nationalId}` } };
}
