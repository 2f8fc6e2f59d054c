// Orders' pure rules (domain/orders.ts): prices, Danish business days (date-holidays' public
// holidays, counted from the date in Copenhagen), placing with and without a proof, and every
// step of an order's life, legal and not.
import t from 'tap';
import type { Write } from '../src/domain/decide.js';
import type { ProofRecord } from '../src/domain/identity.js';
import { danishHolidays } from '../src/domain/order-service.js';
import {
  addBusinessDays,
  copenhagenDate,
  decideOrderStep,
  decidePlaceOrder,
  DEFAULT_ORDER_POLICY,
  expectedBy,
  newOrderId,
  newTrackingToken,
  nextStatus,
  ORDER_ID,
  ORDER_STATUSES,
  orderPolicyOf,
  parseDelivery,
  priceOf,
  type Delivery,
  type OrderEvent,
  type OrderRecord,
  type OrderStatus,
} from '../src/domain/orders.js';
import type { UserRecord } from '../src/store/types.js';
import { AT, o, SERIAL, snap, token } from './helpers/decisions.js';

const P = DEFAULT_ORDER_POLICY;
const noHolidays = (): boolean => false;
const POST: Delivery = {
  method: 'post',
  address: { name: 'Ida Holm', street: 'Nørregade 7, 2. tv', postcode: '8000', city: 'Aarhus C', country: 'DK' },
};
const ABROAD: Delivery = {
  method: 'post',
  address: { name: 'Ida Holm', street: 'Storgatan 1', postcode: '211 20', city: 'Malmö', country: 'SE' },
};
const PICKUP: Delivery = { method: 'pickup', centre: 'Borgerservice Aarhus' };
const ida: UserRecord = { userId: 'ida', passwordHash: null, identityHash: 'identity-ida', guesses: null };
const PROOF: ProofRecord = {
  idHash: 'proof-hash-ida',
  userId: 'ida',
  documentHash: 'document-ida',
  actor: 'cred-operator-1',
  createdAt: AT - 60_000,
  expiresAt: AT + 14 * 60_000,
  usedAt: null,
};
const NEW = { id: 'ord_aaaaaaaaaaaaaaaaaaaaaaaaaa', trackingHash: 'f'.repeat(64), delivery: POST, withProof: true };

/** Every audit row of `writes`, as JSON: where an address must never be. */
const auditText = (writes: readonly Write[]): string => JSON.stringify(writes.filter((w) => w.kind === 'audit'));

t.test('prices: the first three orders of a user are free, every later one and every anonymous one 41.76 DKK', async (t) => {
  t.same(
    [0, 1, 2, 3, 4, 10].map((n) => priceOf(true, n, P)),
    [0, 0, 0, 4176, 4176, 4176],
  );
  t.same(
    [0, 3].map((n) => priceOf(false, n, P)),
    [4176, 4176],
    'anonymous: always paid',
  );
  const generous = orderPolicyOf({ priceOre: 9900, freeOrders: 5 });
  t.same(
    [4, 5].map((n) => priceOf(true, n, generous)),
    [0, 9900],
    'the price and the free count are configuration',
  );
});

t.test('business days: weekends skipped, and the holidays the predicate names', async (t) => {
  t.equal(addBusinessDays('2026-01-09', 1, noHolidays), '2026-01-12', 'Friday + 1 is Monday');
  t.equal(addBusinessDays('2026-01-10', 3, noHolidays), '2026-01-14', 'from a Saturday: Monday is the first');
  t.equal(addBusinessDays('2026-01-05', 0, noHolidays), '2026-01-05', 'zero days: the day itself');
  t.equal(
    addBusinessDays('2026-01-05', 5, (d) => d === '2026-01-07'),
    '2026-01-13',
    'a holiday is not counted',
  );
});

