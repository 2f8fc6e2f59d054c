/**
 * `npm run bench crypto`: the OTP hot path against the npm libraries, in one run (the target:
 * hotp-sha1 generation and totp-sha1 ±1 verification at least 4× otpauth).
 *   (a) hotp-sha1 generation, a new counter per call;
 *   (b) totp-sha1 verification with a ±1 window at a fixed time, the code matching the middle
 *       step (a server's happy path), cycling through 64 prepared (time, code) pairs;
 * for kodeviser (createOtp, key state precomputed), otpauth (HOTP.generate, TOTP.validate with
 * window 1), otplib 13 (generateSync / verifySync with epochTolerance 30 s at mid-step, which is
 * ±1 step) and a plain RFC 4226 implementation over node:crypto's HMAC (OpenSSL; one
 * createHmac per code, as node offers no reusable keyed state). Then every kodeviser profile:
 * generate and ±1 verify.
 *
 * Method: each measurement warms up, then runs its loop for a fixed duration; contenders take
 * turns over several rounds and the median round counts, so load from other processes spreads
 * over all of them. Rates are per second of this process's CPU time (user + system, so a
 * library's garbage-collection work is charged to it): the machine is shared and wall-clock
 * rates depend on who else runs (--wall measures those instead). The ratios are the figures
 * that travel.
 * Note the work differs on the happy path: kodeviser's verify computes all three candidates
 * (its time must not depend on where or whether the code matched, otp.ts), otpauth and the
 * node:crypto one stop at the middle step they try first (one HMAC), otplib after two.
 *
 * Run from sources: npx tsx --conditions=kodeviser-src bench/crypto.ts [--quick] [--rounds=N] [--ms=N] [--wall]
 * or on the built dist (npm run build first): npx tsx bench/crypto.ts
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { HOTP, Secret, TOTP } from 'otpauth';
import { generateSync, verifySync } from 'otplib';
import { createOtp, profileInfo, PROFILES } from '@kodeviser/shared';
import { sha1Compress } from '../shared/src/sha1-compress.js';

const TARGET = 4;
const STEP = 30;
/** A fixed time, mid-step, so that otplib's ±30 s tolerance is exactly ±1 step. */
const NOW = 1_700_000_000 - (1_700_000_000 % STEP) + STEP / 2;

function key(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
}

interface Options {
  ms: number;
  rounds: number;
  wall: boolean;
}

function parseOptions(args: string[]): Options {
  const quick = args.includes('--quick');
  const num = (name: string, fallback: number): number => {
    const v = args.find((a) => a.startsWith(`--${name}=`));
    const n = v === undefined ? fallback : Number(v.slice(name.length + 3));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  return { ms: num('ms', quick ? 100 : 300), rounds: num('rounds', quick ? 1 : 5), wall: args.includes('--wall') };
}

/**
 * Calls of `fn` per CPU-second (or per wall-clock second), run for about `ms` of wall time after
 * a 200 ms warm-up (the JIT's own threads would otherwise be billed to the first loop).
 */
function rate(fn: (i: number) => unknown, ms: number, wall: boolean): number {
  const warmUntil = performance.now() + 200;
  for (let i = 0; performance.now() < warmUntil; i++) for (let j = 0; j < 64; j++) fn(i * 64 + j);
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (performance.now() < start + ms) {
    for (let j = 0; j < 256; j++) fn(calls + j);
    calls += 256;
  }
  const cpu = process.cpuUsage(cpu0);
  return calls / (wall ? (performance.now() - start) / 1000 : (cpu.user + cpu.system) / 1e6);
}

/** Runs the named loops in turns, `rounds` times, and returns each one's median rate. */
function race(loops: Record<string, (i: number) => unknown>, { ms, rounds, wall }: Options): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(loops).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [name, fn] of Object.entries(loops)) samples[name]?.push(rate(fn, ms, wall));
  return Object.fromEntries(
    Object.entries(samples).map(([name, s]) => {
      const sorted = [...s].sort((a, b) => a - b);
      return [name, sorted[Math.floor(sorted.length / 2)] as number];
    }),
  );
}

