/**
 * The validation server as users start it: `node server/dist/main.js` (the entry `npm start`
 * runs; the root script adds only the demo device) in its own process, on a free port (PORT=0,
 * the address read from the line it prints), with a temporary data directory holding its SQLite
 * database, configured through the environment only.
 *
 * Time. The long scenarios need the server to see months pass in seconds, and the product has
 * no test-only clock backdoor. So the process runs under libfaketime (Debian's `faketime`
 * package): LD_PRELOAD of libfaketime.so.1 with FAKETIME_TIMESTAMP_FILE naming a file this
 * helper writes `@YYYY-MM-DD HH:MM:SS` into, re-read on every clock call (FAKETIME_NO_CACHE=1);
 * the fake clock then runs on at real speed from that instant. Only the wall clock is faked
 * (FAKETIME_DONT_FAKE_MONOTONIC=1): Node's timers and libuv's loop run on the monotonic clock
 * and keep real time. When the library is missing, the server runs on the real clock, and the
 * scenarios that need time to move say so and skip.
 *
 * Every secret a suite hands out or receives (admin token, master key, PSKC key, device keys,
 * passwords, codes) is registered here, so the suite can finally assert that none of them appears
 * in anything the server wrote to stdout or stderr during the whole run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, SERVER_MAIN, ensureBuilt } from './build.js';

/**
 * Where Debian puts libfaketime (`dpkg -L libfaketime`), for this machine's architecture; null
 * when it is not installed, or when KODEVISER_E2E_FAKETIME=0 asks to run as if it were not.
 */