t.test('Danish public holidays (date-holidays): Easter and Christmas skipped, Christmas Eve is a working day', async (t) => {
  const isHoliday = await danishHolidays();
  t.same(
    ['2026-04-02', '2026-04-03', '2026-04-06', '2026-05-14', '2026-05-25', '2026-12-25', '2026-12-26', '2027-01-01'].filter(isHoliday)
      .length,
    8,
    "Maundy Thursday, Good Friday, Easter Monday, Ascension, Whit Monday, Christmas, Boxing Day, New Year's Day",
  );
  t.same(['2026-12-24', '2026-06-05', '2026-05-01', '2026-04-07'].filter(isHoliday), [], 'observances and ordinary days are not');
  t.equal(await danishHolidays(), isHoliday, 'built once');

  // Wednesday 1 April 2026: Thursday, Friday and Monday are Easter holidays.
  const easter = Date.parse('2026-04-01T10:00:00Z');
  t.same(expectedBy(easter, POST, P, isHoliday), { earliest: '2026-04-09', latest: '2026-04-15' }, 'Easter: three holidays skipped');
  t.same(expectedBy(easter, POST, P, noHolidays), { earliest: '2026-04-06', latest: '2026-04-10' }, 'as it would be without them');
  t.same(expectedBy(easter, PICKUP, P, isHoliday), { earliest: '2026-04-09', latest: '2026-04-15' }, 'pickup: the domestic window');
  t.same(expectedBy(easter, ABROAD, P, isHoliday), { earliest: '2026-04-14', latest: '2026-04-22' }, 'abroad: 6–12 business days');

  // Monday 21 December 2026: the 24th is counted, the 25th and 26th and 1 January are not.
  const christmas = Date.parse('2026-12-21T09:00:00Z');
  t.same(expectedBy(christmas, POST, P, isHoliday), { earliest: '2026-12-24', latest: '2026-12-31' });
  t.same(expectedBy(christmas, POST, P, noHolidays), { earliest: '2026-12-24', latest: '2026-12-30' }, 'without: a day sooner');
  t.same(expectedBy(christmas, ABROAD, P, isHoliday), { earliest: '2026-12-30', latest: '2027-01-08' }, 'abroad, across New Year');
});

t.test('the day an order is made on is its date in Copenhagen, not in UTC', async (t) => {
  t.equal(copenhagenDate(Date.parse('2026-01-05T22:59:00Z')), '2026-01-05', 'winter: 23:59 in Copenhagen');
  t.equal(copenhagenDate(Date.parse('2026-01-05T23:30:00Z')), '2026-01-06', 'winter: 00:30 the next day (UTC+1)');
  t.equal(copenhagenDate(Date.parse('2026-06-08T22:30:00Z')), '2026-06-09', 'summer: 00:30 the next day (UTC+2)');
  // Monday 23:30 UTC is Tuesday in Copenhagen: three business days from Tuesday.
  t.same(expectedBy(Date.parse('2026-01-05T23:30:00Z'), POST, P, noHolidays), { earliest: '2026-01-09', latest: '2026-01-15' });
  t.same(expectedBy(Date.parse('2026-01-05T12:00:00Z'), POST, P, noHolidays), { earliest: '2026-01-08', latest: '2026-01-14' });
});

t.test('placing: with a proof the order is its user’s, priced on its earlier orders; without, anonymous and paid', async (t) => {
  const place = (over: Parameters<typeof snap>[0], n: Partial<typeof NEW> = {}) =>
    decidePlaceOrder(snap(over), { ...NEW, ...n }, o, P, noHolidays);
  for (const [earlier, price, status] of [
    [0, 0, 'placed'],
    [2, 0, 'placed'],
    [3, 4176, 'awaiting-payment'],
    [7, 4176, 'awaiting-payment'],
  ] as const) {
    const d = place({ proof: PROOF, user: ida, userOrders: earlier });
    t.match(d.result, { id: NEW.id, userId: 'ida', priceOre: price, status, serial: null, paymentReference: null }, `${earlier} earlier`);
    t.match(d.writes, [
      { kind: 'create-order', order: d.result },
      { kind: 'audit', entry: { type: 'order', userId: 'ida', serial: null } },
    ]);
  }
  const anonymous = place({ userOrders: 0 }, { withProof: false });
  t.match(anonymous.result, { userId: null, priceOre: 4176, status: 'awaiting-payment', delivery: POST });
  t.match(anonymous.result, { createdAt: AT, updatedAt: AT, expectedBy: expectedBy(AT, POST, P, noHolidays) });
  t.match(
    place({ proof: { ...PROOF, usedAt: AT - 1000 }, user: ida }).result,
    { userId: 'ida', priceOre: 0 },
    'a proof used by an activation a moment ago still orders',
  );

  for (const [what, over, reason] of [
    ['no such proof', { user: ida }, 'proof-unknown'],
    ['its user erased', { proof: PROOF }, 'proof-unknown'],
    ['another user read', { proof: PROOF, user: { ...ida, userId: 'jon' } }, 'proof-unknown'],
    ['expired', { proof: { ...PROOF, expiresAt: AT }, user: ida }, 'proof-expired'],
  ] as const) {
    const d = place(over);
    t.same(d.result, { refused: reason }, what);
    t.match(d.writes, [{ kind: 'audit', entry: { type: 'reject', reason } }], `${what}: only the refusal audited`);
    t.equal(d.writes.length, 1);
  }

  const d = place({ proof: PROOF, user: ida }, { delivery: ABROAD });
  const text = auditText(d.writes);
  t.match(text, /placed: post abroad, 0 øre, placed/);
  for (const part of ['Ida Holm', 'Storgatan', '211 20', 'Malmö']) t.notOk(text.includes(part), `the audit row has no ${part}`);
});

