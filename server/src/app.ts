/**
 * The HTTP application: `build({ config, store, clock, logger })` returns a ready Fastify app
 * that does not listen (main.ts does; tests use inject()). It wires, in order:
 *  1. error and 404 handlers, so that every failure is `{error, message}` JSON (plugins/errors.ts);
 *  2. content types: JSON (16 KiB bodies; fastify's parser, proto-poisoning safe) and PSKC XML
 *     (1 MiB, POST /v1/tokens only); text/plain is removed, so any other type is a 415;
 *  3. metrics hooks, the per-IP rate limit, OpenAPI (/docs, /docs/json);
 *  4. the routes, which translate HTTP to TokenService calls and outcomes back to HTTP — the
 *     policy (windows, blocks, locks) and the storage are the service's, not this layer's;
 *  5. the service's pages (pages/index.ts: forms, cookies, CSRF, CSP in a scope of their own).
 * Closing the app closes the service and its store (after in-flight requests finish).
 */
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts, type ServerConfig } from './config.js';
import type { Clock, TokenService } from './domain/types.js';
import { createCredentialService } from './domain/credentials.js';
import { createTokenService } from './domain/service.js';
import type { TokenStore } from './store/types.js';
import { bearerAuth } from './plugins/auth.js';
import { HttpError, clientErrorHandler, errorBodySchema, installErrorHandlers, sendError } from './plugins/errors.js';
import { lazyChildLoggerFactory } from './plugins/logger.js';
import { auditCheckpoints } from './plugins/audit-checkpoints.js';
import { installMetrics } from './plugins/metrics.js';
import { installOpenApi } from './plugins/openapi.js';
import { installRateLimits, ordersLimit, redisClient } from './plugins/rate-limit.js';
import { credentialRoutes } from './routes/credentials.js';
import { operationsRoutes } from './routes/operations.js';
import { accountRoutes } from './routes/accounts.js';
import { receiptRoutes } from './routes/receipts.js';
import { labRoutes } from './routes/lab.js';
import { pageRoutes } from './pages/index.js';
import { oidcHost } from './oidc/host.js';
import { oidcInteractions } from './oidc/interaction.js';
import { oidcRoutes } from './routes/oidc.js';
import { applyFixtures, type Fixtures } from './fixtures.js';
import { memoryState, redisState, withFallback, type SharedState } from './security/shared-state.js';
import { proofRoutes } from './routes/proofs.js';
import { orderRoutes } from './routes/orders.js';
import { IMPORT_BODY_LIMIT, PSKC_CONTENT_TYPE, tokenRoutes } from './routes/tokens.js';
import { userRoutes } from './routes/users.js';
import { validateRoutes } from './routes/validate.js';

/** How often the server checkpoints its audit log, by default (KODEVISER_AUDIT_CHECKPOINT_MS). */
export const DEFAULT_AUDIT_CHECKPOINT_MS = 60 * 60 * 1000;

/** How often expired OpenID provider entries are deleted, by default. */
export const DEFAULT_OIDC_SWEEP_MS = 10 * 60 * 1000;

/** Every JSON body but a token import: the largest legitimate one (activate) is well under 1 KiB. */
export const JSON_BODY_LIMIT = 16 * 1024;

declare module 'fastify' {
  interface FastifyInstance {
    /** Applies test fixtures (fixtures.ts) through this app's service, once it listens; what was made. */
    applyFixtures(f: Fixtures, sleep?: (ms: number) => Promise<void>): Promise<string[]>;
  }
}

export interface BuildOptions {
  config: ServerConfig;
  store: TokenStore;
  clock: Clock;
  /** pino logger: plugins/logger.ts makes one with the redaction paths */
  logger: Logger;
  /** a ready-made service over `store` (e.g. with cheaper password hashing in tests); default: createTokenService */
  service?: TokenService;
  /** the guessing state the service was made with (sharedStateFor); default: made here, closed with the app */
  shared?: { state: SharedState; close(): void };
}

/**
 * Where guessing state (domain/guessing.ts, failed bearer tokens) is kept: with the rate limits,
 * in Redis when it is configured (in memory while it fails), else in memory.
 */
