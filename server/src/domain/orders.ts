/**
 * Orders of code displays, as pure decisions (decide.ts' way: a snapshot in, a result and writes
 * out). The rules: a user's first three orders (not counting cancelled ones) are free, every later
 * one costs 41.76 DKK, and an order without a proof of identity is anonymous and always paid; an
 * order that costs money waits for its payment. Post within Denmark arrives in 3–7 Danish
 * business days, abroad in 6–12; a pickup order is ready at the centre in the domestic window.
 * Prices, the free count and the windows are an OrderPolicy (KODEVISER_ORDER_POLICY).
 *
 * An order's life, every step audited (type 'order', never the address) and any other step refused (409):
 *
 *   awaiting-payment ─pay→ placed ─fulfil→ shipped ─deliver→ delivered          (post)
 *                                          ready-for-pickup ─collect→ collected (pickup)
 *   awaiting-payment, placed ─cancel→ cancelled  (not once it has left the factory)
 *
 * A proof of identity lets an order be its user's without being spent by it: the proof must exist,
 * be its user's and not have expired (one used by an activation a minute ago still orders), so the
 * person at a service centre can order, collect and activate with one proof.
 */
import { randomBytes } from 'node:crypto';
import { KodeviserError } from '@kodeviser/shared';
import type { Origin } from '../store/types.js';
import { audit, auditEntry, type Decision, type Snapshot } from './decide.js';
import type { RejectReason } from './types.js';

export type OrderStatus = 'awaiting-payment' | 'placed' | 'shipped' | 'ready-for-pickup' | 'delivered' | 'collected' | 'cancelled';
export const ORDER_STATUSES: readonly OrderStatus[] = [
  'awaiting-payment',
  'placed',
  'shipped',
  'ready-for-pickup',
  'delivered',
  'collected',
  'cancelled',
];

export interface PostalAddress {
  name: string;
  street: string;
  postcode: string;
  city: string;
  /** ISO 3166-1 alpha-2, upper case */
  country: string;
}

export type Delivery = { method: 'post'; address: PostalAddress } | { method: 'pickup'; centre: string };

export const ID_CHECK_DOCUMENTS = ['passport', 'driving-licence', 'id-card'] as const;
/** How an order without a user was handed over at a centre: the operator checked this document. */
export type IdCheck = { document: (typeof ID_CHECK_DOCUMENTS)[number] };

export interface OrderRecord {
  /** 'ord_' and 26 base32 characters: random, so ids reveal nothing of the order count. */
  id: string;
  /** SHA-256 of the tracking token (hex); the token itself is shown once, to whoever ordered. */
  trackingHash: string;
  /** null: anonymous. */
  userId: string | null;
  status: OrderStatus;
  priceOre: number;
  delivery: Delivery;
  createdAt: number;
  updatedAt: number;
  /** Local dates in Europe/Copenhagen, YYYY-MM-DD. */
  expectedBy: { earliest: string; latest: string };
  paymentReference: string | null;
  /** The device the factory sent. */
  serial: string | null;
}

export interface OrderPolicy {
  priceOre: number;
  /** A user's orders that cost nothing (cancelled ones not counted). */
  freeOrders: number;
  /** Business days to a Danish address (and to a pickup centre): [earliest, latest]. */
  domesticDays: readonly [number, number];
  /** Business days abroad. */
  abroadDays: readonly [number, number];
}

export const DEFAULT_ORDER_POLICY: OrderPolicy = Object.freeze({
  priceOre: 4176,
  freeOrders: 3,
  domesticDays: Object.freeze([3, 7] as const),
  abroadDays: Object.freeze([6, 12] as const),
});

/** What an order costs: free while the user's earlier orders are fewer than the free count. */
export function priceOf(identified: boolean, earlierOrders: number, p: OrderPolicy): number {
  return identified && earlierOrders < p.freeOrders ? 0 : p.priceOre;
}

const copenhagen = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Copenhagen', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The date in Copenhagen at unix ms `at`, YYYY-MM-DD. */
export const copenhagenDate = (at: number): string => copenhagen.format(at);

