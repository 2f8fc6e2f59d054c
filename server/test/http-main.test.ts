/**
 * The server as a process: start() listens on a real socket, prints the generated admin token
 * once (first start only), refuses what it cannot run with one clear line (a database that does
 * not answer, a bad setting, a busy port), and closes cleanly; run as a script it exits 1 on a bad setting
 * and 0 on SIGINT. Then the root `npm start` end to end, on a fresh data directory: the demo
 * device's printed commands really press it, activate it and log in with it.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { start, StartError } from '../src/main.js';
import { tempDir } from './helpers/db.js';
import { memoryLogger } from './helpers/log.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = pino({ level: 'silent' });

// npm start runs the compiled server and CLI, as after npm ci (which builds them); make sure they
// are current.
t.before(() => {
  const built = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'server', 'emulator'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`tsc -b server emulator: ${built.stdout}${built.stderr}`);
});

t.test('start(): listens, prints the admin token only when it generates it, stops', async (t) => {
  const dir = tempDir(t);
  const printed: string[] = [];
  const print = (s: string) => printed.push(s);
  const first = await start({ argv: ['--port', '0', '--data-dir', dir], env: {}, logger: silent, print });
  t.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${first.url}/healthz`);
  t.same(await health.json(), { status: 'ok' }, 'answers over a real socket');
  const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  t.equal(printed.filter((p) => p.includes(token)).length, 1, 'the generated admin token is printed once');
  t.match(printed.join('\n'), /Generated the master key in .*master\.key \(mode 0600\)/);
  t.match(printed.at(-1), /^kodeviser server listening on http:\/\/127\.0\.0\.1:\d+ \(API docs: .*\/docs\)$/);
  const unauthorised = await fetch(`${first.url}/v1/audit`);
  t.equal(unauthorised.status, 401);
  const authorised = await fetch(`${first.url}/v1/audit`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(authorised.status, 200, 'the printed token is the admin token');
  await first.stop();
  await t.rejects(fetch(`${first.url}/healthz`), 'no longer listening');

  printed.length = 0;
  const second = await start({ argv: ['--port', '0', '--data-dir', dir], env: {}, logger: silent, print });
  t.equal(printed.length, 1, 'a restart prints only where it listens');
  t.notMatch(printed.join(''), token);
  await second.stop();
});

t.test('quiet mode (KODEVISER_QUIET=1 or --quiet): the generated admin token stays in its 0600 file, the log says where', async (t) => {
  for (const [name, argv, env] of [
    ['KODEVISER_QUIET=1', [], { KODEVISER_QUIET: '1' }],
    ['--quiet', ['--quiet'], {}],
  ] as const) {
    const dir = tempDir(t);
    const printed: string[] = [];
    const { logger, lines } = memoryLogger();
    const started = await start({ argv: ['--port', '0', '--data-dir', dir, ...argv], env, logger, print: (s) => printed.push(s) });
    const tokenFile = join(dir, 'admin-token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    const authorised = await fetch(`${started.url}/v1/audit`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(authorised.status, 200, `${name}: the token in the file is the admin token`);
    await started.stop();
    t.same(printed, [], `${name}: nothing printed`);
    const log = lines.join('');
    t.notOk(log.includes(token), `${name}: the log does not hold the admin token`);
    const notices = lines.map((l) => JSON.parse(l) as { msg: string; file?: string }).filter((l) => l.file !== undefined);
    t.match(
      notices,
      [
        { file: join(dir, 'master.key'), msg: /^generated the master key \(mode 0600\): back it up/ },
        { file: tokenFile, msg: /^generated the admin token, kept in its file \(mode 0600\) and not shown/ },
      ],
      `${name}: the log says where the master key and the admin token are`,
    );
    t.equal(statSync(tokenFile).mode & 0o777, 0o600, `${name}: the token file is 0600`);

    // A restart in quiet mode generates nothing, so says nothing of it.
    lines.length = 0;
    const again = await start({ argv: ['--port', '0', '--data-dir', dir, ...argv], env, logger, print: (s) => printed.push(s) });
    await again.stop();
    t.same(printed, [], `${name}: a restart prints nothing either`);
    t.notMatch(lines.join(''), /generated/, `${name}: nor logs anything generated`);
  }
});

t.test('the package entry exports the app, the configuration and the process', async (t) => {
  const pkg = await import('@kodeviser/server');
  for (const name of [
    'build',
    'loadConfig',
    'start',
    'main',
    'openStore',
    'createLogger',
    'StartError',
    'ServiceError',
    'DuplicateSerialError',
    'isServiceError',
  ]) {
    t.type((pkg as Record<string, unknown>)[name], 'function', name);
  }
  t.equal(pkg.JSON_BODY_LIMIT, 16 * 1024);
  t.match(pkg.USAGE, /^Usage: kodeviser-server/);
});

t.test('start(): refusals are StartErrors with one clear line', async (t) => {
  const dir = tempDir(t);
  await t.rejects(
    start({ env: { PORT: 'x', KODEVISER_DATA_DIR: dir }, logger: silent }),
    new StartError('PORT must be an integer from 0 to 65535, got "x"'),
  );
  await t.rejects(
    start({ env: { DATABASE_URL: 'postgres://kodeviser:secret@127.0.0.1:1/kodeviser', KODEVISER_DATA_DIR: dir }, logger: silent }),
    { name: 'StartError', message: /^cannot open the database at DATABASE_URL: .*ECONNREFUSED/ },
    'PostgreSQL not answering: one line, without the URL (it may hold a password)',
  );
  const notAFile = join(dir, 'admin-token-dir');
  mkdirSync(join(notAFile), { recursive: true });
  await t.rejects(
    start({ env: { KODEVISER_DATA_DIR: notAFile.replace(/admin-token-dir$/, ''), KODEVISER_MASTER_KEY_FILE: notAFile }, logger: silent }),
    { name: 'StartError', message: /EISDIR/ },
    'an unreadable secret file',
  );
  await t.rejects(
    start({ env: { DATABASE_URL: `sqlite:${join(dir, 'no', 'such', 'dir', 'k.db')}`, KODEVISER_DATA_DIR: dir }, logger: silent }),
    { name: 'StartError', message: /^cannot open the database at .*k\.db: / },
  );
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  await t.rejects(start({ argv: ['--port', String(port)], env: { KODEVISER_DATA_DIR: dir }, logger: silent }), {
    name: 'StartError',
    message: new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
  });
});

/** A child's environment is built from scratch, but keeps c8's coverage directory so it is counted. */
const coverage: Record<string, string> = process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {};

