/**
 * The fuzz property and its runner. For every request, whatever it carries:
 *  - the status is 2xx or 4xx, never 5xx (nor anything else);
 *  - a 4xx body is JSON: `{error, message}` (two strings, nothing else), or one of the verdicts
 *    the API documents as 4xx bodies — `{result:"reject"}` (401, end-user login/activation) and
 *    `{result:"blocked", …retryAfterSeconds}` (429); outside the API's paths, where the service's
 *    pages answer, it may instead be a page (checkPage: HTML, no stack trace, no JSON);
 * and after a route's run the server still answers /healthz and accepts a valid code.
 * Cases per route: KODEVISER_FUZZ_RUNS (default 10,000, the issue's floor);
 * KODEVISER_FUZZ_SEED repeats a run.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import type { FuzzRequest } from './hostile.js';

export const RUNS = Number(process.env.KODEVISER_FUZZ_RUNS ?? 10_000);
const SEED = process.env.KODEVISER_FUZZ_SEED ? Number(process.env.KODEVISER_FUZZ_SEED) : undefined;

export interface FuzzReply {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** The API's paths: JSON errors there, always. Elsewhere the server's pages answer with HTML. */
const API_PATH = /^\/(?:v1\/|healthz|readyz|metrics|\.well-known\/)/;

/**
 * null when a page route's reply keeps the pages' property, else what is wrong with it: never a
 * 5xx; a redirect with its Location, or a page (text/html) whatever went wrong — never JSON,
 * never a stack trace.
 */
export function checkPage(method: string, res: FuzzReply): string | null {
  const status = res.statusCode;
  if (status >= 500 || status < 200) return `status ${status}: ${res.body.slice(0, 300)}`;
  if (status === 303 || status === 302) return typeof res.headers.location === 'string' ? null : `${status} without a Location`;
  if (method === 'HEAD') return null;
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('text/html')) return `${status} with content-type "${type}": ${res.body.slice(0, 200)}`;
  if (/\bat [\w.<>]+ \(|node_modules|\.ts:\d+|"statusCode"/.test(res.body))
    return `${status}: a stack trace or an error object in the page`;
  return null;
}

/**
 * null when the reply keeps the property, else what is wrong with it: on the API's paths a JSON
 * error (checkJson); elsewhere that, or a page as checkPage holds it (the pages answer there, and
 * their 404 is the API's). `path` null: raw bytes, whose path the server may read otherwise.
 */
export function checkReply(method: string, res: FuzzReply, path: string | null = ''): string | null {
  const html = String(res.headers['content-type'] ?? '').startsWith('text/html');
  if (html && (path === null || !API_PATH.test(path))) return checkPage(method, res);
  return checkJson(method, res);
}

function checkJson(method: string, res: FuzzReply): string | null {
  const { statusCode: status } = res;
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500))) return `status ${status}: ${res.body.slice(0, 300)}`;
  if (status < 400 || method === 'HEAD') return null;
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) return `${status} with content-type "${type}"`;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `${status} with a body that is not JSON: ${res.body.slice(0, 300)}`;
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const keys = Object.keys(b).sort().join(',');
  if (keys === 'error,message' && typeof b.error === 'string' && typeof b.message === 'string') return null;
  if (status === 401 && keys === 'result' && b.result === 'reject') return null;
  if (status === 429 && b.result === 'blocked' && typeof b.retryAfterSeconds === 'number') return null;
  return `${status} with body ${res.body.slice(0, 300)}`;
}

/**
 * What the property needs of an app or of a real server: one request, one reply — or null when
 * a conforming HTTP client cannot send the request at all (a NUL in a header value), which
 * discards the case.
 */
export type Send = (req: FuzzRequest) => Promise<FuzzReply | null>;

function describe(req: FuzzRequest): string {
  const payload =
    req.payload === undefined
      ? ''
      : ` ${typeof req.payload === 'string' ? JSON.stringify(req.payload.slice(0, 300)) : `<${req.payload.length} bytes>`}`;
  return `${req.method} ${req.url.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 300)}${payload}`;
}

/** Runs `runs` cases of `arb` through `send`; one assertion, and the status counts as a comment. */
export async function fuzzRoute(
  t: Test,
  name: string,
  send: Send,
  arb: fc.Arbitrary<FuzzRequest>,
  runs = RUNS,
  check: (method: string, res: FuzzReply, path: string) => string | null = checkReply,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let failure: string | null = null;
  const started = Date.now();
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        const res = await send(req);
        fc.pre(res !== null);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const problem = check(req.method, res, req.url);
        if (problem !== null) throw new Error(`${problem}\n  for ${describe(req)}`);
      }),
      { numRuns: runs, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  } catch (e) {
    // fast-check's report, then what the failing case threw
    const cause = (e as Error).cause;
    failure = `${(e as Error).message}${cause instanceof Error ? `\n${cause.message}` : ''}`;
  }
  t.equal(failure, null, `${name}: ${runs} cases, never a 5xx, every reply as the property says`);
  const counts = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  t.comment(`${name}: ${counts} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return statuses;
}
