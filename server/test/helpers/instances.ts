/**
 * Real server processes for the multi-instance and crash tests: the compiled entry
 * (`node server/dist/main.js`, what `npm start` runs; built once per test file with `tsc -b
 * server`), each on a free port, all sharing the master key and admin token they are given in
 * the environment. Requests go through node:http with a keep-alive agent; `from` picks the
 * loopback source address (127.0.0.x), so a test can be "another client" to the per-IP limit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;
export const MASTER_KEY_HEX = randomBytes(32).toString('hex');
export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * `tsc -b server`: the compiled entry is what the processes run. Under flock(1) on the lock the
 * end-to-end suite's build uses too, since tap runs test files in parallel and two tsc writing
 * one dist would race. Returns tsc's output when it fails.
 */
export function buildServer(): string | null {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync('flock', [join(tmpdir(), 'kodeviser-e2e-build.lock'), process.execPath, tsc, '-b', 'server'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return r.status === 0 ? null : `${r.stdout}${r.stderr}`;
}

export interface Instance {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<number | string>;
}

/** Starts `node server/dist/main.js` with `env` (plus PATH, a free port, the shared secrets) and waits until it listens. */
export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [join(ROOT, 'server', 'dist', 'main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...(process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {}),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KODEVISER_MASTER_KEY: MASTER_KEY_HEX,
      KODEVISER_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before it listened:\n${out}${err}`)));
  });
  return {
    url,
    child,
    stderr: () => err,
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One HTTP request with a JSON body (or none); resolves with the parsed JSON reply. */
export function request(
  method: string,
  url: string,
  opts: { body?: unknown; headers?: Record<string, string>; from?: string } = {},
): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolveReply, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent: opts.from ? undefined : agent,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolveReply({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
