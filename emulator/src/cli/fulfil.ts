/**
 * `kodeviser fulfil`: the factory behind the order service. Takes the orders that are `placed`
 * (paid, or free), makes one device per order, hands its seed to the validation server as PSKC
 * over the admin API, writes the device's image to DIR, and marks the order fulfilled with its
 * serial. The server learns of a device only this way: it never imports the emulator.
 *
 * In that order, so that a crash never leaves an order marked fulfilled without a device: a crash
 * after the import leaves an unused device and the order still placed, made again on the next run.
 * The admin token comes from KODEVISER_ADMIN_TOKEN or --token-file, never the command line (where
 * `ps` and the shell's history would show it).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSerial, profileInfo, type ProfileName } from '@kodeviser/shared';
import { writePskc } from '@kodeviser/shared/pskc';
import { Machine } from '../machine.js';
import { helpText, parseCommand, parseIntArg, parseProfileArg, type CommandSpec } from './args.js';
import { deviceJson } from './device.js';
import { runtimeError, usageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { randomSerial, seedRecord } from './manufacture.js';
import type { CliIo } from './io.js';

const spec = {
  name: 'fulfil',
  usage: 'fulfil --server URL --dir DIR [--once] [--profile P] [--interval S] [--token-file FILE]',
  help: `
Makes a device for every placed order of the server, imports its seed (PSKC) over the admin API,
writes the device to DIR/<serial>.json and marks the order fulfilled (shipped, or ready for pickup).
  --server URL        the validation server, e.g. http://127.0.0.1:8080
  --dir DIR           where the devices go (created if missing)
  --once              fulfil what is placed now, then exit (default: keep polling)
  --interval S        seconds between polls, 1..3600 (default 10)
  --profile P         the devices' profile (default totp-sha1, the code display)
  --token-file FILE   the admin token, from a file (default: KODEVISER_ADMIN_TOKEN)`,
  options: {
    server: { type: 'string' },
    dir: { type: 'string' },
    once: { type: 'boolean' },
    interval: { type: 'string' },
    profile: { type: 'string' },
    'token-file': { type: 'string' },
  },
  positionals: [],
} satisfies CommandSpec<Record<string, { type: 'string' | 'boolean' }>>;

interface PlacedOrder {
  orderId: string;
}

/** What the factory needs of the world beyond the CLI's: the environment, the network, a pause. */
export interface FactoryIo extends CliIo {
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  /** Resolves after `ms`, or at once when the process is asked to stop (then returns false). */
  sleep(ms: number): Promise<boolean>;
}

export async function fulfil(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const v = parsed.values;
  if (v.server === undefined) throw usageError('fulfil: --server URL is required');
  if (v.dir === undefined) throw usageError('fulfil: --dir DIR is required');
  let server: URL;
  try {
    server = new URL(v.server);
  } catch {
    throw usageError(`--server must be a URL such as http://127.0.0.1:8080, got ${JSON.stringify(v.server)}`);
  }
  if (server.protocol !== 'http:' && server.protocol !== 'https:') throw usageError('--server must be an http:// or https:// URL');
  const profile: ProfileName = v.profile === undefined ? 'totp-sha1' : parseProfileArg(v.profile, '--profile');
  const intervalMs = (v.interval === undefined ? 10 : parseIntArg(v.interval, '--interval', 1, 3600)) * 1000;
  const fio = factoryIo(io);
  const token = adminToken(v['token-file'] === undefined ? undefined : io.path(v['token-file']), fio.env);
  const dir = io.path(v.dir);
  mkdirSync(dir, { recursive: true });

  const api = async (method: string, path: string, body?: { type: string; text: string }): Promise<unknown> => {
    let res: Response;
    try {
      res = await fio.fetch(new URL(path, server), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': body.type } : {}) },
        ...(body ? { body: body.text } : {}),
      });
    } catch (e) {
      throw runtimeError(`cannot reach ${server.origin}: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: the start of the body says enough
      }
      throw runtimeError(`${method} ${path} answered ${res.status}: ${message}`);
    }
    return text === '' ? null : JSON.parse(text);
  };

  const info = profileInfo(profile);
  for (;;) {
    const { orders } = (await api('GET', '/v1/orders?status=placed')) as { orders: PlacedOrder[] };
    for (const order of orders) {
      const serial = randomSerial();
      const key = new Uint8Array(randomBytes(info.keyBytes));
      const machine = Machine.manufacture({
        profile,
        digits: 6,
        step: 30,
        serial,
        counter: 0,
        manufacturedAt: io.nowMs(),
        key,
        driftPpm: randomInt(-20_000, 20_001) / 1000,
      });
      const pskc = writePskc([seedRecord({ serial, secret: key, profile, digits: 6, step: 30, counter: 0 })]);
      await api('POST', '/v1/tokens', { type: 'application/pskc+xml', text: pskc });
      const file = join(dir, `${serial}.json`);
      writeFileAtomic(file, deviceJson(machine));
      try {
        await api('POST', `/v1/orders/${encodeURIComponent(order.orderId)}/fulfil`, {
          type: 'application/json',
          text: JSON.stringify({ serial }),
        });
      } catch (e) {
        // Cancelled meanwhile, say: the device stays made and unused; the others go on.
        io.stderr(`kodeviser: order ${order.orderId} not fulfilled (${(e as Error).message}); device ${formatSerial(serial)} unused\n`);
        continue;
      }
      io.stdout(`fulfilled ${order.orderId} with ${formatSerial(serial)} (${profile}) -> ${file}\n`);
    }
    if (v.once === true) return 0;
    if (!(await fio.sleep(intervalMs))) return 0;
  }
}

/** The admin token: from the file given, else from the environment; never from the command line. */
function adminToken(file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw runtimeError(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const token = text.trim();
    if (token === '') throw usageError(`the token file ${file} is empty`);
    return token;
  }
  const token = env.KODEVISER_ADMIN_TOKEN?.trim();
  if (!token)
    throw usageError('fulfil: give the admin token in KODEVISER_ADMIN_TOKEN or a file with --token-file (never on the command line)');
  return token;
}

/** The factory's view of `io`: tests pass a FactoryIo; the process gets the real environment and network. */
function factoryIo(io: CliIo): FactoryIo {
  if ('fetch' in io && 'env' in io && 'sleep' in io) return io as FactoryIo;
  let stop: (() => void) | null = null;
  const stopped = new Promise<false>((resolve) => {
    stop = () => resolve(false);
  });
  process.once('SIGINT', () => stop?.());
  process.once('SIGTERM', () => stop?.());
  return {
    ...io,
    env: process.env,
    fetch: globalThis.fetch,
    sleep: (ms) =>
      Promise.race([
        new Promise<true>((resolve) => {
          const timer = setTimeout(() => resolve(true), ms);
          timer.unref?.();
          void stopped.then(() => clearTimeout(timer));
        }),
        stopped,
      ]),
  };
}
