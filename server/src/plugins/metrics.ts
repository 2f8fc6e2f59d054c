/**
 * Prometheus metrics (text exposition format 0.0.4 via prom-client). One registry per app, not
 * prom-client's global one, so that several apps (tests, the bench) never share counters.
 *  - kodeviser_http_requests_total{method,route,status_code}
 *  - kodeviser_http_request_duration_seconds{method,route} (histogram; buckets around the 20 ms p99 target)
 *  - kodeviser_otp_outcomes_total{endpoint,result,reason}: the service reports each verification's
 *    outcome and the route layer counts it here — the reason is for operators; clients never see it.
 * The route label is the route's pattern (/v1/tokens/:serial), never the raw URL, so a scan of
 * random URLs cannot blow up the label set; unmatched requests are labelled "(not found)".
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  countOutcome(endpoint: string, result: string, reason: string): void;
}

export function installMetrics(app: FastifyInstance): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kodeviser_' });
  const requests = new Counter({
    name: 'kodeviser_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'kodeviser_http_request_duration_seconds',
    help: 'HTTP request latency by route (time to the last byte written)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'kodeviser_otp_outcomes_total',
    help: 'verification outcomes by endpoint, result and reason',
    labelNames: ['endpoint', 'result', 'reason'] as const,
    registers: [registry],
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(not found)';
    requests.inc({ method: request.method, route, status_code: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });

  return {
    registry,
    countOutcome: (endpoint, result, reason) => outcomes.inc({ endpoint, result, reason }),
  };
}
