/**
 * A seeded PRNG (mulberry32, Tommy Ettinger's public-domain 32-bit generator) for the moments a
 * fault suite picks: the seed is printed, so a failing run can be repeated exactly.
 */
export interface Rng {
  readonly seed: number;
  /** uniform in [0, 1) */
  next(): number;
  /** an integer in [min, max] */
  int(min: number, max: number): number;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed: seed >>> 0, next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/** The seed from `envName` when set (to repeat a run), else a random one. */
export function seedFrom(envName: string): number {
  const text = process.env[envName];
  if (text !== undefined && text !== '') {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${envName} must be a non-negative integer, got "${text}"`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}
