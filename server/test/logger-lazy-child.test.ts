// The per-request logger is made only when a request logs at a level the log keeps, and then
// logs exactly what an eagerly made pino child would: bindings, redaction, levels.
import t from 'tap';
import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { createLogger, lazyChildLoggerFactory } from '../src/plugins/logger.js';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const pinoLogger = createLogger(level, sink);
  let made = 0;
  // The parent as the factory sees it, counting the children made through it.
  const logger = {
    child: (...args: Parameters<typeof pinoLogger.child>) => {
      made++;
      return pinoLogger.child(...args);
    },
    isLevelEnabled: (l: string) => pinoLogger.isLevelEnabled(l),
    get level() {
      return pinoLogger.level;
    },
  };
  return { logger: logger as unknown as FastifyBaseLogger, lines, made: () => made };
}

t.test('nothing logged at a kept level: no child is made', async (t) => {
  const { logger, lines, made } = capture('warn');
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-1' }, {});
  log.info('incoming request');
  log.debug({ x: 1 }, 'detail');
  log.trace('noise');
  log.silent('never written');
  t.equal(made(), 0, 'no pino child made');
  t.equal(lines.length, 0);
  t.equal(log.level, 'warn', "the level is the parent's");
});

t.test('the first kept line makes the child; lines carry the bindings and stay redacted', async (t) => {
  const { logger, lines, made } = capture('info');
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-2' }, {});
  log.debug('dropped');
  t.equal(made(), 0);
  log.info({ body: { otp: '123456', password: 'hunter22' } }, 'first');
  log.warn('second');
  log.error(new Error('boom'), 'third');
  log.fatal('fourth');
  t.equal(made(), 1, 'made once, on the first kept line');
  t.same(
    lines.map((l) => [l.reqId, l.msg]),
    [
      ['req-2', 'first'],
      ['req-2', 'second'],
      ['req-2', 'third'],
      ['req-2', 'fourth'],
    ],
  );
  t.same(lines[0]!.body, { otp: '[redacted]', password: '[redacted]' }, 'redaction applies');
  t.notOk(JSON.stringify(lines).includes('hunter22'));
});

t.test('level changes and grandchildren go through the real child', async (t) => {
  const { logger, lines } = capture('warn');
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-3' }, {});
  log.level = 'debug';
  t.equal(log.level, 'debug');
  log.debug('now kept');
  log.child({ part: 'x' }).info('grandchild');
  t.same(
    lines.map((l) => [l.reqId, l.part, l.msg]),
    [
      ['req-3', undefined, 'now kept'],
      ['req-3', 'x', 'grandchild'],
    ],
  );
  t.equal(logger.level, 'warn', 'the parent keeps its level');
});

t.test('a child with its own level is made at once', async (t) => {
  const { logger, lines, made } = capture('warn');
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-4' }, { level: 'trace' });
  t.equal(made(), 1);
  log.trace("kept by the route's level");
  t.equal(lines[0]?.msg, "kept by the route's level");
});