export function sharedStateFor(config: ServerConfig, logger: Logger): { state: SharedState; close(): void } {
  const url = config.rateLimit.redisUrl;
  if (!url) return { state: memoryState(), close: () => undefined };
  // Each command fails after redisTimeoutMs (a Redis that hangs): then the state is kept in memory.
  const redis = redisClient(url, config.rateLimit.redisTimeoutMs);
  const warn = (what: string) => (e: Error) => logger.warn({ err: { type: e.name, message: e.message } }, what);
  redis.on('error', warn('shared-state Redis unavailable'));
  return {
    state: withFallback(redisState(redis), memoryState(), warn('shared state kept in memory: Redis failed')),
    close: () => redis.disconnect(),
  };
}

/**
 * The HTTP server's timeouts, as Fastify and Node's http.Server take them: requestTimeout (the
 * whole request; Fastify's default is none, so a client that sends half a body held its socket
 * for good), headersTimeout, keepAliveTimeout, and connectionTimeout (socket inactivity). Node
 * checks for expired requests every connectionsCheckingInterval (30 s by default, which would
 * let a request run to twice its timeout): here at most every second.
 */
export function httpTimeoutOptions(t: HttpTimeouts) {
  const shortest = t.requestMs > 0 ? Math.min(t.requestMs, t.headersMs) : t.headersMs;
  return {
    requestTimeout: t.requestMs,
    connectionTimeout: t.connectionMs,
    keepAliveTimeout: t.keepAliveMs,
    http: {
      requireHostHeader: false,
      requestTimeout: t.requestMs,
      headersTimeout: t.headersMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(shortest / 4))),
    },
  };
}

