/**
 * The server process: configuration → store → app → listen. A configuration problem ends the
 * process with one line on stderr and exit code 1 (no stack trace). On first start it prints the
 * generated admin token once; in quiet mode (KODEVISER_QUIET, --quiet) it prints nothing, and the
 * log says where the token's file is, never what is in it. SIGINT (Ctrl-C) and SIGTERM close the
 * app — in-flight requests finish, new ones get 503 — then the service and its store (pending
 * group commits are committed first), then the process exits 0.
 *
 * `start()` is exported so that the root `npm start` script can run the compiled server in its
 * own process and then talk to it (the demo device import); run as a script, this file starts
 * itself — or, as `main.js backup --to FILE`, copies the live SQLite database (backup.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { readFixtures } from './fixtures.js';
import { build } from './app.js';
import { AUDIT_USAGE, auditCommand } from './audit-command.js';
import { BACKUP_USAGE, backupCommand } from './backup.js';
import { USAGE, loadConfig } from './config.js';
import type { LoadedConfig } from './config.js';
import { createLogger } from './plugins/logger.js';
import { openStore, storeOptions } from './store/open.js';
import type { TokenStore } from './store/types.js';

/** The store DATABASE_URL names (sqlite:… or postgres://…), opened and migrated. */
export { openStore };

/** A problem that stops the start, told in one line. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

export interface Started {
  app: FastifyInstance;
  loaded: LoadedConfig;
  /** http://host:port as listened on */
  url: string;
  /** Closes the app, the service and the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** where the first-start notice (the generated admin token) is written, unless quiet; default stdout */
  print?: (text: string) => void;
}

export async function start(opts: StartOptions = {}): Promise<Started> {
  const print = opts.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ argv: opts.argv ?? [], env: opts.env ?? process.env });
  } catch (e) {
    // KodeviserError naming the setting, or a secret file that cannot be read: one line either way.
    throw new StartError((e as Error).message);
  }
  const { config } = loaded;
  const logger = opts.logger ?? createLogger(config.logLevel);
  for (const w of loaded.warnings) logger.warn(w);
  let store: TokenStore;
  try {
    store = await openStore(config.database, storeOptions(config.storeTimeouts, logger));
  } catch (e) {
    // The URL is not repeated: it may hold a password.
    throw new StartError(
      `cannot open the database at ${config.database.kind === 'sqlite' ? config.database.path : 'DATABASE_URL'}: ${(e as Error).message}`,
    );
  }
  const app = await build({ config, store, clock: { now: () => Date.now() }, logger });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    await app.close();
    throw new StartError(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }
  if (config.fixtures !== undefined) {
    try {
      const made = await app.applyFixtures(readFixtures(config.fixtures));
      logger.info({ made }, made.length > 0 ? 'fixtures applied' : 'fixtures: everything there already');
    } catch (e) {
      await app.close();
      throw new StartError((e as Error).message);
    }
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const { masterKeyFile, adminTokenFile } = loaded.generated;
  if (config.quiet === true) {
    // Quiet (a container, whose stdout is kept with the log): only where the files are, at warn
    // so that LOG_LEVEL=warn keeps it. Where it listens, fastify has logged (at info).
    if (masterKeyFile) {
      logger.warn(
        { file: masterKeyFile },
        'generated the master key (mode 0600): back it up, without it the imported tokens cannot be read',
      );
    }
    if (adminTokenFile) {
      logger.warn(
        { file: adminTokenFile },
        'generated the admin token, kept in its file (mode 0600) and not shown (quiet mode): send it as "Authorization: Bearer <token>"',
      );
    }
  } else {
    if (masterKeyFile) {
      print(`Generated the master key in ${masterKeyFile} (mode 0600). Back it up: without it the imported tokens cannot be read.`);
    }
    if (adminTokenFile) {
      // Printed once, on generation, to the terminal — never to the log.
      print(
        `Generated the admin token (kept in ${adminTokenFile}, mode 0600; shown only now):\n\n  ${config.adminToken}\n\nSend it as "Authorization: Bearer <token>" to the admin API.`,
      );
    }
    print(`kodeviser server listening on ${url} (API docs: ${url}/docs)`);
  }
  return { app, loaded, url, stop: () => app.close() };
}

/** Runs the server until SIGINT/SIGTERM (or, given `backup …`, the backup command); returns the process exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  // `backup --to FILE`: a consistent copy of the live SQLite database (backup.ts), then exit.
  if (argv[0] === 'backup') return backupCommand(argv.slice(1));
  // `audit verify|checkpoint|archive|key`: the audit log's chains and checkpoints (audit-command.ts).
  if (argv[0] === 'audit') return auditCommand(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n${BACKUP_USAGE}\n${AUDIT_USAGE}`);
    return 0;
  }
  let started: Started;
  try {
    started = await start({ argv });
  } catch (e) {
    process.stderr.write(`kodeviser-server: ${e instanceof StartError ? e.message : (e as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      started.app.log.info({ signal }, 'stopping');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await started.stop();
  return 0;
}

// Run as a script (node server/dist/main.js), not when imported by scripts/start.js or tests.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
