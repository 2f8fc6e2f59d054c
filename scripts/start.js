#!/usr/bin/env node
/**
 * `npm start`: the validation server on the embedded SQLite store, with a demo token ready.
 *
 * Runs the COMPILED server (server/dist, emitted by `tsc -b`, which `npm ci` runs as `prepare`),
 * in this process, through its exported start(). Then it gets the demo ready, talking to the
 * server over its own API (inject, no network round trip), as the service would:
 *  - an operator credential (a service centre's bearer, made with the admin token), its token
 *    kept in <data dir>/demo-operator-token (0600) and printed once, when it is made;
 *  - two time-based devices, made by the emulator's `kodeviser manufacture` (run as its own
 *    process, so the server never imports the emulator) with their PSKC seed files encrypted
 *    under a one-off pre-shared key, imported over the admin API and deleted; the device images
 *    are kept as <data dir>/demo-device.json and demo-device-2.json;
 *  - the demo user "demo", a test identity: the operator proves it (POST /v1/proofs) and the
 *    demo device is pressed and activated with that proof and the demo password, unless it is
 *    demo's active token already.
 * Each step is done only when its result is missing, so a restart on the same data directory
 * keeps what it finds (a data directory of an older `npm start`, whose demo device was hotp and
 * activated without a proof, included). Then it prints the commands that log in as demo, and
 * that take the second device through proof → activation → login, ready to paste; where a step
 * needs the token's NEXT code (a time-based token shows a new code every 30 s, and the server
 * never accepts a code twice), it says so, and the one-liners wait for it.
 *
 * Ctrl-C (SIGINT) or SIGTERM closes the server and its store, then the process exits.
 * Flags and environment are the server's (see `npm start -- --help`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverMain = join(root, 'server', 'dist', 'main.js');
const kodeviserBin = join(root, 'emulator', 'bin', 'kodeviser.js');
const emulatorCli = join(root, 'emulator', 'dist', 'cli', 'main.js');
const labDir = join(root, 'emulator', 'dist', 'lab');

export const DEMO_DEVICE_FILE = 'demo-device.json';
export const SECOND_DEVICE_FILE = 'demo-device-2.json';
export const OPERATOR_TOKEN_FILE = 'demo-operator-token';
export const DEMO_PROFILE = 'totp-sha1';
export const DEMO_USER = 'demo';
export const DEMO_PASSWORD = 'demo-password-1';
/** Test identities (ten digits, the first six a date, DDMMYY): nobody's. */
export const DEMO_IDENTITY = { nationalId: '0101010001', document: { type: 'passport', country: 'DK', number: 'P00000001' } };
export const SECOND_USER = 'demo-2';
export const SECOND_PASSWORD = 'demo-2-password';
export const SECOND_IDENTITY = { nationalId: '0101010002', document: { type: 'passport', country: 'DK', number: 'P00000002' } };

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

/** A path as the user would type it from the current directory. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith(`..${sep}`) || rel === '..' ? path : rel;
}

const printedSerial = (serial) => `${serial.slice(0, 2)}-${serial.slice(2, 9)}-${serial.slice(9)}`;

/** One request to the server, in process: {status, body} (the body parsed when it is JSON). */
async function call(started, method, url, payload, authorization) {
  const res = await started.app.inject({ method, url, payload, headers: authorization ? { authorization } : {} });
  let body = res.body;
  try {
    body = JSON.parse(res.body);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, body };
}

const what = (res) => `${res.status} ${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`;

/** Manufactures a device into <data dir>/<name> and imports its seed. */
async function prepareDevice(started, dataDir, name, profile) {
  if (!existsSync(emulatorCli)) {
    throw new Error(`the emulator is not built (${shown(emulatorCli)} is missing): run npm run build`);
  }
  const pending = join(dataDir, `${name}.pending`);
  const pskcFile = join(dataDir, `${name}.pskc.xml`);
  const pskcKey = randomBytes(16).toString('hex');
  rmSync(pending, { force: true });
  const made = spawnSync(
    process.execPath,
    [kodeviserBin, 'manufacture', '--profile', profile, '--out', pending, '--pskc', pskcFile, '--pskc-key', pskcKey],
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
    if (res.statusCode !== 201) throw new Error(`importing ${name} failed: ${res.statusCode} ${res.body}`);
  } finally {
    // The seed now lives encrypted in the database; the device image keeps its own copy.
    rmSync(pskcFile, { force: true });
  }
  renameSync(pending, join(dataDir, name));
}

