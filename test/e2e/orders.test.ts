/**
 * Orders end to end, with the real server process and the real `kodeviser fulfil` factory: a
 * user's four orders (0, 0, 0 and 41.76 DKK), the fourth paid, the factory making and importing
 * the devices, delivery; a pickup order collected against a proof; an anonymous order, always
 * paid; illegal steps refused; and the expected dates counted in Danish business days, skipping
 * Easter (the server's clock under libfaketime, set to the Tuesday before Maundy Thursday 2026).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KODEVISER_BIN, ROOT } from './helpers/build.js';
import { newUser, operatorOf, proofFor } from './helpers/flows.js';
import { checkOutputForSecrets, findLibfaketime, scratchDir, startServer, type E2eServer } from './helpers/server.js';

const run = promisify(execFile);
// Tuesday 31 March 2026, 10:00 in Copenhagen: then Maundy Thursday, Good Friday, the weekend and
// Easter Monday (2, 3, 6 April) are not business days.
const ORDERED_AT = Date.UTC(2026, 2, 31, 8);
const POST = {
  method: 'post',
  address: { name: 'Anna Jensen', street: 'Nørregade 1, 2. th.', postcode: '1165', city: 'København K', country: 'DK' },
};

async function factory(server: E2eServer, dir: string): Promise<string> {
  const { stdout } = await run(process.execPath, [KODEVISER_BIN, 'fulfil', '--server', server.url, '--dir', dir, '--once'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KODEVISER_ADMIN_TOKEN: server.adminToken },
  });
  return stdout;
}

t.test('orders, the factory, delivery and pickup', async (t) => {
  const faketime = findLibfaketime() !== null;
  const server = await startServer(t, faketime ? { fakeStartMs: ORDERED_AT, logLevel: 'info' } : { logLevel: 'info' });
  const dir = scratchDir(t);
  const anna = newUser(server, 'anna');
  const operator = { authorization: (await operatorOf(server)).authorization };
  const order = async (body: object) => server.post('/v1/orders', body);

  // Four orders of one identified user: three free, the fourth paid.
  const placed = [];
  for (let i = 0; i < 4; i++) {
    const res = await order({ proofId: await proofFor(server, anna), delivery: POST });
    t.equal(res.status, 201, res.status === 201 ? `order ${i + 1}` : JSON.stringify(res.body));
    placed.push(res.body);
  }
  t.same(
    placed.map((o) => [o.priceOre, o.status, o.currency, o.userId]),
    [
      [0, 'placed', 'DKK', anna.userId],
      [0, 'placed', 'DKK', anna.userId],
      [0, 'placed', 'DKK', anna.userId],
      [4176, 'awaiting-payment', 'DKK', anna.userId],
    ],
  );
  if (faketime) {
    // +3 business days from Tuesday 31 March: 1 April, then 7 and 8 April; +7: 14 April.
    t.same(placed[0].expectedBy, { earliest: '2026-04-08', latest: '2026-04-14' }, 'Easter skipped');
  } else {
    t.comment('libfaketime not found (install faketime): the Easter dates are not checked, the real clock is');
  }

  const fourth = placed[3].orderId as string;
  const early = await server.post(`/v1/orders/${fourth}/fulfil`, { serial: '0000000000' }, { admin: true });
  t.equal(early.status, 409, 'not paid: cannot be fulfilled');
  t.equal((await server.post(`/v1/orders/${fourth}/payment`, { reference: 'psp-7781' }, { admin: true })).status, 200);
  t.equal((await server.post(`/v1/orders/${fourth}/payment`, { reference: 'psp-7781' }, { admin: true })).status, 409, 'paid twice');

  // A pickup order, and an anonymous one (paid, always).
  const pickup = (await order({ proofId: await proofFor(server, anna), delivery: { method: 'pickup', centre: 'Borgerservice København' } }))
    .body;
  t.same([pickup.priceOre, pickup.status], [4176, 'awaiting-payment'], 'her fifth');
  t.equal((await server.post(`/v1/orders/${pickup.orderId}/payment`, { reference: 'psp-7782' }, { admin: true })).status, 200);
  const anonymous = (await order({ delivery: { method: 'pickup', centre: 'Borgerservice Aarhus' } })).body;
  t.same([anonymous.priceOre, anonymous.status, anonymous.userId], [4176, 'awaiting-payment', null]);
  t.equal((await server.post(`/v1/orders/${anonymous.orderId}/payment`, { reference: 'psp-7783' }, { admin: true })).status, 200);
  const cancelled = (await order({ proofId: await proofFor(server, anna), delivery: POST })).body;
  t.equal((await server.post(`/v1/orders/${cancelled.orderId}/cancel`, {}, { admin: true })).status, 200);

  // The factory: one device per placed order, imported and marked.
  const made = await factory(server, join(dir, 'factory'));
  t.equal(made.trim().split('\n').length, 6, made);
  t.equal(readdirSync(join(dir, 'factory')).length, 6, 'six device files');
  t.match(await factory(server, join(dir, 'factory')), /^$/, 'nothing left to make');
  const shipped = (await server.get('/v1/orders?status=shipped', { admin: true })).body.orders as Array<Record<string, unknown>>;
  t.equal(shipped.length, 4);
  for (const o of shipped) {
    t.match(o.serial, /^\d{10}$/);
    t.equal((await server.get(`/v1/tokens/${o.serial as string}`, { admin: true })).status, 200, 'the server knows the device');
    const device = JSON.parse(readFileSync(join(dir, 'factory', `${o.serial as string}.json`), 'utf8')) as Record<string, unknown>;
    t.ok(device, 'its file is the device');
  }
  t.equal((await server.post(`/v1/orders/${fourth}/delivered`, {}, { admin: true })).status, 200);
  t.equal((await server.post(`/v1/orders/${fourth}/cancel`, {}, { admin: true })).status, 409, 'too late to cancel');

  // Pickup: the order's user proves who she is; the anonymous order against an ID check.
  const ready = (await server.get(`/v1/orders/${pickup.orderId}`, { admin: true })).body;
  t.equal(ready.status, 'ready-for-pickup');
  const someoneElse = newUser(server, 'bo');
  const wrong = await server.post(
    `/v1/orders/${pickup.orderId}/collected`,
    { proofId: await proofFor(server, someoneElse) },
    { headers: operator },
  );
  t.equal(wrong.status, 409, "another person's proof");
  const collected = await server.post(
    `/v1/orders/${pickup.orderId}/collected`,
    { proofId: await proofFor(server, anna) },
    { headers: operator },
  );
  t.equal(collected.status, 200, JSON.stringify(collected.body));
  const handed = await server.post(
    `/v1/orders/${anonymous.orderId}/collected`,
    { idCheck: { document: 'passport' } },
    { headers: operator },
  );
  t.equal(handed.status, 200, JSON.stringify(handed.body));

  // The citizen's view: the status by the tracking token, nothing more.
  const tracked = await server.get(`/v1/orders/${placed[0].orderId as string}?tracking=${placed[0].trackingToken as string}`);
  t.equal(tracked.status, 200);
  t.equal(tracked.body.status, 'shipped');
  t.notOk(JSON.stringify(tracked.body).includes('Nørregade'), 'no address');
  t.equal((await server.get(`/v1/orders/${placed[0].orderId as string}?tracking=${'A'.repeat(43)}`)).status, 404);

  // No address in the log.
  t.notMatch(server.output(), /Nørregade|Anna Jensen/, 'the log has no address');
  checkOutputForSecrets(t, server);
});
