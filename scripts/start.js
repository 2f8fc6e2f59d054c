#!/usr/bin/env node
/**
 * `npm start`: the validation server on the embedded SQLite store, with a demo token ready.
 *
 * Runs the COMPILED server (server/dist, emitted by `tsc -b`, which `npm ci` runs as `prepare`),
 * in this process, through its exported start(). On the first start in a data directory it also
 * gets a demo device ready: the emulator's `kodeviser manufacture` (run as its own process, so the
 * server never imports the emulator) makes a hotp-sha1 device and its PSKC seed file encrypted
 * under a one-off pre-shared key; the seed file is imported over the admin API (inject, no
 * network round trip) and deleted; the device image is kept as <data dir>/demo-device.json.
 * Then it prints the commands that press the device, activate it and log in, ready to paste.
 * HOTP is used for the demo because every press gives a fresh code: activation and login a few
 * seconds apart would otherwise show the same TOTP code, which the server rightly refuses as a
 * replay.
 *
 * Ctrl-C (SIGINT) or SIGTERM closes the server and its store, then the process exits.
 * Flags and environment are the server's (see `npm start -- --help`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverMain = join(root, 'server', 'dist', 'main.js');
const kodeviserBin = join(root, 'emulator', 'bin', 'kodeviser.js');
const emulatorCli = join(root, 'emulator', 'dist', 'cli', 'main.js');

export const DEMO_DEVICE_FILE = 'demo-device.json';
export const DEMO_USER = 'demo';
export const DEMO_PASSWORD = 'demo-password-1';
export const DEMO_PROFILE = 'hotp-sha1';

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

/** A path as the user would type it from the current directory. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith(`..${sep}`) || rel === '..' ? path : rel;
}

/** Manufactures the demo device and imports its seed; returns its serial. */
async function prepareDemoDevice(started, dataDir) {
  if (!existsSync(emulatorCli)) {
    throw new Error(`the emulator is not built (${shown(emulatorCli)} is missing): run npm run build`);
  }
  const pending = join(dataDir, `${DEMO_DEVICE_FILE}.pending`);
  const pskcFile = join(dataDir, 'demo-device.pskc.xml');
  const pskcKey = randomBytes(16).toString('hex');
  rmSync(pending, { force: true });
  const made = spawnSync(
    process.execPath,
    [kodeviserBin, 'manufacture', '--profile', DEMO_PROFILE, '--out', pending, '--pskc', pskcFile, '--pskc-key', pskcKey],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`kodeviser manufacture failed: ${(made.stderr || made.stdout).trim()}`);
  try {
    const res = await started.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: {
        authorization: `Bearer ${started.loaded.config.adminToken}`,
        'content-type': 'application/pskc+xml',
        'x-pskc-key': pskcKey,
      },
      payload: readFileSync(pskcFile, 'utf8'),
    });
    if (res.statusCode !== 201) throw new Error(`importing the demo device failed: ${res.statusCode} ${res.body}`);
  } finally {
    // The seed now lives encrypted in the database; the device image keeps its own copy.
    rmSync(pskcFile, { force: true });
  }
  renameSync(pending, join(dataDir, DEMO_DEVICE_FILE));
}

function instructions(url, serial, deviceFile) {
  const device = shown(deviceFile);
  const press = `npx kodeviser press ${device}`;
  const code = `$(npx kodeviser press ${device} --json | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).code')`;
  const post = (path, body) => `curl -s -X POST ${url}${path} -H 'content-type: application/json' -d '${body}'`;
  const activate = (otp) => `{"userId":"${DEMO_USER}","serial":"${serial}","otp":"${otp}","password":"${DEMO_PASSWORD}"}`;
  const login = (otp) => `{"userId":"${DEMO_USER}","otp":"${otp}","password":"${DEMO_PASSWORD}"}`;
  return `
Demo token ${serial.slice(0, 2)}-${serial.slice(2, 9)}-${serial.slice(9)} (${DEMO_PROFILE}) is ready in ${device}.

  1. Press its button (each press shows a new code):
       ${press}
  2. Activate it for user "${DEMO_USER}", once (put the code from step 1 in place of CODE):
       ${post('/v1/activate', activate('CODE'))}
  3. Log in with the next code:
       ${post('/v1/authenticate', login('CODE'))}

  Or press and send in one go (another terminal, from ${process.cwd()}):
       OTP=${code}; ${post('/v1/activate', activate('\'"$OTP"\''))}
       OTP=${code}; ${post('/v1/authenticate', login('\'"$OTP"\''))}

  Both answer {"result":"accept"}; a wrong or reused code gets 401 {"result":"reject"}, and after
  three wrong codes the token is blocked for a while (429 with Retry-After).
  API docs: ${url}/docs    Stop the server: Ctrl-C
`;
}

async function run() {
  if (!existsSync(serverMain)) fail(`the server is not built (${shown(serverMain)} is missing): run npm run build`);
  const { start, StartError } = await import(pathToFileURL(serverMain).href);
  let started;
  try {
    started = await start({ argv: process.argv.slice(2) });
  } catch (e) {
    fail(e instanceof StartError ? e.message : (e.stack ?? String(e)));
  }
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    started.app.log.info({ signal }, 'stopping');
    await started.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const dataDir = started.loaded.config.dataDir;
  const deviceFile = join(dataDir, DEMO_DEVICE_FILE);
  try {
    if (!existsSync(deviceFile)) await prepareDemoDevice(started, dataDir);
    const { serial } = JSON.parse(readFileSync(deviceFile, 'utf8'));
    process.stdout.write(instructions(started.url, serial, deviceFile));
  } catch (e) {
    // The server itself is fine; only the demo is missing.
    process.stderr.write(`npm start: no demo device: ${e.message}\n`);
  }
}

await run();
