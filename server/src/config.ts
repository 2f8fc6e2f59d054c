/**
 * The server's configuration, from the environment and command-line flags (flags win), checked
 * once at start so that a typo stops the server with one clear line instead of a stack trace
 * later (twelve-factor style: config in the environment; node:util parseArgs for the flags, no
 * CLI library needed for six options).
 *
 * Two secrets live in the data directory when they are not given in the environment, each in its
 * own file with mode 0600, created on first start and read on every later one so that they
 * survive restarts:
 *  - the master key (32 bytes, hex) that encrypts the token seeds at rest — losing it loses every
 *    imported token, so an explicitly named key file that is missing is an error, never silently
 *    replaced;
 *  - the admin bearer token, printed once when it is generated and never again (nor logged); in
 *    quiet mode (KODEVISER_QUIET, --quiet: containers, whose stdout is kept) not even then, only
 *    written to its file, and the log says where.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KodeviserError, hexToBytes } from '@kodeviser/shared';
import { DEFAULT_POLICY, type PolicyOptions } from './domain/policy.js';
import { DEFAULT_ORDER_POLICY, orderPolicyOf, type OrderPolicy } from './domain/orders.js';

export type DatabaseConfig = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

/**
 * How long the store waits on its database before a request fails with 503 `unavailable`, in
 * milliseconds (DEFAULT_STORE_TIMEOUTS holds the defaults).
 */
export interface StoreTimeouts {
  /**
   * SQLite's busy timeout: how long a write waits for the write lock another process holds. SQLite
   * waits on the event loop, so every request waits with it: keep it short.
   */
  readonly sqliteBusyMs: number;
  /** PostgreSQL's statement_timeout for the store's connections; 0: PostgreSQL's own setting */
  readonly pgStatementMs: number;
  /** PostgreSQL's lock_timeout (a row, table or advisory lock another session holds); 0: PostgreSQL's own setting */
  readonly pgLockMs: number;
}

export const DEFAULT_STORE_TIMEOUTS: StoreTimeouts = { sqliteBusyMs: 50, pgStatementMs: 5000, pgLockMs: 1000 };

export interface RateLimitConfig {
  /** requests per window per client IP on every route; 0 turns the limit off */
  readonly perIp: number;
  /** requests per window per userId on /v1/activate and /v1/authenticate; 0 turns it off */
  readonly perUser: number;
  /**
   * requests per window per client IP on the routes that hash a password (authenticate, activate,
   * self proofs, password change and reset); 0, or perIp 0, turns it off (default 30)
   */
  readonly loginsPerIp?: number;
  /**
   * orders (POST /v1/orders) an hour per client IP; 0, or perIp 0, turns it off (default 30)
   */
  readonly ordersPerIp?: number;
  /**
   * failed bearer tokens per window per client IP, every route (/v1/validate too), after which
   * the address is refused (429) for the rest of the window; 0, or perIp 0, turns it off
   */
  readonly bearerFailures?: number;
  readonly windowMs: number;
  /**
   * redis:// or rediss:// URL of a Redis that every instance shares, so the limits count across
   * instances (@fastify/rate-limit's Redis store); absent: counted in memory, per instance.
   */
  readonly redisUrl?: string;
  /**
   * With redisUrl: how long a Redis connect or command may take before it counts as failed
   * (default DEFAULT_REDIS_TIMEOUT_MS), so that a Redis that hangs holds no request up longer.
   */
  readonly redisTimeoutMs?: number;
}

/** KODEVISER_REDIS_TIMEOUT_MS's default. */
export const DEFAULT_REDIS_TIMEOUT_MS = 500;

/**
 * How long the HTTP server waits for a client (Node's http.Server timeouts, set through Fastify).
 * Each in milliseconds; DEFAULT_HTTP_TIMEOUTS holds the defaults.
 */
