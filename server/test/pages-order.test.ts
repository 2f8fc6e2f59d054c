/**
 * /order through the whole fastify pipeline (inject): the form (post or pickup, with or without a
 * proof), each bad field said next to it, the price and the expected dates shown before anything
 * is ordered (service.quoteOrder, the order's own rule, writing nothing), the confirmation with
 * its tracking link, /order/track, the forms' CSRF tokens, the orders-per-address limit shared
 * with POST /v1/orders — and never JSON or a stack trace.
 */
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import type { Delivery } from '../src/domain/orders.js';
import { admin, post, proofFor, testApp } from './http-helpers.js';
import { formSession, isPage, type FormPage, type FormSession } from './helpers/forms.js';

const HOME = { name: 'Ida Holm', street: 'Nørregade 7, 2. tv', postcode: '8000', city: 'Aarhus C', country: 'DK' };
const BY_POST: Delivery = { method: 'post', address: HOME };
const ABROAD: Delivery = { method: 'post', address: { ...HOME, postcode: '211 20', city: 'Malmö', country: 'SE' } };
const PICKUP: Delivery = { method: 'pickup', centre: 'Borgerservice Aarhus' };
const CTX = { ip: '192.0.2.7' };
const MINUTE = 60_000;

/** The order form's fields for `delivery` (the other method's left as the form shows them). */
const formOf = (delivery: Delivery, proofId = ''): Record<string, string> =>
  delivery.method === 'post'
    ? { method: 'post', ...delivery.address, centre: '', proofId }
    : { method: 'pickup', name: '', street: '', postcode: '', city: '', country: 'DK', centre: delivery.centre, proofId };

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The form filled in and sent: the page it ends on (the confirmation, when all is well). */
async function askFor(b: FormSession, fields: Record<string, string>): Promise<FormPage> {
  await b.get('/order');
  return b.post('/order', fields);
}

/** The order confirmed from its confirmation page: the page it ends on. */
const confirm = (b: FormSession): Promise<FormPage> =>
  b.post('/order/confirm', { quote: b.last?.field('quote') ?? '', price: b.last?.field('price') ?? '' });

const trackingOf = (page: FormPage): { id: string; tracking: string; href: string } => {
  const href = page.text('tracking-link') ?? '';
  const q = new URL(href, 'http://localhost').searchParams;
  return { id: q.get('id') ?? '', tracking: q.get('tracking') ?? '', href };
};

async function orderCount(app: FastifyInstance): Promise<number> {
  const res = await app.inject({ url: '/v1/orders', headers: admin });
  return (res.json() as { orders: unknown[] }).orders.length;
}

t.test('quoteOrder: what placeOrder would decide, by its rule, writing nothing', async (t) => {
  const { app, service, clock } = await testApp(t);
  const proofId = await proofFor(app, 'ida');
  const audited = (await service.audit({ limit: 1000 })).length;
  // Thursday 1 January 2026 (a holiday) at noon: three and seven business days on; abroad six and twelve.
  const domestic = { earliest: '2026-01-06', latest: '2026-01-12' };
  t.same(await service.quoteOrder({ proofId, delivery: BY_POST }, CTX), { priceOre: 0, expectedBy: domestic }, 'with a proof: free');
  t.same(await service.quoteOrder({ delivery: PICKUP }, CTX), { priceOre: 4176, expectedBy: domestic }, 'anonymous: paid');
  t.same(
    await service.quoteOrder({ delivery: ABROAD }, CTX),
    { priceOre: 4176, expectedBy: { earliest: '2026-01-09', latest: '2026-01-19' } },
    'abroad: the longer window',
  );
  t.same(await service.quoteOrder({ proofId: 'no-such-proof', delivery: BY_POST }, CTX), { refused: 'proof' }, 'an unknown proof');
  await t.rejects(service.quoteOrder({ delivery: { method: 'post', address: { ...HOME, postcode: '123' } } }, CTX), {
    code: 'ERR_ARGUMENT',
  });
  t.equal((await service.audit({ limit: 1000 })).length, audited, 'no audit row, not even for the refusal');
  t.equal(await orderCount(app), 0, 'no order');

  // Three orders later the fourth costs money: the quote says so, and the order agrees.
  for (let i = 0; i < 3; i++) await service.placeOrder({ proofId, delivery: BY_POST }, CTX);
  const quote = await service.quoteOrder({ proofId, delivery: BY_POST }, CTX);
  const placed = await service.placeOrder({ proofId, delivery: BY_POST }, CTX);
  t.same(quote, { priceOre: 4176, expectedBy: domestic });
  t.match(placed, { priceOre: 4176, expectedBy: domestic, userId: 'ida' }, 'the order is priced as quoted');

  clock.advance(16 * MINUTE);
  t.same(await service.quoteOrder({ proofId, delivery: BY_POST }, CTX), { refused: 'proof' }, 'an expired proof');
});