/** An order of `delivery` at `status`. */
const order = (status: OrderStatus, delivery: Delivery = POST, over: Partial<OrderRecord> = {}): OrderRecord => ({
  id: NEW.id,
  trackingHash: NEW.trackingHash,
  userId: 'ida',
  status,
  priceOre: 0,
  delivery,
  createdAt: AT - 86_400_000,
  updatedAt: AT - 86_400_000,
  expectedBy: { earliest: '2026-06-04', latest: '2026-06-10' },
  paymentReference: null,
  serial: ['shipped', 'ready-for-pickup', 'delivered', 'collected'].includes(status) ? '1000000008' : null,
  ...over,
});

const EVENTS: Record<OrderEvent['kind'], OrderEvent> = {
  pay: { kind: 'pay', reference: 'pay-123' },
  fulfil: { kind: 'fulfil', serial: SERIAL },
  deliver: { kind: 'deliver' },
  collect: { kind: 'collect', withProof: true, idCheck: null },
  cancel: { kind: 'cancel' },
};

// What every event does from every status an order of each delivery can reach: the next status
// (every other event refused).
const LIFE: Record<'post' | 'pickup', Partial<Record<OrderStatus, Partial<Record<OrderEvent['kind'], OrderStatus>>>>> = {
  post: {
    'awaiting-payment': { pay: 'placed', cancel: 'cancelled' },
    placed: { fulfil: 'shipped', cancel: 'cancelled' },
    shipped: { deliver: 'delivered' },
    delivered: {},
    cancelled: {},
  },
  pickup: {
    'awaiting-payment': { pay: 'placed', cancel: 'cancelled' },
    placed: { fulfil: 'ready-for-pickup', cancel: 'cancelled' },
    'ready-for-pickup': { collect: 'collected' },
    collected: {},
    cancelled: {},
  },
};

t.test('every step from every status: the legal ones taken and audited, every other one refused naming the status', async (t) => {
  // A snapshot in which every step's own conditions hold: a fresh device, a proof of the user.
  const ready = (ord: OrderRecord) => snap({ order: ord, token: token(), proof: PROOF, user: ida });
  let legal = 0;
  let illegal = 0;
  for (const method of ['post', 'pickup'] as const) {
    const delivery = method === 'post' ? POST : PICKUP;
    for (const [status, steps] of Object.entries(LIFE[method]) as Array<[OrderStatus, Partial<Record<OrderEvent['kind'], OrderStatus>>]>) {
      for (const [kind, event] of Object.entries(EVENTS) as Array<[OrderEvent['kind'], OrderEvent]>) {
        const to = steps[kind] ?? null;
        const ord = order(status, delivery);
        t.equal(nextStatus(ord, kind), to, `${method} ${status} ${kind}`);
        const d = decideOrderStep(ready(ord), event, { ...o, actor: 'admin' });
        if (to === null) {
          t.same(d, { result: { refused: 'illegal-transition', status }, writes: [] }, `${method}: ${status} cannot ${kind}`);
          illegal++;
          continue;
        }
        legal++;
        t.match(d.result, { id: ord.id, status: to, updatedAt: AT }, `${method}: ${status} -${kind}→ ${to}`);
        t.match(d.writes, [
          { kind: 'update-order', id: ord.id, from: status, to, at: AT },
          {
            kind: 'audit',
            entry: { type: 'order', userId: 'ida', actor: 'admin', reason: new RegExp(`^order ${ord.id} ${status} → ${to}`) },
          },
        ]);
        for (const part of ['Ida Holm', 'Nørregade', '8000', 'Aarhus']) t.notOk(auditText(d.writes).includes(part), 'no address audited');
      }
    }
  }
  t.equal(legal, 10, 'five legal steps for each way of delivery');
  t.equal(illegal, 40, 'every other pair refused');
  t.same([...new Set([...Object.keys(LIFE.post), ...Object.keys(LIFE.pickup)])].sort(), [...ORDER_STATUSES].sort(), 'every status reached');
  t.same(decideOrderStep(snap(), EVENTS.cancel, o), { result: { refused: 'unknown-order' }, writes: [] }, 'no such order');
});

