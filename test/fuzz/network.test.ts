/**
 * The fuzz property over the network path: the compiled server as users start
 * it (server/dist/main.js, SQLite in a temp dir, default rate limits, production password
 * hashing), and hostile requests of every route mixed, sent over real sockets by node:http —
 * KODEVISER_FUZZ_NET_RUNS cases (default 500). Here the HTTP parser, keep-alive connections
 * and bodies refused mid-upload are in play, which inject() skips; then half as many raw HTTP
 * messages (raw-http.ts) that no client library would write. Afterwards the server still
 * answers and accepts a valid code, and it logged no error.
 */
import t from 'tap';
import http from 'node:http';
import fc from 'fast-check';
import { createClient, type Client } from '../helpers/http-client.js';
import { importDevices, makeDevices } from '../helpers/devices.js';
import { identityOf } from '../helpers/identities.js';
import { freshSettings, startServerProcess } from '../helpers/server-process.js';
import { checkReply, fuzzRoute, type FuzzReply, type Send } from './check.js';
import { rawRequest, sendRaw } from './raw-http.js';
import { ROUTES, routeArbitrary } from './routes.js';

const RUNS = Number(process.env.KODEVISER_FUZZ_NET_RUNS ?? 500);
const RAW_RUNS = Math.max(1, Math.round(RUNS / 2));

function httpSender(url: string): { send: Send; close(): void } {
  const { hostname, port } = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send: Send = (req) =>
    new Promise<FuzzReply | null>((resolve, reject) => {
      let r: http.ClientRequest;
      // node:http sends no Content-Length on a GET (or HEAD …) body unless told, and the server
      // would read the body as the next request: say it, as every real client does.
      const length = req.payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.payload)) };
      try {
        r = http.request({ hostname, port, agent, method: req.method, path: req.url, headers: { ...req.headers, ...length } });
      } catch {
        resolve(null); // node:http refuses to send it (a forbidden character in a header or the path)
        return;
      }
      let answered = false;
      r.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      // A server may answer (413) and close before the whole body was written: only an error
      // before any answer is a failure.
      r.on('error', (e) => {
        if (!answered) reject(e);
      });
      r.end(req.payload);
    });
  return { send, close: () => agent.destroy() };
}

/** A proof of identity for `userId` (its test identity) by the operator `operator` (a bearer header value). */
async function proofFor(client: Client, operator: string, userId: string): Promise<string> {
  const res = await client.post('/v1/proofs', { identity: identityOf(userId), userId }, { headers: { authorization: operator } });
  if (res.status !== 201) throw new Error(`proof for ${userId}: ${res.status} ${res.text}`);
  return (res.body as { proofId: string }).proofId;
}

t.test(`over HTTP: ${RUNS} hostile requests of every route, never a 5xx`, async (t) => {
  const settings = freshSettings({ logLevel: 'error' });
  t.teardown(settings.cleanup);
  const server = await startServerProcess(settings);
  t.teardown(() => server.stop());
  const client = createClient(server.url, settings.adminToken);
  const devices = makeDevices(8);
  await importDevices(client, devices);
  const first = devices[0]!;
  const userId = 'net-fuzz-user';
  const password = 'correct horse battery';
  const made = await client.post('/v1/credentials', { role: 'operator', name: 'network fuzz' }, { admin: true });
  t.equal(made.status, 201, 'an operator credential');
  const operator = `Bearer ${(made.body as { token: string }).token}`;
  const proofId = await proofFor(client, operator, userId);
  const activated = await client.post('/v1/activate', { proofId, serial: first.serial, otp: first.otp.generate(0), password });
  t.same([activated.status, activated.body], [200, { result: 'accept', userId }], 'a user is activated through a proof, to log in with');
  // Proofs not yet spent, for the user and for users without a device, for activations and resets to spend.
  const proofIds: string[] = [];
  for (const user of [userId, 'net-fuzz-other-1', userId, 'net-fuzz-other-2']) proofIds.push(await proofFor(client, operator, user));

  const pools = {
    adminAuth: `Bearer ${settings.adminToken}`,
    serial: fc.constantFrom(...devices.map((d) => d.serial)),
    code: fc.oneof(fc.constantFrom(...devices.flatMap((d) => [1, 2, 3, 4].map((c) => d.otp.generate(c)))), fc.stringMatching(/^[0-9]{6}$/)),
    userId,
    password,
    proofIds,
  };
  const sender = httpSender(server.url);
  t.teardown(sender.close);
  await fuzzRoute(t, 'every route over HTTP', sender.send, fc.oneof(...ROUTES.map((r) => routeArbitrary(r, pools))), RUNS);

  // Raw bytes on fresh connections: whatever the server writes back keeps the property too.
  const rawProblems: string[] = [];
  let rawResponses = 0;
  await fc.assert(
    fc.asyncProperty(rawRequest, async (raw) => {
      for (const res of await sendRaw(Number(new URL(server.url).port), raw)) {
        rawResponses++;
        const problem = checkReply('GET', res, null);
        if (problem !== null) rawProblems.push(`${problem} for ${JSON.stringify(raw.slice(0, 200))}`);
      }
    }),
    { numRuns: RAW_RUNS },
  );
  t.same(
    [...new Set(rawProblems)].slice(0, 5),
    [],
    `raw HTTP: ${RAW_RUNS} messages (${rawResponses} responses), every answer 2xx or a JSON 4xx`,
  );

  t.equal((await client.get('/healthz')).status, 200, 'still answers /healthz');
  const [fresh] = makeDevices(1);
  await importDevices(client, [fresh!]);
  const res = await client.post('/v1/validate', { serial: fresh!.serial, otp: fresh!.otp.generate(0) }, { admin: true });
  t.same([res.status, (res.body as { result?: string }).result], [200, 'accept'], 'still accepts a valid code');
  t.notMatch(server.output(), /"level":(50|60)/, 'logged no error');
});