export interface HttpTimeouts {
  /** a request (headers and body) must have arrived whole within this, else 408 and the socket closed; 0: no limit */
  readonly requestMs: number;
  /** the request's headers must have arrived within this (at most requestMs) */
  readonly headersMs: number;
  /** an idle keep-alive connection is closed after this */
  readonly keepAliveMs: number;
  /** a socket with no traffic either way for this long is closed (e.g. a client that stops reading); 0: never */
  readonly connectionMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  requestMs: 30_000,
  headersMs: 10_000,
  // Fastify's default: longer than the 60 s idle timeout of the usual proxies and load balancers,
  // so that they, not the server, close an idle connection (never one they are about to reuse).
  keepAliveMs: 72_000,
  connectionMs: 120_000,
};

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  /** How long the store waits on the database; absent: DEFAULT_STORE_TIMEOUTS */
  readonly storeTimeouts?: StoreTimeouts;
  readonly masterKey: Uint8Array;
  readonly adminToken: string;
  /** a second bearer token that may call /v1/validate only; null when not configured */
  readonly serviceToken: string | null;
  /** the pre-shared key PSKC imports are decrypted with unless a request names its own */
  readonly pskcKey: Uint8Array | null;
  readonly rateLimit: RateLimitConfig;
  readonly logLevel: LogLevel;
  /**
   * Quiet mode (KODEVISER_QUIET=1 or --quiet): start() prints nothing but the log, so a generated
   * admin token is never shown, only written to its 0600 file, and the log says where it is.
   */
  readonly quiet?: boolean;
  /**
   * Which peers are proxies whose X-Forwarded-For names the client (Fastify's trustProxy):
   * addresses and CIDR ranges, comma-separated (proxy-addr's names loopback, linklocal and
   * uniquelocal too). Absent: none, and a client's address is the socket's peer. A number of hops
   * is never read from the environment (parseTrustProxy says why); build() still takes one from
   * code that knows no client can reach it but through that many proxies.
   */
  readonly trustProxy?: number | string;
  /** Password hashes at once and waiting (security/password.ts boundedHasher). */
  readonly hashing?: { readonly concurrency: number; readonly queue: number };
  /**
   * How long repeats of an anonymous refusal from one address are counted into one audit row
   * (security/audit-repeats.ts); 0: every refusal is a row. Absent: the service's default (60 s).
   */
  readonly auditRepeatWindowMs?: number;
  /** How often the server checkpoints its audit log (plugins/audit-checkpoints.ts), ms; 0: never. Absent: hourly. */
  readonly auditCheckpointMs?: number;
  /** The receipts' `iss` (security/receipts.ts); absent: "kodeviser". */
  readonly issuer?: string;
  /**
   * The service's pages (pages/index.ts): how long a form may be sent after it was shown
   * (KODEVISER_FORM_VALIDITY_MS, default an hour), and whether /activate offers a simulated
   * passport check for test identities (KODEVISER_SIMULATED_PASSPORT=1; never by default).
   */
  readonly pages?: { readonly formValidityMs?: number; readonly simulatedPassport?: boolean };
  /** KODEVISER_FIXTURES: a fixtures file (fixtures.ts) applied at every start, once listening. */
  readonly fixtures?: string;
  /** How often expired OpenID provider entries are swept, ms (app.ts DEFAULT_OIDC_SWEEP_MS). */
  readonly oidcSweepMs?: number;
  /** The device lab to serve at /lab/ (routes/lab.ts), and the device it offers; absent: no lab. */
  readonly lab?: { readonly dir: string; readonly device: string | null };
  /** Verification policy settings that differ from DEFAULT_POLICY (domain/policy.ts). */
  readonly policy?: Partial<PolicyOptions>;
  /** Order settings (prices, free count, delivery windows) that differ from DEFAULT_ORDER_POLICY (domain/orders.ts). */
  readonly orderPolicy?: Partial<OrderPolicy>;
  /** HTTP timeouts; absent: DEFAULT_HTTP_TIMEOUTS */
  readonly timeouts?: HttpTimeouts;
}