t.test('payment and fulfilment: what each step records', async (t) => {
  const paid = decideOrderStep(snap({ order: order('awaiting-payment', POST, { priceOre: 4176 }) }), EVENTS.pay, o);
  t.match(paid.result, { status: 'placed', paymentReference: 'pay-123' });
  t.match(paid.writes[0], { kind: 'update-order', paymentReference: 'pay-123' });

  const fulfil = (over: Parameters<typeof snap>[0], serial = SERIAL) =>
    decideOrderStep(snap({ order: order('placed'), token: token(), ...over }), { kind: 'fulfil', serial }, o);
  const sent = fulfil({});
  t.match(sent.result, { status: 'shipped', serial: SERIAL });
  t.match(sent.writes, [
    { kind: 'update-order', serial: SERIAL },
    { kind: 'audit', entry: { serial: SERIAL, reason: /fulfilled with/ } },
  ]);
  t.same(fulfil({ token: null }).result, { refused: 'serial-unusable', why: 'unknown' }, 'a serial the server does not know');
  t.same(fulfil({}, '1000000008').result, { refused: 'serial-unusable', why: 'unknown' }, 'a token read for another serial');
  t.same(fulfil({ orderOfSerial: order('shipped', POST, { id: 'ord_bbbbbbbbbbbbbbbbbbbbbbbbbb' }) }).result, {
    refused: 'serial-unusable',
    why: 'sent-already',
  });
  t.same(fulfil({ tokenOwner: 'jon' }).result, { refused: 'serial-unusable', why: 'bound' }, 'a device bound to a user, ever');
  t.same(fulfil({ token: token({ status: 'revoked' }) }).result, { refused: 'serial-unusable', why: 'not-enabled' });
  t.same(fulfil({ token: token({ status: 'locked' }) }).result, { refused: 'serial-unusable', why: 'not-enabled' });
  t.same(fulfil({}).writes.length, 2);
  t.same(
    decideOrderStep(snap({ order: order('shipped'), token: token() }), EVENTS.fulfil, o).result,
    { refused: 'illegal-transition', status: 'shipped' },
    'the transition is checked before the device',
  );
});

t.test("collection: against a valid proof of the order's user (not spent), or for an anonymous order an ID check", async (t) => {
  const collect = (ord: OrderRecord, over: Parameters<typeof snap>[0], e: Partial<Extract<OrderEvent, { kind: 'collect' }>>) =>
    decideOrderStep(snap({ order: ord, ...over }), { kind: 'collect', withProof: false, idCheck: null, ...e }, { ...o, actor: 'cred-op' });
  const mine = order('ready-for-pickup', PICKUP);
  const handed = collect(mine, { proof: PROOF, user: ida }, { withProof: true });
  t.match(handed.result, { status: 'collected' });
  t.notOk(
    handed.writes.some((w) => w.kind === 'use-proof'),
    'the proof is not spent: it activates the device next',
  );
  t.match(handed.writes[1], { entry: { reason: /collected: owner proven/ } });
  const refused = { refused: 'not-the-owner' };
  t.same(
    collect(mine, { proof: { ...PROOF, userId: 'jon' }, user: { ...ida, userId: 'jon' } }, { withProof: true }).result,
    refused,
    "another user's proof",
  );
  t.same(collect(mine, { proof: { ...PROOF, expiresAt: AT - 1 }, user: ida }, { withProof: true }).result, refused, 'an expired proof');
  t.same(collect(mine, { user: ida }, { withProof: true }).result, refused, 'an unknown proof');
  t.same(collect(mine, {}, { idCheck: { document: 'passport' } }).result, refused, "an ID check is not enough for a user's order");
  t.same(collect(mine, { proof: PROOF, user: ida }, { withProof: false }).result, refused, 'a proof read but not given');

  const anonymous = order('ready-for-pickup', PICKUP, { userId: null, priceOre: 4176 });
  const checked = collect(anonymous, {}, { idCheck: { document: 'driving-licence' } });
  t.match(checked.result, { status: 'collected', userId: null });
  t.match(checked.writes[1], { entry: { type: 'order', userId: null, actor: 'cred-op', reason: /ID checked \(driving-licence\)/ } });
  t.same(collect(anonymous, {}, {}).result, refused, 'an anonymous order without an ID check');
  t.same(collect(anonymous, { proof: PROOF, user: ida }, { withProof: true }).result, refused, 'nor with a proof instead');
});

