/**
 * The `kodeviser` CLI run in this process at a chosen instant (its io's clock), and a device made
 * by its factory command whose seed a test server imports from the PSKC file it wrote — a device
 * file to press, known to the server, as a citizen's would be.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { main as kodeviser } from '../../emulator/src/cli/main.js';
import type { CliIo } from '../../emulator/src/cli/io.js';

/** `kodeviser …` in-process at `nowMs`, with `extra` io (fetch, env) merged in: its stdout, or a thrown error with its stderr. */
export async function cli(args: string[], nowMs: number, extra: object = {}): Promise<string> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    async *lines() {},
    interactive: false,
    nowMs: () => nowMs,
    path: (p) => resolve(p),
    ...extra,
  };
  const code = await kodeviser(args, io);
  if (code !== 0) throw new Error(`kodeviser ${args[0] ?? ''}: ${err.trim()}`);
  return out;
}

/** A totp-sha1 device made a day before `nowMs` into `dir`: its file, and the PSKC seed file for the server with its key. */
export async function manufacture(o: {
  dir: string;
  serial: string;
  nowMs: number;
  name?: string;
}): Promise<{ file: string; pskc: string; key: string }> {
  const file = join(o.dir, `${o.name ?? o.serial}.json`);
  const pskc = join(o.dir, `${o.name ?? o.serial}.pskc.xml`);
  const key = randomBytes(16).toString('hex');
  const at = new Date(o.nowMs - 86_400_000).toISOString();
  await cli(
    ['manufacture', '--profile', 'totp-sha1', '--serial', o.serial, '--at', at, '--out', file, '--pskc', pskc, '--pskc-key', key],
    o.nowMs,
  );
  return { file, pskc: readFileSync(pskc, 'utf8'), key };
}

/** A device made by manufacture, its seed imported into `app` (admin `authorization`): the device file's path. */
export async function deviceOnServer(
  app: FastifyInstance,
  authorization: string,
  o: { dir: string; serial: string; nowMs: number; name?: string },
): Promise<string> {
  const { file, pskc, key } = await manufacture(o);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: { authorization, 'content-type': 'application/pskc+xml', 'x-pskc-key': key },
    payload: pskc,
  });
  if (res.statusCode !== 201) throw new Error(`import of ${o.serial}: ${res.statusCode} ${res.body}`);
  return file;
}

/**
 * A user with a device on `app`, as a service centre makes one: the device manufactured and
 * imported, an operator's proof of a test identity, the activation with the device's code. The
 * device file, and its press (its code now, by the CLI).
 */
export async function activeUserOnServer(
  app: FastifyInstance,
  authorization: string,
  o: { dir: string; serial: string; clock: { now(): number }; userId: string; password: string; nationalId: string },
): Promise<{ device: string; press(): Promise<string> }> {
  const device = await deviceOnServer(app, authorization, { dir: o.dir, serial: o.serial, nowMs: o.clock.now() });
  const press = async (): Promise<string> => (JSON.parse(await cli(['press', device, '--json'], o.clock.now())) as { code: string }).code;
  const operator = (
    await app.inject({ method: 'POST', url: '/v1/credentials', headers: { authorization }, payload: { role: 'operator', name: o.userId } })
  ).json().token as string;
  const proof = await app.inject({
    method: 'POST',
    url: '/v1/proofs',
    headers: { authorization: `Bearer ${operator}` },
    payload: {
      identity: { nationalId: o.nationalId, document: { type: 'passport', country: 'DK', number: `P${o.nationalId}` } },
      userId: o.userId,
    },
  });
  const activated = await app.inject({
    method: 'POST',
    url: '/v1/activate',
    payload: { proofId: proof.json().proofId, serial: o.serial, otp: await press(), password: o.password },
  });
  if (activated.statusCode !== 200) throw new Error(`activation of ${o.userId}: ${activated.statusCode} ${activated.body}`);
  return { device, press };
}
