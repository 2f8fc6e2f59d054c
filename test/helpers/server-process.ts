/**
 * The compiled server (`node server/dist/main.js`, the entry behind `npm start`) as a child
 * process that a test can kill with SIGKILL and start again on the same data: the crash suite,
 * the HTTP fuzz run and bench/load.ts start it through here. It listens on a free port (PORT=0;
 * the address is read from the line it prints), is configured through the environment only
 * (admin token and master key given, so a restart reads the same database with the same keys),
 * and its RSS is read from /proc/<pid>/status (VmRSS), the figure the load benchmark reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SERVER_MAIN, ensureBuilt } from '../e2e/helpers/build.js';

export interface ServerSettings {
  /** holds the SQLite database (unless databaseUrl names another), the master key and admin token files */
  dataDir: string;
  /** DATABASE_URL; default: SQLite in dataDir */
  databaseUrl?: string;
  adminToken: string;
  masterKeyHex: string;
  logLevel?: string;
  /** further environment, e.g. KODEVISER_RATE_LIMIT_IP */
  env?: Record<string, string>;
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** resolves when the process has ended, with how */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** everything it wrote to stdout and stderr */
  output(): string;
  /** resident set size now, KiB (VmRSS) */
  rssKiB(): number;
  /** SIGKILL: no close, no flush, no exit handler runs */
  kill9(): Promise<void>;
  /** SIGTERM: the server closes in-flight requests, the service and the store */
  stop(): Promise<void>;
}

/** Fresh settings: a temp data dir (removed by `cleanup`) and random secrets. */
export function freshSettings(extra: Partial<ServerSettings> = {}): ServerSettings & { cleanup(): void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'kodeviser-proc-'));
  return {
    dataDir,
    adminToken: randomBytes(24).toString('base64url'),
    masterKeyHex: randomBytes(32).toString('hex'),
    ...extra,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

export function readRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Starts the server; resolves once it prints where it listens (rejects if it exits or takes over 60 s). */
export async function startServerProcess(s: ServerSettings): Promise<ServerProcess> {
  ensureBuilt();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PORT: '0',
    HOST: '127.0.0.1',
    KODEVISER_DATA_DIR: s.dataDir,
    KODEVISER_ADMIN_TOKEN: s.adminToken,
    KODEVISER_MASTER_KEY: s.masterKeyHex,
    LOG_LEVEL: s.logLevel ?? 'warn',
    ...(s.databaseUrl !== undefined ? { DATABASE_URL: s.databaseUrl } : {}),
    ...s.env,
  };
  const child = spawn(process.execPath, [SERVER_MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /kodeviser server listening on (http:\/\/[0-9.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  const pid = child.pid as number;
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    pid,
    child,
    exited,
    output: () => output,
    rssKiB: () => readRssKiB(pid),
    kill9: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}
