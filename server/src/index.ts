/**
 * @kodeviser/server: the Fastify validation server. `build()` makes the app (no listen),
 * `start()` / `main()` run it as a process, `loadConfig()` reads the environment and flags.
 */
export { build, JSON_BODY_LIMIT } from './app.js';
export type { BuildOptions } from './app.js';
export { loadConfig, USAGE, ADMIN_TOKEN_FILE, MASTER_KEY_FILE, LOG_LEVELS } from './config.js';
export type { ServerConfig, LoadedConfig, LoadConfigOptions, DatabaseConfig, RateLimitConfig, LogLevel } from './config.js';
export { start, main, openStore, StartError } from './main.js';
export type { Started, StartOptions } from './main.js';
export { createLogger, REDACT_PATHS } from './plugins/logger.js';
export type * from './domain/types.js';
export { ServiceError, DuplicateSerialError, isServiceError } from './domain/errors.js';
