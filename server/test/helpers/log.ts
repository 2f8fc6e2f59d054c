/** A pino logger of the server's (plugins/logger.ts: its redaction) that writes into memory. */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/plugins/logger.js';
import type { LogLevel } from '../../src/config.js';

export function memoryLogger(level: LogLevel = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(
    level,
    new Writable({
      write(c: Buffer, _e, done) {
        lines.push(c.toString());
        done();
      },
    }),
  );
  return { logger, lines };
}