/** The device in <data dir>/<name>, made first when it is not there: {file, serial, profile}. */
async function device(started, dataDir, name) {
  const file = join(dataDir, name);
  if (!existsSync(file)) await prepareDevice(started, dataDir, name, DEMO_PROFILE);
  const { serial, profile } = JSON.parse(readFileSync(file, 'utf8'));
  return { file, serial, profile };
}

/** Presses the device's button (the emulator's CLI): {code, movingFactor, deviceTime, …}. */
function press(file) {
  const pressed = spawnSync(process.execPath, [kodeviserBin, 'press', file, '--json'], { encoding: 'utf8' });
  if (pressed.status !== 0) throw new Error(`kodeviser press failed: ${(pressed.stderr || pressed.stdout).trim()}`);
  const shownNow = JSON.parse(pressed.stdout);
  if (shownNow.code === null) throw new Error(`the demo device shows no code (LCD "${shownNow.lcd}")`);
  return shownNow;
}

/**
 * The demo operator's bearer token: the one kept in the data dir while the server still takes it,
 * else a new operator credential made with the admin token (then `created` is its id).
 */
async function operator(started, dataDir) {
  const file = join(dataDir, OPERATOR_TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    // Authorised, an empty body is refused by the schema (400); a revoked or unknown token gets 401.
    if ((await call(started, 'POST', '/v1/proofs', {}, `Bearer ${token}`)).status === 400) return { file, token, created: null };
  }
  const res = await call(
    started,
    'POST',
    '/v1/credentials',
    { role: 'operator', name: 'demo operator (npm start)' },
    `Bearer ${started.loaded.config.adminToken}`,
  );
  if (res.status !== 201) throw new Error(`creating the operator credential failed: ${what(res)}`);
  const pending = `${file}.pending`;
  // A new file (never a leftover of an interrupted start, whose mode would be kept): 0600 whatever the umask.
  rmSync(pending, { force: true });
  writeFileSync(pending, `${res.body.token}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(pending, file);
  return { file, token: res.body.token, created: res.body.id };
}

/** Whether the demo device is demo's active token (GET /v1/users/demo). */
async function isDemosActiveToken(started, serial) {
  const res = await call(started, 'GET', `/v1/users/${DEMO_USER}`, undefined, `Bearer ${started.loaded.config.adminToken}`);
  if (res.status === 404) return false;
  if (res.status !== 200) throw new Error(`reading user ${DEMO_USER} failed: ${what(res)}`);
  return res.body.activeDevice?.serial === serial;
}

/**
 * Activates the demo device for demo as a service centre does: the operator's proof of demo's
 * identity, then a press and POST /v1/activate with it. Returns the press.
 */
async function activateDemo(started, op, demo) {
  const proof = await call(started, 'POST', '/v1/proofs', { identity: DEMO_IDENTITY, userId: DEMO_USER }, `Bearer ${op.token}`);
  if (proof.status !== 201) throw new Error(`the operator's proof of demo's identity was refused: ${what(proof)}`);
  const pressed = press(demo.file);
  const res = await call(started, 'POST', '/v1/activate', {
    proofId: proof.body.proofId,
    serial: demo.serial,
    otp: pressed.code,
    password: DEMO_PASSWORD,
  });
  if (res.status !== 200) throw new Error(`activating the demo device failed: ${what(res)}`);
  return pressed;
}

const clock = (ms) => new Date(ms).toTimeString().slice(0, 8);

function instructions(url, { op, demo, second, activatedNow }) {
  const tokenFile = shown(op.file);
  const codeOf = (d) =>
    `$(npx kodeviser press ${shown(d.file)} --json | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).code')`;
  const post = (path, body, auth = '') => `curl -s -X POST ${url}${path}${auth} -H 'content-type: application/json' -d '${body}'`;
  const asOperator = ` -H "authorization: Bearer $(cat ${tokenFile})"`;
  const login = (user, password, otp) => `{"userId":"${user}","otp":"${otp}","password":"${password}"}`;
  const proofBody = JSON.stringify({ identity: SECOND_IDENTITY, userId: SECOND_USER });
  const activate = (proofId, otp) => `{"proofId":"${proofId}","serial":"${second.serial}","otp":"${otp}","password":"${SECOND_PASSWORD}"}`;
  const timeBased = (d) => d.profile.startsWith('totp');
  const kind = (d) => (timeBased(d) ? 'a time-based' : 'an event-based');
  const nextCode = (d) => (timeBased(d) ? 'the NEXT code (a new one every 30 s; the server never accepts a code twice)' : 'the next code');
  const fromShell = (v) => `'"$${v}"'`;

  // demo's first login: after an activation just now, the code it spent is shown until the device's next step.
  const nextAt =
    activatedNow && timeBased(demo)
      ? Date.now() + (activatedNow.movingFactor + 1) * 30_000 - Date.parse(activatedNow.deviceTime) + 1000
      : null;
  const demoState = activatedNow
    ? 'Activated just now through a proof of identity by the demo operator, as a service centre does it.'
    : `The active token of ${DEMO_USER}.`;
  const demoNote =
    nextAt !== null
      ? `The activation spent the code of this 30-second step and the server never accepts a code twice:\n     log in with the NEXT code, shown from ${clock(nextAt)}.`
      : `A code is accepted once: ${timeBased(demo) ? 'if the token still shows the code you last sent, wait for the next (a new one every 30 s)' : 'each press shows a new one'}.`;
  // In the one-liners, a time-based token's press waits until `variable` (unix s; set after each press to
  // 31 s on, when the token shows its next code), so that pasting them again at once never sends a spent code.
  const waitFor = (d, variable, from) => (timeBased(d) ? `until [ $(date +%s) -ge \${${variable}:-${from}} ]; do sleep 1; done; ` : '');
  const mark = (d, variable) => (timeBased(d) ? `${variable}=$(( $(date +%s) + 31 )); ` : '');
  const pressAndSend = (d, variable, from, path, body) =>
    `${waitFor(d, variable, from)}OTP=${codeOf(d)}; ${mark(d, variable)}${post(path, body)}`;
  const operatorLine = op.created
    ? `Created the demo operator credential ${op.created} (an operator at a citizen service centre, who proves
identities), its token kept in ${tokenFile} (mode 0600; shown only now):

  ${op.token}
`
    : `The demo operator's token is in ${tokenFile}.
`;
  return `
${operatorLine}
Demo token ${printedSerial(demo.serial)} (${demo.profile}) is ready in ${shown(demo.file)}: ${kind(demo)} token of user
"${DEMO_USER}", password ${DEMO_PASSWORD} (a test identity: national ID ${DEMO_IDENTITY.nationalId}, passport DK ${DEMO_IDENTITY.document.number}).
${demoState}

  In your browser: press ${DEMO_USER}'s token in the device lab, ${url}/lab/, and log in with its code at
       ${url}/login   (user ID ${DEMO_USER}, password ${DEMO_PASSWORD})
     Order a device at ${url}/order, activate one at ${url}/activate; the service centre's console,
     ${url}/operator, signs in with the operator's token (${tokenFile}).
     Your app logs in through OpenID Connect: ${url}/oidc/.well-known/openid-configuration
     (register it with POST /v1/oidc/clients; README, "Log in to your app with a code display").

  1. Log in as ${DEMO_USER}: press the token, then send its code in place of CODE.
       npx kodeviser press ${shown(demo.file)}
       ${post('/v1/authenticate', login(DEMO_USER, DEMO_PASSWORD, 'CODE'))}
     ${demoNote}

  2. Activate a second token, ${printedSerial(second.serial)} (${second.profile}) in ${shown(second.file)}, for a new user "${SECOND_USER}"
     (another test identity, national ID ${SECOND_IDENTITY.nationalId}):
     a. The operator proves who they are; the answer's proofId allows one activation within 15 minutes.
       ${post('/v1/proofs', proofBody, asOperator)}
     b. Activate with the proof (in place of PROOF), a code of the new token (CODE) and a new password.
       npx kodeviser press ${shown(second.file)}
       ${post('/v1/activate', activate('PROOF', 'CODE'))}
     c. Log in with ${nextCode(second)}: the activation spent the one it sent.
       npx kodeviser press ${shown(second.file)}
       ${post('/v1/authenticate', login(SECOND_USER, SECOND_PASSWORD, 'CODE'))}

  Or in one go: paste these lines, in this order, into one shell (another terminal, from ${process.cwd()});
  a line whose token still shows the code last sent waits for the next one.
       ${pressAndSend(demo, 'DEMO_NEXT', nextAt === null ? 0 : Math.ceil(nextAt / 1000), '/v1/authenticate', login(DEMO_USER, DEMO_PASSWORD, fromShell('OTP')))}
       PROOF=$(${post('/v1/proofs', proofBody, asOperator)} | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).proofId')
       ${pressAndSend(second, 'NEXT', 0, '/v1/activate', activate(fromShell('PROOF'), fromShell('OTP')))}
       ${pressAndSend(second, 'NEXT', 0, '/v1/authenticate', login(SECOND_USER, SECOND_PASSWORD, fromShell('OTP')))}

  A proof answers 201 {"proofId","userId","expiresAt"}, an activation {"result":"accept","userId":"${SECOND_USER}"}, a login
  {"result":"accept","receipt":"…"} (a signed receipt: README, "Approvals and receipts"). A wrong or reused code,
  or a used or expired proof, gets 401 {"result":"reject"}, and after three wrong codes the token is blocked for a
  while (429 with Retry-After). One active token per user:
  activating another token with a proof of ${DEMO_USER}'s identity retires ${DEMO_USER}'s (the next npm start activates the
  demo token again).
  API docs, and the same requests from the browser (Authorize with the operator's token): ${url}/docs
  The device lab, ${DEMO_USER}'s token in your browser (press it, speed time up, watch the battery): ${url}/lab/
  Stop the server: Ctrl-C
`;
}

async function run() {
  if (!existsSync(serverMain)) fail(`the server is not built (${shown(serverMain)} is missing): run npm run build`);
  const { start, StartError } = await import(pathToFileURL(serverMain).href);
  // The device lab (built with the rest by npm ci / npm run build), offering the demo device.
  const argv = process.argv.slice(2);
  const dataDirFlag = argv.indexOf('--data-dir');
  const dataDirGuess = resolve(dataDirFlag >= 0 ? (argv[dataDirFlag + 1] ?? '.') : process.env.KODEVISER_DATA_DIR || './data');
  if (process.env.KODEVISER_LAB_DIR === undefined && existsSync(join(labDir, 'index.html'))) {
    process.env.KODEVISER_LAB_DIR = labDir;
    process.env.KODEVISER_LAB_DEVICE ??= join(dataDirGuess, DEMO_DEVICE_FILE);
  }
  let started;
  try {
    started = await start({ argv });
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
  try {
    const op = await operator(started, dataDir);
    const demo = await device(started, dataDir, DEMO_DEVICE_FILE);
    const second = await device(started, dataDir, SECOND_DEVICE_FILE);
    const activatedNow = (await isDemosActiveToken(started, demo.serial)) ? null : await activateDemo(started, op, demo);
    if (started.loaded.config.quiet === true) {
      // Quiet (containers): nothing on stdout; the log says where the operator's token is, never the token.
      started.app.log.warn({ file: op.file, demoDevice: demo.file }, 'demo ready (quiet mode: the operator token is only in its file)');
    } else {
      process.stdout.write(instructions(started.url, { op, demo, second, activatedNow }));
    }
  } catch (e) {
    // The server itself is fine; only the demo is missing.
    process.stderr.write(`npm start: no demo device: ${e.message}\n`);
  }
}

await run();