t.test('the order form: labelled, both methods, a default country, the CSP; in Danish by the switch', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const page = await b.get('/order');
  isPage(t, page, 200, 'GET /order');
  for (const label of [
    'Name',
    'Street and number',
    'Postcode',
    'Town or city',
    'Country',
    'Service centre',
    'Proof of identity (optional)',
  ]) {
    t.match(page.body, new RegExp(`<label for="\\w+">${escaped(label)}</label>`), label);
  }
  t.match(page.body, /<fieldset[^>]*>\s*<legend>How do you want to receive it\?<\/legend>/, 'the methods in a fieldset with a legend');
  t.match(page.body, /type="radio" id="method-post" name="method" value="post" checked/, 'by post chosen at first');
  t.match(page.body, /type="radio" id="method-pickup" name="method" value="pickup"/);
  t.equal(page.field('method'), 'post');
  t.equal(page.field('country'), 'DK', 'the country defaults to DK');
  t.equal(page.field('centre'), '', 'the pickup field shown too (no script chooses)');
  t.ok(page.field('_csrf'), 'a CSRF token');
  t.match(page.body, /autocomplete="postal-code"/);

  const da = await b.get('/order?lang=da');
  isPage(t, da, 200, 'GET /order?lang=da');
  t.match(da.body, /<html lang="da">/);
  for (const label of ['Navn', 'Vej og husnummer', 'Postnummer', 'By', 'Land', 'Borgerservicecenter', 'Identitetsbevis (valgfrit)']) {
    t.match(da.body, new RegExp(`<label for="\\w+">${escaped(label)}</label>`), label);
  }
  t.match((await b.get('/order/track')).body, /Ordrenummer/, 'the language is remembered');
});

t.test('each bad field is said next to it (400), the form keeps what was typed', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);

  const empty = await askFor(b, { method: 'post', name: '', street: ' ', postcode: '', city: '', country: '', centre: '', proofId: '' });
  isPage(t, empty, 400, 'an empty address');
  t.same(
    ['name', 'street', 'postcode', 'city', 'country', 'centre'].map((f) => empty.error(f)),
    ['Enter the name.', 'Enter the street and number.', 'Enter the postcode.', 'Enter the town or city.', 'Enter the country.', undefined],
    'each empty field of the post, not the pickup',
  );
  t.match(empty.body, /aria-invalid="true"/);

  const wrong = await askFor(b, { ...formOf(BY_POST), name: 'x'.repeat(101), street: 'Nørregade\t7', postcode: '80000' });
  isPage(t, wrong, 400, 'a long name, a tab, a five-digit Danish postcode');
  t.equal(wrong.error('name'), 'The name is too long, or has a character that cannot be used.');
  t.equal(wrong.error('street'), 'The street and number are too long, or have a character that cannot be used.');
  t.equal(wrong.error('postcode'), 'A postcode has letters, digits, spaces and hyphens; in Denmark it is four digits.');
  t.equal(wrong.error('city'), undefined);
  t.equal(wrong.field('name'), 'x'.repeat(101), 'what was typed is kept');
  t.equal(wrong.field('postcode'), '80000');
  t.equal(wrong.field('method'), 'post');

  const country = await askFor(b, { ...formOf(BY_POST), country: 'Denmark', postcode: '211 20' });
  isPage(t, country, 400, 'a country by name');
  t.equal(country.error('country'), 'The country is two letters, such as DK, SE or DE.');
  t.equal(country.error('postcode'), undefined, 'a postcode is judged by its country only once the country is right');

  const pickup = await askFor(b, { ...formOf(PICKUP), centre: '' });
  isPage(t, pickup, 400, 'pickup without a centre');
  t.equal(pickup.error('centre'), 'Enter the service centre.');
  t.equal(pickup.error('name'), undefined, 'the address is not asked for a pickup');
  t.equal(pickup.field('method'), 'pickup');
  const longCentre = await askFor(b, { ...formOf(PICKUP), centre: 'c'.repeat(65) });
  t.equal(longCentre.error('centre'), 'The name of the service centre is too long, or has a character that cannot be used.');

  const noMethod = await askFor(b, { ...formOf(BY_POST), method: '' });
  isPage(t, noMethod, 400, 'no method');
  t.equal(noMethod.error('method'), 'Choose by post or pickup.');

  const badProof = await askFor(b, formOf(BY_POST, 'not a proof!'));
  isPage(t, badProof, 400, 'a proof id of the wrong form');
  t.match(badProof.error('proofId'), /^A proof of identity is the letters, digits/);
  const longProof = await askFor(b, formOf(BY_POST, 'p'.repeat(65)));
  t.match(longProof.error('proofId'), /at most 64/, 'a proof id too long');

  const unknownProof = await askFor(b, formOf(BY_POST, 'AAAAAAAAAAAAAAAAAAAAAA'));
  isPage(t, unknownProof, 401, 'an unknown proof');
  t.match(unknownProof.error('proofId'), /unknown or has expired/);
  t.equal(unknownProof.field('name'), HOME.name);

  const huge = await askFor(b, { ...formOf(BY_POST), name: 'x'.repeat(20_000) });
  isPage(t, huge, 413, 'a form over 16 KiB');
  t.equal(huge.text('problem'), 'What was sent is too large.');
  t.equal(huge.field('country'), 'DK', 'the form as first shown (what was sent was not read)');

  const lower = await askFor(b, { ...formOf(BY_POST), country: 'dk' });
  t.equal(lower.status, 200, 'a country in lower case is read (then the confirmation)');

  const da = formSession(app);
  await da.get('/order?lang=da');
  const daEmpty = await da.post('/order', { ...formOf(BY_POST), postcode: '' });
  t.equal(daEmpty.error('postcode'), 'Indtast postnummeret.', 'in Danish');

  t.equal(await orderCount(app), 0, 'nothing ordered');
});

