/**
 * Validation server figures (a script, not a test: wall-clock numbers vary with the machine and
 * with whatever else shares its two cores). Everything runs as separate processes, as in
 * production: the real compiled server (`node server/dist/main.js`, SQLite file, group commit,
 * durable commits) or a baseline, and autocannon as a SECOND process (this file again, in its
 * `--role=load` mode) so that the load generator does not share the server's event loop.
 *
 *   - baseline: a Fastify hello-POST with the same body schema as /v1/validate (no auth, no store);
 *   - POST /v1/validate with 10 k, 100 k and 1 M tokens in the database (seeded directly through
 *     the store in 10 k-row transactions), every request a fresh, valid hotp code of a token
 *     picked at random: the accept path, a compare-and-set write per request;
 *   - POST /v1/authenticate for activated users (each activated in setup with an operator's proof
 *     of identity, as a service centre gives it), whose cost is the password hash (scrypt), shown
 *     alongside.
 * Targets: validate ≥ 40 % of the baseline's req/s, p99 < 20 ms at 50 connections, and req/s at
 * 1 M tokens within 20 % of that at 10 k.
 *
 *   - POST /v1/validate at 10 connections during a login flood (400 connections of authenticate
 *     with unknown user IDs, each a password hash): target p99 < 100 ms.
 * Run: npx tsx --conditions=kodeviser-src bench/server.ts [--sizes=10k,100k,1M] [--duration=10]
 *      [--connections=50] [--users=64] [--repeat=1] [--only=flood]   (or npm run bench -- server)
 *
 * --repeat=N measures every size N times, in turns (10 k, 100 k, 1 M, 10 k, …), each on a fresh
 * copy of the seeded database, and judges the targets on each size's median run: one run moves
 * by ±30 % here with the neighbours' load, and turns spread that over the sizes alike.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes, scrypt } from 'node:crypto';
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { makeSerial } from '@kodeviser/shared';
import { NO_DRIFT } from '../server/src/domain/policy.js';
import { DEFAULT_SCRYPT_PARAMS } from '../server/src/security/password.js';
import { createSeedVault } from '../server/src/security/seed-vault.js';
import { openSqliteStore } from '../server/src/store/sqlite.js';
import type { NewTokenRecord } from '../server/src/store/types.js';
import { nationalIdOf } from '../test/helpers/identities.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const MASTER_KEY_HEX = '5e'.repeat(32);
const SERVICE_TOKEN = 'bench-service-token-0123456789';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const PASSWORD = 'bench password 1234';
/** Serial bodies: validate tokens from 100 000 000, users' tokens from 900 000 000. */
const VALIDATE_BASE = 100_000_000;
const USER_BASE = 900_000_000;

// ---------------------------------------------------------------------------------------------
// The tokens, as both sides derive them: serial and key from the index alone, so the load
// process can compute codes without being handed a million keys.