/** Whether `date` (YYYY-MM-DD) is a Danish public holiday: date-holidays answers it (service.ts). */
export type IsHoliday = (date: string) => boolean;

/** `date` plus `days` business days (Monday to Friday, not a holiday), YYYY-MM-DD. */
export function addBusinessDays(date: string, days: number, isHoliday: IsHoliday): string {
  const d = new Date(`${date}T12:00:00Z`);
  for (let left = days; left > 0;) {
    d.setUTCDate(d.getUTCDate() + 1);
    const day = d.getUTCDay();
    if (day !== 0 && day !== 6 && !isHoliday(d.toISOString().slice(0, 10))) left--;
  }
  return d.toISOString().slice(0, 10);
}

/** Whether `delivery` goes abroad (post outside Denmark). */
export const abroad = (delivery: Delivery): boolean => delivery.method === 'post' && delivery.address.country !== 'DK';

/** When an order made at `at` is expected, counted in Danish business days from its date in Copenhagen. */
export function expectedBy(at: number, delivery: Delivery, p: OrderPolicy, isHoliday: IsHoliday): OrderRecord['expectedBy'] {
  const [earliest, latest] = abroad(delivery) ? p.abroadDays : p.domesticDays;
  const from = copenhagenDate(at);
  return { earliest: addBusinessDays(from, earliest, isHoliday), latest: addBusinessDays(from, latest, isHoliday) };
}

/** The writes of orders (decide.ts Write). */
export type OrderWrite =
  /** A new order (its id, tracking hash and serial must be new). */
  | { kind: 'create-order'; order: OrderRecord }
  /**
   * A step: the order goes from `from` to `to`, and only if it is at `from` still (else the
   * attempt rolls back); the payment reference and the serial sent are set when given.
   */
  | { kind: 'update-order'; id: string; from: OrderStatus; to: OrderStatus; at: number; paymentReference?: string; serial?: string };

export type OrderRefusal =
  | { refused: 'unknown-order' }
  | { refused: 'illegal-transition'; status: OrderStatus }
  /** fulfil: the serial is no device the server knows, is another user's, was sent with another order, or is revoked or locked */
  | { refused: 'serial-unusable'; why: 'unknown' | 'bound' | 'sent-already' | 'not-enabled' }
  /** collect: no proof of the order's user (or, for an anonymous order, no ID check) */
  | { refused: 'not-the-owner' };

/** Why a proof cannot tell whose an order is at `at`: unknown (or its user erased) or expired; null when it can. Being used does not matter. */
export function orderProofRefusal({ proof, user }: Snapshot, at: number): Extract<RejectReason, 'proof-unknown' | 'proof-expired'> | null {
  if (proof === null || user === null || user.userId !== proof.userId) return 'proof-unknown';
  if (proof.expiresAt <= at) return 'proof-expired';
  return null;
}

/** An order being placed. */
export interface NewOrder {
  id: string;
  trackingHash: string;
  delivery: Delivery;
  /** Whether the key names a proof (the snapshot's): then the order is its user's. */
  withProof: boolean;
}

/**
 * Places an order (POST /v1/orders), on the snapshot of its proof (if any), the proof's user and
 * that user's orders: priced on the user's earlier orders as the unit reads them, so that two at
 * once are counted one after the other. A proof that is unknown or expired is refused, unwritten
 * but for the audit row of the refusal (as an activation's).
 */