/** The server's main.ts as a process, from source (tsx) so that c8 counts what it runs. */
function run(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--conditions=kodeviser-src', ...args], {
    cwd: root,
    env: { ...coverage, PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
  waitFor: (re: RegExp) => Promise<RegExpMatchArray>;
} {
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exit,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const m = out.match(re);
        if (m) return resolve(m);
        waiters.push({ re, resolve });
        void exit.then(() => reject(new Error(`exited before ${re}: ${out}\n${err}`)));
      }),
  };
}

t.test('as a process: --help, a bad setting exits 1 with one line; SIGINT stops cleanly with 0', async (t) => {
  const dir = tempDir(t);
  const help = collect(run(['server/src/main.ts', '--help'], {}));
  t.equal(await help.exit, 0);
  t.match(help.out(), /^Usage: kodeviser-server .*KODEVISER_MASTER_KEY/s);
  t.match(help.out(), /\[--quiet\].*KODEVISER_TRUST_PROXY .*A hop\s+count is refused.*KODEVISER_QUIET /s, 'quiet mode and trusted proxies');

  const bad = collect(run(['server/src/main.ts'], { PORT: '99999', KODEVISER_DATA_DIR: dir }));
  t.equal(await bad.exit, 1);
  t.equal(bad.err(), 'kodeviser-server: PORT must be an integer from 0 to 65535, got "99999"\n', 'one line, no stack trace');

  const good = collect(run(['server/src/main.ts', '--port', '0'], { KODEVISER_DATA_DIR: dir, LOG_LEVEL: 'warn' }));
  const [, url] = (await good.waitFor(/listening on (http:\/\/[^ ]+)/)) as [string, string];
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  good.child.kill('SIGINT');
  t.equal(await good.exit, 0, 'exit code 0 after SIGINT');
  t.equal(good.err(), '', 'nothing on stderr');

  // In a container, stdout is the log: quiet, the first start's stdout holds where the admin
  // token is, never the token.
  const quietDir = join(dir, 'quiet');
  const quiet = collect(run(['server/src/main.ts', '--port', '0'], { KODEVISER_DATA_DIR: quietDir, KODEVISER_QUIET: '1' }));
  const [, quietUrl] = (await quiet.waitFor(/Server listening at (http:\/\/[0-9.:]+)/)) as [string, string];
  t.equal((await fetch(`${quietUrl}/readyz`)).status, 200);
  quiet.child.kill('SIGINT');
  t.equal(await quiet.exit, 0);
  const quietToken = readFileSync(join(quietDir, 'admin-token'), 'utf8').trim();
  t.notOk(quiet.out().includes(quietToken), 'quiet: the admin token is not on stdout');
  t.match(quiet.out(), `"file":"${join(quietDir, 'admin-token')}"`, 'quiet: the log says where it is');
  t.notMatch(quiet.out(), /Generated the admin token/, 'quiet: no first-start notice');
  t.equal(quiet.err(), '', 'quiet: nothing on stderr');
});