function serialOf(base: number, i: number): string {
  return makeSerial(String(base + i));
}
function keyOf(base: number, i: number): Buffer {
  return createHash('sha1')
    .update(`kodeviser-bench:${base + i}`)
    .digest();
}
/** RFC 4226 HOTP-SHA1, 6 digits, with node:crypto: the load side's own implementation. */
function hotp(key: Buffer, counter: number): string {
  const c = Buffer.alloc(8);
  c.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  c.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac('sha1', key).update(c).digest();
  const o = mac[19]! & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function seed(dbPath: string, base: number, count: number): Promise<number> {
  const t0 = performance.now();
  const store = openSqliteStore(dbPath);
  const vault = createSeedVault({ masterKey: Buffer.from(MASTER_KEY_HEX, 'hex') });
  const BATCH = 10_000;
  for (let from = 0; from < count; from += BATCH) {
    const batch: NewTokenRecord[] = [];
    for (let i = from; i < Math.min(count, from + BATCH); i++) {
      const serial = serialOf(base, i);
      batch.push({
        serial,
        profile: 'hotp-sha1',
        digits: 6,
        step: 30,
        t0: 0,
        seed: vault.seal(serial, keyOf(base, i)),
        lastMovingFactor: -1,
        drift: NO_DRIFT,
      });
    }
    await store.insertTokens(batch, { at: Date.now(), ip: null, actor: 'bench' });
  }
  await store.close();
  syncFile(dbPath);
  return (performance.now() - t0) / 1000;
}

/**
 * Flushes a file the bench wrote (the seeded database, a copy of it) to the disk, so that the
 * kernel writing back hundreds of megabytes of the bench's own setup does not compete with the
 * server it then measures.
 */
function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** POST `body` as JSON to the server; the reply, which must have status `expect`. */
async function postJson(url: string, body: unknown, expect: number, authorization?: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization !== undefined ? { authorization } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Activates user-0 … user-(count-1), each with its own token (serials from USER_BASE) and pressed
 * once (code 0), as the service does it: one operator credential (made by the admin), then per
 * user an operator's proof of identity (a national ID of its own, nationalIdOf(u)) that the
 * activation spends.
 */
async function activateUsers(serverUrl: string, count: number): Promise<void> {
  const credential = await postJson(`${serverUrl}/v1/credentials`, { role: 'operator', name: 'bench' }, 201, `Bearer ${ADMIN_TOKEN}`);
  const operator = `Bearer ${credential.token as string}`;
  for (let i = 0; i < count; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, count - i) }, async (_, k) => {
        const u = i + k;
        const userId = `user-${u}`;
        const nationalId = nationalIdOf(u);
        const proof = await postJson(
          `${serverUrl}/v1/proofs`,
          { identity: { nationalId, document: { type: 'passport', country: 'DK', number: `P${nationalId}` } }, userId },
          201,
          operator,
        );
        const res = await fetch(`${serverUrl}/v1/activate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            proofId: proof.proofId,
            serial: serialOf(USER_BASE, u),
            otp: hotp(keyOf(USER_BASE, u), 0),
            password: PASSWORD,
          }),
        });
        if (res.status !== 200) {
          const audit = await fetch(`${serverUrl}/v1/audit?serial=${serialOf(USER_BASE, u)}`, {
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          throw new Error(`activating ${userId}: ${res.status} ${await res.text()}; audit: ${await audit.text()}`);
        }
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Processes.

interface Target {
  url: string;
  child: ChildProcess;
}

function waitForUrl(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = pattern.exec(out);
      if (m?.[1]) resolveUrl(m[1]);
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}) before listening: ${out}${err}`)));
  });
}

/** Every process started, so that a failed run still stops them all (see main's finally). */
const started = new Set<ChildProcess>();

async function startServer(dbPath: string, dataDir: string): Promise<Target> {
  const child = spawn(process.execPath, [join(ROOT, 'server', 'dist', 'main.js'), '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      KODEVISER_DATA_DIR: dataDir,
      DATABASE_URL: `sqlite:${dbPath}`,
      KODEVISER_MASTER_KEY: MASTER_KEY_HEX,
      KODEVISER_ADMIN_TOKEN: ADMIN_TOKEN,
      KODEVISER_SERVICE_TOKEN: SERVICE_TOKEN,
      KODEVISER_RATE_LIMIT_IP: '0',
      KODEVISER_RATE_LIMIT_USER: '0',
      LOG_LEVEL: 'warn',
    },
  });
  started.add(child);
  return { url: await waitForUrl(child, /listening on (http:\/\/\S+)/, 'server'), child };
}

async function startBaseline(): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=kodeviser-src', SELF, '--role=baseline'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  return { url: await waitForUrl(child, /baseline listening on (http:\/\/\S+)/, 'baseline'), child };
}

async function stop(target: Target): Promise<void> {
  started.delete(target.child);
  if (target.child.exitCode !== null || target.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => target.child.once('exit', () => r()));
  target.child.kill('SIGTERM');
  await exited;
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** the verdicts in the response bodies: validate answers 200 for accept and reject alike */
  results: Record<string, number>;
  /** CPU time of the load process itself per request, ms: it shares the machine's cores with the server */
  loadCpuMsPerRequest: number;
}