export interface LoadedConfig {
  readonly config: ServerConfig;
  /** what was generated on this start (first start): the caller prints the admin token once */
  readonly generated: { readonly masterKeyFile: string | null; readonly adminTokenFile: string | null };
  /** things worth a line in the log, e.g. a secret file readable by others */
  readonly warnings: readonly string[];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MASTER_KEY_FILE = 'master.key';
export const ADMIN_TOKEN_FILE = 'admin-token';
/** Bearer tokens shorter than this are guessable; generated ones are 43 characters (32 bytes). */
const MIN_TOKEN_LENGTH = 16;

/** `text` in lines of at most `width` characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

export const USAGE = `Usage: kodeviser-server [--port N] [--host ADDR] [--data-dir DIR] [--database-url URL] [--log-level LEVEL] [--quiet]

Environment (flags win over it):
  PORT                      TCP port (default 8080; 0: any free port)
  HOST                      address to listen on (default 127.0.0.1)
  KODEVISER_DATA_DIR        data directory (default ./data): database, master key, admin token
  DATABASE_URL              sqlite:<path> (default sqlite:<data dir>/kodeviser.db) or postgres://…
  KODEVISER_SQLITE_BUSY_TIMEOUT_MS how long a write waits for a SQLite write lock another process holds
                            (default ${DEFAULT_STORE_TIMEOUTS.sqliteBusyMs}), then 503; every request waits with it
  KODEVISER_PG_STATEMENT_TIMEOUT_MS PostgreSQL statement_timeout (default ${DEFAULT_STORE_TIMEOUTS.pgStatementMs}; 0 = the server's own), then 503
  KODEVISER_PG_LOCK_TIMEOUT_MS PostgreSQL lock_timeout (default ${DEFAULT_STORE_TIMEOUTS.pgLockMs}; 0 = the server's own), then 503
  KODEVISER_MASTER_KEY      32-byte master key, hex (else KODEVISER_MASTER_KEY_FILE,
                            default <data dir>/${MASTER_KEY_FILE}, generated on first start)
  KODEVISER_ADMIN_TOKEN     admin bearer token (else <data dir>/${ADMIN_TOKEN_FILE}, generated and printed once)
  KODEVISER_SERVICE_TOKEN   optional bearer token for POST /v1/validate only
  KODEVISER_PSKC_KEY        PSKC pre-shared key, 16, 24 or 32 bytes in hex, as the document's cipher
                            needs (a request may send X-PSKC-Key instead)
  KODEVISER_RATE_LIMIT_IP   requests per minute per client IP, every route but /v1/validate (default 3000; 0 = off)
  KODEVISER_RATE_LIMIT_USER requests per minute per userId on activate/authenticate (default 30; 0 = off)
  KODEVISER_RATE_LIMIT_LOGIN requests per minute per client IP on the routes that hash a password
                            (authenticate, activate, self proofs, password change and reset; default 30; 0 = off)
  KODEVISER_RATE_LIMIT_ORDERS orders (POST /v1/orders) an hour per client IP (default 30; 0 = off; off too
                            with RATE_LIMIT_IP=0)
  KODEVISER_HASH_CONCURRENCY password hashes (scrypt) at once (default 2)
  KODEVISER_HASH_QUEUE      password hashes waiting for a turn (default 100); beyond, 503 busy with Retry-After
  KODEVISER_AUDIT_REPEAT_WINDOW_MS repeats of a refusal without credentials (an unknown user ID or proof)
                            from one address within this are one audit row that counts them, not a
                            row each (default 60000; 0 = a row each)
  KODEVISER_AUDIT_CHECKPOINT_MS how often the server signs a checkpoint of its audit log (the rows since
                            the last one; default 3600000, an hour; 0 = never: \`npm run audit -- checkpoint\` only)
  KODEVISER_RATE_LIMIT_BEARER failed bearer tokens per minute per client IP, every route, before it is
                            refused for the rest of the minute (default 20; 0 = off; off too with RATE_LIMIT_IP=0)
  REDIS_URL                 redis://host:port[/db][?keyPrefix=…]: rate-limit counters shared by all
                            instances (default: in memory, per instance)
  KODEVISER_REDIS_TIMEOUT_MS how long a Redis connect or command may take (default ${DEFAULT_REDIS_TIMEOUT_MS}); past it,
                            or while Redis is down, the rate limits let requests through and the
                            guessing state is kept in this instance's memory
  KODEVISER_POLICY          verification policy as JSON, e.g. {"hotpLookAhead":20,"lockAfter":10};
${wrap(`keys: ${Object.keys(DEFAULT_POLICY).join(', ')}`, 28, 100)}
  KODEVISER_ORDER_POLICY    orders as JSON, e.g. {"priceOre":4176,"freeOrders":3,"domesticDays":[3,7],
                            "abroadDays":[6,12]} (those are the defaults): the price in øre, a user's
                            free orders, and the delivery windows in Danish business days
  KODEVISER_TRUST_PROXY     the reverse proxies in front, whose X-Forwarded-For gives the client's
                            address (rate limits, audit log): their addresses and CIDR ranges,
                            comma-separated, e.g. 10.0.0.5 or 10.0.0.0/8 (a chain of proxies: list
                            each); also loopback, linklocal, uniquelocal (default: none). A hop
                            count is refused: it trusts any peer, so a client connecting directly
                            could choose its own address
  KODEVISER_REQUEST_TIMEOUT_MS a request must arrive whole (headers and body) within this, else 408
                            and the connection is closed (default ${DEFAULT_HTTP_TIMEOUTS.requestMs}; 0 = no limit)
  KODEVISER_HEADERS_TIMEOUT_MS its headers within this (default ${DEFAULT_HTTP_TIMEOUTS.headersMs}; at most the request timeout)
  KODEVISER_KEEP_ALIVE_TIMEOUT_MS an idle keep-alive connection is closed after this (default ${DEFAULT_HTTP_TIMEOUTS.keepAliveMs})
  KODEVISER_CONNECTION_TIMEOUT_MS a connection silent both ways this long is closed (default ${DEFAULT_HTTP_TIMEOUTS.connectionMs}; 0 = never)
  KODEVISER_ISSUER          the receipts' iss, e.g. this server's public URL (default kodeviser)
  KODEVISER_LAB_DIR         serve the device lab (emulator/dist/lab, npm run build) at /lab/ (default: none)
  KODEVISER_LAB_DEVICE      a device file the lab loads when it has none (/lab/device.json)
  KODEVISER_FIXTURES        a JSON file of users (identity, device, password), operators (their
                            tokens) and OpenID clients to have, made at each start if missing
  KODEVISER_FORM_VALIDITY_MS  how long a page's form may be sent after it was shown (default 3600000)
  KODEVISER_SIMULATED_PASSPORT  1: /activate offers a simulated passport check for test
                            identities (a test server only; default 0)
  LOG_LEVEL                 ${LOG_LEVELS.join(', ')} (default info)
  KODEVISER_QUIET           1 (or --quiet): print nothing but the log, for containers; a generated
                            admin token is then only written to its file (mode 0600), never shown,
                            and the log says where it is (default 0: printed once)
`;

function configError(message: string): KodeviserError {
  return new KodeviserError('ERR_ARGUMENT', message);
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text.trim())) throw configError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  const n = Number(text.trim());
  if (n < min || n > max) throw configError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

function parseHexKey(name: string, text: string, ...allowed: number[]): Uint8Array {
  const trimmed = text.trim();
  if (!/^[0-9a-fA-F]*$/.test(trimmed) || !allowed.some((bytes) => trimmed.length === bytes * 2)) {
    // The value itself is a secret: the message says what is wrong with it, never what it is.
    const lengths = allowed
      .map((bytes) => `${bytes * 2}`)
      .join(', ')
      .replace(/, (\d+)$/, ' or $1');
    const sizes = allowed.join(', ').replace(/, (\d+)$/, ' or $1');
    throw configError(
      `${name} must be ${lengths} hex digits (${sizes} bytes), got ${trimmed.length} characters${/^[0-9a-fA-F]*$/.test(trimmed) ? '' : ' that are not all hex digits'}`,
    );
  }
  return hexToBytes(trimmed, name);
}

function parseSwitch(name: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['', '0', 'false', 'no', 'off'].includes(t)) return false;
  throw configError(`${name} must be 1, true, yes or on, or 0, false, no or off, got "${text}"`);
}

function parseToken(name: string, text: string): string {
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw configError(`${name} must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces`);
  }
  return token;
}

/**
 * Each policy setting's bounds: whole numbers but for the rate model's, none negative, and caps
 * that keep a typo from making every check search a window of a million codes.
 */
const POLICY_BOUNDS: Readonly<Record<keyof PolicyOptions, { min: number; max: number; integer: boolean }>> = {
  hotpLookAhead: { min: 0, max: 1000, integer: true },
  hotpWideLookAhead: { min: 0, max: 10_000, integer: true },
  totpWindow: { min: 0, max: 100, integer: true },
  totpWideWindow: { min: 0, max: 10_000, integer: true },
  totpIdleDaysPerStep: { min: 0.01, max: 3650, integer: false },
  totpWideWindowMax: { min: 0, max: 100_000, integer: true },
  totpRateMinIntervalMs: { min: 0, max: 365 * 86_400_000, integer: true },
  totpRateMaxPpm: { min: 0, max: 10_000, integer: false },
  totpRatePriorPpm: { min: 0.001, max: 10_000, integer: false },
  totpRateWanderPpm2PerDay: { min: 0, max: 10_000, integer: false },
  resyncTtlMs: { min: 1000, max: 86_400_000, integer: true },
  adminHotpWindow: { min: 1, max: 100_000, integer: true },
  adminTotpWindow: { min: 1, max: 100_000, integer: true },
  blockAfter: { min: 1, max: 1000, integer: true },
  firstBlockMs: { min: 0, max: 86_400_000, integer: true },
  maxBlockMs: { min: 0, max: 30 * 86_400_000, integer: true },
  lockAfter: { min: 1, max: 100_000, integer: true },
  wrongCodesPerWindow: { min: 1, max: 100_000, integer: true },
  wrongCodesWindowMs: { min: 60_000, max: 30 * 86_400_000, integer: true },
};

/** KODEVISER_POLICY: a JSON object of known settings, each checked, then checked together. */
export function parsePolicy(text: string): Partial<PolicyOptions> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw configError('KODEVISER_POLICY must be a JSON object, e.g. {"hotpLookAhead":20}; it does not parse');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw configError('KODEVISER_POLICY must be a JSON object');
  const policy: Partial<Record<keyof PolicyOptions, number>> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!Object.hasOwn(POLICY_BOUNDS, key)) {
      throw configError(`KODEVISER_POLICY: unknown setting "${key}"; known: ${Object.keys(POLICY_BOUNDS).join(', ')}`);
    }
    const { min, max, integer } = POLICY_BOUNDS[key as keyof PolicyOptions];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw configError(
        `KODEVISER_POLICY: ${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
    }
    policy[key as keyof PolicyOptions] = v;
  }
  const p = { ...DEFAULT_POLICY, ...policy };
  const atLeast = (big: keyof PolicyOptions, small: keyof PolicyOptions): void => {
    if (p[big] < p[small]) throw configError(`KODEVISER_POLICY: ${big} (${p[big]}) must not be below ${small} (${p[small]})`);
  };
  atLeast('hotpWideLookAhead', 'hotpLookAhead');
  atLeast('totpWideWindow', 'totpWindow');
  atLeast('totpWideWindowMax', 'totpWideWindow');
  atLeast('maxBlockMs', 'firstBlockMs');
  return policy;
}

/** KODEVISER_ORDER_POLICY: a JSON object of known settings, checked together (domain/orders.ts orderPolicyOf). */
export function parseOrderPolicy(text: string): Partial<OrderPolicy> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw configError('KODEVISER_ORDER_POLICY must be a JSON object, e.g. {"freeOrders":3}; it does not parse');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw configError('KODEVISER_ORDER_POLICY must be a JSON object');
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(DEFAULT_ORDER_POLICY, key)) {
      throw configError(`KODEVISER_ORDER_POLICY: unknown setting "${key}"; known: ${Object.keys(DEFAULT_ORDER_POLICY).join(', ')}`);
    }
  }
  const policy = value as Partial<OrderPolicy>;
  try {
    orderPolicyOf(policy);
  } catch (e) {
    throw configError(`KODEVISER_ORDER_POLICY: ${(e as Error).message}`);
  }
  return policy;
}

const PROXY_ADDRESS_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * KODEVISER_TRUST_PROXY: a comma-separated list of addresses, CIDR ranges and proxy-addr's names,
 * as Fastify's trustProxy takes it. "true" (trust every peer) is refused: any client could then
 * write its own address into X-Forwarded-For and so escape the per-IP limit and forge the audit
 * log's addresses. So is a bare hop count, for the same reason: Fastify trusts the nearest N hops
 * whoever they are, so a client that connects directly (past the proxy, or where there is none)
 * is taken for the proxy. The list needs no count: proxy-addr walks X-Forwarded-For from the
 * socket's peer back past every listed address, so it covers a chain of proxies as well.
 */
export function parseTrustProxy(text: string): string {
  const trimmed = text.trim();
  if (/^[0-9]+$/.test(trimmed)) {
    throw configError(
      `KODEVISER_TRUST_PROXY=${trimmed} is a hop count, which would trust the X-Forwarded-For of any peer that connects, so a client connecting directly could choose its own address; give the proxies' addresses or CIDR ranges instead, e.g. KODEVISER_TRUST_PROXY=10.0.0.5 or 10.0.0.0/8 (a list covers a chain of proxies too)`,
    );
  }
  if (/^(true|yes|on|\*)$/i.test(trimmed)) {
    throw configError(
      "KODEVISER_TRUST_PROXY cannot trust every peer: any client could choose its own address; give the proxies' addresses or CIDR ranges",
    );
  }
  const entries = trimmed.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const prefixOk = prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (!PROXY_ADDRESS_NAMES.includes(entry) && (family === 0 || !prefixOk || extra !== undefined)) {
      throw configError(`KODEVISER_TRUST_PROXY: "${entry}" is not an IP address, a CIDR range or one of ${PROXY_ADDRESS_NAMES.join(', ')}`);
    }
  }
  return entries.join(',');
}