t.test('npm start --quiet (containers): the demo is made, no token reaches stdout', async (t) => {
  const dir = tempDir(t);
  const env = { ...coverage, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, KODEVISER_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  const run = collect(
    spawn(process.execPath, ['scripts/start.js', '--port', '0', '--quiet'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await run.waitFor(/demo ready \(quiet mode/);
  const operatorToken = readFileSync(join(dir, 'demo-operator-token'), 'utf8').trim();
  const adminToken = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  t.notMatch(run.out(), operatorToken, "the operator's token is only in its file");
  t.notMatch(run.out(), adminToken, "nor the admin's");
  t.match(run.out(), `"file":"${join(dir, 'demo-operator-token')}"`, 'the log says where it is');
  t.notMatch(run.out(), /Stop the server: Ctrl-C/, 'no instructions');
  run.child.kill('SIGINT');
  t.equal(await run.exit, 0);
  t.equal(run.err(), '', 'nothing on stderr');
});

t.test('npm start on a fresh data dir: the demo device is ready and the printed commands work', async (t) => {
  const dir = tempDir(t);
  const env = { ...coverage, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, KODEVISER_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  const startOnce = () =>
    collect(spawn(process.execPath, ['scripts/start.js', '--port', '0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }));

  // The first start runs under umask 000 (a child inherits it), and finds a world-readable
  // leftover of an interrupted write of the operator's token: neither may loosen a secret file.
  writeFileSync(join(dir, 'demo-operator-token.pending'), 'stale\n', { mode: 0o644 });
  const umask = process.umask(0);
  let first: ReturnType<typeof startOnce>;
  try {
    first = startOnce();
  } finally {
    process.umask(umask);
  }
  await first.waitFor(/Stop the server: Ctrl-C/);
  const out = first.out();
  const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  t.match(out, `Generated the admin token`, 'first start: the admin token is announced');
  t.match(out, token, 'and printed');
  const serial = /Demo token (\d{2}-\d{7}-\d) \(totp-sha1\) is ready/.exec(out)?.[1];
  t.ok(serial, 'the demo token is announced with its printed serial');
  for (const file of ['demo-device.json', 'demo-device-2.json']) {
    t.equal(statSync(join(dir, file)).isFile(), true, `${file}: a device image in the data dir`);
  }
  for (const file of ['demo-operator-token', 'admin-token', 'master.key', 'kodeviser.db', 'demo-device.json', 'demo-device-2.json']) {
    t.equal(statSync(join(dir, file)).mode & 0o777, 0o600, `${file}: readable by its owner only, under umask 000`);
  }
  const operatorToken = readFileSync(join(dir, 'demo-operator-token'), 'utf8').trim();
  t.match(operatorToken, /^kvc_/);
  t.match(out, operatorToken, 'printed once');
  t.notOk(existsSync(join(dir, 'demo-device.pskc.xml')), 'the PSKC seed files are gone once imported');
  t.match(out, `npx kodeviser press ${join(dir, 'demo-device.json')}`, 'the press command');
  t.match(out, /NEXT code/, 'says where a step needs the next code');

  // Run the printed one-liners exactly as a person would paste them: in one shell (the proof
  // passes from one line to the next), each waiting for the next code where it must.
  const lines = out.split('\n');
  const from = lines.findIndex((l) => l.includes('Or in one go'));
  const to = lines.findIndex((l, i) => i > from && l.trim() === '');
  const oneGo = lines
    .slice(from + 1, to)
    .map((l) => l.trim())
    .filter((l) => /^(until |[A-Z_]+=)/.test(l));
  t.equal(oneGo.length, 4, 'log in as demo; prove, activate and log in with the second device');
  const r = spawnSync('bash', ['-c', oneGo.join('\n')], { cwd: root, env, encoding: 'utf8', timeout: 150_000 });
  t.match(
    r.stdout.trim(),
    /^\{"result":"accept","receipt":"[\w-]+\.[\w-]+\.[\w-]+"\}\{"result":"accept","userId":"demo-2"\}\{"result":"accept","receipt":"[\w-]+\.[\w-]+\.[\w-]+"\}$/,
    `demo logs in; demo-2 is activated with a proof and logs in (each login with its receipt): ${r.stderr}`,
  );
  first.child.kill('SIGINT');
  t.equal(await first.exit, 0, 'Ctrl-C stops it cleanly');

  const second = startOnce();
  await second.waitFor(/Stop the server: Ctrl-C/);
  t.notMatch(second.out(), /Generated/, 'a restart generates nothing');
  t.notMatch(second.out(), token, 'and does not print the admin token again');
  t.match(second.out(), `Demo token ${serial!} (totp-sha1) is ready`, 'the same demo token');
  t.notMatch(second.out(), operatorToken, "nor the operator's");
  second.child.kill('SIGTERM');
  t.equal(await second.exit, 0);
  t.equal(first.err() + second.err(), '', 'nothing on stderr');
});
