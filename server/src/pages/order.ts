/**
 * /order: a code display ordered as POST /v1/orders orders it — by post or for pickup at a
 * centre, with a proof of identity as its user's or anonymously — in three steps: the form; the
 * price and the expected dates, shown before anything is ordered (service.quoteOrder: the order's
 * own rule, nothing written); the confirmation (service.placeOrder), which shows the tracking link
 * once. /order/track then shows the status with that link, as GET /v1/orders/:id?tracking= does.
 *
 * What was asked for goes from the form to the confirmation in a signed cookie (Strict, path
 * /order: a proof id is a secret, an address personal data), so the order confirmed is the one
 * priced; the order spends it. The confirmation is limited per address as POST /v1/orders is
 * (the one ordersLimit both count on). What decides validity,
 * price and dates is the service's: the page only says, next to each field, what
 * deliveryProblems (parseDelivery's rules) finds wrong.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deliveryProblems, parseDelivery, type Delivery, type DeliveryField, type OrderStatus } from '../domain/orders.js';
import { proofIdOf } from './activate.js';
import { clearSigned, readSigned, setSigned, type SignedCookie } from './cookies.js';
import { formSchema, valueOf } from './fields.js';
import { COMMON, format, langOf, price, type Lang, type Texts } from './i18n.js';
import type { PageModuleOptions } from './index.js';
import { render, renderForm, type FormState, type PageProblem } from './render.js';

export const STATUS_TEXTS: Texts<OrderStatus> = {
  en: {
    'awaiting-payment': 'Awaiting payment',
    placed: 'Ordered: being prepared',
    shipped: 'Sent by post',
    'ready-for-pickup': 'Ready for pickup at the service centre',
    delivered: 'Delivered',
    collected: 'Collected',
    cancelled: 'Cancelled',
  },
  da: {
    'awaiting-payment': 'Afventer betaling',
    placed: 'Bestilt: under forberedelse',
    shipped: 'Sendt med posten',
    'ready-for-pickup': 'Klar til afhentning i borgerservice',
    delivered: 'Leveret',
    collected: 'Afhentet',
    cancelled: 'Annulleret',
  },
};

export const ORDER_TEXTS: Texts<
  | 'title'
  | 'intro'
  | 'method'
  | 'methodPost'
  | 'methodPickup'
  | 'methodMissing'
  | 'postLegend'
  | 'pickupLegend'
  | 'name'
  | 'nameName'
  | 'nameInvalid'
  | 'street'
  | 'streetName'
  | 'streetInvalid'
  | 'postcode'
  | 'postcodeName'
  | 'postcodeInvalid'
  | 'city'
  | 'cityName'
  | 'cityInvalid'
  | 'country'
  | 'countryName'
  | 'countryHint'
  | 'countryInvalid'
  | 'centre'
  | 'centreName'
  | 'centreHint'
  | 'centreInvalid'
  | 'proofId'
  | 'proofIdName'
  | 'proofIdHint'
  | 'proofRefused'
  | 'next'
  | 'checkTitle'
  | 'checkIntro'
  | 'delivery'
  | 'byPost'
  | 'pickupAt'
  | 'orderedAs'
  | 'asUser'
  | 'anonymous'
  | 'price'
  | 'expectedPost'
  | 'expectedPickup'
  | 'between'
  | 'and'
  | 'confirm'
  | 'change'
  | 'expired'
  | 'changedElsewhere'
  | 'priceChanged'
  | 'doneTitle'
  | 'done'
  | 'orderId'
  | 'status'
  | 'expected'
  | 'tracking'
  | 'trackingOnce'
  | 'trackTitle'
  | 'trackIntro'
  | 'trackOrderId'
  | 'trackOrderIdName'
  | 'trackToken'
  | 'trackTokenName'
  | 'trackShow'
  | 'noSuchOrder'
  | 'orderAgain'
> = {
  en: {
    title: 'Order a code display',
    intro:
      'A code display is sent by post, or you pick it up at a citizen service centre. You see the price and when to expect it before you order.',
    method: 'How do you want to receive it?',
    methodPost: 'By post',
    methodPickup: 'Pick it up at a citizen service centre',
    methodMissing: 'Choose by post or pickup.',
    postLegend: 'The address (by post)',
    pickupLegend: 'The service centre (pickup)',
    name: 'Name',
    nameName: 'name',
    nameInvalid: 'The name is too long, or has a character that cannot be used.',
    street: 'Street and number',
    streetName: 'street and number',
    streetInvalid: 'The street and number are too long, or have a character that cannot be used.',
    postcode: 'Postcode',
    postcodeName: 'postcode',
    postcodeInvalid: 'A postcode has letters, digits, spaces and hyphens; in Denmark it is four digits.',
    city: 'Town or city',
    cityName: 'town or city',
    cityInvalid: 'The town or city is too long, or has a character that cannot be used.',
    country: 'Country',
    countryName: 'country',
    countryHint: 'Two letters: DK for Denmark, SE for Sweden, DE for Germany.',
    countryInvalid: 'The country is two letters, such as DK, SE or DE.',
    centre: 'Service centre',
    centreName: 'service centre',
    centreHint: 'For example Borgerservice Aarhus.',
    centreInvalid: 'The name of the service centre is too long, or has a character that cannot be used.',
    proofId: 'Proof of identity (optional)',
    proofIdName: 'proof of identity',
    proofIdHint:
      'The proof id an operator at a citizen service centre gave you. With it the order is yours, and your first orders are free; without it the order is anonymous and paid.',
    proofRefused:
      'That proof of identity is unknown or has expired (a proof is valid for 15 minutes). Leave it empty to order anonymously.',
    next: 'See the price',
    checkTitle: 'Check your order',
    checkIntro: 'Nothing is ordered until you confirm.',
    delivery: 'Delivery',
    byPost: 'By post to',
    pickupAt: 'Pickup at',
    orderedAs: 'Ordered',
    asUser: 'as yours, with your proof of identity',
    anonymous: 'anonymously',
    price: 'Price',
    expectedPost: 'Expected delivery',
    expectedPickup: 'Ready for pickup',
    between: 'between',
    and: 'and',
    confirm: 'Confirm the order',
    change: 'Change the order',
    expired: 'Your order had expired or was already placed. Please fill it in again.',
    changedElsewhere: 'The order was changed in another window. Check it, and confirm it again.',
    priceChanged: 'The price has changed since it was shown. Check it, and confirm again.',
    doneTitle: 'Your order',
    done: 'Thank you: your code display is ordered.',
    orderId: 'Order number',
    status: 'Status',
    expected: 'Expected',
    tracking: 'Follow your order',
    trackingOnce: 'Keep this link: it is shown only this once, and nobody can show it to you again.',
    trackTitle: 'Follow your order',
    trackIntro: 'Type the order number and the tracking code from the link you got when you ordered.',
    trackOrderId: 'Order number',
    trackOrderIdName: 'order number',
    trackToken: 'Tracking code',
    trackTokenName: 'tracking code',
    trackShow: 'Show the order',
    noSuchOrder: 'There is no order with that number and tracking code.',
    orderAgain: 'Order another code display',
  },
  da: {
    title: 'Bestil en kodeviser',
    intro:
      'En kodeviser sendes med posten, eller du henter den i et borgerservicecenter. Du ser prisen, og hvornår du kan forvente den, før du bestiller.',
    method: 'Hvordan vil du have den?',
    methodPost: 'Med posten',
    methodPickup: 'Hent den i et borgerservicecenter',
    methodMissing: 'Vælg med posten eller afhentning.',
    postLegend: 'Adressen (med posten)',
    pickupLegend: 'Borgerservicecentret (afhentning)',
    name: 'Navn',
    nameName: 'navnet',
    nameInvalid: 'Navnet er for langt eller har et tegn, der ikke kan bruges.',
    street: 'Vej og husnummer',
    streetName: 'vej og husnummer',
    streetInvalid: 'Vej og husnummer er for langt eller har et tegn, der ikke kan bruges.',
    postcode: 'Postnummer',
    postcodeName: 'postnummeret',
    postcodeInvalid: 'Et postnummer har bogstaver, cifre, mellemrum og bindestreger; i Danmark er det fire cifre.',
    city: 'By',
    cityName: 'byen',
    cityInvalid: 'Byens navn er for langt eller har et tegn, der ikke kan bruges.',
    country: 'Land',
    countryName: 'landet',
    countryHint: 'To bogstaver: DK for Danmark, SE for Sverige, DE for Tyskland.',
    countryInvalid: 'Landet er to bogstaver, fx DK, SE eller DE.',
    centre: 'Borgerservicecenter',
    centreName: 'borgerservicecentret',
    centreHint: 'For eksempel Borgerservice Aarhus.',
    centreInvalid: 'Borgerservicecentrets navn er for langt eller har et tegn, der ikke kan bruges.',
    proofId: 'Identitetsbevis (valgfrit)',
    proofIdName: 'identitetsbeviset',
    proofIdHint:
      'Det bevis-id, en medarbejder i borgerservice gav dig. Med det er bestillingen din, og dine første bestillinger er gratis; uden er den anonym og betalt.',
    proofRefused:
      'Det identitetsbevis er ukendt eller udløbet (et bevis gælder i 15 minutter). Lad feltet stå tomt for at bestille anonymt.',
    next: 'Se prisen',
    checkTitle: 'Tjek din bestilling',
    checkIntro: 'Intet er bestilt, før du bekræfter.',
    delivery: 'Levering',
    byPost: 'Med posten til',
    pickupAt: 'Afhentes i',
    orderedAs: 'Bestilt',
    asUser: 'som din, med dit identitetsbevis',
    anonymous: 'anonymt',
    price: 'Pris',
    expectedPost: 'Forventet levering',
    expectedPickup: 'Klar til afhentning',
    between: 'mellem',
    and: 'og',
    confirm: 'Bekræft bestillingen',
    change: 'Ret bestillingen',
    expired: 'Din bestilling var udløbet eller allerede afgivet. Udfyld den igen.',
    changedElsewhere: 'Bestillingen blev ændret i et andet vindue. Tjek den, og bekræft den igen.',
    priceChanged: 'Prisen er ændret, siden den blev vist. Tjek den, og bekræft igen.',
    doneTitle: 'Din bestilling',
    done: 'Tak: din kodeviser er bestilt.',
    orderId: 'Ordrenummer',
    status: 'Status',
    expected: 'Forventet',
    tracking: 'Følg din bestilling',
    trackingOnce: 'Gem dette link: det vises kun denne ene gang, og ingen kan vise dig det igen.',
    trackTitle: 'Følg din bestilling',
    trackIntro: 'Indtast ordrenummeret og sporingskoden fra det link, du fik, da du bestilte.',
    trackOrderId: 'Ordrenummer',
    trackOrderIdName: 'ordrenummeret',
    trackToken: 'Sporingskode',
    trackTokenName: 'sporingskoden',
    trackShow: 'Vis bestillingen',
    noSuchOrder: 'Der er ingen bestilling med det nummer og den sporingskode.',
    orderAgain: 'Bestil endnu en kodeviser',
  },
};

type Text = keyof (typeof ORDER_TEXTS)['en'];

const ADDRESS_FIELDS = ['name', 'street', 'postcode', 'city', 'country'] as const;
type OrderField = DeliveryField | 'method' | 'proofId';
const ORDER_FIELDS: readonly OrderField[] = ['method', ...ADDRESS_FIELDS, 'centre', 'proofId'];

/** The order form as typed. */
type OrderFields = Record<OrderField, string>;
type OrderErrors = Partial<Record<OrderField, string>>;

