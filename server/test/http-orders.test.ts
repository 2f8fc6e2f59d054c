/**
 * Orders over HTTP (routes/orders.ts): a user's four orders (0, 0, 0, 41.76 DKK), the payment,
 * the factory's fulfilment with a fresh device (and its refusals), the delivery, a pickup order
 * collected with a proof of its user and then activated with the same proof, an anonymous one
 * handed over against an ID check, cancellations, the tracking view, listing, roles, bad input,
 * expected dates across Danish holidays, erasure, and the per-address limit of POST /v1/orders.
 */
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { activate, admin, device, importDevices, newSerial, operatorOf, post, proofFor, testApp } from './http-helpers.js';

const HOME = { name: 'Ida Holm', street: 'Nørregade 7, 2. tv', postcode: '8000', city: 'Aarhus C', country: 'DK' };
const BY_POST = { method: 'post', address: HOME } as const;
const PICKUP = { method: 'pickup', centre: 'Borgerservice Aarhus' } as const;

interface Placed {
  orderId: string;
  trackingToken: string;
  status: string;
  priceOre: number;
  currency: string;
  userId: string | null;
  expectedBy: { earliest: string; latest: string };
}

async function order(app: FastifyInstance, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Placed> {
  const res = await post(app, '/v1/orders', body, headers);
  if (res.statusCode !== 201) throw new Error(`order failed: ${res.statusCode} ${res.body}`);
  return res.json() as Placed;
}

const step = (app: FastifyInstance, id: string, what: string, body: unknown, headers: Record<string, string> = admin) =>
  app.inject({ method: 'POST', url: `/v1/orders/${id}/${what}`, headers, ...(body === undefined ? {} : { payload: body as object }) });

t.test("a user's orders: three free, the fourth paid; then paid, fulfilled, delivered; refusals named", async (t) => {
  const { app } = await testApp(t);
  const operator = await operatorOf(app);
  const proofId = await proofFor(app, 'ida');
  const placed: Placed[] = [];
  for (let i = 0; i < 4; i++) placed.push(await order(app, { proofId, delivery: BY_POST }));
  t.same(
    placed.map((p) => p.priceOre),
    [0, 0, 0, 4176],
  );
  t.same(
    placed.map((p) => p.status),
    ['placed', 'placed', 'placed', 'awaiting-payment'],
  );
  t.match(placed[0], {
    orderId: /^ord_[a-z2-7]{26}$/,
    trackingToken: /^[A-Za-z0-9_-]{43}$/,
    currency: 'DKK',
    userId: 'ida',
    // Thursday 1 January 2026 at noon: three and seven business days on.
    expectedBy: { earliest: '2026-01-06', latest: '2026-01-12' },
  });
  t.equal(new Set(placed.map((p) => p.orderId)).size, 4, 'four orders');
  const [first, second, third, fourth] = placed as [Placed, Placed, Placed, Placed];

  // The payment provider's confirmation (admin), once.
  t.equal((await step(app, fourth.orderId, 'payment', { reference: 'psp-4711' }, operator)).statusCode, 401, 'not an operator');
  const paid = await step(app, fourth.orderId, 'payment', { reference: 'psp-4711' });
  t.equal(paid.statusCode, 200);
  t.match(paid.json(), { orderId: fourth.orderId, status: 'placed', paymentReference: 'psp-4711', priceOre: 4176 });
  const again = await step(app, fourth.orderId, 'payment', { reference: 'psp-4712' });
  t.equal(again.statusCode, 409);
  t.same(again.json(), { error: 'illegal-transition', message: `order ${fourth.orderId} is placed: it cannot be paid` });

  // The factory: a device the server knows, fresh, sent with no other order.
  const [a, b] = [device(), device()];
  const unknown = newSerial();
  t.equal((await step(app, first.orderId, 'fulfil', { serial: a.serial }, operator)).statusCode, 401, 'not an operator');
  const notImported = await step(app, first.orderId, 'fulfil', { serial: unknown });
  t.equal(notImported.statusCode, 409);
  t.match(notImported.json(), { error: 'serial-unusable', message: /not a device the server knows/ });
  await importDevices(app, a, b);
  t.equal((await activate(app, { userId: 'jon', serial: b.serial, otp: b.press(), password: 'jon password 1' })).statusCode, 200);
  const bound = await step(app, first.orderId, 'fulfil', { serial: b.serial });
  t.equal(bound.statusCode, 409);
  t.match(bound.json(), { error: 'serial-unusable', message: /another user's device/ });
  const shipped = await step(app, first.orderId, 'fulfil', { serial: a.serial });
  t.equal(shipped.statusCode, 200);
  t.match(shipped.json(), { status: 'shipped', serial: a.serial, delivery: BY_POST });
  const twice = await step(app, fourth.orderId, 'fulfil', { serial: a.serial });
  t.equal(twice.statusCode, 409);
  t.match(twice.json(), { error: 'serial-unusable', message: /sent with another order/ });
  t.equal((await step(app, first.orderId, 'fulfil', { serial: a.serial })).json().error, 'illegal-transition', 'shipped already');
  t.equal((await step(app, first.orderId, 'fulfil', { serial: '1234567890' })).statusCode, 400, 'a serial with a bad check digit');

  // The carrier's confirmation; a shipped or delivered order is not cancelled.
  t.equal((await step(app, second.orderId, 'delivered', undefined)).json().error, 'illegal-transition', 'not shipped yet');
  t.match((await step(app, first.orderId, 'delivered', undefined)).json(), { status: 'delivered' });
  const late = await step(app, first.orderId, 'cancel', undefined);
  t.equal(late.statusCode, 409);
  t.same(late.json(), { error: 'illegal-transition', message: `order ${first.orderId} is delivered: it cannot be cancelled` });

  // Cancelled before it left the factory (an operator may too); a cancelled order does not count.
  t.match((await step(app, third.orderId, 'cancel', undefined, operator)).json(), { status: 'cancelled' });
  t.match((await step(app, second.orderId, 'cancel', undefined)).json(), { status: 'cancelled' });
  t.match(await order(app, { proofId, delivery: BY_POST }), { priceOre: 0, status: 'placed' }, 'two orders count now: free');
  t.match(await order(app, { proofId, delivery: BY_POST }), { priceOre: 4176, status: 'awaiting-payment' }, 'three again');

  // Staff see the whole order; the tracking token shows its status and dates only.
  const full = await app.inject({ url: `/v1/orders/${first.orderId}`, headers: operator });
  t.equal(full.statusCode, 200);
  t.match(full.json(), { orderId: first.orderId, userId: 'ida', delivery: BY_POST, status: 'delivered', serial: a.serial });
  t.notOk('trackingHash' in full.json(), 'never the tracking hash');
  const tracked = await app.inject({ url: `/v1/orders/${first.orderId}?tracking=${first.trackingToken}` });
  t.equal(tracked.statusCode, 200);
  t.same(tracked.json(), { orderId: first.orderId, status: 'delivered', expectedBy: first.expectedBy }, 'no address, no user');
  const wrong = await app.inject({ url: `/v1/orders/${first.orderId}?tracking=${second.trackingToken}` });
  const unknownId = await app.inject({ url: `/v1/orders/ord_${'a'.repeat(26)}?tracking=${first.trackingToken}` });
  t.equal(wrong.statusCode, 404, "another order's token");
  t.same(wrong.json(), unknownId.json(), 'the same 404 as an unknown order');
  t.same(unknownId.json(), { error: 'unknown-order', message: 'no such order' });
  t.equal((await app.inject({ url: `/v1/orders/${first.orderId}?tracking=short` })).statusCode, 400, 'a token of no possible form');
  t.equal((await app.inject({ url: `/v1/orders/${first.orderId}` })).statusCode, 401, 'no bearer, no token');
  t.equal((await app.inject({ url: '/v1/orders/not-an-order', headers: admin })).statusCode, 400);
  t.equal((await app.inject({ url: `/v1/orders/ord_${'b'.repeat(26)}`, headers: admin })).statusCode, 404);
  t.equal((await step(app, `ord_${'b'.repeat(26)}`, 'cancel', undefined)).statusCode, 404, 'no step of an unknown order');

  // Listing: staff only, by status, newest first.
  t.equal((await app.inject({ url: '/v1/orders' })).statusCode, 401, 'not the public');
  const all = await app.inject({ url: '/v1/orders', headers: operator });
  t.equal(all.statusCode, 200);
  t.equal(all.json().orders.length, 6);
  const cancelled = await app.inject({ url: '/v1/orders?status=cancelled', headers: admin });
  t.same(
    cancelled
      .json()
      .orders.map((o: { orderId: string }) => o.orderId)
      .sort(),
    [second.orderId, third.orderId].sort(),
  );
  t.equal((await app.inject({ url: '/v1/orders?status=placed&limit=1', headers: admin })).json().orders.length, 1);
  t.equal((await app.inject({ url: '/v1/orders?status=lost', headers: admin })).statusCode, 400);
  t.equal((await app.inject({ url: '/v1/orders?limit=0', headers: admin })).statusCode, 400);

  // Every step audited, never the address.
  const events = (await app.inject({ url: '/v1/audit?limit=1000', headers: admin })).json().events as Array<{
    type: string;
    reason: string;
  }>;
  const steps = events.filter((e) => e.type === 'order');
  t.equal(steps.length, 6 + 1 + 1 + 1 + 2, 'six placed, a payment, a fulfilment, a delivery, two cancellations');
  t.notMatch(JSON.stringify(events), /Nørregade|Aarhus|Ida Holm/, 'no address in the audit log');
});

t.test("pickup: collected with a proof of the order's user, which then activates the device; anonymous with an ID check", async (t) => {
  const { app } = await testApp(t);
  const operator = await operatorOf(app);
  const proofId = await proofFor(app, 'kim');
  const mine = await order(app, { proofId, delivery: PICKUP });
  t.match(mine, { status: 'placed', priceOre: 0, userId: 'kim' });
  const d = device();
  await importDevices(app, d);
  t.match((await step(app, mine.orderId, 'fulfil', { serial: d.serial })).json(), { status: 'ready-for-pickup', serial: d.serial });
  t.equal((await step(app, mine.orderId, 'delivered', undefined)).statusCode, 409, 'a pickup order is not delivered by post');

  const stranger = await proofFor(app, 'lis');
  const refused = await step(app, mine.orderId, 'collected', { proofId: stranger }, operator);
  t.equal(refused.statusCode, 409, "another user's proof");
  t.match(refused.json(), { error: 'not-the-owner' });
  t.equal(
    (await step(app, mine.orderId, 'collected', { idCheck: { document: 'passport' } }, operator)).statusCode,
    409,
    "an ID check is not enough for a user's order",
  );
  t.equal((await step(app, mine.orderId, 'collected', { proofId: 'nosuchproof0' }, operator)).statusCode, 409, 'an unknown proof');
  t.equal((await step(app, mine.orderId, 'collected', { proofId }, admin)).statusCode, 401, 'an operator hands it over');
  t.equal(
    (await step(app, mine.orderId, 'collected', { proofId, idCheck: { document: 'passport' } }, operator)).statusCode,
    400,
    'one or the other',
  );
  t.equal((await step(app, mine.orderId, 'collected', {}, operator)).statusCode, 400);
  t.equal((await step(app, mine.orderId, 'collected', { idCheck: { document: 'library-card' } }, operator)).statusCode, 400);
  const collected = await step(app, mine.orderId, 'collected', { proofId }, operator);
  t.equal(collected.statusCode, 200);
  t.match(collected.json(), { status: 'collected', userId: 'kim' });
  // Neither the order nor the hand-over spent the proof: it activates the device now.
  const activated = await post(app, '/v1/activate', { proofId, serial: d.serial, otp: d.press(), password: 'kim password 1' });
  t.same(activated.json(), { result: 'accept', userId: 'kim' });
  t.equal((await step(app, mine.orderId, 'cancel', undefined)).statusCode, 409, 'collected: not cancelled');

  // An anonymous order always costs money, and is handed over against an ID check.
  const anonymous = await order(app, { delivery: PICKUP });
  t.match(anonymous, { status: 'awaiting-payment', priceOre: 4176, userId: null });
  t.equal((await step(app, anonymous.orderId, 'fulfil', { serial: newSerial() })).json().error, 'illegal-transition', 'not paid yet');
  t.equal((await step(app, anonymous.orderId, 'payment', { reference: 'psp-1' })).statusCode, 200);
  const e = device();
  await importDevices(app, e);
  t.equal((await step(app, anonymous.orderId, 'fulfil', { serial: e.serial })).statusCode, 200);
  t.equal((await step(app, anonymous.orderId, 'collected', { proofId }, operator)).statusCode, 409, 'no owner to prove');
  const handed = await step(app, anonymous.orderId, 'collected', { idCheck: { document: 'driving-licence' } }, operator);
  t.equal(handed.statusCode, 200);
  t.match(handed.json(), { status: 'collected', userId: null });
  const events = (await app.inject({ url: '/v1/audit?limit=1000', headers: admin })).json().events as Array<{
    type: string;
    reason: string;
    actor: string;
  }>;
  t.match(
    events.find((ev) => ev.type === 'order' && ev.reason.includes(anonymous.orderId) && ev.reason.includes('collected')),
    { reason: /ready-for-pickup → collected: ID checked \(driving-licence\)$/, actor: /^cred-/, userId: null },
    "the ID check is in the audit log, under the operator's credential",
  );
});

t.test('bad input is a 400 {error, message}; a proof unknown or expired is one 401', async (t) => {
  const { app, clock } = await testApp(t);
  const bad: Array<[string, unknown]> = [
    ['no delivery', {}],
    ['an unknown method', { delivery: { method: 'drone', address: HOME } }],
    ['a lower-case country', { delivery: { method: 'post', address: { ...HOME, country: 'dk' } } }],
    ['a country of three letters', { delivery: { method: 'post', address: { ...HOME, country: 'DNK' } } }],
    ['a Danish postcode of five digits', { delivery: { method: 'post', address: { ...HOME, postcode: '80000' } } }],
    ['no city', { delivery: { method: 'post', address: { ...HOME, city: undefined } } }],
    ['a blank name', { delivery: { method: 'post', address: { ...HOME, name: '   ' } } }],
    ['a street of 201 characters', { delivery: { method: 'post', address: { ...HOME, street: 's'.repeat(201) } } }],
    ['a field too many', { delivery: { method: 'post', address: { ...HOME, floor: 2 } } }],
    ['an address and a centre', { delivery: { method: 'pickup', centre: 'Aarhus', address: HOME } }],
    ['an empty centre', { delivery: { method: 'pickup', centre: '' } }],
    ['a proof of no possible form', { proofId: 'not a proof!', delivery: PICKUP }],
  ];
  for (const [what, body] of bad) {
    const res = await post(app, '/v1/orders', body);
    t.equal(res.statusCode, 400, what);
    t.match(res.json(), { error: String, message: String }, `${what}: {error, message}`);
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/orders', payload: '' })).statusCode, 400, 'no body');

  const proofId = await proofFor(app, 'max');
  const unknown = await post(app, '/v1/orders', { proofId: 'AAAAAAAAAAAAAAAAAAAAAA', delivery: PICKUP });
  t.equal(unknown.statusCode, 401);
  clock.advance(15 * 60_000);
  const expired = await post(app, '/v1/orders', { proofId, delivery: PICKUP });
  t.equal(expired.statusCode, 401);
  t.same(expired.json(), unknown.json(), 'unknown and expired: one answer');
  t.match(expired.json(), { error: 'proof-rejected' });
  t.equal((await app.inject({ url: '/v1/orders', headers: admin })).json().orders.length, 0, 'nothing ordered');
});

t.test('expected dates are counted in Danish business days: Easter skipped; abroad 6–12', async (t) => {
  const { app, clock } = await testApp(t);
  clock.set(Date.parse('2026-04-01T10:00:00Z')); // a Wednesday; Thursday, Friday and Monday are holidays
  t.same((await order(app, { delivery: BY_POST })).expectedBy, { earliest: '2026-04-09', latest: '2026-04-15' });
  t.same((await order(app, { delivery: PICKUP })).expectedBy, { earliest: '2026-04-09', latest: '2026-04-15' });
  const abroad = { method: 'post', address: { name: 'Ida Holm', street: 'Storgatan 1', postcode: '211 20', city: 'Malmö', country: 'SE' } };
  t.same((await order(app, { delivery: abroad })).expectedBy, { earliest: '2026-04-14', latest: '2026-04-22' });
  clock.set(Date.parse('2026-03-31T22:30:00Z')); // 00:30 on 1 April in Copenhagen (summer time)
  t.same((await order(app, { delivery: BY_POST })).expectedBy, { earliest: '2026-04-09', latest: '2026-04-15' }, 'the date in Copenhagen');
});

t.test('the order policy is configuration; erasing a user deletes its orders', async (t) => {
  const { app } = await testApp(t, { orderPolicy: { priceOre: 5000, freeOrders: 1, domesticDays: [1, 2] } });
  const proofId = await proofFor(app, 'nor');
  const first = await order(app, { proofId, delivery: BY_POST });
  t.match(first, { priceOre: 0, expectedBy: { earliest: '2026-01-02', latest: '2026-01-05' } });
  const second = await order(app, { proofId, delivery: BY_POST });
  t.match(second, { priceOre: 5000, status: 'awaiting-payment' });
  const anonymous = await order(app, { delivery: PICKUP });
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/users/nor', headers: admin })).statusCode, 204);
  t.equal(
    (await app.inject({ url: `/v1/orders/${first.orderId}`, headers: admin })).statusCode,
    404,
    'its orders are gone, addresses and all',
  );
  t.equal((await app.inject({ url: `/v1/orders/${second.orderId}?tracking=${second.trackingToken}` })).statusCode, 404);
  t.equal((await app.inject({ url: `/v1/orders/${anonymous.orderId}`, headers: admin })).statusCode, 200, 'not the anonymous one');
});

t.test('POST /v1/orders is limited per client address, an hour at a time; off with the per-IP limit', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 1000, ordersPerIp: 3 } });
  for (let i = 0; i < 3; i++) t.equal((await post(app, '/v1/orders', { delivery: PICKUP })).statusCode, 201, `order ${i + 1}`);
  const refused = await post(app, '/v1/orders', { delivery: PICKUP });
  t.equal(refused.statusCode, 429);
  t.match(refused.json(), { error: 'rate-limited', message: /orders from this address/ });
  t.ok(Number(refused.headers['retry-after']) > 3000, 'retry in about an hour');
  const elsewhere = await app.inject({ method: 'POST', url: '/v1/orders', payload: { delivery: PICKUP }, remoteAddress: '192.0.2.77' });
  t.equal(elsewhere.statusCode, 201, 'another address');
  t.equal((await app.inject({ url: '/v1/orders', headers: admin })).statusCode, 200, 'staff routes are not under it');

  const off = await testApp(t, { rateLimit: { perIp: 0, ordersPerIp: 3 } });
  for (let i = 0; i < 5; i++) t.equal((await post(off.app, '/v1/orders', { delivery: PICKUP })).statusCode, 201);
});