/** The KODEVISER_*_TIMEOUT_MS settings of the HTTP server, each checked, the headers' at most the request's. */
export function parseHttpTimeouts(env: NodeJS.ProcessEnv): HttpTimeouts {
  const d = DEFAULT_HTTP_TIMEOUTS;
  const day = 86_400_000;
  const requestMs = parseInteger('KODEVISER_REQUEST_TIMEOUT_MS', env.KODEVISER_REQUEST_TIMEOUT_MS || String(d.requestMs), 0, day);
  const headersText = env.KODEVISER_HEADERS_TIMEOUT_MS;
  // Unset, the headers' default never exceeds a shorter request timeout.
  const headersMs = headersText
    ? parseInteger('KODEVISER_HEADERS_TIMEOUT_MS', headersText, 1, day)
    : requestMs > 0
      ? Math.min(d.headersMs, requestMs)
      : d.headersMs;
  if (requestMs > 0 && headersMs > requestMs) {
    throw configError(
      `KODEVISER_HEADERS_TIMEOUT_MS (${headersMs}) must not exceed KODEVISER_REQUEST_TIMEOUT_MS (${requestMs}): the headers are part of the request`,
    );
  }
  const keepAliveMs = parseInteger('KODEVISER_KEEP_ALIVE_TIMEOUT_MS', env.KODEVISER_KEEP_ALIVE_TIMEOUT_MS || String(d.keepAliveMs), 1, day);
  const connectionMs = parseInteger(
    'KODEVISER_CONNECTION_TIMEOUT_MS',
    env.KODEVISER_CONNECTION_TIMEOUT_MS || String(d.connectionMs),
    0,
    day,
  );
  return { requestMs, headersMs, keepAliveMs, connectionMs };
}

