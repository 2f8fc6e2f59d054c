/**
 * Crash safety of the whole server, for any store: the real server process is
 * loaded with concurrent POST /v1/validate of fresh hotp codes and killed with SIGKILL at a
 * random moment (seeded, printed: KODEVISER_CRASH_SEED repeats a run), then started again on the
 * same database. What must hold after every kill:
 *  - the database passes its integrity check, run on what the kill left behind, before restart;
 *  - every code answered `accept` is refused when sent again (a replay), and a replay that is
 *    accepted at its own moving factor is a lost commit;
 *  - the audit log (GET /v1/audit) holds an accept event for every accept that was answered, and
 *    no moving factor of a token was accepted twice;
 *  - for the tokens of every earlier round, the token's last accepted moving factor is still at
 *    least its last answered accept (verification only searches above it, so none of those codes
 *    can come back) and its audit accepts are all still there.
 * Each round loads fresh tokens, so a round's replays and unlocks never disturb the next load.
 * A request cut by the kill has no answer: its code may or may not have been committed, and
 * either is correct; such commits are counted ("committed, unanswered"), not judged.
 *
 * The caller chooses the store through `settings.databaseUrl` and supplies the integrity check
 * (PRAGMA integrity_check for SQLite, amcheck for PostgreSQL), so one more store is one more call.
 */
import type { Test } from 'tap';
import { createClient, type Client } from '../helpers/http-client.js';
import { importDevices, makeDevices, serialSource, type TestDevice } from '../helpers/devices.js';
import { createRng } from '../helpers/random.js';
import { startServerProcess, type ServerProcess, type ServerSettings } from '../helpers/server-process.js';

export interface CrashRunOptions {
  /** the store's name in messages */
  store: string;
  settings: ServerSettings;
  kills: number;
  seed: number;
  /** tokens loaded concurrently in one round (one request in flight each) */
  tokensPerRound: number;
  /** the kill comes at a uniformly random moment this long after the load started */
  minDelayMs: number;
  maxDelayMs: number;
  /** runs on the dead server's database: 'ok', or what is wrong */
  integrityCheck(): Promise<string>;
}

export interface CrashRunReport {
  kills: number;
  answeredAccepts: number;
  replays: number;
  /** requests the kill cut off (no answer) */
  cutOff: number;
  /** of those, the ones whose accept had been committed (found in the audit log) */
  committedUnanswered: number;
  /** replays that matched another moving factor in the look-ahead window by chance (6 digits) */
  coincidences: number;
}

interface TokenRecordOfRun {
  device: TestDevice;
  /** moving factors answered accept, and their codes */
  accepted: Map<number, string>;
}

const ROUND_REPLAYS_BEFORE_UNLOCK = 2; // the third consecutive failure blocks the token (policy.ts)

/** Runs `jobs` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await job(items[next++] as T);
  });
  await Promise.all(lanes);
}

function body(reply: { body: unknown }): Record<string, unknown> {
  return (typeof reply.body === 'object' && reply.body !== null ? reply.body : {}) as Record<string, unknown>;
}

/** Load: each token sends its codes 0, 1, 2 … one at a time until the kill cuts it off. */
async function load(
  client: Client,
  tokens: readonly TokenRecordOfRun[],
  stopped: () => boolean,
): Promise<{ anomalies: string[]; cutOff: number }> {
  const anomalies: string[] = [];
  let cutOff = 0;
  await Promise.all(
    tokens.map(async ({ device, accepted }) => {
      for (let c = 0; !stopped(); c++) {
        const otp = device.otp.generate(c);
        let reply;
        try {
          reply = await client.post('/v1/validate', { serial: device.serial, otp }, { admin: true });
        } catch {
          if (!stopped()) anomalies.push(`${device.serial} #${c}: the request failed before the kill`);
          cutOff++;
          return;
        }
        const b = body(reply);
        if (reply.status === 200 && b.result === 'accept' && b.movingFactor === c) accepted.set(c, otp);
        else anomalies.push(`${device.serial} #${c}: ${reply.status} ${reply.text}`);
      }
    }),
  );
  return { anomalies, cutOff };
}

async function auditAccepts(client: Client, serial: string): Promise<{ movingFactors: number[]; events: number }> {
  const reply = await client.get(`/v1/audit?serial=${serial}&limit=1000`, { admin: true });
  if (reply.status !== 200) throw new Error(`GET /v1/audit for ${serial}: ${reply.status} ${reply.text}`);
  const events = (body(reply).events ?? []) as Array<{ type: string; movingFactor: number | null }>;
  return { movingFactors: events.filter((e) => e.type === 'accept').map((e) => e.movingFactor as number), events: events.length };
}