/** What the form asked for, from the form to the confirmation. */
interface OrderAsked {
  d: Delivery;
  /** the proof id, when one was given */
  p?: string;
  /** this form's: the confirmation must carry it (another window's form replaces the cookie) */
  n: string;
}

export const ORDER_COOKIE: SignedCookie = { name: 'kv_order', path: '/order', sameSite: 'strict', ttlMs: 30 * 60 * 1000 };

const fieldsOf = (body: unknown): OrderFields => Object.fromEntries(ORDER_FIELDS.map((f) => [f, valueOf(body, f)])) as OrderFields;

/** The form filled in with what `asked` holds (to change an order not yet confirmed). */
function fieldsOfAsked(asked: OrderAsked): Partial<OrderFields> {
  const d = asked.d;
  const where = d.method === 'post' ? { ...d.address } : { centre: d.centre };
  return { method: d.method, ...where, ...(asked.p !== undefined ? { proofId: asked.p } : {}) };
}

/**
 * The delivery as parseDelivery reads what was typed, or the problem of each field, in `lang`:
 * an empty field is said as such, any other field deliveryProblems finds wrong as that field's
 * rule (the rules are the domain's; only the words are the page's).
 */
function deliveryOf(method: Delivery['method'], typed: OrderFields, lang: Lang): { delivery: Delivery } | { errors: OrderErrors } {
  const t = ORDER_TEXTS[lang];
  // Country codes are upper case; "dk" is read as DK.
  const address = Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, f === 'country' ? typed.country.trim().toUpperCase() : typed[f]]));
  const asked = method === 'post' ? { method, address } : { method, centre: typed.centre };
  const errors: OrderErrors = {};
  for (const f of deliveryProblems(asked).fields) {
    errors[f] = typed[f].trim() === '' ? format(COMMON[lang].required, { field: t[`${f}Name`] }) : t[`${f}Invalid` as Text];
  }
  return Object.keys(errors).length === 0 ? { delivery: parseDelivery(asked) } : { errors };
}