/** KODEVISER_SQLITE_BUSY_TIMEOUT_MS, KODEVISER_PG_STATEMENT_TIMEOUT_MS and KODEVISER_PG_LOCK_TIMEOUT_MS, each checked. */
export function parseStoreTimeouts(env: NodeJS.ProcessEnv): StoreTimeouts {
  const d = DEFAULT_STORE_TIMEOUTS;
  const setting = (name: string, fallback: number, max: number): number => parseInteger(name, env[name] || String(fallback), 0, max);
  return {
    // At most a minute: SQLite sleeps on the event loop for as long as this.
    sqliteBusyMs: setting('KODEVISER_SQLITE_BUSY_TIMEOUT_MS', d.sqliteBusyMs, 60_000),
    pgStatementMs: setting('KODEVISER_PG_STATEMENT_TIMEOUT_MS', d.pgStatementMs, 86_400_000),
    pgLockMs: setting('KODEVISER_PG_LOCK_TIMEOUT_MS', d.pgLockMs, 86_400_000),
  };
}

/** `sqlite:<path>` (resolved against `cwd`) or `postgres://…`; throws ERR_ARGUMENT naming DATABASE_URL. */
export function parseDatabaseUrl(text: string, cwd: string): DatabaseConfig {
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw configError('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/kodeviser.db');
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (/^postgres(ql)?:\/\//.test(text)) return { kind: 'postgres', url: text };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1];
  throw configError(`DATABASE_URL has ${scheme ? `an unknown scheme "${scheme}:"` : 'no scheme'}; use sqlite:<path> or postgres://…`);
}

/** A secret file in the data directory: read it, or create it (mode 0600) when it is missing. */
function readOrCreateSecretFile(path: string, create: () => string): { value: string; created: boolean; warning: string | null } {
  if (!existsSync(path)) {
    // 'wx': fail rather than overwrite if another process created it in the meantime.
    writeFileSync(path, `${create()}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600); // the umask may have narrowed the mode, never widened it; be exact
    return { value: readFileSync(path, 'utf8').trim(), created: true, warning: null };
  }
  const mode = statSync(path).mode & 0o777;
  const warning = mode & 0o077 ? `${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it` : null;
  return { value: readFileSync(path, 'utf8').trim(), created: false, warning };
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  argv?: readonly string[];
  cwd?: string;
}

/**
 * Reads and checks the whole configuration; creates the data directory and, on first start, the
 * master key and admin token files. Throws KodeviserError (ERR_ARGUMENT) naming the variable.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let flags;
  try {
    flags = parseArgs({
      args: [...(opts.argv ?? [])],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        'log-level': { type: 'string' },
        quiet: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw configError(`${(e as Error).message}\n${USAGE}`);
  }
  const setting = (flag: string | undefined, name: string): string | undefined => {
    const v = flag ?? env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  const port = parseInteger(flags.port !== undefined ? '--port' : 'PORT', setting(flags.port, 'PORT') ?? '8080', 0, 65535);
  const host = setting(flags.host, 'HOST') ?? '127.0.0.1';
  const dataDir = resolve(cwd, setting(flags['data-dir'], 'KODEVISER_DATA_DIR') ?? './data');
  const database = parseDatabaseUrl(setting(flags['database-url'], 'DATABASE_URL') ?? `sqlite:${join(dataDir, 'kodeviser.db')}`, cwd);
  const storeTimeouts = parseStoreTimeouts(env);
  const logLevelText = setting(flags['log-level'], 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelText)) {
    throw configError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevelText}"`);
  }
  const quiet = flags.quiet === true || parseSwitch('KODEVISER_QUIET', env.KODEVISER_QUIET ?? '');
  const perIp = parseInteger('KODEVISER_RATE_LIMIT_IP', env.KODEVISER_RATE_LIMIT_IP || '3000', 0, 1e9);
  const perUser = parseInteger('KODEVISER_RATE_LIMIT_USER', env.KODEVISER_RATE_LIMIT_USER || '30', 0, 1e9);
  const bearerFailures = parseInteger('KODEVISER_RATE_LIMIT_BEARER', env.KODEVISER_RATE_LIMIT_BEARER || '20', 0, 1e9);
  const loginsPerIp = parseInteger('KODEVISER_RATE_LIMIT_LOGIN', env.KODEVISER_RATE_LIMIT_LOGIN || '30', 0, 1e9);
  const ordersPerIp = parseInteger('KODEVISER_RATE_LIMIT_ORDERS', env.KODEVISER_RATE_LIMIT_ORDERS || '30', 0, 1e9);
  const hashing = {
    concurrency: parseInteger('KODEVISER_HASH_CONCURRENCY', env.KODEVISER_HASH_CONCURRENCY || '2', 1, 64),
    queue: parseInteger('KODEVISER_HASH_QUEUE', env.KODEVISER_HASH_QUEUE || '100', 0, 1e6),
  };
  const auditRepeatWindowMs = parseInteger(
    'KODEVISER_AUDIT_REPEAT_WINDOW_MS',
    env.KODEVISER_AUDIT_REPEAT_WINDOW_MS || '60000',
    0,
    3_600_000,
  );
  const auditCheckpointMs = parseInteger(
    'KODEVISER_AUDIT_CHECKPOINT_MS',
    env.KODEVISER_AUDIT_CHECKPOINT_MS || '3600000',
    0,
    7 * 86_400_000,
  );
  const issuer = env.KODEVISER_ISSUER || undefined;
  if (issuer !== undefined && !/^[\x21-\x7e]{1,256}$/.test(issuer)) {
    throw configError('KODEVISER_ISSUER must be 1 to 256 printable characters without spaces (a URL, say)');
  }
  let lab: { dir: string; device: string | null } | undefined;
  if (env.KODEVISER_LAB_DIR) {
    const dir = resolve(cwd, env.KODEVISER_LAB_DIR);
    if (!existsSync(join(dir, 'index.html'))) {
      throw configError(`KODEVISER_LAB_DIR ${dir} has no index.html (build the lab: npm run build)`);
    }
    const device = env.KODEVISER_LAB_DEVICE ? resolve(cwd, env.KODEVISER_LAB_DEVICE) : null;
    lab = { dir, device };
  } else if (env.KODEVISER_LAB_DEVICE) {
    throw configError('KODEVISER_LAB_DEVICE needs KODEVISER_LAB_DIR (the lab that loads it)');
  }
  const fixtures = env.KODEVISER_FIXTURES ? resolve(cwd, env.KODEVISER_FIXTURES) : undefined;
  if (fixtures !== undefined && !existsSync(fixtures)) throw configError(`KODEVISER_FIXTURES ${fixtures} does not exist`);
  const formValidityMs = parseInteger('KODEVISER_FORM_VALIDITY_MS', env.KODEVISER_FORM_VALIDITY_MS || '3600000', 1000, 86_400_000);
  const simulatedPassport = parseSwitch('KODEVISER_SIMULATED_PASSPORT', env.KODEVISER_SIMULATED_PASSPORT ?? '');
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/./.test(redisUrl)) {
    throw configError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  const redisTimeoutMs = parseInteger(
    'KODEVISER_REDIS_TIMEOUT_MS',
    env.KODEVISER_REDIS_TIMEOUT_MS || String(DEFAULT_REDIS_TIMEOUT_MS),
    1,
    60_000,
  );
  const timeouts = parseHttpTimeouts(env);
  const policy = env.KODEVISER_POLICY ? parsePolicy(env.KODEVISER_POLICY) : undefined;
  const orderPolicy = env.KODEVISER_ORDER_POLICY ? parseOrderPolicy(env.KODEVISER_ORDER_POLICY) : undefined;
  const trustProxy = env.KODEVISER_TRUST_PROXY ? parseTrustProxy(env.KODEVISER_TRUST_PROXY) : undefined;
  const serviceToken = env.KODEVISER_SERVICE_TOKEN ? parseToken('KODEVISER_SERVICE_TOKEN', env.KODEVISER_SERVICE_TOKEN) : null;
  const pskcKey = env.KODEVISER_PSKC_KEY ? parseHexKey('KODEVISER_PSKC_KEY', env.KODEVISER_PSKC_KEY, 16, 24, 32) : null;
  if (env.KODEVISER_MASTER_KEY && env.KODEVISER_MASTER_KEY_FILE) {
    throw configError('set KODEVISER_MASTER_KEY or KODEVISER_MASTER_KEY_FILE, not both');
  }
  // Everything that can be checked without touching the disk has been: now the data directory.
  const envAdminToken = env.KODEVISER_ADMIN_TOKEN ? parseToken('KODEVISER_ADMIN_TOKEN', env.KODEVISER_ADMIN_TOKEN) : null;
  const envMasterKey = env.KODEVISER_MASTER_KEY ? parseHexKey('KODEVISER_MASTER_KEY', env.KODEVISER_MASTER_KEY, 32) : null;

  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw configError(`KODEVISER_DATA_DIR ${dataDir} cannot be created: ${(e as Error).message}`);
  }
  const warnings: string[] = [];
  let masterKeyFile: string | null = null;
  let masterKey = envMasterKey;
  if (!masterKey) {
    const named = env.KODEVISER_MASTER_KEY_FILE;
    const path = named ? resolve(cwd, named) : join(dataDir, MASTER_KEY_FILE);
    if (named && !existsSync(path)) {
      throw configError(
        `KODEVISER_MASTER_KEY_FILE ${path} does not exist (it is only generated at the default place, ${join(dataDir, MASTER_KEY_FILE)})`,
      );
    }
    const file = readOrCreateSecretFile(path, () => randomBytes(32).toString('hex'));
    masterKey = parseHexKey(`master key file ${path}`, file.value, 32);
    if (file.created) masterKeyFile = path;
    if (file.warning) warnings.push(file.warning);
  }
  let adminTokenFile: string | null = null;
  let adminToken = envAdminToken;
  if (!adminToken) {
    const path = join(dataDir, ADMIN_TOKEN_FILE);
    const file = readOrCreateSecretFile(path, () => randomBytes(32).toString('base64url'));
    adminToken = parseToken(`admin token file ${path}`, file.value);
    if (file.created) adminTokenFile = path;
    if (file.warning) warnings.push(file.warning);
  }

  return {
    config: {
      port,
      host,
      dataDir,
      database,
      storeTimeouts,
      masterKey,
      adminToken,
      serviceToken,
      pskcKey,
      rateLimit: {
        perIp,
        perUser,
        bearerFailures,
        loginsPerIp,
        ordersPerIp,
        windowMs: 60_000,
        ...(redisUrl !== undefined ? { redisUrl, redisTimeoutMs } : {}),
      },
      hashing,
      auditRepeatWindowMs,
      auditCheckpointMs,
      ...(issuer !== undefined ? { issuer } : {}),
      ...(lab !== undefined ? { lab } : {}),
      pages: { formValidityMs, simulatedPassport },
      ...(fixtures !== undefined ? { fixtures } : {}),
      logLevel: logLevelText as LogLevel,
      quiet,
      timeouts,
      ...(trustProxy !== undefined ? { trustProxy } : {}),
      ...(policy !== undefined ? { policy } : {}),
      ...(orderPolicy !== undefined ? { orderPolicy } : {}),
    },
    generated: { masterKeyFile, adminTokenFile },
    warnings,
  };
}
