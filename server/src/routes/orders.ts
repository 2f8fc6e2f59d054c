/**
 * Orders of code displays (domain/orders.ts): anyone may order, with a proof of identity as its
 * user (the first three free) or anonymously (always paid); the payment provider's confirmation,
 * the factory and the carrier move an order on (admin), staff at a centre hand a pickup order over
 * (operator), and whoever ordered follows it with the tracking token the order answered with.
 *
 * An order's address is personal data: it is never logged (plugins/logger.ts censors the places a
 * body could be logged, and the tracking token in a request line's URL),
 * never in an audit row, and never shown to a tracking token, which sees the status and the
 * expected dates only.
 */
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { parseSerial } from '@kodeviser/shared';
import {
  ORDER_STATUSES,
  type Delivery,
  type IdCheck,
  type OrderRefusal,
  type OrderStatus,
  type OrderStepRequest,
} from '../domain/orders.js';
import type { TokenService } from '../domain/types.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import { bearerSecurity, errorResponses, proofIdSchema, serialSchema } from './schemas.js';

export interface OrderRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  /** the orders-per-address limit (plugins/rate-limit.ts ordersLimit), shared with the order page; null: off */
  ordersLimit: onRequestHookHandler | null;
}

const orderIdSchema = {
  type: 'string',
  pattern: '^ord_[a-z2-7]{26}$',
  description: "an order's id: ord_ and 26 base32 characters",
} as const;
const statusSchema = { type: 'string', enum: [...ORDER_STATUSES] } as const;
const dateSchema = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'a date in Copenhagen, YYYY-MM-DD' } as const;
const expectedBySchema = {
  type: 'object',
  required: ['earliest', 'latest'],
  additionalProperties: false,
  description: 'when the device is expected: delivered by post, or ready at the centre (Danish business days)',
  properties: { earliest: dateSchema, latest: dateSchema },
} as const;

const text = (maxLength: number, description: string) => ({ type: 'string', minLength: 1, maxLength, description }) as const;
const addressSchema = {
  type: 'object',
  required: ['name', 'street', 'postcode', 'city', 'country'],
  additionalProperties: false,
  properties: {
    name: text(100, 'whom the letter is for'),
    street: text(200, 'street, number, floor'),
    postcode: { ...text(10, 'in Denmark four digits'), pattern: '^[A-Za-z0-9][A-Za-z0-9 -]*$' },
    city: text(100, 'the post town'),
    country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2, upper case, e.g. DK' },
  },
} as const;
const deliverySchema = {
  description: 'post to an address (3–7 Danish business days, 6–12 abroad, by default), or pickup at a citizen service centre',
  oneOf: [
    {
      type: 'object',
      required: ['method', 'address'],
      additionalProperties: false,
      properties: { method: { type: 'string', enum: ['post'] }, address: addressSchema },
    },
    {
      type: 'object',
      required: ['method', 'centre'],
      additionalProperties: false,
      properties: { method: { type: 'string', enum: ['pickup'] }, centre: text(64, 'the citizen service centre') },
    },
  ],
} as const;

const placedSchema = {
  type: 'object',
  required: ['orderId', 'trackingToken', 'status', 'priceOre', 'currency', 'userId', 'expectedBy'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'string' },
    trackingToken: { type: 'string', description: 'shown this once: GET /v1/orders/:id?tracking=… shows the status with it' },
    status: { type: 'string', enum: ['placed', 'awaiting-payment'], description: 'awaiting-payment when it costs money' },
    priceOre: { type: 'integer', description: 'øre (1/100 DKK); 0 for the first three orders of a user' },
    currency: { type: 'string', enum: ['DKK'] },
    userId: { type: ['string', 'null'], description: "the proof's user; null: anonymous" },
    expectedBy: expectedBySchema,
  },
} as const;

const orderViewSchema = {
  type: 'object',
  required: [
    'orderId',
    'status',
    'priceOre',
    'currency',
    'userId',
    'delivery',
    'createdAt',
    'updatedAt',
    'expectedBy',
    'paymentReference',
    'serial',
  ],
  additionalProperties: false,
  properties: {
    orderId: { type: 'string' },
    status: statusSchema,
    priceOre: { type: 'integer' },
    currency: { type: 'string', enum: ['DKK'] },
    userId: { type: ['string', 'null'] },
    delivery: deliverySchema,
    createdAt: { type: 'integer', description: 'unix ms' },
    updatedAt: { type: 'integer', description: 'unix ms' },
    expectedBy: expectedBySchema,
    paymentReference: { type: ['string', 'null'] },
    serial: { type: ['string', 'null'], description: 'the device sent' },
  },
} as const;