t.test('a form without its CSRF token, with a forged one, or too late: 403, the form again, saying it expired', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  await b.get('/order');
  const missing = await b.post('/order', formOf(BY_POST), { csrf: null });
  isPage(t, missing, 403, 'no token');
  t.equal(missing.text('problem'), 'The form had expired. Please fill it in again.');
  t.equal(missing.field('name'), HOME.name, 'what was typed is kept');

  const forged = await b.post('/order', formOf(BY_POST), { csrf: 'forged-token' });
  isPage(t, forged, 403, 'a forged token');
  t.equal(forged.text('problem'), 'The form had expired. Please fill it in again.');

  const stranger = formSession(app);
  const page = await stranger.get('/order');
  const elsewhere = await b.post('/order', formOf(BY_POST), { csrf: page.field('_csrf') ?? '' });
  isPage(t, elsewhere, 403, "another browser's token");

  // The confirmation too: a form like any other.
  const check = await askFor(b, formOf(BY_POST));
  t.equal(check.status, 200);
  const noToken = await b.post('/order/confirm', { quote: check.field('quote') ?? '', price: check.field('price') ?? '' }, { csrf: null });
  isPage(t, noToken, 403, 'a confirmation without a token');
  t.equal(noToken.text('problem'), 'The form had expired. Please fill it in again.');
  t.equal(noToken.field('name'), HOME.name, 'the order form, as it was filled in');
  t.equal(await orderCount(app), 0, 'nothing ordered');

  const late = await testApp(t, { pages: { formValidityMs: 100 } });
  const slow = formSession(late.app);
  await slow.get('/order');
  await new Promise((resolve) => setTimeout(resolve, 250));
  const expired = await slow.post('/order', formOf(BY_POST));
  isPage(t, expired, 403, 'an expired token');
  t.equal(expired.text('problem'), 'The form had expired. Please fill it in again.');
  t.equal(expired.field('street'), HOME.street);
});