export async function runCrashCycles(t: Test, opts: CrashRunOptions): Promise<CrashRunReport> {
  const rng = createRng(opts.seed);
  const nextSerial = serialSource();
  const report: CrashRunReport = { kills: 0, answeredAccepts: 0, replays: 0, cutOff: 0, committedUnanswered: 0, coincidences: 0 };
  const earlier: TokenRecordOfRun[] = [];
  let server: ServerProcess = await startServerProcess(opts.settings);
  t.teardown(() => server.stop());
  let client = createClient(server.url, opts.settings.adminToken);

  for (let round = 1; round <= opts.kills; round++) {
    const tokens = makeDevices(opts.tokensPerRound, 'hotp-sha1', nextSerial).map((device) => ({
      device,
      accepted: new Map<number, string>(),
    }));
    await importDevices(
      client,
      tokens.map((r) => r.device),
    );
    const delayMs = rng.int(opts.minDelayMs, opts.maxDelayMs);
    let stopped = false;
    const loaded = load(client, tokens, () => stopped);
    await new Promise((r) => setTimeout(r, delayMs));
    stopped = true;
    await server.kill9();
    const { anomalies, cutOff } = await loaded;
    report.kills++;
    report.cutOff += cutOff;
    const answered = tokens.reduce((n, r) => n + r.accepted.size, 0);
    report.answeredAccepts += answered;
    t.same(anomalies, [], `${opts.store} round ${round}: every fresh code sent before the kill was accepted`);

    t.equal(await opts.integrityCheck(), 'ok', `${opts.store} round ${round}: the database passes its integrity check after the kill`);

    server = await startServerProcess(opts.settings);
    client = createClient(server.url, opts.settings.adminToken);

    // Replays of this round's accepts, newest first (the commit most at risk), unlocking the
    // token every second failure so that a block never stands in for a real check.
    const replayedAccepts: string[] = [];
    const otherReplies: string[] = [];
    await pool(tokens, 16, async ({ device, accepted }) => {
      let sinceUnlock = 0;
      const factors = [...accepted.keys()].sort((a, b) => b - a);
      for (const c of factors) {
        if (sinceUnlock === ROUND_REPLAYS_BEFORE_UNLOCK) {
          await client.post(`/v1/tokens/${device.serial}/unlock`, undefined, { admin: true });
          sinceUnlock = 0;
        }
        const reply = await client.post('/v1/validate', { serial: device.serial, otp: accepted.get(c) }, { admin: true });
        report.replays++;
        sinceUnlock++;
        const b = body(reply);
        if (reply.status === 200 && b.result === 'accept') {
          if (b.movingFactor === c) replayedAccepts.push(`${device.serial} #${c}`);
          else {
            // Six digits: the old code is also the code of a counter in the look-ahead window
            // (1 in 10^5 per replay). A legitimate accept; remember it like any other.
            report.coincidences++;
            accepted.set(b.movingFactor as number, accepted.get(c) as string);
          }
        } else if (!(reply.status === 200 && (b.result === 'reject' || b.result === 'resync-started'))) {
          otherReplies.push(`${device.serial} #${c}: ${reply.status} ${reply.text}`);
        }
      }
      await client.post(`/v1/tokens/${device.serial}/unlock`, undefined, { admin: true });
    });
    t.same(replayedAccepts, [], `${opts.store} round ${round}: none of the ${answered} codes answered accept is accepted again`);
    t.same(otherReplies, [], `${opts.store} round ${round}: every replay got a verdict`);

    // Every token so far: the audit log holds its answered accepts, once each; earlier rounds'
    // tokens still stand at or beyond their last answered accept.
    const missing: string[] = [];
    const twice: string[] = [];
    const behind: string[] = [];
    let committedUnanswered = 0;
    await pool([...earlier, ...tokens], 16, async ({ device, accepted }) => {
      const audit = await auditAccepts(client, device.serial);
      if (audit.events >= 1000) throw new Error(`${device.serial}: 1000 audit events or more, cannot see them all`);
      const seen = new Set(audit.movingFactors);
      if (seen.size !== audit.movingFactors.length) twice.push(device.serial);
      for (const c of accepted.keys()) if (!seen.has(c)) missing.push(`${device.serial} #${c}`);
      if (tokens.some((r) => r.device === device)) {
        for (const c of seen) if (!accepted.has(c)) committedUnanswered++;
      } else if (accepted.size > 0) {
        const info = await client.get(`/v1/tokens/${device.serial}`, { admin: true });
        const last = body(info).lastMovingFactor as number;
        if (!(last >= Math.max(...accepted.keys()))) behind.push(`${device.serial}: ${last}`);
      }
    });
    report.committedUnanswered += committedUnanswered;
    t.same(missing, [], `${opts.store} round ${round}: the audit log holds every answered accept`);
    t.same(twice, [], `${opts.store} round ${round}: no moving factor accepted twice`);
    t.same(behind, [], `${opts.store} round ${round}: earlier tokens' counters did not move back`);
    t.comment(
      `${opts.store} round ${round}: killed ${delayMs} ms into the load; ${answered} accepts answered, ${cutOff} requests cut off (${committedUnanswered} of them committed)`,
    );
    earlier.push(...tokens);
  }
  await server.stop();
  return report;
}
