/**
 * The TokenService's orders (domain/orders.ts decides them): the arguments checked, the ids and
 * tracking tokens made, the key of each attempt read, the views made. service.ts builds it with
 * its own attempt (repeats of anonymous refusals counted) and spreads it into the service.
 *
 * Danish business days come from date-holidays (its public holidays only: not Christmas Eve or
 * Constitution Day, which it lists as observances), loaded at the first order (it reads the
 * rules of every country: ~150 ms) and asked once per year, then kept.
 */
import { timingSafeEqual } from 'node:crypto';
import { KodeviserError, parseSerial } from '@kodeviser/shared';
import { secretDigest } from '../security/secret-digest.js';
import type { AttemptKey, TokenStore } from '../store/types.js';
import type { Decision, Snapshot } from './decide.js';
import {
  decideOrderStep,
  decidePlaceOrder,
  ID_CHECK_DOCUMENTS,
  newOrderId,
  newTrackingToken,
  ORDER_ID,
  ORDER_STATUSES,
  orderPolicyOf,
  orderView,
  parseDelivery,
  type IdCheck,
  type IsHoliday,
  type OrderEvent,
  type OrderPolicy,
  type OrderStatus,
} from './orders.js';
import type { Clock, RequestContext, TokenService } from './types.js';

export type OrderService = Pick<TokenService, 'placeOrder' | 'quoteOrder' | 'orderStep' | 'getOrder' | 'trackOrder' | 'listOrders'>;

export interface OrderServiceOptions {
  store: TokenStore;
  clock: Clock;
  /** The service's attempt (TokenStore.attempt, refusals counted). */
  attempt<T>(key: AttemptKey, decide: (s: Snapshot) => Decision<T>): Promise<T>;
  /** Prices, the free count and the windows that differ from DEFAULT_ORDER_POLICY. */
  policy?: Partial<OrderPolicy>;
  /** Whether a date is a holiday (default: Denmark's public holidays, date-holidays). */
  isHoliday?: IsHoliday;
}

let danish: Promise<IsHoliday> | null = null;

/** Denmark's public holidays, by date-holidays (loaded once, at the first ask), each year's set made once. */
export function danishHolidays(): Promise<IsHoliday> {
  return (danish ??= import('date-holidays').then(({ default: Holidays }) => {
    const hd = new Holidays('DK');
    const years = new Map<number, ReadonlySet<string>>();
    return (date: string): boolean => {
      const year = Number(date.slice(0, 4));
      let days = years.get(year);
      if (days === undefined) {
        days = new Set(
          hd
            .getHolidays(year)
            .filter((h) => h.type === 'public')
            .map((h) => h.date.slice(0, 10)),
        );
        years.set(year, days);
      }
      return days.has(date);
    };
  }));
}

const NO_HASH = Buffer.alloc(32);
const LIMIT = 100;
const REFERENCE = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