const dateFormats: Readonly<Record<Lang, Intl.DateTimeFormat>> = {
  en: new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }),
  da: new Intl.DateTimeFormat('da-DK', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }),
};

/** A date as the service gives it (YYYY-MM-DD, Copenhagen) for a <time>: its text in `lang`, e.g. "6 January 2026". */
export const dateOf = (date: string, lang: Lang): { iso: string; text: string } => ({
  iso: date,
  text: dateFormats[lang].format(new Date(`${date}T12:00:00Z`)),
});

const expectedOf = (e: { earliest: string; latest: string }, lang: Lang) => ({
  earliest: dateOf(e.earliest, lang),
  latest: dateOf(e.latest, lang),
});

export async function orderPages(app: FastifyInstance, { service, clock, ordersLimit: limit }: PageModuleOptions): Promise<void> {
  const orderForm = (request: FastifyRequest, reply: FastifyReply, state: FormState & { fields?: Partial<OrderFields> }) => {
    const lang = langOf(request, reply);
    const fields: OrderFields = { ...fieldsOf({ method: 'post', country: 'DK' }), ...state.fields };
    return renderForm(request, reply, 'order', { t: ORDER_TEXTS[lang], fields }, state);
  };

  const askedOf = (request: FastifyRequest): OrderAsked | null => readSigned<OrderAsked>(request, ORDER_COOKIE, clock.now());
  const requestOf = (asked: OrderAsked) => ({ delivery: asked.d, ...(asked.p !== undefined ? { proofId: asked.p } : {}) });

  /** The proof refused: the form again, filled in, saying so next to the proof. */
  const proofRefused = (request: FastifyRequest, reply: FastifyReply, fields: Partial<OrderFields>) =>
    orderForm(request, reply, { fields, errors: { proofId: ORDER_TEXTS[langOf(request, reply)].proofRefused }, status: 401 });

  /** The confirmation page: what `asked` costs now and when it is expected, and the button. */
  const confirmPage = async (request: FastifyRequest, reply: FastifyReply, asked: OrderAsked, problem?: PageProblem) => {
    const lang = langOf(request, reply);
    const quote = await service.quoteOrder(requestOf(asked), { ip: request.ip });
    if ('refused' in quote) return proofRefused(request, reply, fieldsOfAsked(asked));
    return render(
      request,
      reply,
      'order-confirm',
      {
        t: ORDER_TEXTS[lang],
        delivery: asked.d,
        asUser: asked.p !== undefined,
        price: price(quote.priceOre, lang),
        priceOre: quote.priceOre,
        expected: expectedOf(quote.expectedBy, lang),
        quote: asked.n,
        problem: problem?.message ?? null,
      },
      problem?.status ?? 200,
    );
  };

  app.get('/order', { schema: { hide: true } }, async (request, reply) => {
    // Back from the confirmation ("change the order"): the form as it was filled in.
    const asked = askedOf(request);
    return orderForm(request, reply, asked === null ? {} : { fields: fieldsOfAsked(asked) });
  });

  app.post<{ Body: Record<string, string> }>(
    '/order',
    {
      schema: { hide: true, body: formSchema(...ORDER_FIELDS) },
      preValidation: app.csrfProtection,
      config: {
        pageHome: '/order',
        // A body never read (too large, a limit first) leaves the form as it is shown at first.
        pageForm: (request, reply, problem) =>
          orderForm(request, reply, { ...(request.body !== undefined ? { fields: fieldsOf(request.body) } : {}), problem }),
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ORDER_TEXTS[lang];
      const typed = fieldsOf(request.body);
      const errors: OrderErrors = {};
      let proofId: string | undefined;
      if (typed.proofId.trim() !== '') {
        const proof = proofIdOf(typed.proofId, lang);
        if ('problem' in proof) errors.proofId = proof.problem;
        else proofId = proof.proofId;
      }
      const method = typed.method;
      if (method !== 'post' && method !== 'pickup') {
        errors.method = t.methodMissing;
        return orderForm(request, reply, { fields: typed, errors });
      }
      const read = deliveryOf(method, typed, lang);
      if ('errors' in read || Object.keys(errors).length > 0) {
        return orderForm(request, reply, { fields: typed, errors: { ...errors, ...('errors' in read ? read.errors : {}) } });
      }
      const asked: OrderAsked = {
        d: read.delivery,
        ...(proofId !== undefined ? { p: proofId } : {}),
        n: randomBytes(16).toString('base64url'),
      };
      const quote = await service.quoteOrder(requestOf(asked), { ip: request.ip });
      if ('refused' in quote) return proofRefused(request, reply, typed);
      setSigned(reply, ORDER_COOKIE, asked, clock.now());
      return reply.redirect('/order/confirm', 303);
    },
  );

  app.get('/order/confirm', { schema: { hide: true } }, async (request, reply) => {
    const asked = askedOf(request);
    if (asked === null)
      return orderForm(request, reply, { problem: { status: 200, message: ORDER_TEXTS[langOf(request, reply)].expired } });
    return confirmPage(request, reply, asked);
  });

  app.post<{ Body: Record<string, string> }>(
    '/order/confirm',
    {
      ...(limit !== null ? { onRequest: limit } : {}),
      schema: { hide: true, body: formSchema('quote', 'price') },
      preValidation: app.csrfProtection,
      config: {
        pageHome: '/order',
        // Without asking the service again (it may be what failed): the form as it was filled in.
        pageForm: (request, reply, problem) => {
          const asked = askedOf(request);
          return orderForm(request, reply, { ...(asked !== null ? { fields: fieldsOfAsked(asked) } : {}), problem });
        },
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ORDER_TEXTS[lang];
      const asked = askedOf(request);
      if (asked === null) return orderForm(request, reply, { problem: { status: 400, message: t.expired } });
      if (valueOf(request.body, 'quote') !== asked.n)
        return confirmPage(request, reply, asked, { status: 409, message: t.changedElsewhere });
      // The price shown is the price ordered at: one that changed since (an order placed in
      // between) is shown again rather than charged.
      const quote = await service.quoteOrder(requestOf(asked), { ip: request.ip });
      if ('refused' in quote) return proofRefused(request, reply, fieldsOfAsked(asked));
      if (String(quote.priceOre) !== valueOf(request.body, 'price')) {
        return confirmPage(request, reply, asked, { status: 409, message: t.priceChanged });
      }
      const placed = await service.placeOrder(requestOf(asked), { ip: request.ip });
      if ('refused' in placed) return proofRefused(request, reply, fieldsOfAsked(asked));
      clearSigned(reply, ORDER_COOKIE);
      const track = new URLSearchParams({ id: placed.orderId, tracking: placed.trackingToken });
      return render(request, reply, 'order-done', {
        t,
        orderId: placed.orderId,
        price: price(placed.priceOre, lang),
        status: STATUS_TEXTS[lang][placed.status],
        expected: expectedOf(placed.expectedBy, lang),
        trackHref: `/order/track?${track.toString()}`,
      });
    },
  );

  const trackPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { id?: string; tracking?: string; errors?: { id?: string; tracking?: string }; problem?: PageProblem },
  ) => {
    const lang = langOf(request, reply);
    return renderForm(
      request,
      reply,
      'order-track',
      { t: ORDER_TEXTS[lang], found: null, id: state.id ?? '', tracking: state.tracking ?? '' },
      state,
    );
  };

  app.get<{ Querystring: { id?: string; tracking?: string; lang?: string } }>(
    '/order/track',
    {
      schema: {
        hide: true,
        querystring: { type: 'object', properties: { id: { type: 'string' }, tracking: { type: 'string' }, lang: { type: 'string' } } },
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ORDER_TEXTS[lang];
      const id = (request.query.id ?? '').trim();
      const tracking = (request.query.tracking ?? '').trim();
      if (request.query.id === undefined && request.query.tracking === undefined) return trackPage(request, reply, {});
      if (id === '' || tracking === '') {
        const required = (name: string) => format(COMMON[lang].required, { field: name });
        return trackPage(request, reply, {
          id,
          tracking,
          errors: {
            ...(id === '' ? { id: required(t.trackOrderIdName) } : {}),
            ...(tracking === '' ? { tracking: required(t.trackTokenName) } : {}),
          },
        });
      }
      const order = await service.trackOrder(id, tracking);
      // An unknown order and a wrong tracking code are one answer, as the API's 404.
      if (order === null) return trackPage(request, reply, { id, tracking, problem: { status: 404, message: t.noSuchOrder } });
      return render(request, reply, 'order-track', {
        t,
        found: { orderId: order.orderId, status: STATUS_TEXTS[lang][order.status], expected: expectedOf(order.expectedBy, lang) },
        problem: null,
      });
    },
  );
}