export function decidePlaceOrder(
  s: Snapshot,
  n: NewOrder,
  o: Origin,
  p: OrderPolicy,
  isHoliday: IsHoliday,
): Decision<OrderRecord | { refused: 'proof-unknown' | 'proof-expired' }> {
  let userId: string | null = null;
  if (n.withProof) {
    const refused = orderProofRefusal(s, o.at);
    if (refused !== null) {
      return { result: { refused }, writes: [audit(auditEntry({ ...o, userId: s.proof?.userId ?? null }, 'reject', null, refused, null))] };
    }
    userId = s.proof?.userId ?? null;
  }
  const priceOre = priceOf(userId !== null, s.userOrders, p);
  const order: OrderRecord = {
    id: n.id,
    trackingHash: n.trackingHash,
    userId,
    status: priceOre === 0 ? 'placed' : 'awaiting-payment',
    priceOre,
    delivery: n.delivery,
    createdAt: o.at,
    updatedAt: o.at,
    expectedBy: expectedBy(o.at, n.delivery, p, isHoliday),
    paymentReference: null,
    serial: null,
  };
  const where = n.delivery.method === 'post' ? `post${abroad(n.delivery) ? ' abroad' : ''}` : 'pickup';
  return {
    result: order,
    writes: [{ kind: 'create-order', order }, audit(orderAudit(o, order, `placed: ${where}, ${priceOre} øre, ${order.status}`))],
  };
}

/** A step of an order's life, and what it carries. */
export type OrderEvent =
  | { kind: 'pay'; reference: string }
  | { kind: 'fulfil'; serial: string }
  | { kind: 'deliver' }
  /** `withProof`: the key names a proof (the snapshot's); `idCheck`: what the operator checked, for an anonymous order. */
  | { kind: 'collect'; withProof: boolean; idCheck: IdCheck | null }
  | { kind: 'cancel' };

const NEXT: Readonly<Record<OrderEvent['kind'], (o: OrderRecord) => OrderStatus | null>> = {
  pay: (o) => (o.status === 'awaiting-payment' ? 'placed' : null),
  fulfil: (o) => (o.status !== 'placed' ? null : o.delivery.method === 'post' ? 'shipped' : 'ready-for-pickup'),
  deliver: (o) => (o.status === 'shipped' ? 'delivered' : null),
  collect: (o) => (o.status === 'ready-for-pickup' ? 'collected' : null),
  cancel: (o) => (o.status === 'awaiting-payment' || o.status === 'placed' ? 'cancelled' : null),
};

/** The status `e` takes `order` to, or null when it may not (an illegal transition). */
export const nextStatus = (order: OrderRecord, e: OrderEvent['kind']): OrderStatus | null => NEXT[e](order);

/**
 * One step of the order's life (the admin's payment, fulfilment and delivery; an operator's
 * hand-over; a cancellation), on the snapshot of the order — and for a fulfilment, of the serial's
 * token and the order it was sent with, if any; for a collection, of the proof and its user — or
 * the reason it cannot be taken. Fulfilling needs a device the server knows, enabled, bound to
 * nobody and sent with no other order. A collection needs a proof of the order's user (usable as
 * for placing an order: not expired; it is not spent), or, for an anonymous order, the ID check
 * the operator records (the audit row names the kind of document, never its number).
 */
export function decideOrderStep(s: Snapshot, e: OrderEvent, o: Origin): Decision<OrderRecord | OrderRefusal> {
  const refuse = (r: OrderRefusal): Decision<OrderRefusal> => ({ result: r, writes: [] });
  const order = s.order;
  if (order === null) return refuse({ refused: 'unknown-order' });
  const to = NEXT[e.kind](order);
  if (to === null) return refuse({ refused: 'illegal-transition', status: order.status });
  const update: Extract<OrderWrite, { kind: 'update-order' }> = { kind: 'update-order', id: order.id, from: order.status, to, at: o.at };
  let detail = '';
  switch (e.kind) {
    case 'pay':
      update.paymentReference = e.reference;
      detail = `: paid (reference ${e.reference})`;
      break;
    case 'fulfil': {
      const token = s.token;
      if (token === null || token.serial !== e.serial) return refuse({ refused: 'serial-unusable', why: 'unknown' });
      if (s.orderOfSerial !== null) return refuse({ refused: 'serial-unusable', why: 'sent-already' });
      if (s.tokenOwner !== null) return refuse({ refused: 'serial-unusable', why: 'bound' });
      if (token.status !== 'enabled') return refuse({ refused: 'serial-unusable', why: 'not-enabled' });
      update.serial = e.serial;
      detail = `: fulfilled with ${e.serial}`;
      break;
    }
    case 'collect':
      if (order.userId !== null) {
        if (!e.withProof || orderProofRefusal(s, o.at) !== null || s.proof?.userId !== order.userId)
          return refuse({ refused: 'not-the-owner' });
        detail = ': owner proven';
      } else {
        if (e.idCheck === null) return refuse({ refused: 'not-the-owner' });
        detail = `: ID checked (${e.idCheck.document})`;
      }
      break;
    case 'deliver':
    case 'cancel':
      break;
  }
  const next: OrderRecord = {
    ...order,
    status: to,
    updatedAt: o.at,
    ...(update.paymentReference !== undefined ? { paymentReference: update.paymentReference } : {}),
    ...(update.serial !== undefined ? { serial: update.serial } : {}),
  };
  return { result: next, writes: [update, audit(orderAudit(o, next, `${order.status} → ${to}${detail}`))] };
}