function requireString(value: unknown, argName: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a non-empty string`);
  return value;
}

function requireContext(ctx: RequestContext): void {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.ip !== 'string')
    throw new KodeviserError('ERR_ARGUMENT', 'ctx.ip must be a string');
}

function idCheckOf(v: unknown): IdCheck {
  const document = (typeof v === 'object' && v !== null ? (v as { document?: unknown }).document : undefined) as IdCheck['document'];
  if (!ID_CHECK_DOCUMENTS.includes(document)) {
    throw new KodeviserError('ERR_ARGUMENT', `idCheck.document must be one of ${ID_CHECK_DOCUMENTS.join(', ')}`);
  }
  return { document };
}

export function createOrderService({ store, clock, attempt, ...opts }: OrderServiceOptions): OrderService {
  const policy = orderPolicyOf(opts.policy);
  const holidays = (): Promise<IsHoliday> => (opts.isHoliday !== undefined ? Promise.resolve(opts.isHoliday) : danishHolidays());

  /**
   * The key of an attempt on a proof: the proof, and its user as read a moment before (a proof's
   * user never changes), so that the unit reads the user and, with an order, its orders.
   */
  async function proofKey(proofIdHash: string, more: AttemptKey): Promise<AttemptKey> {
    const { proof } = await store.snapshot({ proofIdHash });
    return proof === null ? { ...more, proofIdHash } : { ...more, proofIdHash, userId: proof.userId };
  }

  /**
   * An order being placed, checked: the key of its attempt and its decision (decidePlaceOrder),
   * which placeOrder runs in the store's unit and quoteOrder on a snapshot, so both price it by
   * the one rule.
   */
  async function placing(req: Parameters<OrderService['placeOrder']>[0], ctx: RequestContext) {
    requireContext(ctx);
    const delivery = parseDelivery(req?.delivery);
    const proofId = req?.proofId;
    const proofIdHash = proofId === undefined ? undefined : secretDigest(requireString(proofId, 'proofId'));
    const isHoliday = await holidays();
    const id = newOrderId();
    const trackingToken = newTrackingToken();
    const o = { at: clock.now(), ip: ctx.ip, userId: null, actor: ctx.actor ?? null };
    const key = proofIdHash === undefined ? { orderId: id } : await proofKey(proofIdHash, { orderId: id });
    const decide = (s: Snapshot) =>
      decidePlaceOrder(
        s,
        { id, trackingHash: secretDigest(trackingToken), delivery, withProof: proofIdHash !== undefined },
        o,
        policy,
        isHoliday,
      );
    return { key, decide, trackingToken };
  }

  return {
    async placeOrder(req, ctx) {
      const { key, decide, trackingToken } = await placing(req, ctx);
      const order = await attempt(key, decide);
      if ('refused' in order) return { refused: 'proof' };
      const { orderId, status, priceOre, currency, userId, expectedBy } = orderView(order);
      return { orderId, trackingToken, status, priceOre, currency, userId, expectedBy };
    },

    async quoteOrder(req, ctx) {
      const { key, decide } = await placing(req, ctx);
      // The decision's writes (the order, its audit row, or a refusal's) are dropped: a quote is a look.
      const { result } = decide(await store.snapshot(key));
      return 'refused' in result ? { refused: 'proof' } : { priceOre: result.priceOre, expectedBy: result.expectedBy };
    },

    async orderStep(orderId, step, actor, ctx) {
      const id = requireString(orderId, 'orderId');
      requireString(actor, 'actor');
      requireContext(ctx);
      if (!ORDER_ID.test(id)) return { refused: 'unknown-order' };
      let key: AttemptKey = { orderId: id };
      let event: OrderEvent;
      switch (step?.kind) {
        case 'pay': {
          const reference = requireString(step.reference, 'reference');
          if (!REFERENCE.test(reference)) {
            throw new KodeviserError('ERR_ARGUMENT', 'reference must be 1 to 128 printable ASCII characters, not starting with a space');
          }
          event = { kind: 'pay', reference };
          break;
        }
        case 'fulfil': {
          const serial = parseSerial(step.serial);
          key = { orderId: id, serial };
          event = { kind: 'fulfil', serial };
          break;
        }
        case 'collect': {
          if ((step.proofId === undefined) === (step.idCheck === undefined)) {
            throw new KodeviserError(
              'ERR_ARGUMENT',
              "a collection takes the proofId of the order's user, or for an anonymous order an idCheck",
            );
          }
          if (step.proofId !== undefined) key = await proofKey(secretDigest(requireString(step.proofId, 'proofId')), key);
          event = {
            kind: 'collect',
            withProof: step.proofId !== undefined,
            idCheck: step.idCheck === undefined ? null : idCheckOf(step.idCheck),
          };
          break;
        }
        case 'deliver':
        case 'cancel':
          event = { kind: step.kind };
          break;
        default:
          throw new KodeviserError('ERR_ARGUMENT', 'step.kind must be pay, fulfil, deliver, collect or cancel');
      }
      const o = { at: clock.now(), ip: ctx.ip, userId: null, actor };
      const result = await attempt(key, (s) => decideOrderStep(s, event, o));
      return 'refused' in result ? result : orderView(result);
    },

    async getOrder(orderId) {
      const id = requireString(orderId, 'orderId');
      const order = ORDER_ID.test(id) ? await store.getOrder(id) : null;
      return order === null ? null : orderView(order);
    },

    async trackOrder(orderId, trackingToken) {
      const id = requireString(orderId, 'orderId');
      const token = requireString(trackingToken, 'trackingToken');
      const order = ORDER_ID.test(id) ? await store.getOrder(id) : null;
      // Compared in constant time, and compared at all when there is no such order: a wrong token
      // and an unknown id are one answer, in about one time.
      const given = Buffer.from(secretDigest(token), 'hex');
      const stored = order === null ? NO_HASH : Buffer.from(order.trackingHash, 'hex');
      const same = stored.length === given.length && timingSafeEqual(given, stored);
      if (order === null || !same) return null;
      return { orderId: order.id, status: order.status, expectedBy: order.expectedBy };
    },

    async listOrders(query) {
      const status = query?.status;
      if (status !== undefined && !ORDER_STATUSES.includes(status as OrderStatus)) {
        throw new KodeviserError('ERR_ARGUMENT', `status must be one of ${ORDER_STATUSES.join(', ')}`);
      }
      const limit = query?.limit ?? LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 1) throw new KodeviserError('ERR_ARGUMENT', 'limit must be a positive integer');
      return (await store.listOrders({ ...(status !== undefined ? { status } : {}), limit })).map(orderView);
    },
  };
}