export function findLibfaketime(): string | null {
  if (process.env.KODEVISER_E2E_FAKETIME === '0') return null;
  const multiarch = ({ x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' } as Record<string, string>)[process.arch];
  const dirs = [...(multiarch ? [`/usr/lib/${multiarch}/faketime`] : []), '/usr/lib/faketime', '/usr/local/lib/faketime'];
  for (const dir of dirs) {
    const lib = join(dir, 'libfaketime.so.1');
    if (existsSync(lib)) return lib;
  }
  return null;
}

export interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the wire, checked by the tests
  body: any;
}

export interface E2eServer {
  readonly url: string;
  /** true when the server runs under libfaketime and `setTime` moves its clock */
  readonly faketime: boolean;
  readonly adminToken: string;
  readonly pskcKeyHex: string;
  /** Where its database and keys are (KODEVISER_DATA_DIR), and its master key: for StartOptions.dataOf. */
  readonly dataDir: string;
  readonly masterKey: string;
  /** The server's wall clock, unix ms, as last set (faketime) or the real clock. */
  now(): number;
  /** Moves the server's wall clock to `ms` (whole seconds) — only under faketime; never backwards. */
  setTime(ms: number): void;
  /** Records a value that must never appear in the server's output. */
  secret(value: string): string;
  post(path: string, body: unknown, opts?: { admin?: boolean; headers?: Record<string, string> }): Promise<Reply>;
  get(path: string, opts?: { admin?: boolean; headers?: Record<string, string> }): Promise<Reply>;
  /** Imports a PSKC seed file (as `kodeviser manufacture --pskc` wrote it) over the admin API. */
  importPskc(xml: string): Promise<Reply>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** CPU seconds the server process has used so far (user + system, from /proc; null elsewhere). */
  cpuSeconds(): number | null;
  /** The registered secrets found in the output (or in `text`), each with the line it is on. */
  leakedSecrets(text?: string): Array<{ secret: string; line: string }>;
  /** Stops the process; its directory goes too unless `keepData` (another server takes it over: StartOptions.dataOf). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartOptions {
  /** Run under libfaketime starting at this unix ms (whole seconds); default: the real clock. */
  fakeStartMs?: number;
  /** default trace */
  logLevel?: string;
  /** A stopped server (stop({ keepData: true })) whose data directory and keys this one takes over. */
  dataOf?: E2eServer;
}

function fakeStamp(ms: number): string {
  if (ms % 1000 !== 0) throw new Error(`fake times are whole seconds, got ${ms}`);
  // libfaketime reads the absolute time in the process's local zone: the server runs with TZ=UTC.
  return `@${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}\n`;
}

/**
 * Starts the compiled server process; resolves once it prints where it listens.
 * `teardown` is the tap test's, so the process and its directory go when the suite ends.
 */
export async function startServer(t: { teardown(fn: () => unknown): void }, opts: StartOptions = {}): Promise<E2eServer> {
  ensureBuilt();
  const dir = opts.dataOf ? dirname(opts.dataOf.dataDir) : mkdtempSync(join(tmpdir(), 'kodeviser-e2e-'));
  const dataDir = join(dir, 'data');
  const secrets = new Set<string>();
  const secret = (v: string) => {
    secrets.add(v);
    return v;
  };
  const adminToken = secret(opts.dataOf?.adminToken ?? randomBytes(24).toString('base64url'));
  const masterKey = secret(opts.dataOf?.masterKey ?? randomBytes(32).toString('hex'));
  const pskcKeyHex = secret(opts.dataOf?.pskcKeyHex ?? randomBytes(16).toString('hex'));

  const lib = opts.fakeStartMs !== undefined ? findLibfaketime() : null;
  const clockFile = join(dir, 'faketime');
  let fakeNow = opts.fakeStartMs ?? 0;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TZ: 'UTC',
    PORT: '0',
    HOST: '127.0.0.1',
    KODEVISER_DATA_DIR: dataDir,
    KODEVISER_ADMIN_TOKEN: adminToken,
    KODEVISER_MASTER_KEY: masterKey,
    // the most the server ever logs: a secret must not reach even a trace line
    LOG_LEVEL: opts.logLevel ?? 'trace',
  };
  if (lib) {
    writeFileSync(clockFile, fakeStamp(fakeNow));
    Object.assign(env, {
      LD_PRELOAD: lib,
      FAKETIME_TIMESTAMP_FILE: clockFile,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
  }
  const child: ChildProcess = spawn(process.execPath, [SERVER_MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // Should this test process end without its teardown (a crash, tap's timeout), take the server along.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  let stopped = false;
  const stop = async (o: { keepData?: boolean } = {}) => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    process.off('exit', orphanGuard);
    if (o.keepData !== true) rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(() => stop());

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s:\n${output}`)), 30_000);
    const look = () => {
      const m = /kodeviser server listening on (http:\/\/[0-9.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${output}`));
    });
  });

  const request = async (
    method: string,
    path: string,
    body: unknown,
    o: { admin?: boolean; headers?: Record<string, string> } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.admin) headers.authorization = `Bearer ${adminToken}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the tests look at the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };

  const server: E2eServer = {
    url,
    faketime: lib !== null,
    adminToken,
    pskcKeyHex,
    dataDir,
    masterKey,
    now: () => (lib ? fakeNow : Date.now()),
    setTime(ms) {
      if (!lib) throw new Error('setTime needs libfaketime');
      if (ms < fakeNow)
        throw new Error(`the server's clock only moves forward: ${new Date(ms).toISOString()} < ${new Date(fakeNow).toISOString()}`);
      fakeNow = ms;
      writeFileSync(clockFile, fakeStamp(ms));
    },
    secret,
    post: (path, body, o) => request('POST', path, body, o),
    get: (path, o) => request('GET', path, undefined, o),
    importPskc: (xml) =>
      request('POST', '/v1/tokens', xml, {
        admin: true,
        headers: { 'content-type': 'application/pskc+xml', 'x-pskc-key': pskcKeyHex },
      }),
    output: () => output,
    cpuSeconds() {
      try {
        // fields 14 and 15 of /proc/PID/stat: utime and stime in clock ticks (100 a second on Linux)
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
          .replace(/^.*\) /, '')
          .split(' ');
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        return null;
      }
    },
    leakedSecrets(text = output) {
      const found: Array<{ secret: string; line: string }> = [];
      const lines = text.split('\n');
      for (const s of secrets) {
        // A 6-8 digit code could occur by chance inside a longer number (a timestamp, a serial):
        // only a run of exactly those digits counts (not after a decimal point either). Keys and tokens are long enough to match as is.
        const re = /^[0-9]+$/.test(s) ? new RegExp(`(?<![0-9.])${s}(?![0-9])`) : null;
        const variants = re ? [] : [s, s.toUpperCase(), ...(/^[0-9a-f]+$/.test(s) ? [Buffer.from(s, 'hex').toString('base64')] : [])];
        for (const line of lines) {
          if (re ? re.test(line) : variants.some((v) => line.includes(v))) found.push({ secret: s, line });
        }
      }
      return found;
    },
    stop,
  };
  if (lib) {
    // The Date header is the server's wall clock: proof that the preload took.
    const res = await fetch(`${url}/healthz`);
    const seen = Date.parse(res.headers.get('date') ?? '');
    if (Math.abs(seen - fakeNow) > 60_000) {
      throw new Error(
        `libfaketime did not take: the server's Date header says ${res.headers.get('date')}, expected about ${new Date(fakeNow).toUTCString()}`,
      );
    }
  }
  return server;
}

/** A scratch directory for device and seed files, removed when the suite ends. */
export function scratchDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-e2e-devices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Nothing the server printed during the whole run holds a secret; and, for the record, the CPU used. */
export function assertNoSecrets(t: Test, server: E2eServer): void {
  t.ok(server.output().includes('kodeviser server listening on'), 'the output was captured');
  t.same(server.leakedSecrets(), [], "no admin token, key, password or code in the server's stdout/stderr");
  // The check itself finds what it looks for: a planted token, a key in base64, a code in JSON.
  const code = server.secret('402917');
  const planted = `{"auth":"Bearer ${server.adminToken}"}\n{"k":"${Buffer.from(server.pskcKeyHex, 'hex').toString('base64')}"}\n{"otp":"${code}"}\n{"time":1804020291700,"responseTime":0.402917}`;
  t.same(
    server.leakedSecrets(planted).map((l) => l.line),
    planted.split('\n').slice(0, 3),
    'the check finds planted secrets, and not a code inside a longer number',
  );
  const self = process.cpuUsage();
  t.comment(`CPU: server ${server.cpuSeconds() ?? '?'} s, this test process ${((self.user + self.system) / 1e6).toFixed(2)} s`);
}

/** The suite's last subtest: assertNoSecrets over the whole run. */
export function checkOutputForSecrets(t: Test, server: E2eServer): void {
  t.test("no secret in the server's output (admin token, keys, passwords, codes)", async (t) => assertNoSecrets(t, server));
}