/** proxy-addr's trust function for "the nearest `hops` peers are proxies". */
const trustHops =
  (hops: number) =>
  (_address: string, hop: number): boolean =>
    hop < hops;

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const { config, logger } = opts;
  const shared = opts.shared ?? sharedStateFor(config, logger);
  const service =
    opts.service ??
    createTokenService({
      store: opts.store,
      clock: opts.clock,
      masterKey: config.masterKey,
      logger,
      guesses: shared.state,
      ...(config.hashing ? { hashing: config.hashing } : {}),
      ...(config.auditRepeatWindowMs !== undefined ? { auditRepeats: { windowMs: config.auditRepeatWindowMs } } : {}),
      ...(config.policy ? { policy: config.policy } : {}),
      ...(config.orderPolicy ? { orders: { policy: config.orderPolicy } } : {}),
      ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: JSON_BODY_LIMIT,
    // Request ids (which tie one request's log lines together) are made here, never taken from
    // a client's header, which could forge or collide them.
    requestIdHeader: false,
    return503OnClosing: true,
    // A malformed URL (bad percent-encoding) or an overlong parameter: the same error shape.
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    // What Node's HTTP layer refuses — unparsable requests, and HTTP/1.1 without Host (checked
    // by installErrorHandlers rather than by Node, which would answer with no body): the same error shape.
    clientErrorHandler,
    // Slow clients (httpTimeoutOptions): a request that has not arrived whole in time is a 408,
    // its connection closed.
    ...httpTimeoutOptions(config.timeouts ?? DEFAULT_HTTP_TIMEOUTS),
    // request.ip, which the per-IP limit counts and the audit log records: the socket's peer
    // unless that peer is a configured proxy (then the address X-Forwarded-For gives for it).
    // A hop count becomes the function Fastify would make of it (its types take no number).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : (config.trustProxy ?? false),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // A receipt key exists from the first start (made now if this is it), not from the first login.
  // A database that cannot answer yet does not stop the start: the first login makes it then.
  app.addHook('onReady', async () => {
    await service
      .receiptKeys()
      .catch((e: unknown) =>
        app.log.warn({ err: { message: (e as Error).message } }, 'the receipt keys could not be read or made at start'),
      );
  });
  app.addHook('onClose', async () => {
    await service.close();
    if (opts.shared === undefined) shared.close();
  });

  installErrorHandlers(app);
  app.addSchema(errorBodySchema);
  app.removeContentTypeParser('text/plain');
  // A PSKC document is refused on every route but POST /v1/tokens before its body is read (the
  // parser below would read up to IMPORT_BODY_LIMIT first), and the connection closed, so that
  // the unread rest of the body is not drained either.
  app.addHook('onRequest', (request, reply, done) => {
    const type = request.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
    if (type === PSKC_CONTENT_TYPE && !(request.method === 'POST' && request.routeOptions.url === '/v1/tokens')) {
      reply.header('connection', 'close');
      done(new HttpError(415, 'unsupported-media-type', `${PSKC_CONTENT_TYPE} is accepted by POST /v1/tokens only`));
      return;
    }
    done();
  });
  app.addContentTypeParser(PSKC_CONTENT_TYPE, { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (request, body, done) => {
    if (request.routeOptions.url !== '/v1/tokens') {
      done(new HttpError(415, 'unsupported-media-type', `${PSKC_CONTENT_TYPE} is accepted by POST /v1/tokens only`), undefined);
      return;
    }
    done(null, body);
  });

  const metrics = installMetrics(app);
  const perUserLimit = await installRateLimits(app, config.rateLimit);
  await installOpenApi(app);
  const credentials = createCredentialService({ store: opts.store, clock: opts.clock });
  const bearerFailures = config.rateLimit.perIp > 0 ? (config.rateLimit.bearerFailures ?? 20) : 0;
  const auth = bearerAuth({
    adminToken: config.adminToken,
    serviceToken: config.serviceToken,
    credentialOf: (token) => credentials.principalOf(token),
    ...(bearerFailures > 0 ? { failures: { limit: bearerFailures, windowMs: config.rateLimit.windowMs, state: shared.state } } : {}),
  });
  app.decorateRequest('principal', null);

  await app.register(tokenRoutes, { service, auth, pskcKey: config.pskcKey });
  await app.register(userRoutes, { service, metrics, perUserLimit });
  await app.register(validateRoutes, { service, auth, metrics });
  await app.register(operationsRoutes, { service, auth, metrics });
  await app.register(credentialRoutes, { credentials, auth });
  await app.register(proofRoutes, { service, auth, metrics, perUserLimit });
  const oidc = oidcHost(app, {
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    listenHost: config.host,
    store: opts.store,
    clock: opts.clock,
    masterKey: config.masterKey,
    service,
    proxy: config.trustProxy !== undefined,
  });
  // An erasure also forgets the user's OpenID subject: the provider's sessions and grants name nobody.
  await app.register(accountRoutes, { service, auth, forget: (user) => oidc.forget(user) });
  // One count of orders per address, whether they come through the API or the order page.
  const orders = ordersLimit(app, config.rateLimit);
  await app.register(orderRoutes, { service, auth, ordersLimit: orders });
  await app.register(receiptRoutes, { service, auth });
  if (config.lab !== undefined) await app.register(labRoutes, config.lab);
  await app.register(oidcRoutes, { host: oidc, auth, store: opts.store.oidc, clock: opts.clock });
  app.decorate('applyFixtures', (f: Fixtures, sleep?: (ms: number) => Promise<void>) =>
    applyFixtures(f, { service, credentials, oidc, store: opts.store, clock: opts.clock, ...(sleep ? { sleep } : {}) }),
  );
  await app.register(auditCheckpoints, {
    archive: opts.store.auditArchive,
    masterKey: config.masterKey,
    clock: opts.clock,
    everyMs: config.auditCheckpointMs ?? DEFAULT_AUDIT_CHECKPOINT_MS,
  });
  // What the provider keeps (sessions, codes, tokens, grants) is found no more once expired, and
  // deleted by this sweep; on several instances each sweeps, none waiting for another (the store's).
  const sweep = setInterval(() => {
    opts.store.oidc
      .sweep(opts.clock.now())
      .catch((e: unknown) => app.log.warn({ err: { message: (e as Error).message } }, 'sweeping expired OpenID entries failed'));
  }, config.oidcSweepMs ?? DEFAULT_OIDC_SWEEP_MS);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));
  await app.register(pageRoutes, {
    service,
    credentials,
    clock: opts.clock,
    masterKey: config.masterKey,
    perUserLimit,
    ordersLimit: orders,
    shared: shared.state,
    oidc: oidcInteractions(oidc, opts.store.oidc, opts.clock),
    lab: config.lab !== undefined,
    ...(config.pages?.formValidityMs !== undefined ? { formValidityMs: config.pages.formValidityMs } : {}),
    ...(config.pages?.simulatedPassport === true ? { simulatedPassport: true } : {}),
  });
  await app.ready();
  return app;
}
