/**
 * Configuration: defaults, flags over environment, and every bad value stopped at start with a
 * message naming the variable (and never echoing a secret). Secret files: created 0600 on first
 * start, read back unchanged on the next, never replaced when named explicitly but missing.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ADMIN_TOKEN_FILE, MASTER_KEY_FILE } from '../src/config.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const MASTER_HEX = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

t.test('defaults: a fresh data dir gets a master key and an admin token, 0600, stable across starts', async (t) => {
  const cwd = tempDir(t);
  const first = loadConfig({ env: {}, argv: [], cwd });
  const { config } = first;
  t.equal(config.port, 8080);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.dataDir, join(cwd, 'data'));
  t.same(config.database, { kind: 'sqlite', path: join(cwd, 'data', 'kodeviser.db') });
  t.equal(config.masterKey.length, 32);
  t.ok(config.adminToken.length >= 40, 'a generated admin token is long');
  t.equal(config.serviceToken, null);
  t.equal(config.pskcKey, null);
  t.same(config.rateLimit, { perIp: 3000, perUser: 30, bearerFailures: 20, loginsPerIp: 30, ordersPerIp: 30, windowMs: 60_000 });
  t.equal(config.auditRepeatWindowMs, 60_000);
  t.equal(config.auditCheckpointMs, 3_600_000, 'a checkpoint by the server every hour');
  t.equal(config.logLevel, 'info');
  t.equal(first.generated.masterKeyFile, join(cwd, 'data', MASTER_KEY_FILE));
  t.equal(first.generated.adminTokenFile, join(cwd, 'data', ADMIN_TOKEN_FILE));
  for (const f of [MASTER_KEY_FILE, ADMIN_TOKEN_FILE]) {
    t.equal(statSync(join(cwd, 'data', f)).mode & 0o777, 0o600, `${f} is 0600`);
  }
  t.same(first.warnings, []);

  const second = loadConfig({ env: {}, argv: [], cwd });
  t.same(second.config.masterKey, config.masterKey, 'the master key survives a restart');
  t.equal(second.config.adminToken, config.adminToken, 'the admin token survives a restart');
  t.same(second.generated, { masterKeyFile: null, adminTokenFile: null }, 'nothing generated the second time');
});

t.test('environment and flags (flags win)', async (t) => {
  const cwd = tempDir(t);
  const env = {
    PORT: '9000',
    HOST: '0.0.0.0',
    KODEVISER_DATA_DIR: 'state',
    DATABASE_URL: 'sqlite:db/k.db',
    KODEVISER_MASTER_KEY: MASTER_HEX,
    KODEVISER_ADMIN_TOKEN: 'admin-token-0123456789',
    KODEVISER_SERVICE_TOKEN: 'service-token-0123456789',
    KODEVISER_PSKC_KEY: '12345678901234567890123456789012',
    KODEVISER_RATE_LIMIT_IP: '0',
    KODEVISER_RATE_LIMIT_USER: '5',
    KODEVISER_RATE_LIMIT_BEARER: '7',
    KODEVISER_AUDIT_REPEAT_WINDOW_MS: '0',
    KODEVISER_AUDIT_CHECKPOINT_MS: '0',
    LOG_LEVEL: 'warn',
  };
  const { config, generated } = loadConfig({ env, argv: ['--port', '9001', '--log-level', 'debug'], cwd });
  t.equal(config.port, 9001);
  t.equal(config.host, '0.0.0.0');
  t.equal(config.dataDir, join(cwd, 'state'));
  t.same(config.database, { kind: 'sqlite', path: join(cwd, 'db', 'k.db') });
  t.equal(Buffer.from(config.masterKey).toString('hex'), MASTER_HEX);
  t.equal(config.adminToken, 'admin-token-0123456789');
  t.equal(config.serviceToken, 'service-token-0123456789');
  t.equal(Buffer.from(config.pskcKey!).toString('hex'), '12345678901234567890123456789012');
  t.same(config.rateLimit, { perIp: 0, perUser: 5, bearerFailures: 7, loginsPerIp: 30, ordersPerIp: 30, windowMs: 60_000 });
  t.equal(config.auditRepeatWindowMs, 0, 'every refusal a row');
  t.equal(config.auditCheckpointMs, 0, 'no checkpoints by the server');
  t.equal(config.logLevel, 'debug');
  t.same(generated, { masterKeyFile: null, adminTokenFile: null }, 'nothing is generated when the environment has both');

  const abs = loadConfig({
    env: { KODEVISER_ADMIN_TOKEN: 'admin-token-0123456789' },
    argv: ['--database-url', `sqlite:${join(cwd, 'x.db')}`, '--data-dir', join(cwd, 'd2')],
    cwd,
  });
  t.same(abs.config.database, { kind: 'sqlite', path: join(cwd, 'x.db') });
  const pg = loadConfig({
    env: { DATABASE_URL: 'postgres://u@localhost/kodeviser', KODEVISER_ADMIN_TOKEN: 'admin-token-0123456789' },
    cwd,
  });
  t.same(
    pg.config.database,
    { kind: 'postgres', url: 'postgres://u@localhost/kodeviser' },
    'postgres URLs are accepted by the configuration',
  );
});

t.test('bad values stop the start with a message naming the variable', async (t) => {
  const cwd = tempDir(t);
  const cases: Array<[string, Record<string, string>, string[], RegExp]> = [
    ['PORT not a number', { PORT: 'eighty' }, [], /^PORT must be an integer from 0 to 65535, got "eighty"/],
    ['PORT out of range', { PORT: '70000' }, [], /^PORT must be an integer from 0 to 65535/],
    ['PORT negative', { PORT: '-1' }, [], /^PORT must be an integer from 0 to 65535/],
    ['--port wrong', {}, ['--port', '-1'], /--port|PORT/],
    [
      'master key not hex',
      { KODEVISER_MASTER_KEY: 'zz'.repeat(32) },
      [],
      /^KODEVISER_MASTER_KEY must be 64 hex digits \(32 bytes\), got 64 characters that are not all hex digits/,
    ],
    [
      'master key too short',
      { KODEVISER_MASTER_KEY: 'ab'.repeat(16) },
      [],
      /^KODEVISER_MASTER_KEY must be 64 hex digits \(32 bytes\), got 32 characters$/,
    ],
    ['both master key and file', { KODEVISER_MASTER_KEY: MASTER_HEX, KODEVISER_MASTER_KEY_FILE: 'k' }, [], /not both/],
    [
      'unknown DATABASE_URL scheme',
      { DATABASE_URL: 'mysql://localhost/db' },
      [],
      /^DATABASE_URL has an unknown scheme "mysql:"; use sqlite:<path> or postgres:\/\//,
    ],
    ['DATABASE_URL without scheme', { DATABASE_URL: '/var/db.sqlite' }, [], /^DATABASE_URL has no scheme/],
    ['empty sqlite path', { DATABASE_URL: 'sqlite:' }, [], /^DATABASE_URL sqlite: needs a file path/],
    ['short admin token', { KODEVISER_ADMIN_TOKEN: 'short' }, [], /^KODEVISER_ADMIN_TOKEN must be at least 16 printable characters/],
    ['service token with spaces', { KODEVISER_SERVICE_TOKEN: 'a token with spaces in it' }, [], /^KODEVISER_SERVICE_TOKEN must be/],
    [
      'PSKC key of the wrong length',
      { KODEVISER_PSKC_KEY: 'abcd' },
      [],
      /^KODEVISER_PSKC_KEY must be 32, 48 or 64 hex digits \(16, 24 or 32 bytes\)/,
    ],
    ['log level', { LOG_LEVEL: 'loud' }, [], /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    ['rate limit', { KODEVISER_RATE_LIMIT_USER: '-3' }, [], /^KODEVISER_RATE_LIMIT_USER must be an integer/],
    [
      'audit repeat window',
      { KODEVISER_AUDIT_REPEAT_WINDOW_MS: '1m' },
      [],
      /^KODEVISER_AUDIT_REPEAT_WINDOW_MS must be an integer from 0 to/,
    ],
    [
      'audit checkpoint period',
      { KODEVISER_AUDIT_CHECKPOINT_MS: '1h' },
      [],
      /^KODEVISER_AUDIT_CHECKPOINT_MS must be an integer from 0 to 604800000, got "1h"/,
    ],
    ['unknown flag', {}, ['--prot', '80'], /Unknown option '--prot'/],
    ['positional argument', {}, ['serve'], /Unexpected argument 'serve'/],
    [
      'policy not JSON',
      { KODEVISER_POLICY: '{hotpLookAhead: 20}' },
      [],
      /^KODEVISER_POLICY must be a JSON object, e\.g\. .* it does not parse/,
    ],
    ['policy not an object', { KODEVISER_POLICY: '[20]' }, [], /^KODEVISER_POLICY must be a JSON object$/],
    [
      'policy unknown key',
      { KODEVISER_POLICY: '{"hotpLookahead":20}' },
      [],
      /^KODEVISER_POLICY: unknown setting "hotpLookahead"; known: hotpLookAhead, /,
    ],
    [
      'policy not an integer',
      { KODEVISER_POLICY: '{"lockAfter":2.5}' },
      [],
      /^KODEVISER_POLICY: lockAfter must be an integer from 1 to 100000, got 2\.5/,
    ],
    [
      'policy a string',
      { KODEVISER_POLICY: '{"blockAfter":"3"}' },
      [],
      /^KODEVISER_POLICY: blockAfter must be an integer from 1 to 1000, got "3"/,
    ],
    ['policy out of range', { KODEVISER_POLICY: '{"hotpLookAhead":1000000}' }, [], /hotpLookAhead must be an integer from 0 to 1000/],
    [
      'policy inconsistent',
      { KODEVISER_POLICY: '{"hotpLookAhead":200}' },
      [],
      /^KODEVISER_POLICY: hotpWideLookAhead \(100\) must not be below hotpLookAhead \(200\)/,
    ],
    [
      'quiet neither yes nor no',
      { KODEVISER_QUIET: 'maybe' },
      [],
      /^KODEVISER_QUIET must be 1, true, yes or on, or 0, false, no or off, got "maybe"$/,
    ],
    ['--quiet with a value', {}, ['--quiet=1'], /--quiet/],
    ['trust every proxy', { KODEVISER_TRUST_PROXY: 'true' }, [], /^KODEVISER_TRUST_PROXY cannot trust every peer/],
    [
      'trust proxy not an address',
      { KODEVISER_TRUST_PROXY: '10.0.0.1,proxy.example' },
      [],
      /^KODEVISER_TRUST_PROXY: "proxy.example" is not an IP address, a CIDR range or one of loopback/,
    ],
    ['trust proxy prefix too long', { KODEVISER_TRUST_PROXY: '10.0.0.0/33' }, [], /"10\.0\.0\.0\/33" is not an IP address/],
    // A bare hop count trusts whatever peer connects: a client connecting directly would name its own address.
    ...['0', '1', ' 2 ', '100'].map((hops): [string, Record<string, string>, string[], RegExp] => [
      `trust proxy hop count "${hops}"`,
      { KODEVISER_TRUST_PROXY: hops },
      [],
      new RegExp(
        `^KODEVISER_TRUST_PROXY=${hops.trim()} is a hop count, which would trust the X-Forwarded-For of any peer that connects, so a client connecting directly could choose its own address; give the proxies' addresses or CIDR ranges instead, e.g\\. KODEVISER_TRUST_PROXY=10\\.0\\.0\\.5 or 10\\.0\\.0\\.0/8 \\(a list covers a chain of proxies too\\)$`,
      ),
    ]),
  ];
  for (const [name, env, argv, message] of cases) {
    t.throws(() => loadConfig({ env, argv, cwd }), { code: 'ERR_ARGUMENT', message }, name);
  }
  // A secret's value is never part of the message.
  const secret = 'x'.repeat(63);
  const err = t.throws(() => loadConfig({ env: { KODEVISER_MASTER_KEY: secret }, cwd })) as Error;
  t.notMatch(err.message, secret, 'the bad key is not echoed');
});

t.test('secret files: explicit file, missing file, corrupt file, loose permissions', async (t) => {
  const cwd = tempDir(t);
  const keyFile = join(cwd, 'my.key');
  t.throws(
    () => loadConfig({ env: { KODEVISER_MASTER_KEY_FILE: keyFile }, cwd }),
    { message: /KODEVISER_MASTER_KEY_FILE .*my\.key does not exist/ },
    'a named key file is never generated',
  );
  writeFileSync(keyFile, `${MASTER_HEX}\n`, { mode: 0o644 });
  const loaded = loadConfig({ env: { KODEVISER_MASTER_KEY_FILE: keyFile }, cwd });
  t.equal(Buffer.from(loaded.config.masterKey).toString('hex'), MASTER_HEX);
  t.equal(loaded.generated.masterKeyFile, null);
  t.match(loaded.warnings, [/my\.key is readable by other users \(mode 644\); chmod 600 it/]);

  const dir = join(cwd, 'data');
  writeFileSync(join(dir, MASTER_KEY_FILE), 'not a key\n', { mode: 0o600 });
  t.throws(
    () => loadConfig({ env: {}, cwd }),
    { message: /^master key file .* must be 64 hex digits/ },
    'a corrupt default key file is an error, not replaced',
  );
  writeFileSync(join(dir, MASTER_KEY_FILE), MASTER_HEX, { mode: 0o600 });
  writeFileSync(join(dir, ADMIN_TOKEN_FILE), 'tiny', { mode: 0o600 });
  chmodSync(join(dir, ADMIN_TOKEN_FILE), 0o600);
  t.throws(() => loadConfig({ env: {}, cwd }), { message: /^admin token file .* must be at least 16/ });
  writeFileSync(join(dir, ADMIN_TOKEN_FILE), 'a-perfectly-good-admin-token\n');
  t.equal(loadConfig({ env: {}, cwd }).config.adminToken, 'a-perfectly-good-admin-token');
  t.equal(readFileSync(join(dir, ADMIN_TOKEN_FILE), 'utf8'), 'a-perfectly-good-admin-token\n', 'an existing token file is left as it is');

  writeFileSync(join(cwd, 'a-file'), '');
  t.throws(() => loadConfig({ env: { KODEVISER_DATA_DIR: join(cwd, 'a-file', 'sub') }, cwd }), {
    message: /^KODEVISER_DATA_DIR .* cannot be created/,
  });
});

t.test('quiet mode: KODEVISER_QUIET or --quiet, off by default', async (t) => {
  const cwd = tempDir(t);
  const quiet = (env: Record<string, string>, argv: string[] = []) =>
    loadConfig({ env: { KODEVISER_MASTER_KEY: MASTER_HEX, ...env }, argv, cwd }).config.quiet;
  t.equal(quiet({}), false, 'off by default');
  for (const yes of ['1', 'true', 'YES', ' on ']) t.equal(quiet({ KODEVISER_QUIET: yes }), true, `KODEVISER_QUIET=${yes}`);
  for (const no of ['0', 'false', 'no', 'off', '']) t.equal(quiet({ KODEVISER_QUIET: no }), false, `KODEVISER_QUIET=${no}`);
  t.equal(quiet({}, ['--quiet']), true, '--quiet');
  t.equal(quiet({ KODEVISER_QUIET: '0' }, ['--quiet']), true, 'the flag wins');
});

t.test('KODEVISER_TRUST_PROXY: addresses, ranges and names, never a bare hop count', async (t) => {
  const cwd = tempDir(t);
  const trust = (value: string) =>
    loadConfig({ env: { KODEVISER_TRUST_PROXY: value, KODEVISER_MASTER_KEY: MASTER_HEX }, cwd }).config.trustProxy;
  t.equal(loadConfig({ env: { KODEVISER_MASTER_KEY: MASTER_HEX }, cwd }).config.trustProxy, undefined, 'none by default');
  t.throws(() => trust('2'), { code: 'ERR_ARGUMENT', message: /^KODEVISER_TRUST_PROXY=2 is a hop count, .* give the proxies' addresses/ });
  t.notMatch((t.throws(() => trust('1')) as Error).message, /\n/, 'refused in one line');
  t.equal(trust(' 127.0.0.1 , 10.0.0.0/8,fd00::/8, loopback '), '127.0.0.1,10.0.0.0/8,fd00::/8,loopback');
  t.equal(trust('::1'), '::1');
});

t.test('KODEVISER_POLICY: the settings given, and only those', async (t) => {
  const cwd = tempDir(t);
  const policy = (value?: string) =>
    loadConfig({ env: { KODEVISER_MASTER_KEY: MASTER_HEX, ...(value !== undefined ? { KODEVISER_POLICY: value } : {}) }, cwd }).config
      .policy;
  t.equal(policy(), undefined, 'the defaults by default');
  t.same(policy('{"hotpLookAhead":20,"hotpWideLookAhead":200,"lockAfter":10,"totpRatePriorPpm":7.5}'), {
    hotpLookAhead: 20,
    hotpWideLookAhead: 200,
    lockAfter: 10,
    totpRatePriorPpm: 7.5,
  });
  t.same(policy('{}'), {});
});

t.test('orders: KODEVISER_RATE_LIMIT_ORDERS and KODEVISER_ORDER_POLICY', async (t) => {
  const cwd = tempDir(t);
  const load = (env: Record<string, string>) => loadConfig({ env: { KODEVISER_MASTER_KEY: MASTER_HEX, ...env }, cwd }).config;
  t.equal(load({}).rateLimit.ordersPerIp, 30, 'thirty an hour by default');
  t.equal(load({ KODEVISER_RATE_LIMIT_ORDERS: '0' }).rateLimit.ordersPerIp, 0, 'off');
  t.equal(load({ KODEVISER_RATE_LIMIT_ORDERS: '100' }).rateLimit.ordersPerIp, 100);
  t.equal(load({}).orderPolicy, undefined, 'the defaults by default');
  t.same(load({ KODEVISER_ORDER_POLICY: '{"priceOre":5000,"freeOrders":1,"abroadDays":[5,15]}' }).orderPolicy, {
    priceOre: 5000,
    freeOrders: 1,
    abroadDays: [5, 15],
  });
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{priceOre: 1}', /^KODEVISER_ORDER_POLICY must be a JSON object, e\.g\. .* it does not parse$/],
    ['not an object', '[1]', /^KODEVISER_ORDER_POLICY must be a JSON object$/],
    [
      'an unknown setting',
      '{"price":1}',
      /^KODEVISER_ORDER_POLICY: unknown setting "price"; known: priceOre, freeOrders, domesticDays, abroadDays$/,
    ],
    ['a negative price', '{"priceOre":-1}', /^KODEVISER_ORDER_POLICY: priceOre must be an integer/],
    ['a fraction of an øre', '{"priceOre":41.76}', /^KODEVISER_ORDER_POLICY: priceOre must be an integer/],
    ['a window backwards', '{"domesticDays":[7,3]}', /^KODEVISER_ORDER_POLICY: domesticDays must be \[earliest, latest\]/],
    ['a window of one number', '{"abroadDays":6}', /^KODEVISER_ORDER_POLICY: abroadDays must be \[earliest, latest\]/],
  ];
  for (const [what, value, message] of cases) {
    t.throws(() => load({ KODEVISER_ORDER_POLICY: value }), { code: 'ERR_ARGUMENT', message }, what);
  }
  t.throws(() => load({ KODEVISER_RATE_LIMIT_ORDERS: 'many' }), { message: /^KODEVISER_RATE_LIMIT_ORDERS must be an integer/ });
});

t.test('timeouts: KODEVISER_REDIS_TIMEOUT_MS and the HTTP server', async (t) => {
  const cwd = tempDir(t);
  const load = (env: Record<string, string>) => loadConfig({ env: { KODEVISER_MASTER_KEY: MASTER_HEX, ...env }, cwd }).config;
  t.same(load({}).timeouts, { requestMs: 30_000, headersMs: 10_000, keepAliveMs: 72_000, connectionMs: 120_000 }, 'the defaults');
  t.notOk('redisTimeoutMs' in load({}).rateLimit, 'no Redis, no Redis timeout');
  t.equal(load({ REDIS_URL: 'redis://127.0.0.1:6379' }).rateLimit.redisTimeoutMs, 500, 'with REDIS_URL: 500 ms by default');
  t.equal(load({ REDIS_URL: 'redis://127.0.0.1:6379', KODEVISER_REDIS_TIMEOUT_MS: '250' }).rateLimit.redisTimeoutMs, 250);
  t.same(
    load({
      KODEVISER_REQUEST_TIMEOUT_MS: '20000',
      KODEVISER_HEADERS_TIMEOUT_MS: '5000',
      KODEVISER_KEEP_ALIVE_TIMEOUT_MS: '4000',
      KODEVISER_CONNECTION_TIMEOUT_MS: '0',
    }).timeouts,
    { requestMs: 20_000, headersMs: 5000, keepAliveMs: 4000, connectionMs: 0 },
  );
  t.equal(
    load({ KODEVISER_REQUEST_TIMEOUT_MS: '500' }).timeouts?.headersMs,
    500,
    'the headers default never exceeds a shorter request timeout',
  );
  t.same(load({ KODEVISER_REQUEST_TIMEOUT_MS: '0' }).timeouts?.requestMs, 0, '0: no request timeout');
  for (const [env, message] of [
    [{ KODEVISER_REDIS_TIMEOUT_MS: '0' }, /^KODEVISER_REDIS_TIMEOUT_MS must be an integer from 1 to 60000, got "0"$/],
    [{ KODEVISER_REQUEST_TIMEOUT_MS: '30s' }, /^KODEVISER_REQUEST_TIMEOUT_MS must be an integer/],
    [{ KODEVISER_HEADERS_TIMEOUT_MS: '0' }, /^KODEVISER_HEADERS_TIMEOUT_MS must be an integer from 1/],
    [{ KODEVISER_KEEP_ALIVE_TIMEOUT_MS: '-1' }, /^KODEVISER_KEEP_ALIVE_TIMEOUT_MS must be an integer/],
    [{ KODEVISER_CONNECTION_TIMEOUT_MS: 'never' }, /^KODEVISER_CONNECTION_TIMEOUT_MS must be an integer/],
    [
      { KODEVISER_REQUEST_TIMEOUT_MS: '1000', KODEVISER_HEADERS_TIMEOUT_MS: '2000' },
      /^KODEVISER_HEADERS_TIMEOUT_MS \(2000\) must not exceed KODEVISER_REQUEST_TIMEOUT_MS \(1000\)/,
    ],
  ] as const) {
    t.throws(() => load(env), { code: 'ERR_ARGUMENT', message }, JSON.stringify(env));
  }
});