const trackingSchema = {
  type: 'object',
  required: ['orderId', 'status', 'expectedBy'],
  additionalProperties: false,
  description: 'what the tracking token shows: never the address or the user',
  properties: { orderId: { type: 'string' }, status: statusSchema, expectedBy: expectedBySchema },
} as const;

const orderParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: orderIdSchema } } as const;
const TRACKING = '^[A-Za-z0-9_-]{43}$';

/** What each step is called in a refusal's message. */
const DOING: Readonly<Record<OrderStepRequest['kind'], string>> = {
  pay: 'paid',
  fulfil: 'fulfilled',
  deliver: 'delivered',
  collect: 'collected',
  cancel: 'cancelled',
};

const SERIAL_UNUSABLE: Readonly<Record<Extract<OrderRefusal, { refused: 'serial-unusable' }>['why'], string>> = {
  unknown: 'is not a device the server knows (import it first)',
  bound: "is another user's device",
  'sent-already': 'was sent with another order',
  'not-enabled': 'is revoked or locked',
};

/** A refusal as its HTTP error: 404 for an unknown order, else 409 naming what stands in the way. */
function refusalError(id: string, kind: OrderStepRequest['kind'], r: OrderRefusal, serial?: string): HttpError {
  switch (r.refused) {
    case 'unknown-order':
      return new HttpError(404, 'unknown-order', 'no such order');
    case 'illegal-transition':
      return new HttpError(409, 'illegal-transition', `order ${id} is ${r.status}: it cannot be ${DOING[kind]}`);
    case 'serial-unusable':
      return new HttpError(409, 'serial-unusable', `serial ${serial ?? ''} ${SERIAL_UNUSABLE[r.why]}`);
    case 'not-the-owner':
      return new HttpError(
        409,
        'not-the-owner',
        `order ${id} is handed over against a valid proof of its user, or, if it is anonymous, an ID check`,
      );
  }
}

