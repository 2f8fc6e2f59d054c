/**
 * The load run (`npm run bench:load`): the real server process
 * (`node server/dist/main.js`) on SQLite, then on PostgreSQL when one is reachable, under
 * `--seconds` (default 60) of mixed traffic from autocannon running in a SEPARATE process (this
 * file again, `--role=load`), so the load generator never shares the server's event loop:
 *
 *   - POST /v1/validate with a fresh code (accept expected)            60 %
 *   - POST /v1/validate with a code already accepted (reject expected)   20 %
 *   - POST /v1/authenticate of an activated user (accept expected)        2 %
 *   - GET /v1/tokens/:serial and GET /v1/audit?serial=…                  9 % each
 *
 * A token or user has at most one request in flight (runLoad takes it for a request and gives it
 * back with the answer), so its codes arrive in counter order and every verdict is known in
 * advance: a verdict that is not the expected one is counted as a mismatch. A replay is only sent right after an accept of
 * the same token, so no token ever reaches the block after three failures.
 * Reported: req/s, p50/p99 latency, status classes (2xx/4xx/5xx), socket errors and timeouts,
 * verdict mismatches (0 expected for all of these but 2xx), the server's CPU per request and its
 * RSS (VmRSS) after seeding, after a warm-up, every second of the run, and at the end.
 *
 *   npx tsx --conditions=kodeviser-src bench/load.ts [--seconds 60] [--warmup 5] [--connections 32]
 *     [--tokens 4096] [--store sqlite|postgres|both] [--pg-url postgres://…]
 *
 * Rate limits are off (every request comes from one address; the limiter is not what is
 * measured), logging at warn. Not a test: the figures go to stdout.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { createOtp, type Otp } from '@kodeviser/shared';
import { createClient } from '../test/helpers/http-client.js';
import { importDevices, makeDevices } from '../test/helpers/devices.js';
import { nationalIdOf } from '../test/helpers/identities.js';
import { freshSettings, startServerProcess, type ServerProcess } from '../test/helpers/server-process.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(SELF, '..', '..');
const PASSWORD = 'load test password';
const IMPORT_BATCH = 1000;

interface Seeded {
  adminToken: string;
  tokens: Array<{ serial: string; keyHex: string }>;
  users: Array<{ userId: string; serial: string; keyHex: string }>;
}

type Kind = 'fresh' | 'replay' | 'authenticate' | 'token' | 'audit';
/**
 * The mix, per 100 requests. Logins are few: each costs a production scrypt hash (N = 2^15,
 * r = 8: ~32 MiB and tens of milliseconds of a libuv thread), a hundred times a validation.
 */
const MIX: Readonly<Record<Kind, number>> = { fresh: 60, replay: 20, authenticate: 2, token: 9, audit: 9 };
const KINDS: readonly Kind[] = (Object.entries(MIX) as Array<[Kind, number]>).flatMap(([k, n]) => Array<Kind>(n).fill(k));

interface LoadResult {
  seconds: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  status: { '2xx': number; '4xx': number; '5xx': number; other: number };
  errors: number;
  timeouts: number;
  sent: Record<Kind, number>;
  mismatches: number;
  /** replays whose code is also that of a counter ahead (six digits recur) */
  coincidences: number;
  firstMismatches: string[];
  /** the serials of the first mismatches, whose audit trail the report shows */
  mismatchSerials: string[];
}

// ---------------------------------------------------------------------------------------------
// The load process: autocannon, and the tokens and users each request takes and gives back.
//
// autocannon resets a connection's context whenever its request list wraps (every request here),
// so nothing per connection can be kept there. Instead a token (or user) is taken from the idle
// ones for a request and given back when its answer is in: no token ever has two requests in
// flight, so its codes arrive in counter order. A request the warm-up left in flight never
// gives its token back, so nothing sent later can overtake it.

interface TokenState {
  serial: string;
  otp: Otp;
  next: number;
  lastAccepted: string | null;
  replayable: boolean;
}
interface User {
  userId: string;
  token: TokenState;
}
interface Pending {
  kind: Kind;
  token?: TokenState;
  user?: User;
  code?: string;
}

/** Takes a random element out of `pool` (swap-remove); with `pred`, one of a few random tries that satisfies it. */
function take<T>(pool: T[], pred: (x: T) => boolean = () => true): T | undefined {
  for (let tries = 0; tries < 8 && pool.length > 0; tries++) {
    const i = Math.floor(Math.random() * pool.length);
    const x = pool[i] as T;
    if (!pred(x)) continue;
    pool[i] = pool[pool.length - 1] as T;
    pool.pop();
    return x;
  }
  return undefined;
}