/** An order's audit row: its id and what happened, under its user (if any), never its address. */
function orderAudit(o: Origin, order: OrderRecord, what: string) {
  return auditEntry(o, 'order', order.serial, `order ${order.id} ${what}`, null, order.userId);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** An order id's form. */
export const ORDER_ID = /^ord_[a-z2-7]{26}$/;

/** A new order id: 'ord_' and 26 random base32 characters (130 bits). */
export function newOrderId(): string {
  const bytes = randomBytes(26);
  let id = 'ord_';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

/** A new tracking token: 32 random bytes, base64url (shown once; stored as its SHA-256). */
export const newTrackingToken = (): string => randomBytes(32).toString('base64url');

// What a delivery may hold: printable text without control characters, of bounded lengths.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LIMITS = { name: 100, street: 200, postcode: 10, city: 100, centre: 64 } as const;
const COUNTRY = /^[A-Z]{2}$/;
const POSTCODE = /^[A-Za-z0-9][A-Za-z0-9 -]*$/;

/** The fields of a delivery (an address's, or a pickup's centre). */
export type DeliveryField = 'name' | 'street' | 'postcode' | 'city' | 'country' | 'centre';

const trimmed = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
const textProblem = (value: unknown, field: keyof typeof LIMITS): boolean => {
  const s = trimmed(value);
  return s.length === 0 || s.length > LIMITS[field] || CONTROL.test(s);
};

// Never the value itself in a message: an address is personal data, and an error message may be logged.
const PROBLEM_MESSAGES: Readonly<Record<DeliveryField, string>> = {
  name: `name must be 1 to ${LIMITS.name} characters, without control characters`,
  street: `street must be 1 to ${LIMITS.street} characters, without control characters`,
  postcode: 'postcode must be letters, digits, spaces and hyphens (in Denmark four digits)',
  city: `city must be 1 to ${LIMITS.city} characters, without control characters`,
  country: 'country must be an ISO 3166-1 alpha-2 code in upper case, e.g. DK',
  centre: `centre must be 1 to ${LIMITS.centre} characters, without control characters`,
};

/**
 * The fields of `d` that parseDelivery refuses, in the order it checks them (it names the first);
 * `method` when it is neither post nor pickup. A form shows each next to its field.
 */
export function deliveryProblems(d: unknown): { method: boolean; fields: DeliveryField[] } {
  const delivery = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
  if (delivery.method === 'pickup') return { method: false, fields: textProblem(delivery.centre, 'centre') ? ['centre'] : [] };
  if (delivery.method !== 'post') return { method: true, fields: [] };
  const a = (typeof delivery.address === 'object' && delivery.address !== null ? delivery.address : {}) as Record<string, unknown>;
  const country = typeof a.country === 'string' ? a.country : '';
  const postcode = trimmed(a.postcode);
  const fields: DeliveryField[] = [];
  if (!COUNTRY.test(country)) fields.push('country');
  if (textProblem(a.postcode, 'postcode') || !POSTCODE.test(postcode) || (country === 'DK' && !/^[0-9]{4}$/.test(postcode))) {
    fields.push('postcode');
  }
  for (const f of ['name', 'street', 'city'] as const) if (textProblem(a[f], f)) fields.push(f);
  return { method: false, fields };
}

/**
 * `d` as a delivery, its strings trimmed, or ERR_ARGUMENT naming the field (never its value):
 * post to {name, street, postcode, city, country} (country ISO 3166-1 alpha-2 in upper case; a
 * Danish postcode four digits), or pickup at a centre (a short name).
 */
export function parseDelivery(d: unknown): Delivery {
  const { method, fields } = deliveryProblems(d);
  if (method) throw new KodeviserError('ERR_ARGUMENT', 'delivery.method must be post or pickup');
  const [first] = fields;
  const delivery = d as Record<string, unknown>;
  if (first !== undefined) {
    const where = delivery.method === 'pickup' ? 'delivery' : 'delivery.address';
    throw new KodeviserError('ERR_ARGUMENT', `${where}.${PROBLEM_MESSAGES[first]}`);
  }
  if (delivery.method === 'pickup') return { method: 'pickup', centre: trimmed(delivery.centre) };
  const a = delivery.address as Record<string, unknown>;
  return {
    method: 'post',
    address: {
      name: trimmed(a.name),
      street: trimmed(a.street),
      postcode: trimmed(a.postcode),
      city: trimmed(a.city),
      country: a.country as string,
    },
  };
}

/** `p` completed with DEFAULT_ORDER_POLICY, checked (ERR_ARGUMENT): whole numbers, none negative, each window earliest ≤ latest. */
export function orderPolicyOf(p: Partial<OrderPolicy> = {}): OrderPolicy {
  const policy: OrderPolicy = { ...DEFAULT_ORDER_POLICY, ...p };
  const whole = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
  if (!whole(policy.priceOre, 10_000_000)) throw new KodeviserError('ERR_ARGUMENT', 'priceOre must be an integer from 0 to 10000000 (øre)');
  if (!whole(policy.freeOrders, 1000)) throw new KodeviserError('ERR_ARGUMENT', 'freeOrders must be an integer from 0 to 1000');
  for (const key of ['domesticDays', 'abroadDays'] as const) {
    const w = policy[key] as unknown;
    if (!Array.isArray(w) || w.length !== 2 || !whole(w[0], 365) || !whole(w[1], 365) || w[0] > w[1]) {
      throw new KodeviserError('ERR_ARGUMENT', `${key} must be [earliest, latest]: business days from 0 to 365, earliest not after latest`);
    }
  }
  return policy;
}

/** What admin and operators see of an order (GET /v1/orders/:id): everything but its tracking hash. */
export type OrderView = Omit<OrderRecord, 'id' | 'trackingHash'> & { orderId: string; currency: 'DKK' };

/** What the tracking token shows whoever ordered: the status and the expected dates, never the address or the user. */
export interface OrderTracking {
  orderId: string;
  status: OrderStatus;
  expectedBy: { earliest: string; latest: string };
}

/** A placed order as its 201 says it: with its tracking token, shown this once. */
export interface PlacedOrder {
  orderId: string;
  trackingToken: string;
  status: OrderStatus;
  priceOre: number;
  currency: 'DKK';
  userId: string | null;
  expectedBy: { earliest: string; latest: string };
}

/** A step as the service takes it (the proof of a collection by its id). */
export type OrderStepRequest =
  | { kind: 'pay'; reference: string }
  | { kind: 'fulfil'; serial: string }
  | { kind: 'deliver' }
  | { kind: 'collect'; proofId?: string; idCheck?: IdCheck }
  | { kind: 'cancel' };

export const orderView = (o: OrderRecord): OrderView => ({
  orderId: o.id,
  status: o.status,
  priceOre: o.priceOre,
  currency: 'DKK',
  userId: o.userId,
  delivery: o.delivery,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
  expectedBy: o.expectedBy,
  paymentReference: o.paymentReference,
  serial: o.serial,
});