export async function orderRoutes(app: FastifyInstance, { service, auth, ordersLimit: limit }: OrderRoutesOptions): Promise<void> {
  const ctx = (request: FastifyRequest) =>
    request.principal === null ? { ip: request.ip } : { ip: request.ip, actor: request.principal.actor };
  const actor = (request: FastifyRequest): string => request.principal?.actor ?? 'unknown';
  const staff = auth.require('admin', 'operator');

  app.post<{ Body: { proofId?: string; delivery: Delivery } }>(
    '/v1/orders',
    {
      ...(limit !== null ? { onRequest: limit } : {}),
      schema: {
        tags: ['orders'],
        summary: 'Order a code display: with a proof of identity as its user (the first three free), or anonymously (always paid)',
        description:
          'Public, and limited per client address (KODEVISER_RATE_LIMIT_ORDERS an hour). A proof (POST /v1/proofs) is not ' +
          'spent by an order, but must not have expired; one that is unknown or expired is a 401, the same either way. ' +
          'An order that costs money is awaiting-payment until the payment provider confirms it.',
        body: {
          type: 'object',
          required: ['delivery'],
          additionalProperties: false,
          properties: { proofId: proofIdSchema, delivery: deliverySchema },
        },
        response: { 201: placedSchema, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      const placed = await service.placeOrder(request.body, { ip: request.ip });
      if ('refused' in placed) {
        throw new HttpError(401, 'proof-rejected', 'the proof is unknown or has expired (a proof is valid for 15 minutes)');
      }
      return reply.code(201).send(placed);
    },
  );

  const step = <B>(
    path: string,
    kind: OrderStepRequest['kind'],
    roles: Parameters<BearerAuth['require']>,
    summary: string,
    body: object | null,
    stepOf: (body: B) => OrderStepRequest,
  ) =>
    app.post<{ Params: { id: string }; Body: B }>(
      `/v1/orders/:id/${path}`,
      {
        onRequest: auth.require(...roles),
        schema: {
          tags: ['orders'],
          security: bearerSecurity,
          summary,
          params: orderParams,
          ...(body !== null ? { body } : {}),
          response: { 200: orderViewSchema, ...errorResponses(401, 404, 409) },
        },
      },
      async (request) => {
        const s = stepOf(request.body as B);
        const result = await service.orderStep(request.params.id, s, actor(request), ctx(request));
        if ('refused' in result) throw refusalError(request.params.id, kind, result, s.kind === 'fulfil' ? s.serial : undefined);
        return result;
      },
    );

  step<{ reference: string }>(
    'payment',
    'pay',
    ['admin'],
    "The payment provider's confirmation of an order awaiting payment: it is placed (admin)",
    {
      type: 'object',
      required: ['reference'],
      additionalProperties: false,
      properties: {
        reference: {
          type: 'string',
          pattern: '^[\\x21-\\x7e][\\x20-\\x7e]{0,127}$',
          description: "the provider's reference of the payment",
        },
      },
    },
    (b) => ({ kind: 'pay', reference: b.reference }),
  );
  step<{ serial: string }>(
    'fulfil',
    'fulfil',
    ['admin'],
    'The factory sent a device for a placed order: shipped (post) or ready for pickup; the device must be imported, fresh and unsent (admin)',
    { type: 'object', required: ['serial'], additionalProperties: false, properties: { serial: serialSchema } },
    (b) => ({ kind: 'fulfil', serial: parseSerial(b.serial) }),
  );
  step<undefined>('delivered', 'deliver', ['admin'], "The carrier's confirmation that a shipped order was delivered (admin)", null, () => ({
    kind: 'deliver',
  }));
  step<{ proofId?: string; idCheck?: IdCheck }>(
    'collected',
    'collect',
    ['operator'],
    "A pickup order handed over at the centre: against a proof of the order's user, or for an anonymous order an ID check (operator)",
    {
      type: 'object',
      description: "the proof of the order's user (it is not spent: it may activate the device next), or what the operator checked",
      oneOf: [
        { type: 'object', required: ['proofId'], additionalProperties: false, properties: { proofId: proofIdSchema } },
        {
          type: 'object',
          required: ['idCheck'],
          additionalProperties: false,
          properties: {
            idCheck: {
              type: 'object',
              required: ['document'],
              additionalProperties: false,
              properties: { document: { type: 'string', enum: ['passport', 'driving-licence', 'id-card'] } },
            },
          },
        },
      ],
    },
    (b) => ({ kind: 'collect', ...(b.proofId !== undefined ? { proofId: b.proofId } : {}), ...(b.idCheck ? { idCheck: b.idCheck } : {}) }),
  );
  step<undefined>(
    'cancel',
    'cancel',
    ['admin', 'operator'],
    'Cancel an order before it leaves the factory (admin, operator)',
    null,
    () => ({ kind: 'cancel' }),
  );

  // Staff with a bearer token, or whoever ordered with the tracking token (and nothing else).
  const staffOrTracking: onRequestHookHandler = function (request, reply, done) {
    if ((request.query as { tracking?: unknown }).tracking !== undefined) return done();
    return staff.call(this, request, reply, done);
  };
  app.get<{ Params: { id: string }; Querystring: { tracking?: string } }>(
    '/v1/orders/:id',
    {
      onRequest: staffOrTracking,
      schema: {
        tags: ['orders'],
        security: [...bearerSecurity, {}],
        summary: 'An order: all of it for admin and operators; its status and expected dates with its tracking token',
        description:
          'With ?tracking=TOKEN (the token the order answered with) no bearer is needed, and the answer is the status and ' +
          'the expected dates only. A wrong token is the same 404 as an unknown order.',
        params: orderParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { tracking: { type: 'string', pattern: TRACKING, description: 'the tracking token' } },
        },
        response: { 200: { anyOf: [trackingSchema, orderViewSchema] }, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const { tracking } = request.query;
      const order =
        tracking !== undefined ? await service.trackOrder(request.params.id, tracking) : await service.getOrder(request.params.id);
      if (order === null) throw new HttpError(404, 'unknown-order', 'no such order');
      return order;
    },
  );

  app.get<{ Querystring: { status?: OrderStatus; limit?: string } }>(
    '/v1/orders',
    {
      onRequest: staff,
      schema: {
        tags: ['orders'],
        security: bearerSecurity,
        summary: 'Orders, newest first, of a status if given (admin, operator)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: statusSchema,
            limit: { type: 'string', pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'how many at most, 1 to 1000 (default 100)' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['orders'],
            additionalProperties: false,
            properties: { orders: { type: 'array', items: orderViewSchema } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const { status, limit } = request.query;
      const orders = await service.listOrders({
        ...(status !== undefined ? { status } : {}),
        ...(limit !== undefined ? { limit: Number(limit) } : {}),
      });
      return { orders };
    },
  );
}