async function runLoad(spec: { url: string; seedFile: string; connections: number; warmup: number; seconds: number }): Promise<void> {
  const seeded = JSON.parse(readFileSync(spec.seedFile, 'utf8')) as Seeded;
  const state = (t: { serial: string; keyHex: string }, next: number): TokenState => ({
    serial: t.serial,
    otp: createOtp({ profile: 'hotp-sha1', key: Buffer.from(t.keyHex, 'hex') }),
    next,
    lastAccepted: null,
    replayable: false,
  });
  const tokens = seeded.tokens.map((t) => state(t, 0));
  const idleTokens = [...tokens];
  // code 0 activated each user
  const idleUsers: User[] = seeded.users.map((u) => ({ userId: u.userId, token: state(u, 1) }));
  const sent = { fresh: 0, replay: 0, authenticate: 0, token: 0, audit: 0 } satisfies Record<Kind, number>;
  let mismatches = 0;
  let coincidences = 0;
  const firstMismatches: string[] = [];
  const mismatchSerials: string[] = [];
  const auth = { authorization: `Bearer ${seeded.adminToken}` };
  const json = { ...auth, 'content-type': 'application/json' };

  const setupRequest = (req: autocannon.Request, context: { pending?: Pending }): autocannon.Request => {
    let kind = KINDS[Math.floor(Math.random() * KINDS.length)] as Kind;
    const user = kind === 'authenticate' ? take(idleUsers) : undefined;
    // a replay only right after an accepted fresh code of the token: never two failures in a row, no block
    const replayed = kind === 'replay' ? take(idleTokens, (t) => t.replayable) : undefined;
    if ((kind === 'authenticate' && !user) || (kind === 'replay' && !replayed)) kind = 'fresh';
    sent[kind]++;
    switch (kind) {
      case 'fresh': {
        const token = take(idleTokens) as TokenState;
        const code = token.otp.generate(token.next++);
        context.pending = { kind, token, code };
        return { ...req, method: 'POST', path: '/v1/validate', headers: json, body: JSON.stringify({ serial: token.serial, otp: code }) };
      }
      case 'replay': {
        const token = replayed as TokenState;
        const code = token.lastAccepted as string;
        context.pending = { kind, token, code };
        return { ...req, method: 'POST', path: '/v1/validate', headers: json, body: JSON.stringify({ serial: token.serial, otp: code }) };
      }
      case 'authenticate': {
        const u = user as User;
        const code = u.token.otp.generate(u.token.next++);
        context.pending = { kind, user: u, code };
        return {
          ...req,
          method: 'POST',
          path: '/v1/authenticate',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: u.userId, otp: code, password: PASSWORD }),
        };
      }
      case 'token':
      case 'audit': {
        // reads change nothing: any token, in flight or not
        const token = tokens[Math.floor(Math.random() * tokens.length)] as TokenState;
        context.pending = { kind };
        const path = kind === 'token' ? `/v1/tokens/${token.serial}` : `/v1/audit?serial=${token.serial}&limit=20`;
        return { ...req, method: 'GET', path, headers: auth, body: undefined as unknown as string };
      }
    }
  };

  const onResponse = (status: number, body: string, context: { pending?: Pending }): void => {
    const pending = context.pending;
    if (!pending) return;
    const verdict = /"result":"([a-z-]+)"/.exec(body)?.[1];
    let ok: boolean;
    if (pending.kind === 'replay') {
      // A spent code must not be accepted at its own counter. Six digits recur, though: the same
      // code may belong to a counter ahead (1 in 10^5 per replay in the look-ahead window, an
      // accept there; 9 in 10^5 in the wide one, a resync started). Both are right answers.
      const movingFactor = Number(/"movingFactor":(\d+)/.exec(body)?.[1] ?? -1);
      const token = pending.token as TokenState;
      const coincidence = verdict === 'resync-started' || (verdict === 'accept' && movingFactor > token.next - 1);
      if (verdict === 'accept' && coincidence) token.next = movingFactor + 1;
      if (coincidence) coincidences++;
      ok = status === 200 && (verdict === 'reject' || coincidence);
    } else {
      ok = status === 200 && verdict === (pending.kind === 'fresh' || pending.kind === 'authenticate' ? 'accept' : undefined);
    }
    const token = pending.token ?? pending.user?.token;
    if (pending.token) {
      pending.token.replayable = ok && pending.kind === 'fresh';
      if (pending.token.replayable) pending.token.lastAccepted = pending.code as string;
      idleTokens.push(pending.token);
    }
    if (pending.user) idleUsers.push(pending.user);
    if (!ok) {
      mismatches++;
      if (firstMismatches.length < 5) {
        firstMismatches.push(`${pending.kind} ${token ? `${token.serial} #${token.next - 1}` : ''}: ${status} ${body.slice(0, 200)}`);
        if (token) mismatchSerials.push(token.serial);
      }
    }
  };

  const run = (duration: number) =>
    autocannon({
      url: spec.url,
      connections: spec.connections,
      duration,
      requests: [
        { setupRequest: setupRequest as autocannon.Request['setupRequest'], onResponse: onResponse as autocannon.Request['onResponse'] },
      ],
    });
  if (spec.warmup > 0) await run(spec.warmup);
  for (const k of Object.keys(sent) as Kind[]) sent[k] = 0;
  mismatches = 0;
  coincidences = 0;
  firstMismatches.length = 0;
  mismatchSerials.length = 0;
  process.stdout.write('measuring\n');
  const r = await run(spec.seconds);
  const status = { '2xx': r['2xx'], '4xx': r['4xx'], '5xx': r['5xx'], other: r['1xx'] + r['3xx'] };
  const out: LoadResult = {
    seconds: spec.seconds,
    requests: r.requests.total,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    status,
    errors: r.errors,
    timeouts: r.timeouts,
    sent,
    mismatches,
    coincidences,
    firstMismatches,
    mismatchSerials,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The main process: server, seeding, the load process, RSS and CPU of the server.

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 per second on Linux)
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function seed(server: ServerProcess, adminToken: string, tokenCount: number, userCount: number, file: string): Promise<Seeded> {
  const client = createClient(server.url, adminToken);
  const devices = makeDevices(tokenCount + userCount);
  for (let i = 0; i < devices.length; i += IMPORT_BATCH) await importDevices(client, devices.slice(i, i + IMPORT_BATCH));
  // Users are activated as the service does it: an operator credential (made by the admin), and
  // per user an operator's proof of identity (a national ID of its own) that the activation spends.
  const credential = await client.post('/v1/credentials', { role: 'operator', name: 'load run' }, { admin: true });
  if (credential.status !== 201) throw new Error(`creating the operator credential: ${credential.status} ${credential.text}`);
  const operator = { authorization: `Bearer ${(credential.body as { token: string }).token}` };
  const users: Seeded['users'] = [];
  for (const [i, d] of devices.slice(tokenCount).entries()) {
    const userId = `load-user-${i}`;
    const nationalId = nationalIdOf(i);
    const identity = { nationalId, document: { type: 'passport', country: 'DK', number: `P${nationalId}` } };
    const proof = await client.post('/v1/proofs', { identity, userId }, { headers: operator });
    if (proof.status !== 201) throw new Error(`proving ${userId}: ${proof.status} ${proof.text}`);
    const { proofId } = proof.body as { proofId: string };
    const res = await client.post('/v1/activate', { proofId, serial: d.serial, otp: d.otp.generate(0), password: PASSWORD });
    if (res.status !== 200) throw new Error(`activating ${userId}: ${res.status} ${res.text}`);
    users.push({ userId, serial: d.serial, keyHex: d.keyHex });
  }
  const seeded: Seeded = { adminToken, tokens: devices.slice(0, tokenCount).map((d) => ({ serial: d.serial, keyHex: d.keyHex })), users };
  writeFileSync(file, JSON.stringify(seeded), { mode: 0o600 });
  return seeded;
}

async function measure(
  store: string,
  databaseUrl: string | undefined,
  o: { seconds: number; warmup: number; connections: number; tokens: number },
): Promise<void> {
  const settings = freshSettings({
    logLevel: 'warn',
    env: { KODEVISER_RATE_LIMIT_IP: '0', KODEVISER_RATE_LIMIT_USER: '0' },
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
  });
  const server = await startServerProcess(settings);
  try {
    const seedFile = join(settings.dataDir, 'load-seed.json');
    await seed(server, settings.adminToken, o.tokens, 2 * o.connections, seedFile);
    const rssSeeded = server.rssKiB();
    const rss: number[] = [];
    let cpuAtStart = 0;
    let timer: NodeJS.Timeout | undefined;
    const result = await new Promise<LoadResult>((resolveLoad, reject) => {
      const spec = { url: server.url, seedFile, connections: o.connections, warmup: o.warmup, seconds: o.seconds };
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=kodeviser-src', SELF, '--role=load', `--spec=${JSON.stringify(spec)}`],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (timer === undefined && out.includes('measuring\n')) {
          cpuAtStart = cpuSeconds(server.pid);
          rss.push(server.rssKiB());
          timer = setInterval(() => rss.push(server.rssKiB()), 1000);
        }
      });
      child.on('exit', (code) => {
        clearInterval(timer);
        if (code !== 0) return reject(new Error(`the load process exited ${code}: ${out}`));
        resolveLoad(JSON.parse(out.trim().split('\n').at(-1) as string) as LoadResult);
      });
    });
    const cpu = cpuSeconds(server.pid) - cpuAtStart;
    const rssEnd = server.rssKiB();
    const mb = (kib: number) => (kib / 1024).toFixed(1);
    const quarter = Math.max(1, Math.floor(rss.length / 4));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const firstQuarter = mean(rss.slice(0, quarter));
    const lastQuarter = mean(rss.slice(-quarter));
    const outputErrors = (server.output().match(/"level":(50|60)/g) ?? []).length;
    const ok =
      result.errors === 0 &&
      result.timeouts === 0 &&
      result.status['5xx'] === 0 &&
      result.status['4xx'] === 0 &&
      result.mismatches === 0 &&
      outputErrors === 0;
    console.log(
      `\n## ${store}: ${o.seconds} s of mixed traffic, ${o.connections} connections, ${o.tokens} tokens, ${2 * o.connections} users (warm-up ${o.warmup} s)`,
    );
    console.log(
      `  requests     ${result.requests} (${result.rps.toFixed(0)} req/s): sent fresh ${result.sent.fresh}, replay ${result.sent.replay}, authenticate ${result.sent.authenticate}, token ${result.sent.token}, audit ${result.sent.audit}`,
    );
    console.log(`  latency      p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms`);
    console.log(
      `  status       2xx ${result.status['2xx']}, 4xx ${result.status['4xx']}, 5xx ${result.status['5xx']}, other ${result.status.other}`,
    );
    console.log(
      `  errors       socket errors ${result.errors}, timeouts ${result.timeouts}, verdict mismatches ${result.mismatches} (replays matching a later counter by chance: ${result.coincidences}), error lines in the server log ${outputErrors}${result.firstMismatches.length ? `\n               ${result.firstMismatches.join('\n               ')}` : ''}`,
    );
    console.log(`  server CPU   ${cpu.toFixed(1)} s, ${((1000 * cpu) / Math.max(1, result.requests)).toFixed(3)} ms per request`);
    console.log(
      `  server RSS   seeded ${mb(rssSeeded)} MB, start of the run ${mb(rss[0] ?? rssSeeded)} MB, end ${mb(rssEnd)} MB; mean of the first quarter ${mb(firstQuarter)} MB, of the last ${mb(lastQuarter)} MB (${(((lastQuarter - firstQuarter) / firstQuarter) * 100).toFixed(1)} %), min ${mb(Math.min(...rss))} / max ${mb(Math.max(...rss))} MB`,
    );
    for (const serial of [...new Set(result.mismatchSerials)].slice(0, 3)) {
      const audit = await createClient(server.url, settings.adminToken).get(`/v1/audit?serial=${serial}&limit=8`, { admin: true });
      const events = (
        (audit.body as { events?: Array<{ at: number; type: string; reason: string | null; movingFactor: number | null }> }).events ?? []
      ).reverse();
      console.log(
        `  audit of ${serial} (oldest first): ${events.map((e) => `${new Date(e.at).toISOString().slice(17, 23)} ${e.type}${e.reason ? `/${e.reason}` : ''}${e.movingFactor !== null ? ` #${e.movingFactor}` : ''}`).join(', ')}`,
      );
    }
    console.log(`  verdict      ${ok ? 'OK: no errors, no 5xx, every verdict as expected' : 'NOT OK'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await server.stop();
    settings.cleanup();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      tokens: { type: 'string', default: '4096' },
      store: { type: 'string', default: 'both' },
      'pg-url': { type: 'string', default: process.env.KODEVISER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    },
  });
  const o = {
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    connections: Number(values.connections),
    tokens: Number(values.tokens),
  };
  for (const [name, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < (name === 'warmup' ? 0 : 1)) throw new Error(`--${name} must be a positive integer`);
  if (o.tokens < 2 * o.connections) throw new Error('--tokens must be at least twice --connections');
  if (!['sqlite', 'postgres', 'both'].includes(values.store)) throw new Error('--store is sqlite, postgres or both');

  if (values.store !== 'postgres') await measure('SQLite', undefined, o);
  if (values.store === 'sqlite') return;
  const url = values['pg-url'];
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (e) {
    console.log(`\n## PostgreSQL: skipped, not reachable at ${url.replace(/:[^:@/]*@/, '@')} (${(e as Error).message})`);
    if (values.store === 'postgres') process.exitCode = 1;
    return;
  }
  // A schema of its own, dropped at the end: the run never meets another's rows.
  const schema = `kv_load_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const u = new URL(url);
    u.searchParams.set('options', `-c search_path=${schema}`);
    await measure('PostgreSQL', u.toString(), o);
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
if (role === 'load') {
  await runLoad(JSON.parse((process.argv.find((a) => a.startsWith('--spec=')) as string).slice(7)));
} else if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  await main(process.argv.slice(2));
}