/** RFC 4226 over node:crypto, written the plain way. */
function nodeHotp(secret: Uint8Array, counter: number): string {
  const c = Buffer.alloc(8);
  c.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  c.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac('sha1', secret).update(c).digest();
  const o = (mac[19] as number) & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** RFC 6238 ±1 step over nodeHotp: the expected step first, then −1, +1 (otpauth's order). */
function nodeTotpVerify(secret: Uint8Array, code: string, unixSeconds: number): number | null {
  const step = Math.floor(unixSeconds / STEP);
  const wanted = Buffer.from(code);
  for (const d of [0, -1, 1]) {
    const candidate = Buffer.from(nodeHotp(secret, step + d));
    if (candidate.length === wanted.length && timingSafeEqual(candidate, wanted)) return d;
  }
  return null;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (n: number): string => `${n.toFixed(2)}×`;

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

export function main(args: string[]): void {
  const options = parseOptions(args);
  const source = import.meta.resolve('@kodeviser/shared').includes('/src/') ? 'sources' : 'built dist';
  console.log(
    `kodeviser from ${source}; node ${process.version}; ${options.rounds} round(s) of ${options.ms} ms per loop, median; rates per ${options.wall ? 'wall-clock' : 'CPU'} second\n`,
  );

  const secret = key(20);
  const hex = Buffer.from(secret).toString('hex');
  const otp = createOtp({ profile: 'hotp-sha1', key: secret });
  const totp = createOtp({ profile: 'totp-sha1', key: secret });
  const otpauthHotp = new HOTP({ secret: Secret.fromHex(hex) });
  const otpauthTotp = new TOTP({ secret: Secret.fromHex(hex) });

  // 64 times around NOW, each mid-step, with the code of its step, checked once with node:crypto.
  const cases = Array.from({ length: 64 }, (_, i) => {
    const unixSeconds = NOW + i * STEP;
    return {
      unixSeconds,
      ms: unixSeconds * 1000,
      step: Math.floor(unixSeconds / STEP),
      code: nodeHotp(secret, Math.floor(unixSeconds / STEP)),
    };
  });
  const at = (i: number) => cases[i & 63] as (typeof cases)[number];
  for (const c of cases) {
    const ok =
      totp.verify(c.code, { from: c.step - 1, to: c.step + 1, expected: c.step }) === c.step &&
      otpauthTotp.validate({ token: c.code, timestamp: c.ms, window: 1 }) === 0 &&
      verifySync({ secret, token: c.code, epoch: c.unixSeconds, epochTolerance: STEP }).valid &&
      nodeTotpVerify(secret, c.code, c.unixSeconds) === 0 &&
      otp.generate(c.step) === c.code &&
      otpauthHotp.generate({ counter: c.step }) === c.code &&
      generateSync({ strategy: 'hotp', secret, counter: c.step }) === c.code;
    if (!ok) throw new Error(`contenders disagree at ${c.unixSeconds}`);
  }

  const generate = race(
    {
      kodeviser: (i) => otp.generate(i),
      otpauth: (i) => otpauthHotp.generate({ counter: i }),
      otplib: (i) => generateSync({ strategy: 'hotp', secret, counter: i }),
      'node:crypto': (i) => nodeHotp(secret, i),
    },
    options,
  );
  const verify = race(
    {
      kodeviser: (i) => {
        const c = at(i);
        return totp.verify(c.code, { from: c.step - 1, to: c.step + 1, expected: c.step });
      },
      otpauth: (i) => {
        const c = at(i);
        return otpauthTotp.validate({ token: c.code, timestamp: c.ms, window: 1 });
      },
      otplib: (i) => {
        const c = at(i);
        return verifySync({ secret, token: c.code, epoch: c.unixSeconds, epochTolerance: STEP });
      },
      'node:crypto': (i) => {
        const c = at(i);
        return nodeTotpVerify(secret, c.code, c.unixSeconds);
      },
    },
    options,
  );

  const rows = [['', 'hotp-sha1 gen/s', 'vs node', 'vs otpauth', 'totp-sha1 ±1 verify/s', 'vs node', 'vs otpauth']];
  for (const name of Object.keys(generate)) {
    const g = generate[name] as number;
    const v = verify[name] as number;
    rows.push([
      name,
      fmt(g),
      ratio(g / (generate['node:crypto'] as number)),
      ratio(g / (generate.otpauth as number)),
      fmt(v),
      ratio(v / (verify['node:crypto'] as number)),
      ratio(v / (verify.otpauth as number)),
    ]);
  }
  console.log(table(rows));
  const genRatio = (generate.kodeviser as number) / (generate.otpauth as number);
  const verifyRatio = (verify.kodeviser as number) / (verify.otpauth as number);
  const mark = (r: number): string => `${ratio(r)} otpauth ${r >= TARGET ? 'MET' : 'NOT MET'}`;
  console.log(`\ntarget ≥ ${TARGET}× otpauth: hotp-sha1 generation ${mark(genRatio)}; totp-sha1 ±1 verification ${mark(verifyRatio)}`);

  // Every profile: the totp-* twin of each hotp-* profile runs the same MAC.
  const profileRows = [['profile', 'generate/s', '±1 verify/s', 'vs hotp-sha1']];
  for (const profile of PROFILES.filter((p) => p.startsWith('hotp-'))) {
    const each = createOtp({ profile, key: key(profileInfo(profile).keyBytes) });
    const codes = Array.from({ length: 64 }, (_, i) => each.generate(1000 + i));
    const r = race(
      {
        generate: (i) => each.generate(i),
        verify: (i) => each.verify(codes[i & 63] as string, { from: 999 + (i & 63), to: 1001 + (i & 63), expected: 1000 + (i & 63) }),
      },
      { ...options, rounds: Math.min(options.rounds, 3) },
    );
    profileRows.push([
      profile,
      fmt(r.generate as number),
      fmt(r.verify as number),
      ratio((r.generate as number) / (generate.kodeviser as number)),
    ]);
  }
  console.log(`\n${table(profileRows)}\n(totp-* profiles run the MAC of their hotp-* twin)`);

  // Why sha1-compress.ts is generated unrolled rather than written as the loop FIPS 180-4 prints.
  const block = Int32Array.from({ length: 16 }, (_, i) => i * 0x01010101);
  const [unrolledState, loopState] = [new Int32Array(5), new Int32Array(5)];
  sha1Compress(unrolledState, block);
  sha1CompressLoop(loopState, block, new Int32Array(80));
  if (unrolledState.join() !== loopState.join()) throw new Error('the unrolled and the loop SHA-1 compressions disagree');
  const schedule = new Int32Array(80);
  const sha = race(
    { unrolled: () => sha1Compress(unrolledState, block), loop: () => sha1CompressLoop(loopState, block, schedule) },
    options,
  );
  console.log(
    `\nSHA-1 compressions/s: unrolled (generated) ${fmt(sha.unrolled as number)}, loop ${fmt(sha.loop as number)}: ${ratio((sha.unrolled as number) / (sha.loop as number))}`,
  );
}

/** SHA-1's compression as FIPS 180-4 §6.1.2 prints it: an 80-word schedule and a loop over the rounds. */
function sha1CompressLoop(state: Int32Array, block: Int32Array, w: Int32Array): void {
  w.set(block);
  for (let t = 16; t < 80; t++) {
    const x = (w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number);
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  for (let t = 0; t < 80; t++) {
    const f = t < 20 ? (b & c) | (~b & d) : t < 40 || t >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
    const k = t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + (w[t] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