t.test('deliveries as input: strict, trimmed, and no value ever in a message', async (t) => {
  t.same(parseDelivery(POST), POST);
  t.same(parseDelivery(PICKUP), PICKUP);
  t.same(parseDelivery({ method: 'pickup', centre: '  Borgerservice Aarhus ' }), PICKUP, 'trimmed');
  t.same(parseDelivery(ABROAD), ABROAD);
  const bad: Array<[string, unknown, RegExp]> = [
    ['no method', { address: POST.address }, /delivery.method/],
    ['a lower-case country', { method: 'post', address: { ...POST.address, country: 'dk' } }, /country/],
    ['a country of three letters', { method: 'post', address: { ...POST.address, country: 'DNK' } }, /country/],
    ['a Danish postcode of five digits', { method: 'post', address: { ...POST.address, postcode: '80001' } }, /postcode/],
    ['a postcode with a slash', { method: 'post', address: { ...ABROAD.address, postcode: '211/20' } }, /postcode/],
    ['a blank name', { method: 'post', address: { ...POST.address, name: '   ' } }, /address.name/],
    ['a street with a newline', { method: 'post', address: { ...POST.address, street: 'Nørregade 7\nSECRET' } }, /address.street/],
    ['a long city', { method: 'post', address: { ...POST.address, city: 'C'.repeat(101) } }, /address.city/],
    ['a number for a name', { method: 'post', address: { ...POST.address, name: 42 } }, /address.name/],
    ['no address', { method: 'post' }, /country/],
    ['an empty centre', { method: 'pickup', centre: '' }, /centre/],
    ['a long centre', { method: 'pickup', centre: 'x'.repeat(65) }, /centre/],
    ['nothing', undefined, /method/],
  ];
  for (const [what, input, message] of bad) {
    t.throws(() => parseDelivery(input), { code: 'ERR_ARGUMENT', message }, what);
    try {
      parseDelivery(input);
    } catch (e) {
      t.notMatch((e as Error).message, /Nørregade|SECRET|Ida|80001|CCCC/, `${what}: the message names the field, not the value`);
    }
  }
});

t.test('the policy: defaults, and bad settings refused', async (t) => {
  t.same(orderPolicyOf(), { priceOre: 4176, freeOrders: 3, domesticDays: [3, 7], abroadDays: [6, 12] });
  t.same(orderPolicyOf({ abroadDays: [10, 20] }).abroadDays, [10, 20]);
  for (const bad of [
    { priceOre: -1 },
    { priceOre: 1.5 },
    { freeOrders: 'three' },
    { domesticDays: [7, 3] },
    { abroadDays: [1] },
    { abroadDays: [1, 400] },
  ]) {
    t.throws(() => orderPolicyOf(bad as never), { code: 'ERR_ARGUMENT' }, JSON.stringify(bad));
  }
});

t.test('ids and tracking tokens: random, of their forms', async (t) => {
  const ids = new Set(Array.from({ length: 200 }, newOrderId));
  t.equal(ids.size, 200);
  t.ok(
    [...ids].every((id) => ORDER_ID.test(id)),
    'ord_ and 26 base32 characters',
  );
  const token = newTrackingToken();
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');
  t.not(token, newTrackingToken());
});