t.test('an anonymous order: the price and dates before, the confirmation, the tracking link, the status', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const check = await askFor(b, formOf(BY_POST));
  isPage(t, check, 200, 'the confirmation page');
  t.equal(check.url, '/order/confirm', 'after a redirect (a refresh repeats no POST)');
  t.equal(check.text('price'), '41.76 DKK');
  t.equal(check.text('dates'), 'between 6 January 2026 and 12 January 2026');
  t.match(check.body, /<time datetime="2026-01-06">6 January 2026<\/time> and <time datetime="2026-01-12">/);
  t.equal(check.text('ordered-as'), 'anonymously');
  t.equal(check.text('delivery'), 'By post to: Ida Holm, Nørregade 7, 2. tv, 8000 Aarhus C, DK');
  t.match(check.body, /Expected delivery/);
  t.equal(check.field('price'), '4176');
  t.notOk(check.body.includes('proofId'), 'no proof carried in the page');
  t.ok(b.cookie('kv_order', '/order'), 'the order kept in a cookie for /order');
  t.equal(b.cookie('kv_order', '/activate'), undefined, 'not sent elsewhere');
  t.equal(await orderCount(app), 0, 'nothing ordered yet');

  // "Change the order": the form as filled in.
  const change = await b.get('/order');
  t.equal(change.field('street'), HOME.street);
  t.equal(change.field('method'), 'post');

  const danish = await b.get('/order/confirm?lang=da');
  t.equal(danish.text('price'), '41,76 kr.');
  t.equal(danish.text('dates'), 'mellem 6. januar 2026 og 12. januar 2026');
  await b.get('/order/confirm?lang=en');

  const done = await confirm(b);
  isPage(t, done, 200, 'the order placed');
  const orderId = done.text('order-id') ?? '';
  t.match(orderId, /^ord_[a-z2-7]{26}$/);
  t.equal(done.text('price'), '41.76 DKK');
  t.equal(done.text('status'), 'Awaiting payment');
  t.equal(done.text('dates'), 'between 6 January 2026 and 12 January 2026');
  t.match(done.body, /shown only this once/);
  const link = trackingOf(done);
  t.equal(link.id, orderId);
  t.match(link.tracking, /^[A-Za-z0-9_-]{43}$/);
  t.equal(b.cookie('kv_order'), undefined, 'the order spent its cookie');

  const view = await app.inject({ url: `/v1/orders/${orderId}`, headers: admin });
  t.match(view.json(), { orderId, userId: null, priceOre: 4176, status: 'awaiting-payment', delivery: BY_POST });

  // Sent again (a second click, the back button): no second order.
  const again = await b.post('/order/confirm', { quote: check.field('quote') ?? '', price: '4176' }, { csrf: check.field('_csrf') ?? '' });
  isPage(t, again, 400, 'the confirmation again');
  t.equal(again.text('problem'), 'Your order had expired or was already placed. Please fill it in again.');
  t.equal(await orderCount(app), 1, 'one order');

  const tracked = await b.get(link.href);
  isPage(t, tracked, 200, 'tracking');
  t.equal(tracked.text('status'), 'Awaiting payment');
  t.equal(tracked.text('order-id'), orderId);
  t.equal(tracked.text('dates'), 'between 6 January 2026 and 12 January 2026');
  t.notOk(tracked.body.includes(HOME.street), 'never the address');

  // Paid: the tracking page says so, in both languages.
  t.equal((await post(app, `/v1/orders/${orderId}/payment`, { reference: 'psp-1' }, admin)).statusCode, 200);
  t.equal((await b.get(link.href)).text('status'), 'Ordered: being prepared');
  t.equal((await b.get(`${link.href}&lang=da`)).text('status'), 'Bestilt: under forberedelse');
  await b.get('/order/track?lang=en');

  const wrongToken = await b.get(`/order/track?id=${orderId}&tracking=${'A'.repeat(43)}`);
  isPage(t, wrongToken, 404, 'a wrong tracking code');
  const unknown = await b.get(`/order/track?id=ord_${'a'.repeat(26)}&tracking=${link.tracking}`);
  isPage(t, unknown, 404, 'an unknown order');
  const malformed = await b.get(`/order/track?id=nonsense&tracking=x`);
  isPage(t, malformed, 404, 'an id of no order form');
  t.equal(wrongToken.text('problem'), 'There is no order with that number and tracking code.');
  t.equal(unknown.text('problem'), wrongToken.text('problem'), 'one answer for both');
  t.equal(malformed.text('problem'), wrongToken.text('problem'));

  const lookup = await b.get('/order/track');
  isPage(t, lookup, 200, 'the tracking form');
  t.match(lookup.body, /<form method="get" action="\/order\/track"/);
  const half = await b.get(`/order/track?id=${orderId}&tracking=`);
  isPage(t, half, 400, 'a tracking code missing');
  t.equal(half.error('tracking'), 'Enter the tracking code.');
});

t.test('an order with a proof: free, its user’s; a pickup is "ready for pickup"', async (t) => {
  const { app } = await testApp(t);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);
  const check = await askFor(b, formOf(PICKUP, ` ${proofId} `));
  isPage(t, check, 200, 'the confirmation');
  t.equal(check.text('price'), 'free');
  t.equal(check.text('ordered-as'), 'as yours, with your proof of identity');
  t.equal(check.text('delivery'), 'Pickup at: Borgerservice Aarhus');
  t.match(check.body, /Ready for pickup/);
  t.notOk(check.body.includes(proofId), 'the proof id is not in the page');
  t.notOk(check.field('proofId'), 'nor in a field');
  const done = await confirm(b);
  isPage(t, done, 200, 'placed');
  t.equal(done.text('price'), 'free');
  t.equal(done.text('status'), 'Ordered: being prepared');
  const view = await app.inject({ url: `/v1/orders/${done.text('order-id') ?? ''}`, headers: admin });
  t.match(view.json(), { userId: 'ida', priceOre: 0, status: 'placed', delivery: PICKUP });
});

