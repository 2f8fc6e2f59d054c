/**
 * The validation service alone, no HTTP: `TokenService.validate` calls per second and their p50/p99
 * latency, with `concurrency` calls in flight, on a SQLite file of `tokens` hotp tokens, with group
 * commit on (one transaction and one fdatasync of the WAL per batch, the sync on libuv's pool,
 * checkpoints from a worker thread: store/sqlite.ts) and off (one synchronous=FULL transaction,
 * its fsync on the event loop, per write). Every call is an accept (a fresh code of a random
 * token), i.e. the write path: a compare-and-set and an audit row.
 *
 * In this closed loop all `concurrency` calls tend to travel as one batch, so there is little
 * for the event loop to do while a sync runs: the gain of taking the sync off the loop shows
 * through HTTP (bench/server.ts), where requests keep arriving during it, not here.
 *
 *   npx tsx --conditions=kodeviser-src bench/server-service.ts [--tokens=10000] [--requests=20000] [--concurrency=50] [--group-commit=both|on|off]
 *
 * Not a test: timings go to stdout. Ratios between the two modes travel better than the figures,
 * and CPU per validation better than wall time on a shared machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOtp, makeSerial } from '@kodeviser/shared';
import { createTokenService } from '../server/src/domain/service.js';
import { openSqliteStore } from '../server/src/store/sqlite.js';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '50' },
    'group-commit': { type: 'string', default: 'both' },
  },
});
const tokens = Number(values.tokens);
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const masterKey = new Uint8Array(32).fill(9);
const clock = { now: () => Date.now() };
const keyOf = (i: number) => Uint8Array.from({ length: 20 }, (_, j) => (i * 31 + j * 7) & 0xff);
const serialOf = (i: number) => makeSerial(String(100_000_000 + i));

const dir = mkdtempSync(join(tmpdir(), 'kodeviser-bench-'));
const path = join(dir, 'tokens.db');
try {
  let start = performance.now();
  {
    const store = openSqliteStore(path);
    const service = createTokenService({ store, clock, masterKey });
    for (let from = 0; from < tokens; from += 10_000) {
      const chunk = Array.from({ length: Math.min(10_000, tokens - from) }, (_, k) => ({
        serial: serialOf(from + k),
        profile: 'hotp-sha1' as const,
        key: keyOf(from + k),
      }));
      await service.importTokens(chunk, 'bench');
    }
    await service.close();
  }
  console.log(`imported ${tokens} tokens in ${((performance.now() - start) / 1000).toFixed(1)} s`);

  // The requests: random tokens (a token drawn twice gets its next counter), codes computed ahead.
  const counters = new Map<number, number>();
  const plan = Array.from({ length: requests }, () => {
    const i = Math.floor(Math.random() * tokens);
    const c = counters.get(i) ?? 0;
    counters.set(i, c + 1);
    return { i, c };
  });

  const modes = { both: [true, false], on: [true], off: [false] }[values['group-commit']] ?? [true, false];
  for (const groupCommit of modes) {
    const store = openSqliteStore(path, { groupCommit });
    const service = createTokenService({ store, clock, masterKey });
    const otps = new Map<number, ReturnType<typeof createOtp>>();
    const work = plan.map(({ i, c }) => {
      let otp = otps.get(i);
      if (!otp) otps.set(i, (otp = createOtp({ profile: 'hotp-sha1', key: keyOf(i) })));
      // The second run uses the counters after the first run's.
      return { serial: serialOf(i), otp: otp.generate((groupCommit ? 0 : (counters.get(i) as number)) + c) };
    });
    const latencies = new Float64Array(requests);
    let next = 0;
    let accepted = 0;
    start = performance.now();
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) {
          const k = next++;
          const t0 = performance.now();
          const r = await service.validate(work[k] as { serial: string; otp: string }, { ip: '127.0.0.1' });
          latencies[k] = performance.now() - t0;
          if (r.result === 'accept') accepted++;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort();
    const pct = (p: number) => (latencies[Math.min(requests - 1, Math.floor(p * requests))] as number).toFixed(2);
    console.log(
      `group commit ${groupCommit ? 'on ' : 'off'}: ${Math.round(requests / seconds)} validations/s, ` +
        `p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ${accepted}/${requests} accepted, ` +
        `CPU ${Math.round((cpu.user + cpu.system) / requests)} µs per validation (system ${Math.round(cpu.system / requests)}) ` +
        `(${tokens} tokens, ${concurrency} in flight)`,
    );
    await service.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
