/**
 * The validation service on the PostgreSQL store, no HTTP: `TokenService.validate` calls per
 * second and p50/p99, `concurrency` in flight, on `tokens` hotp tokens in a schema of its own
 * (dropped at the end), against the same work on a SQLite file for the ratio. Every call is an
 * accept of a fresh code (the write path: one compare-and-set statement with its audit row, one
 * commit); then a race phase sends each of `race` codes three times at once (one accept, two
 * replays: the failure transaction under the row lock).
 *
 *   npx tsx --conditions=kodeviser-src bench/server-postgres.ts [--url=postgres://…] [--tokens=10000]
 *     [--requests=10000] [--concurrency=50] [--pool=10] [--race=1000]
 *
 * Not a test: timings go to stdout. This machine's fsync and its neighbours dominate absolute
 * figures; the CPU per validation of this process travels better.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createOtp, makeSerial, type Otp } from '@kodeviser/shared';
import { createTokenService } from '../server/src/domain/service.js';
import type { TokenService } from '../server/src/domain/types.js';
import { openPostgresStore } from '../server/src/store/postgres.js';
import { openSqliteStore } from '../server/src/store/sqlite.js';
import type { TokenStore } from '../server/src/store/types.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.KODEVISER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    tokens: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    pool: { type: 'string', default: '10' },
    race: { type: 'string', default: '1000' },
  },
});
const tokens = Number(values.tokens);
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const race = Math.min(Number(values.race), tokens);
const masterKey = new Uint8Array(32).fill(9);
const clock = { now: () => Date.now() };
const keyOf = (i: number) => Uint8Array.from({ length: 20 }, (_, j) => (i * 31 + j * 7) & 0xff);
const serialOf = (i: number) => makeSerial(String(100_000_000 + i));
const otps: Otp[] = Array.from({ length: tokens }, (_, i) => createOtp({ profile: 'hotp-sha1', key: keyOf(i) }));

async function timed(label: string, service: TokenService, work: readonly { serial: string; otp: string }[]): Promise<void> {
  const latencies = new Float64Array(work.length);
  let next = 0;
  const counts = new Map<string, number>();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < work.length) {
        const k = next++;
        const t0 = performance.now();
        const r = await service.validate(work[k] as { serial: string; otp: string }, { ip: '127.0.0.1' });
        latencies[k] = performance.now() - t0;
        counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort();
  const pct = (p: number) => (latencies[Math.min(work.length - 1, Math.floor(p * work.length))] as number).toFixed(1);
  console.log(
    `${label}: ${Math.round(work.length / seconds)} validations/s, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ` +
      `${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}, CPU ${Math.round((cpu.user + cpu.system) / work.length)} µs per validation`,
  );
}

async function run(name: string, store: TokenStore): Promise<void> {
  const service = createTokenService({ store, clock, masterKey });
  let t0 = performance.now();
  for (let from = 0; from < tokens; from += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, tokens - from) }, (_, k) => ({
      serial: serialOf(from + k),
      profile: 'hotp-sha1' as const,
      key: keyOf(from + k),
    }));
    await service.importTokens(chunk, 'bench');
  }
  console.log(`${name}: imported ${tokens} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const counters = new Int32Array(tokens);
  const accepts = Array.from({ length: requests }, () => {
    const i = Math.floor(Math.random() * tokens);
    return { serial: serialOf(i), otp: (otps[i] as Otp).generate(counters[i]!++) };
  });
  t0 = performance.now();
  await timed(`${name} accepts`, service, accepts);
  const racing = Array.from({ length: race }, (_, i) => ({ serial: serialOf(i), otp: (otps[i] as Otp).generate(counters[i]!++) }));
  await timed(
    `${name} race, each code x3`,
    service,
    racing.flatMap((w) => [w, w, w]),
  );
  await service.close();
}

const admin = new pg.Client({ connectionString: values.url });
await admin.connect();
const schema = `kv_bench_${randomBytes(4).toString('hex')}`;
await admin.query(`CREATE SCHEMA ${schema}`);
const dir = mkdtempSync(join(tmpdir(), 'kodeviser-bench-'));
try {
  const url = new URL(values.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  console.log(`${tokens} hotp tokens, ${requests} accepts then ${race} codes x3, ${concurrency} in flight, pool ${values.pool}`);
  await run('PostgreSQL', await openPostgresStore(url.toString(), { poolSize: Number(values.pool) }));
  await run('SQLite    ', openSqliteStore(join(dir, 'tokens.db')));
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