t.test('confirming what changed since it was shown: shown again, never ordered', async (t) => {
  const { app, clock } = await testApp(t);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);

  // The price: three orders placed meanwhile (another window, the API) use up the free ones.
  const check = await askFor(b, formOf(BY_POST, proofId));
  t.equal(check.text('price'), 'free');
  for (let i = 0; i < 3; i++) t.equal((await post(app, '/v1/orders', { proofId, delivery: BY_POST })).statusCode, 201);
  const changed = await confirm(b);
  isPage(t, changed, 409, 'the price changed');
  t.equal(changed.text('problem'), 'The price has changed since it was shown. Check it, and confirm again.');
  t.equal(changed.text('price'), '41.76 DKK');
  t.equal(await orderCount(app), 3, 'not ordered at a price not shown');
  const done = await confirm(b);
  t.equal(done.status, 200, 'confirmed at the price shown now');
  t.equal(done.text('price'), '41.76 DKK');

  // Another window's form replaced the order: the one confirmed is shown again first.
  const first = await askFor(b, formOf(BY_POST));
  const firstQuote = first.field('quote') ?? '';
  await askFor(b, formOf(PICKUP));
  const other = await b.post('/order/confirm', { quote: firstQuote, price: '4176' });
  isPage(t, other, 409, 'another window');
  t.equal(other.text('problem'), 'The order was changed in another window. Check it, and confirm it again.');
  t.equal(other.text('delivery'), 'Pickup at: Borgerservice Aarhus');
  t.equal(await orderCount(app), 4);

  // The proof expired before the confirmation: the form again, saying so next to the proof.
  await askFor(b, formOf(BY_POST, proofId));
  clock.advance(16 * MINUTE);
  const expired = await confirm(b);
  isPage(t, expired, 401, 'an expired proof');
  t.match(expired.error('proofId'), /unknown or has expired/);
  t.equal(expired.field('name'), HOME.name, 'the form as filled in');
  t.equal(await orderCount(app), 4, 'nothing ordered');
  const reload = await b.get('/order/confirm');
  isPage(t, reload, 401, 'the confirmation page of an expired proof');

  const none = formSession(app);
  const nothing = await none.get('/order/confirm');
  isPage(t, nothing, 200, 'a confirmation page with nothing to confirm');
  t.equal(nothing.text('problem'), 'Your order had expired or was already placed. Please fill it in again.');
});

t.test('orders an hour per address, as POST /v1/orders counts them: over it, said on the page (429)', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 1000, ordersPerIp: 2 } });
  const b = formSession(app);
  for (let i = 0; i < 2; i++) {
    await askFor(b, formOf(BY_POST));
    t.equal((await confirm(b)).status, 200, `order ${i + 1}`);
  }
  const check = await askFor(b, formOf(BY_POST));
  t.equal(check.status, 200, 'the price is still shown (a look, not an order)');
  const third = await confirm(b);
  isPage(t, third, 429, 'the third');
  t.match(third.text('problem'), /^Too many attempts\. Try again in \d+ minutes\.$/);
  t.match(third.headers['retry-after'], /^\d+$/);
  t.equal(third.field('name'), HOME.name, 'the form as filled in');
  t.equal(await orderCount(app), 2);
});

t.test('the page and POST /v1/orders count on one limit', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 1000, ordersPerIp: 2 } });
  const api = await app.inject({ method: 'POST', url: '/v1/orders', payload: { delivery: { method: 'pickup', centre: 'Aarhus' } } });
  t.equal(api.statusCode, 201, 'one order through the API');
  const b = formSession(app);
  await askFor(b, formOf(BY_POST));
  t.equal((await confirm(b)).status, 200, 'one through the page');
  await askFor(b, formOf(BY_POST));
  isPage(t, await confirm(b), 429, 'the third, whichever way the first came');
  const again = await app.inject({ method: 'POST', url: '/v1/orders', payload: { delivery: { method: 'pickup', centre: 'Aarhus' } } });
  t.equal(again.statusCode, 429, 'and the API counts the page');
});