interface LoadSpec {
  url: string;
  /** flood: authenticate with unknown user IDs, each a full password hash (a login flood) */
  mode: 'validate' | 'authenticate' | 'flood';
  tokens: number;
  connections: number;
  /** seconds of load before the measured run, in the same process (so codes stay fresh) */
  warmup: number;
  duration: number;
}

/**
 * CPU seconds a process has used (Linux /proc; utime + stime in clock ticks of 1/100 s). Used to
 * give CPU time per request next to req/s: on a machine shared with other work, wall-clock
 * throughput moves with the neighbours' load, CPU per request much less.
 */
function cpuSecondsOf(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** autocannon in its own process (this file, --role=load); its result comes back as JSON. */
function load(spec: LoadSpec, server: Target): Promise<LoadResult & { cpuMsPerRequest: number | null }> {
  return new Promise((resolveLoad, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=kodeviser-src', SELF, '--role=load', `--spec=${JSON.stringify(spec)}`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    let cpuAtStart: number | null = spec.warmup > 0 ? null : cpuSecondsOf(server.child.pid);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (cpuAtStart === null && out.includes('measuring\n')) cpuAtStart = cpuSecondsOf(server.child.pid);
    });
    child.on('exit', (code) => {
      const cpuAtEnd = cpuSecondsOf(server.child.pid);
      if (code !== 0) return reject(new Error(`load process exited ${code}: ${out}`));
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult;
      const cpuMsPerRequest = cpuAtStart === null || cpuAtEnd === null ? null : (1000 * (cpuAtEnd - cpuAtStart)) / r.requests;
      resolveLoad({ ...r, cpuMsPerRequest });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The two child roles.

async function runBaseline(): Promise<void> {
  const app = Fastify({ logger: false });
  app.post(
    '/v1/validate',
    {
      schema: {
        body: {
          type: 'object',
          required: ['serial', 'otp'],
          additionalProperties: false,
          properties: {
            serial: { type: 'string', pattern: '^([0-9]{10}|[0-9]{2}-[0-9]{7}-[0-9])$' },
            otp: { type: 'string', pattern: '^[0-9]{6,8}$' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { result: { type: 'string' }, serial: { type: 'string' }, movingFactor: { type: ['integer', 'null'] } },
          },
        },
      },
    },
    async (request) => ({ result: 'accept', serial: (request.body as { serial: string }).serial, movingFactor: 0 }),
  );
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`baseline listening on ${url}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

async function runLoad(spec: LoadSpec): Promise<void> {
  // Per token, the next counter to press (a fresh code every request, as real users send) and its
  // key, all derived before the load starts, in flat arrays. This process shares the machine's
  // cores with the server: keys derived on first use, in maps grown to a million entries, cost it
  // ~6 µs more per request at 1 M tokens than at 10 k (where every key is soon known), CPU taken
  // from the server in the large runs only.
  const presses = new Uint32Array(spec.tokens);
  const keys = Buffer.alloc(spec.tokens * 20);
  const base = spec.mode === 'validate' ? VALIDATE_BASE : USER_BASE;
  for (let i = 0; i < spec.tokens; i++) keyOf(base, i).copy(keys, i * 20);
  const firstCounter = spec.mode === 'authenticate' ? 1 : 0; // users pressed once to activate
  const body = (): string => {
    const i = Math.floor(Math.random() * spec.tokens);
    const counter = firstCounter + presses[i]!++;
    const otp = hotp(keys.subarray(i * 20, i * 20 + 20), counter);
    if (spec.mode === 'flood')
      return JSON.stringify({ userId: `flood-${randomBytes(6).toString('hex')}`, otp: '000000', password: PASSWORD });
    return JSON.stringify(spec.mode === 'validate' ? { serial: serialOf(base, i), otp } : { userId: `user-${i}`, otp, password: PASSWORD });
  };
  let results: Record<string, number> = {};
  const run = (duration: number) =>
    autocannon({
      url: `${spec.url}/v1/${spec.mode === 'flood' ? 'authenticate' : spec.mode}`,
      method: 'POST',
      connections: spec.connections,
      duration,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVICE_TOKEN}` },
      requests: [
        {
          setupRequest: (req) => ({ ...req, body: body() }),
          onResponse: (_status, responseBody) => {
            const verdict = /"(?:result|error)":"([a-z-]+)"/.exec(responseBody)?.[1] ?? 'error';
            results[verdict] = (results[verdict] ?? 0) + 1;
          },
        },
      ],
    });
  if (spec.warmup > 0) await run(spec.warmup);
  results = {};
  process.stdout.write('measuring\n');
  const cpu0 = process.cpuUsage();
  const result = await run(spec.duration);
  const cpu = process.cpuUsage(cpu0);
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (stat as { count: number }).count;
  const out: LoadResult = {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
    results,
    loadCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / Math.max(1, result.requests.total),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------

function parseSize(text: string): number {
  const m = /^([0-9.]+)\s*([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`bench server: --sizes takes counts like 10k,100k,1M; got "${text}"`);
  return Math.round(Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1));
}

function flag(args: readonly string[], name: string, fallback: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function scryptMs(): Promise<number> {
  const { N, r, p } = DEFAULT_SCRYPT_PARAMS;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await new Promise<void>((ok, fail) =>
      scrypt(PASSWORD, randomBytes(16), 32, { N, r, p, maxmem: 256 * N * r }, (e) => (e ? fail(e) : ok())),
    );
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[2]!;
}

export async function main(args: string[] = []): Promise<void> {
  const sizes = flag(args, 'sizes', '10k,100k,1M').split(',').map(parseSize);
  const duration = Number(flag(args, 'duration', '10'));
  const connections = Number(flag(args, 'connections', '50'));
  const users = Number(flag(args, 'users', '64'));
  const repeat = Number(flag(args, 'repeat', '1'));
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`bench server: --repeat takes a positive integer; got "${flag(args, 'repeat', '1')}"`);
  const warmup = Math.min(3, duration);
  const only = flag(args, 'only', '');

  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'server'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`tsc -b server failed: ${built.stdout}${built.stderr}`);
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-bench-server-'));
  console.log(
    `machine: ${availableParallelism()} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (shared machine: figures are noisy)`,
  );
  console.log(`autocannon: ${connections} connections, ${warmup} s warm-up then ${duration} s measured, in its own process\n`);
  type Measured = LoadResult & { cpuMsPerRequest: number | null };
  // `base`: the baseline measured right after this run. On a shared machine the neighbours' load
  // moves from one minute to the next (one run here saw the load average go from 12 to 7), so a
  // ratio to a baseline taken minutes earlier says as much about them as about the server.
  const rows: Array<{ name: string; size?: number; r: Measured; base?: Measured }> = [];
  try {
    // The baseline process stays up (idle while the others run) to be measured again after each validate run.
    const baseline = await startBaseline();
    const measureBaseline = (warm: number) =>
      load({ url: baseline.url, mode: 'validate', tokens: 1000, connections, warmup: warm, duration }, baseline);
    const base = await measureBaseline(warmup);
    rows.push({ name: 'baseline: Fastify hello-POST, same body schema', r: base });

    // A login flood (400 connections of authenticate with unknown user IDs, each a full scrypt, the
    // per-IP limits off as for every run here) while validations go on at 10 connections: what
    // those validations wait.
    {
      const db = join(dir, 'flood.db');
      await seed(db, VALIDATE_BASE, 10_000);
      const server = await startServer(db, dir);
      const floodSpec = { url: server.url, mode: 'flood' as const, tokens: 1, connections: 400, warmup: 0, duration: duration + warmup };
      const flooding = load(floodSpec, server);
      await new Promise((r) => setTimeout(r, 1000 * warmup));
      const during = await load({ url: server.url, mode: 'validate', tokens: 10_000, connections: 10, warmup: 0, duration }, server);
      const flood = await flooding;
      await stop(server);
      rmSync(db, { force: true });
      rows.push({ name: 'POST /v1/validate, 10 connections, during a login flood', r: during });
      rows.push({ name: 'the flood: POST /v1/authenticate, unknown users, 400 connections', r: flood });
      console.log(
        `  during a login flood: validate p50 ${during.p50} ms, p99 ${during.p99} ms, ${fmt(during.rps, 0)} req/s, ${during.requests} answered, ${during.errors} errors (timeouts: none answered in 10 s); the flood: ${fmt(flood.rps, 0)} req/s, ${JSON.stringify(flood.statusCodes)}, ${flood.errors} errors`,
      );
      const met = during.requests > 0 && during.p99 < 100;
      console.log(`  target: validate p99 < 100 ms during the flood — ${met ? 'met' : 'NOT met'}`);
    }
    if (only === 'flood') return;

    // Each size seeded once; every run gets a fresh copy (a run spends the codes it sends).
    const templates = new Map<number, string>();
    for (const size of sizes) {
      const template = join(dir, `template-${size}.db`);
      const seconds = await seed(template, VALIDATE_BASE, size);
      console.log(
        `seeded ${size.toLocaleString('en')} tokens in ${fmt(seconds)} s (${fmt(size / seconds / 1000, 0)} k tokens/s, sealed AES-256-GCM, 10 k per transaction)`,
      );
      templates.set(size, template);
    }
    for (let turn = 1; turn <= repeat; turn++) {
      for (const size of sizes) {
        const db = join(dir, `validate-${size}.db`);
        copyFileSync(templates.get(size)!, db);
        syncFile(db);
        const server = await startServer(db, dir);
        const r = await load({ url: server.url, mode: 'validate', tokens: size, connections, warmup, duration }, server);
        await stop(server);
        const adjacent = await measureBaseline(1);
        rows.push({
          name: `POST /v1/validate, ${size.toLocaleString('en')} tokens${repeat > 1 ? ` (run ${turn})` : ''}`,
          size,
          r,
          base: adjacent,
        });
        console.log(
          `  validate ${size.toLocaleString('en')}${repeat > 1 ? ` (run ${turn}/${repeat})` : ''}: ${fmt(r.rps, 0)} req/s (baseline right after: ${fmt(adjacent.rps, 0)}), p50 ${r.p50} ms, p99 ${r.p99} ms, load average ${loadavg()[0]!.toFixed(2)}`,
        );
        rmSync(db, { force: true });
        rmSync(`${db}-wal`, { force: true });
        rmSync(`${db}-shm`, { force: true });
      }
    }
    for (const template of templates.values()) rmSync(template, { force: true });

    await stop(baseline);

    // authenticate: activated users; the password hash dominates.
    const db = join(dir, 'users.db');
    await seed(db, USER_BASE, users);
    const server = await startServer(db, dir);
    await activateUsers(server.url, users);
    // A hash-bound route: more connections than the hashing threads only queue (and time out).
    const auth = await load(
      { url: server.url, mode: 'authenticate', tokens: users, connections: Math.min(connections, 8), warmup: 0, duration },
      server,
    );
    await stop(server);
    rows.push({ name: `POST /v1/authenticate, ${users} users, ${Math.min(connections, 8)} connections`, r: auth });
    const hashMs = await scryptMs();

    console.log(
      '\n| run | req/s | p50 ms | p99 ms | baseline req/s | vs baseline | server CPU ms/req | CPU vs baseline | load CPU ms/req | cores busy | requests | verdicts |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const { name, r, base: b = base } of rows) {
      const verdicts = Object.entries(r.results)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      const measured = r.cpuMsPerRequest !== null && r.requests > 0;
      const cpu = measured ? fmt(r.cpuMsPerRequest!, 3) : 'n/a';
      const cpuRatio = measured && b.cpuMsPerRequest !== null ? `${fmt((100 * b.cpuMsPerRequest) / r.cpuMsPerRequest!, 0)} %` : 'n/a';
      const busy = measured ? fmt(((r.cpuMsPerRequest! + r.loadCpuMsPerRequest) * r.rps) / 1000, 2) : 'n/a';
      console.log(
        `| ${name} | ${fmt(r.rps, 0)} | ${r.p50} | ${r.p99} | ${fmt(b.rps, 0)} | ${fmt((100 * r.rps) / b.rps, 0)} % | ${cpu} | ${cpuRatio} | ${fmt(r.loadCpuMsPerRequest, 3)} | ${busy} | ${r.requests} | ${verdicts} |`,
      );
    }
    console.log(
      "(baseline req/s: for a validate run, the baseline measured right after it; CPU vs baseline: that baseline's CPU time per request over this run's — the req/s ratio the server would reach if CPU were the only limit; cores busy: the CPU time of the server and the load process together per second measured, of the " +
        availableParallelism() +
        ' here — what is left was idle, waiting on the other process, a thread or the disk)',
    );
    const { N, r, p } = DEFAULT_SCRYPT_PARAMS;
    console.log(
      `\npassword hash: scrypt N=2^${Math.log2(N)}, r=${r}, p=${p} (${(128 * N * r) / 2 ** 20} MiB) = ${fmt(hashMs)} ms per hash here (median of 5), on the libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4} threads`,
    );

    const ratioOf = (v: (typeof rows)[number]) => v.r.rps / (v.base ?? base).rps;
    const median = (xs: number[]): number => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    // Per size, the median of its runs: the ratio to the baseline beside each, p99, CPU per request.
    const bySize = sizes.map((size) => {
      const runs = rows.filter((x) => x.size === size);
      const cpus = runs.map((x) => x.r.cpuMsPerRequest).filter((c): c is number => c !== null);
      return { size, ratio: median(runs.map(ratioOf)), p99: median(runs.map((x) => x.r.p99)), cpu: cpus.length > 0 ? median(cpus) : null };
    });
    const validates = rows.filter((x) => x.size !== undefined);
    const worstRatio = Math.min(...bySize.map((x) => x.ratio));
    const worstP99 = Math.max(...bySize.map((x) => x.p99));
    // Compared as ratios to their own baselines, so the neighbours' load cancels out.
    const first = bySize[0]!;
    const last = bySize.at(-1)!;
    const spread = Math.abs(last.ratio - first.ratio) / first.ratio;
    const of = repeat > 1 ? `, each size's median of ${repeat} runs` : '';
    if (repeat > 1) {
      console.log('\nper size, median of its runs:');
      for (const x of bySize)
        console.log(
          `  ${x.size.toLocaleString('en')} tokens: ${fmt(100 * x.ratio, 0)} % of baseline, p99 ${x.p99} ms, CPU ${x.cpu === null ? 'n/a' : `${fmt(x.cpu, 3)} ms`}/request`,
        );
    }
    console.log('\ntargets:');
    console.log(`  validate ≥ 40 % of baseline req/s: worst ${fmt(100 * worstRatio, 0)} %${of} — ${worstRatio >= 0.4 ? 'met' : 'NOT met'}`);
    console.log(`  p99 < 20 ms at ${connections} connections: worst ${worstP99} ms${of} — ${worstP99 < 20 ? 'met' : 'NOT met'}`);
    console.log(
      `  within 20 % from smallest to largest database (req/s as a share of the baseline beside it${of}): ${fmt(100 * spread, 0)} % — ${spread <= 0.2 ? 'met' : 'NOT met'}`,
    );
    if (first.cpu !== null && last.cpu !== null)
      console.log(
        `    server CPU per request, smallest to largest database: ${fmt(first.cpu, 3)} → ${fmt(last.cpu, 3)} ms (${fmt((100 * (last.cpu - first.cpu)) / first.cpu, 0)} %)`,
      );
    const notAccepted = validates.reduce((n, v) => n + v.r.requests - (v.r.results.accept ?? 0), 0);
    if (notAccepted > 0) console.log(`  note: ${notAccepted} validate requests were not accepted (see the verdicts)`);
  } finally {
    await Promise.all([...started].map((child) => stop({ url: '', child })));
    rmSync(dir, { recursive: true, force: true });
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
if (role === 'baseline') {
  await runBaseline();
} else if (role === 'load') {
  await runLoad(JSON.parse(process.argv.find((a) => a.startsWith('--spec='))!.slice(7)) as LoadSpec);
} else if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  await main(process.argv.slice(2));
}
