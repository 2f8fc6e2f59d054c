/**
 * /operator: the service centre's console. Staff sign in with their operator credential's bearer
 * token (made by an admin, POST /v1/credentials) and then, at the counter: look a user up, record
 * an ID check (a proof of identity), activate a device with the person, hand a pickup order over,
 * revoke a lost device, unlock a locked one, reverse a replacement. Each form is the same
 * TokenService call as the operator's JSON route, under the credential's id as the actor, so the
 * audit log says who at which desk did it; the service decides everything.
 *
 * The session is a signed cookie (kv_console: SameSite=Strict, path /operator, 8 hours) holding
 * the credential's id, never its token; every request looks the credential up again, so revoking
 * it (DELETE /v1/credentials/:id) ends its sessions at once, and an expired one ends them too.
 * Signing out ends that session for good, kept copies of its cookie included (the shared state,
 * Redis when configured, holds it ended until it would have expired).
 */
import { randomBytes } from 'node:crypto';
import { formatSerial } from '@kodeviser/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../domain/credentials.js';
import { isServiceError, type ServiceErrorCode } from '../domain/errors.js';
import { DOCUMENT_TYPES, parseDocument, parseNationalId, type DocumentType, type ProofRefusal } from '../domain/identity.js';
import { ID_CHECK_DOCUMENTS, ORDER_ID, type IdCheck, type OrderRefusal, type OrderStatus } from '../domain/orders.js';
import type { UserView } from '../domain/types.js';
import { busyGate } from '../routes/users.js';
import { clearSigned, readSigned, setSigned, type SignedCookie } from './cookies.js';
import {
  compact,
  fieldProblem,
  formSchema,
  OTP,
  PASSWORD,
  PROOF_ID,
  refusedBy,
  serialOf,
  USER_ID,
  valueOf,
  type FieldRule,
} from './fields.js';
import { COMMON, duration, format, langOf, type Lang, type Texts } from './i18n.js';
import type { PageModuleOptions } from './index.js';
import { render, renderForm, type FormState, type PageProblem } from './render.js';

const EN = {
  title: 'Service centre',
  signInTitle: 'Service centre: sign in',
  signInIntro: 'Sign in with the operator token an administrator made for you.',
  token: 'Operator token',
  tokenName: 'operator token',
  tokenHint: 'It starts with kvc_. Keep it secret.',
  signIn: 'Sign in',
  notOperator: "That token is not an operator's, or is no longer valid.",
  signInAgain: 'Sign in again: your console session has ended.',
  signedOut: 'You are signed out.',
  signedInAs: 'Signed in as {actor}.',
  signOut: 'Sign out',
  checkForm: 'Check the form “{section}” below.',
  goTo: 'Go to “{section}”',

  userTitle: 'Look up a user',
  userId: 'User ID',
  userIdName: 'user ID',
  lookUp: 'Look up',
  noSuchUser: 'No such user: {user}.',
  user: 'User {user}',
  created: 'Created',
  identityLinked: 'Identity linked',
  yes: 'yes',
  no: 'no',
  activeDevice: 'Active device',
  noDevice: 'none',
  device: '{serial} ({profile}), activated {at}',
  pastDevices: 'Past devices',
  noPastDevices: 'None.',
  serialHead: 'Serial number',
  profileHead: 'Profile',
  activatedHead: 'Activated',
  endedHead: 'Ended',
  whyHead: 'Why',
  replacedByHead: 'Replaced by',
  lastUsed: 'Last used',
  never: 'never',

  proofTitle: 'Record an ID check',
  proofIntro: "Check the person's document first. The proof this makes allows one activation within 15 minutes.",
  nationalId: 'National ID (CPR number)',
  nationalIdName: 'national ID',
  nationalIdHint: 'Ten digits, as DDMMYY-NNNN.',
  nationalIdFormat: 'A national ID is ten digits, the first six a date of birth (DDMMYY).',
  documentType: 'Document',
  country: 'Issuing country',
  countryName: 'issuing country',
  countryHint: 'Two letters, as DK or SE.',
  countryFormat: 'The issuing country is two letters, as DK or SE.',
  documentNumber: 'Document number',
  documentNumberName: 'document number',
  documentNumberFormat: 'The document number is at most 30 letters and digits, as printed (spaces and hyphens are left out).',
  proofUserId: 'User ID (optional)',
  proofUserIdName: 'user ID',
  proofUserIdHint: 'The user ID the person asks for, or the one they have. Left empty, a new person is given one.',
  record: 'Record the ID check',
  proofMade: 'ID check recorded for user {user}.',
  proofId: 'Proof id',
  proofGive: 'Give it to the person: it allows one activation within 15 minutes (until {until}). It is not shown again.',
  proofNext: 'Activate a device with it',
  'identity-linked-elsewhere': 'This person has another user ID. Leave the user ID empty to make the proof for that user.',
  'user-linked-elsewhere': 'That user ID belongs to another person.',
  'owner-proof-required':
    "That user ID is from before ID checks: linking it to a person needs its owner's code and password, which this console does not take.",
  'owner-not-proven': "The owner's code and password did not check out.",

  activateTitle: 'Assisted activation',
  activateIntro: 'The person types the one-time code and their new password themselves.',
  activateProofId: 'Proof id',
  proofIdName: 'proof id',
  proofIdHint: 'From the ID check (filled in after one is recorded here).',
  proofIdFormat: 'A proof id is letters, digits, - and _, as it was shown.',
  serial: 'Serial number',
  serialName: 'serial number',
  serialHint: 'Printed on the back of the device: NN-NNNNNNN-N.',
  otp: 'One-time code',
  otpName: 'one-time code',
  otpHint: 'Press the button on the device and type the digits it shows.',
  newPassword: 'New password',
  newPasswordName: 'new password',
  newPasswordHint: 'At least 8 characters, chosen by the person.',
  repeatPassword: 'Repeat the new password',
  repeatPasswordName: 'new password again',
  activate: 'Activate',
  activated: 'Activated: user {user}, device {serial}.',
  activateRefused:
    'The activation was refused. Check the proof (valid for 15 minutes, used once), the serial number and the code, and try again with a new code.',

  collectTitle: 'Hand over a pickup order',
  collectIntro: "Against a proof of the order's user; for an anonymous order, name the document you checked instead.",
  orderId: 'Order id',
  orderIdName: 'order id',
  orderIdHint: 'ord_ and 26 letters and digits.',
  orderIdFormat: 'An order id is ord_ and 26 letters and digits.',
  collectProofId: "Proof id of the order's user",
  idCheck: 'Anonymous order: the document checked',
  noIdCheck: '— none: the order has a user —',
  proofOrIdCheck: "Give a proof id of the order's user, or for an anonymous order the document you checked.",
  notBoth: 'Give a proof id or a document, not both.',
  handOver: 'Hand over',
  orderNow: 'Order {order} is now {status}.',
  unknownOrder: 'No such order: {order}.',
  illegalTransition: 'Order {order} is {status}: it cannot be handed over.',
  notTheOwner: 'Order {order} is handed over only against a valid proof of its user or, if it is anonymous, an ID check.',
  orderRefused: 'Order {order} cannot be handed over.',

  revokeTitle: 'Revoke a lost device',
  revokeIntro: 'For good: a revoked device never works again.',
  revoke: 'Revoke',
  revoked: 'Device {serial} is revoked.',
  unlockTitle: 'Unlock a device',
  unlockIntro: "A device locked after too many failed attempts. Check the owner's ID first.",
  unlock: 'Unlock',
  unlocked: 'Device {serial} is unlocked, its failed attempts cleared.',
  reinstateTitle: 'Reverse a replacement',
  reinstateIntro:
    'Within 7 days of a replacement the owner did not make: the replaced device is active again, its replacement revoked, and the password cleared.',
  replacedSerial: 'Serial number of the replaced device',
  reinstate: 'Reverse the replacement',
  reinstated: 'Device {serial} is active again for user {user}.',
  replacementRevoked: 'Its replacement {serial} is revoked.',
  passwordCleared: 'The password is cleared: the owner sets a new one with a proof of identity and this device.',
  ERR_UNKNOWN_TOKEN: 'No device has that serial number.',
  ERR_TOKEN_STATE: 'That device is revoked: nothing more can be done with it.',
  ERR_NOT_REPLACED: 'That device was not replaced: there is no replacement to reverse.',
  ERR_TOO_LATE: 'That replacement is more than 7 days old: it can no longer be reversed.',
};

export const OPERATOR_TEXTS: Texts<keyof typeof EN> = {
  en: EN,
  da: {
    title: 'Borgerservice',
    signInTitle: 'Borgerservice: log på',
    signInIntro: 'Log på med den operatørnøgle, en administrator har lavet til dig.',
    token: 'Operatørnøgle',
    tokenName: 'operatørnøglen',
    tokenHint: 'Den begynder med kvc_. Hold den hemmelig.',
    signIn: 'Log på',
    notOperator: 'Den nøgle er ikke en operatørs, eller den gælder ikke længere.',
    signInAgain: 'Log på igen: din session i konsollen er slut.',
    signedOut: 'Du er logget af.',
    signedInAs: 'Logget på som {actor}.',
    signOut: 'Log af',
    checkForm: 'Tjek formularen “{section}” nedenfor.',
    goTo: 'Gå til “{section}”',

    userTitle: 'Slå en bruger op',
    userId: 'Bruger-id',
    userIdName: 'bruger-id',
    lookUp: 'Slå op',
    noSuchUser: 'Der er ingen bruger {user}.',
    user: 'Bruger {user}',
    created: 'Oprettet',
    identityLinked: 'Identitet tilknyttet',
    yes: 'ja',
    no: 'nej',
    activeDevice: 'Aktiv kodeviser',
    noDevice: 'ingen',
    device: '{serial} ({profile}), aktiveret {at}',
    pastDevices: 'Tidligere kodevisere',
    noPastDevices: 'Ingen.',
    serialHead: 'Serienummer',
    profileHead: 'Profil',
    activatedHead: 'Aktiveret',
    endedHead: 'Ophørt',
    whyHead: 'Hvorfor',
    replacedByHead: 'Erstattet af',
    lastUsed: 'Sidst brugt',
    never: 'aldrig',

    proofTitle: 'Registrér et ID-tjek',
    proofIntro: 'Tjek personens dokument først. Beviset, det giver, tillader én aktivering inden for 15 minutter.',
    nationalId: 'CPR-nummer',
    nationalIdName: 'CPR-nummer',
    nationalIdHint: 'Ti cifre, som DDMMÅÅ-NNNN.',
    nationalIdFormat: 'Et CPR-nummer er ti cifre, de første seks en fødselsdato (DDMMÅÅ).',
    documentType: 'Dokument',
    country: 'Udstedende land',
    countryName: 'udstedende land',
    countryHint: 'To bogstaver, som DK eller SE.',
    countryFormat: 'Det udstedende land er to bogstaver, som DK eller SE.',
    documentNumber: 'Dokumentnummer',
    documentNumberName: 'dokumentnummer',
    documentNumberFormat: 'Dokumentnummeret er højst 30 bogstaver og cifre, som trykt (mellemrum og bindestreger udelades).',
    proofUserId: 'Bruger-id (valgfrit)',
    proofUserIdName: 'bruger-id',
    proofUserIdHint: 'Det bruger-id, personen ønsker, eller det, de har. Tomt får en ny person et.',
    record: 'Registrér ID-tjekket',
    proofMade: 'ID-tjek registreret for bruger {user}.',
    proofId: 'Bevis-id',
    proofGive: 'Giv det til personen: det tillader én aktivering inden for 15 minutter (til {until}). Det vises ikke igen.',
    proofNext: 'Aktivér en kodeviser med det',
    'identity-linked-elsewhere': 'Personen har et andet bruger-id. Lad bruger-id stå tomt for at lave beviset til den bruger.',
    'user-linked-elsewhere': 'Det bruger-id tilhører en anden person.',
    'owner-proof-required':
      'Det bruger-id er fra før ID-tjek: at knytte det til en person kræver ejerens kode og adgangskode, som denne konsol ikke tager imod.',
    'owner-not-proven': 'Ejerens kode og adgangskode passede ikke.',

    activateTitle: 'Assisteret aktivering',
    activateIntro: 'Personen indtaster selv engangskoden og sin nye adgangskode.',
    activateProofId: 'Bevis-id',
    proofIdName: 'bevis-id',
    proofIdHint: 'Fra ID-tjekket (udfyldes, når et er registreret her).',
    proofIdFormat: 'Et bevis-id består af bogstaver, cifre, - og _, som det blev vist.',
    serial: 'Serienummer',
    serialName: 'serienummer',
    serialHint: 'Står på bagsiden af kodeviseren: NN-NNNNNNN-N.',
    otp: 'Engangskode',
    otpName: 'engangskode',
    otpHint: 'Tryk på knappen på kodeviseren, og indtast de cifre, den viser.',
    newPassword: 'Ny adgangskode',
    newPasswordName: 'ny adgangskode',
    newPasswordHint: 'Mindst 8 tegn, valgt af personen.',
    repeatPassword: 'Gentag den nye adgangskode',
    repeatPasswordName: 'ny adgangskode igen',
    activate: 'Aktivér',
    activated: 'Aktiveret: bruger {user}, kodeviser {serial}.',
    activateRefused:
      'Aktiveringen blev afvist. Tjek beviset (gyldigt i 15 minutter, kan bruges én gang), serienummeret og koden, og prøv igen med en ny kode.',

    collectTitle: 'Udlevér en bestilling til afhentning',
    collectIntro: 'Mod et bevis for bestillingens bruger; for en anonym bestilling angives i stedet det dokument, du har tjekket.',
    orderId: 'Bestillings-id',
    orderIdName: 'bestillings-id',
    orderIdHint: 'ord_ og 26 bogstaver og cifre.',
    orderIdFormat: 'Et bestillings-id er ord_ og 26 bogstaver og cifre.',
    collectProofId: 'Bevis-id for bestillingens bruger',
    idCheck: 'Anonym bestilling: det tjekkede dokument',
    noIdCheck: '— intet: bestillingen har en bruger —',
    proofOrIdCheck: 'Angiv et bevis-id for bestillingens bruger, eller for en anonym bestilling det dokument, du har tjekket.',
    notBoth: 'Angiv et bevis-id eller et dokument, ikke begge.',
    handOver: 'Udlevér',
    orderNow: 'Bestilling {order} er nu {status}.',
    unknownOrder: 'Der er ingen bestilling {order}.',
    illegalTransition: 'Bestilling {order} er {status}: den kan ikke udleveres.',
    notTheOwner: 'Bestilling {order} udleveres kun mod et gyldigt bevis for dens bruger eller, hvis den er anonym, et ID-tjek.',
    orderRefused: 'Bestilling {order} kan ikke udleveres.',

    revokeTitle: 'Spær en mistet kodeviser',
    revokeIntro: 'For altid: en spærret kodeviser virker aldrig igen.',
    revoke: 'Spær',
    revoked: 'Kodeviser {serial} er spærret.',
    unlockTitle: 'Lås en kodeviser op',
    unlockIntro: 'En kodeviser, der er låst efter for mange fejlede forsøg. Tjek ejerens ID først.',
    unlock: 'Lås op',
    unlocked: 'Kodeviser {serial} er låst op, og dens fejlede forsøg er nulstillet.',
    reinstateTitle: 'Fortryd en udskiftning',
    reinstateIntro:
      'Inden for 7 dage efter en udskiftning, ejeren ikke selv foretog: den udskiftede kodeviser er aktiv igen, dens afløser spærret og adgangskoden slettet.',
    replacedSerial: 'Serienummer på den udskiftede kodeviser',
    reinstate: 'Fortryd udskiftningen',
    reinstated: 'Kodeviser {serial} er aktiv igen for bruger {user}.',
    replacementRevoked: 'Dens afløser {serial} er spærret.',
    passwordCleared: 'Adgangskoden er slettet: ejeren vælger en ny med et bevis for sin identitet og denne kodeviser.',
    ERR_UNKNOWN_TOKEN: 'Ingen kodeviser har det serienummer.',
    ERR_TOKEN_STATE: 'Den kodeviser er spærret: der kan ikke gøres mere med den.',
    ERR_NOT_REPLACED: 'Den kodeviser blev ikke udskiftet: der er ingen udskiftning at fortryde.',
    ERR_TOO_LATE: 'Den udskiftning er mere end 7 dage gammel: den kan ikke længere fortrydes.',
  },
};

type OperatorText = keyof typeof EN;

const DOCUMENTS: Readonly<Record<Lang, Readonly<Record<DocumentType, string>>>> = {
  en: { passport: 'Passport', 'id-card': 'ID card', 'driving-licence': 'Driving licence' },
  da: { passport: 'Pas', 'id-card': 'ID-kort', 'driving-licence': 'Kørekort' },
};

const STATUSES: Readonly<Record<Lang, Readonly<Record<OrderStatus, string>>>> = {
  en: {
    'awaiting-payment': 'awaiting payment',
    placed: 'placed',
    shipped: 'shipped',
    'ready-for-pickup': 'ready for pickup',
    delivered: 'delivered',
    collected: 'collected',
    cancelled: 'cancelled',
  },
  da: {
    'awaiting-payment': 'afventer betaling',
    placed: 'afgivet',
    shipped: 'afsendt',
    'ready-for-pickup': 'klar til afhentning',
    delivered: 'leveret',
    collected: 'afhentet',
    cancelled: 'annulleret',
  },
};

const ENDED: Readonly<Record<Lang, Readonly<Record<UserView['pastDevices'][number]['ended'], string>>>> = {
  en: { replaced: 'replaced', revoked: 'revoked (lost)', deactivated: 'deactivated' },
  da: { replaced: 'udskiftet', revoked: 'spærret (mistet)', deactivated: 'deaktiveret' },
};

/** The service's refusals of a token action: the operator's to read, not the server's fault. */
const TOKEN_REFUSALS = ['ERR_UNKNOWN_TOKEN', 'ERR_TOKEN_STATE', 'ERR_NOT_REPLACED', 'ERR_TOO_LATE'] as const;
type TokenRefusal = (typeof TOKEN_REFUSALS)[number];
const isTokenRefusal = (code: ServiceErrorCode): code is TokenRefusal => (TOKEN_REFUSALS as readonly string[]).includes(code);

export const CONSOLE_COOKIE: SignedCookie = { name: 'kv_console', path: '/operator', sameSite: 'strict', ttlMs: 8 * 60 * 60 * 1000 };

/** What the console's cookie holds: the credential's id (never its token), and the session's own id. */
interface ConsoleSession {
  c: string;
  /** 128 random bits: a sign-out ends this session (and no other) on every instance */
  s: string;
}

const endedKey = (session: string): string => `console-ended:${session}`;

/** The console's forms, each a section of the page. */
const SECTIONS = ['user', 'proof', 'activate', 'collect', 'revoke', 'unlock', 'reinstate'] as const;
type Section = (typeof SECTIONS)[number];

const SECTION_TITLES: Readonly<Record<Section, OperatorText>> = {
  user: 'userTitle',
  proof: 'proofTitle',
  activate: 'activateTitle',
  collect: 'collectTitle',
  revoke: 'revokeTitle',
  unlock: 'unlockTitle',
  reinstate: 'reinstateTitle',
};

/**
 * Each form's fields shown again as they were typed (the fields of the whole page have distinct
 * names, since each is its input's id). Passwords and codes are never shown again.
 */
const SHOWN: Readonly<Record<Section, readonly string[]>> = {
  user: ['userId'],
  proof: ['nationalId', 'documentType', 'country', 'documentNumber', 'proofUserId'],
  activate: ['proofId', 'serial'],
  collect: ['orderId', 'orderProofId', 'document'],
  revoke: ['revokeSerial'],
  unlock: ['unlockSerial'],
  reinstate: ['reinstateSerial'],
};
const NOT_SHOWN: Readonly<Partial<Record<Section, readonly string[]>>> = { activate: ['otp', 'password', 'password2'] };

const TOKEN: FieldRule = { max: 256 };
/** As the proofs route's schema takes a document number. */
const DOCUMENT_NUMBER_MAX = 40;
/** What a field shows again at most: enough for any valid value, little of a huge one. */
const SHOWN_MAX = 256;

interface SectionState {
  values: Record<string, string>;
  errors: Record<string, string>;
}

/** What the result area at the top says after a request that went through. */
type Result =
  { kind: 'done'; lines: string[] } | { kind: 'proof'; lines: string[]; proofId: string; give: string } | { kind: 'user'; user: UserFacts };

interface UserFacts {
  heading: string;
  created: string;
  identityLinked: string;
  activeDevice: string;
  pastDevices: Array<{ serial: string; profile: string; activated: string; ended: string; why: string; replacedBy: string }>;
  lastUsed: string;
}

interface ConsoleState {
  forms?: Partial<Record<Section, Partial<SectionState>>>;
  /** the section whose fields have errors */
  invalid?: Section;
  result?: Result;
  problem?: PageProblem;
}

function dateTime(at: number, lang: Lang): string {
  return new Intl.DateTimeFormat(lang === 'da' ? 'da-DK' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'Europe/Copenhagen',
  }).format(at);
}

function userFacts(user: UserView, lang: Lang): UserFacts {
  const t = OPERATOR_TEXTS[lang];
  const active = user.activeDevice;
  return {
    heading: format(t.user, { user: user.userId }),
    created: dateTime(user.createdAt, lang),
    identityLinked: user.identityLinked ? t.yes : t.no,
    activeDevice:
      active === null
        ? t.noDevice
        : format(t.device, { serial: formatSerial(active.serial), profile: active.profile, at: dateTime(active.activatedAt, lang) }),
    pastDevices: user.pastDevices.map((d) => ({
      serial: formatSerial(d.serial),
      profile: d.profile,
      activated: dateTime(d.activatedAt, lang),
      ended: dateTime(d.endedAt, lang),
      why: ENDED[lang][d.ended],
      replacedBy: d.replacedBy === null ? '' : formatSerial(d.replacedBy),
    })),
    lastUsed: user.lastUsedAt === null ? t.never : dateTime(user.lastUsedAt, lang),
  };
}

/** The fields that have a problem, with it; null when none has. */
function problems(checked: Record<string, string | null>): Record<string, string> | null {
  const found = Object.entries(checked).filter((e): e is [string, string] => e[1] !== null);
  return found.length === 0 ? null : Object.fromEntries(found);
}

const isDocument = (v: string): v is DocumentType => (DOCUMENT_TYPES as readonly string[]).includes(v);
const isIdCheck = (v: string): v is IdCheck['document'] => (ID_CHECK_DOCUMENTS as readonly string[]).includes(v);

export async function operatorPages(app: FastifyInstance, { service, credentials, clock, shared }: PageModuleOptions): Promise<void> {
  /** Who each console request is, once its session has been checked. */
  const operators = new WeakMap<FastifyRequest, Principal>();

  /** The session's operator: the cookie ours and unexpired, and its credential usable now. */
  const sessionOf = async (request: FastifyRequest): Promise<Principal | null> => {
    const session = readSigned<ConsoleSession & { exp: number }>(request, CONSOLE_COOKIE, clock.now());
    if (session === null || typeof session.c !== 'string' || typeof session.s !== 'string') return null;
    if ((await shared.get<boolean>(endedKey(session.s))) === true) return null;
    const principal = await credentials.principalOfId(session.c);
    return principal?.role === 'operator' ? principal : null;
  };

  const signInPage = (request: FastifyRequest, reply: FastifyReply, state: FormState & { notice?: string } = {}) => {
    const lang = langOf(request, reply);
    return renderForm(request, reply, 'operator-signin', { t: OPERATOR_TEXTS[lang], notice: state.notice ?? null }, state);
  };

  const consolePage = (request: FastifyRequest, reply: FastifyReply, operator: Principal, state: ConsoleState = {}) => {
    const lang = langOf(request, reply);
    const t = OPERATOR_TEXTS[lang];
    const forms: Partial<Record<Section, SectionState>> = {};
    for (const s of SECTIONS) forms[s] = { values: { country: 'DK', ...state.forms?.[s]?.values }, errors: state.forms?.[s]?.errors ?? {} };
    const invalid = state.invalid === undefined ? null : { id: state.invalid, title: t[SECTION_TITLES[state.invalid]] };
    const problem = state.problem?.message ?? (invalid === null ? null : format(t.checkForm, { section: invalid.title }));
    return render(
      request,
      reply,
      'operator',
      {
        t,
        signedInAs: format(t.signedInAs, { actor: operator.actor }),
        forms,
        invalid: invalid === null ? null : { ...invalid, link: format(t.goTo, { section: invalid.title }) },
        problem,
        result: state.result ?? null,
        documents: DOCUMENT_TYPES.map((value) => ({ value, label: DOCUMENTS[lang][value] })),
        idChecks: ID_CHECK_DOCUMENTS.map((value) => ({ value, label: DOCUMENTS[lang][value] })),
      },
      state.problem?.status ?? (invalid !== null ? 400 : 200),
    );
  };

  /** A form's fields as they were typed, for showing it again. */
  const typed = (body: unknown, section: Section): Record<string, string> =>
    Object.fromEntries(SHOWN[section].map((name) => [name, valueOf(body, name).slice(0, SHOWN_MAX)]));

  const operatorOf = (request: FastifyRequest): Principal => {
    const operator = operators.get(request);
    if (operator === undefined) throw new Error('a console route ran without its session check');
    return operator;
  };

  /** onRequest of every console route but the sign-in page itself: no session, the sign-in form (401). */
  const signedIn = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const operator = await sessionOf(request);
    if (operator !== null) {
      operators.set(request, operator);
      return undefined;
    }
    if (request.cookies[CONSOLE_COOKIE.name] !== undefined) clearSigned(reply, CONSOLE_COOKIE);
    const message = OPERATOR_TEXTS[langOf(request, reply)].signInAgain;
    return reply.send(await signInPage(request, reply, { problem: { status: 401, message } }));
  };

  /** A console form that failed before or in its handler (an expired form, a busy service): the console with the message. */
  const formAgain = (section: Section) => (request: FastifyRequest, reply: FastifyReply, problem: PageProblem) => {
    const operator = operators.get(request);
    if (operator === undefined) return signInPage(request, reply, { problem });
    return consolePage(request, reply, operator, { forms: { [section]: { values: typed(request.body, section) } }, problem });
  };

  app.get('/operator', { schema: { hide: true } }, async (request, reply) => {
    const operator = await sessionOf(request);
    if (operator !== null) return consolePage(request, reply, operator);
    if (request.cookies[CONSOLE_COOKIE.name] === undefined) return signInPage(request, reply);
    clearSigned(reply, CONSOLE_COOKIE);
    return signInPage(request, reply, { problem: { status: 200, message: OPERATOR_TEXTS[langOf(request, reply)].signInAgain } });
  });

  app.post<{ Body: Record<string, string> }>(
    '/operator/signin',
    {
      schema: { hide: true, body: formSchema('token') },
      preValidation: app.csrfProtection,
      config: { pageHome: '/operator', pageForm: (request, reply, problem) => signInPage(request, reply, { problem }) },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = OPERATOR_TEXTS[lang];
      const token = valueOf(request.body, 'token').trim();
      const problem = fieldProblem(token, TOKEN, t.tokenName, lang);
      if (problem !== null) return signInPage(request, reply, { errors: { token: problem } });
      // Unknown, revoked, expired or another role's: one refusal, as the bearer check answers.
      const principal = await credentials.principalOf(token);
      if (principal?.role !== 'operator') return signInPage(request, reply, { problem: { status: 401, message: t.notOperator } });
      setSigned(
        reply,
        CONSOLE_COOKIE,
        { c: principal.actor, s: randomBytes(16).toString('base64url') } satisfies ConsoleSession,
        clock.now(),
      );
      return reply.redirect('/operator', 303);
    },
  );

  app.post(
    '/operator/signout',
    {
      schema: { hide: true, body: formSchema() },
      preValidation: app.csrfProtection,
      config: { pageHome: '/operator', pageForm: (request, reply, problem) => signInPage(request, reply, { problem }) },
    },
    async (request, reply) => {
      // A copy of the cookie kept from before (a shared computer, a stolen one) ends with it: the
      // session is marked ended in the shared state until it would have expired anyway.
      const session = readSigned<ConsoleSession & { exp: number }>(request, CONSOLE_COOKIE, clock.now());
      if (session !== null && typeof session.s === 'string') {
        const ttlMs = session.exp - clock.now();
        await shared.update<boolean, void>(endedKey(session.s), () => ({ value: true, ttlMs, result: undefined }));
      }
      clearSigned(reply, CONSOLE_COOKIE);
      return signInPage(request, reply, { notice: OPERATOR_TEXTS[langOf(request, reply)].signedOut });
    },
  );

  app.get<{ Querystring: { userId?: string; lang?: string } }>(
    '/operator/user',
    {
      schema: {
        hide: true,
        querystring: { type: 'object', properties: { userId: { type: 'string' }, lang: { type: 'string' } } },
      },
      onRequest: signedIn,
    },
    async (request, reply) => {
      const operator = operatorOf(request);
      const lang = langOf(request, reply);
      const t = OPERATOR_TEXTS[lang];
      const userId = (request.query.userId ?? '').trim();
      const values = { userId: userId.slice(0, SHOWN_MAX) };
      const problem = fieldProblem(userId, USER_ID, t.userIdName, lang);
      if (problem !== null)
        return consolePage(request, reply, operator, { forms: { user: { values, errors: { userId: problem } } }, invalid: 'user' });
      const user = await service.getUser(userId);
      if (user === null) {
        return consolePage(request, reply, operator, {
          forms: { user: { values } },
          problem: { status: 404, message: format(t.noSuchUser, { user: userId }) },
        });
      }
      return consolePage(request, reply, operator, { forms: { user: { values } }, result: { kind: 'user', user: userFacts(user, lang) } });
    },
  );

  /** A console form's POST route: session, CSRF, the fields as strings; failures shown in the console. */
  const consoleForm = (
    section: Exclude<Section, 'user'>,
    handle: (request: FastifyRequest, reply: FastifyReply, operator: Principal, lang: Lang) => Promise<string>,
    gate: 'busy' | null = null,
  ) =>
    app.post<{ Body: Record<string, string> }>(
      `/operator/${section}`,
      {
        schema: { hide: true, body: formSchema(...SHOWN[section], ...(NOT_SHOWN[section] ?? [])) },
        onRequest: gate === 'busy' ? [signedIn, busyGate(service)] : [signedIn],
        preValidation: app.csrfProtection,
        config: { pageHome: '/operator', pageForm: formAgain(section) },
      },
      async (request, reply) => handle(request, reply, operatorOf(request), langOf(request, reply)),
    );

  /** The console with `section`'s form showing `values` and a message next to each field in `errors` (400). */
  const withErrors = (
    request: FastifyRequest,
    reply: FastifyReply,
    operator: Principal,
    section: Section,
    values: Record<string, string>,
    errors: Record<string, string>,
  ): Promise<string> => consolePage(request, reply, operator, { forms: { [section]: { values, errors } }, invalid: section });

  consoleForm('proof', async (request, reply, operator, lang) => {
    const t = OPERATOR_TEXTS[lang];
    const values = typed(request.body, 'proof');
    const nationalId = compact(values.nationalId ?? '');
    const documentType = values.documentType ?? '';
    const country = (values.country ?? '').trim();
    const number = (values.documentNumber ?? '').trim();
    const userId = (values.proofUserId ?? '').trim();
    const type = isDocument(documentType) ? documentType : 'passport';
    // The service's rules (identity.ts), each field checked alone, the others made valid, so that
    // its message goes next to it.
    const errors = problems({
      nationalId:
        fieldProblem(nationalId, { max: 11 }, t.nationalIdName, lang) ?? refusedBy(() => parseNationalId(nationalId), t.nationalIdFormat),
      documentType: isDocument(documentType) ? null : COMMON[lang].badForm,
      country:
        fieldProblem(country, { max: 2 }, t.countryName, lang) ??
        refusedBy(() => parseDocument({ type, country, number: 'A' }), t.countryFormat),
      documentNumber:
        fieldProblem(number, { max: DOCUMENT_NUMBER_MAX }, t.documentNumberName, lang) ??
        refusedBy(() => parseDocument({ type, country: 'DK', number }), t.documentNumberFormat),
      proofUserId: userId === '' ? null : fieldProblem(userId, USER_ID, t.proofUserIdName, lang),
    });
    if (errors !== null) return withErrors(request, reply, operator, 'proof', values, errors);
    const result = await service.prove(
      { identity: { nationalId, document: { type, country, number } }, ...(userId !== '' ? { userId } : {}) },
      { ip: request.ip, actor: operator.actor },
    );
    if ('refused' in result) {
      const refusal: ProofRefusal = result.refused;
      return consolePage(request, reply, operator, { forms: { proof: { values } }, problem: { status: 409, message: t[refusal] } });
    }
    // The proof is what the person activates (and collects an order) with next, here at the desk.
    return consolePage(request, reply, operator, {
      forms: { activate: { values: { proofId: result.proofId } }, collect: { values: { orderProofId: result.proofId } } },
      result: {
        kind: 'proof',
        lines: [format(t.proofMade, { user: result.userId })],
        proofId: result.proofId,
        give: format(t.proofGive, { until: dateTime(result.expiresAt, lang) }),
      },
    });
  });

  consoleForm(
    'activate',
    async (request, reply, operator, lang) => {
      const t = OPERATOR_TEXTS[lang];
      const values = typed(request.body, 'activate');
      const proofId = (values.proofId ?? '').trim();
      const otp = compact(valueOf(request.body, 'otp'));
      const password = valueOf(request.body, 'password');
      const serial = serialOf(values.serial ?? '', lang, t.serialName);
      const errors = problems({
        proofId: fieldProblem(proofId, PROOF_ID, t.proofIdName, lang, t.proofIdFormat),
        serial: 'problem' in serial ? serial.problem : null,
        otp: fieldProblem(otp, OTP, t.otpName, lang),
        password: fieldProblem(password, PASSWORD, t.newPasswordName, lang),
        password2:
          valueOf(request.body, 'password2') === password
            ? null
            : (fieldProblem(valueOf(request.body, 'password2'), PASSWORD, t.repeatPasswordName, lang) ?? COMMON[lang].passwordsDiffer),
      });
      if (errors !== null || 'problem' in serial) return withErrors(request, reply, operator, 'activate', values, errors ?? {});
      const outcome = await service.activate({ proofId, serial: serial.serial, otp, password }, { ip: request.ip, actor: operator.actor });
      if (outcome.result === 'accept') {
        return consolePage(request, reply, operator, {
          result: { kind: 'done', lines: [format(t.activated, { user: outcome.userId, serial: formatSerial(outcome.serial) })] },
        });
      }
      const kept = { forms: { activate: { values } } };
      if (outcome.result === 'blocked') {
        reply.header('retry-after', String(outcome.retryAfterSeconds));
        const message = format(COMMON[lang].blocked, { wait: duration(outcome.retryAfterSeconds, lang) });
        return consolePage(request, reply, operator, { ...kept, problem: { status: 429, message } });
      }
      return consolePage(request, reply, operator, { ...kept, problem: { status: 401, message: t.activateRefused } });
    },
    'busy',
  );

  consoleForm('collect', async (request, reply, operator, lang) => {
    const t = OPERATOR_TEXTS[lang];
    const values = typed(request.body, 'collect');
    const orderId = (values.orderId ?? '').trim();
    const proofId = (values.orderProofId ?? '').trim();
    const document = values.document ?? '';
    const either = proofId === '' && document === '' ? t.proofOrIdCheck : proofId !== '' && document !== '' ? t.notBoth : null;
    const errors = problems({
      orderId: fieldProblem(orderId, { max: 64, pattern: ORDER_ID }, t.orderIdName, lang, t.orderIdFormat),
      orderProofId: either ?? (proofId === '' ? null : fieldProblem(proofId, PROOF_ID, t.proofIdName, lang, t.proofIdFormat)),
      document: document === '' || isIdCheck(document) ? null : COMMON[lang].badForm,
    });
    if (errors !== null) return withErrors(request, reply, operator, 'collect', values, errors);
    const step = isIdCheck(document) ? { kind: 'collect' as const, idCheck: { document } } : { kind: 'collect' as const, proofId };
    const result = await service.orderStep(orderId, step, operator.actor, { ip: request.ip, actor: operator.actor });
    if (!('refused' in result)) {
      return consolePage(request, reply, operator, {
        result: { kind: 'done', lines: [format(t.orderNow, { order: result.orderId, status: STATUSES[lang][result.status] })] },
      });
    }
    const { status, message } = orderRefusal(result, orderId, lang);
    return consolePage(request, reply, operator, { forms: { collect: { values } }, problem: { status, message } });
  });

  /** A token action by serial: its result, or the service's refusal as a message. */
  const tokenForm = (
    section: 'revoke' | 'unlock' | 'reinstate',
    act: (serial: string, actor: string, request: FastifyRequest, t: (typeof OPERATOR_TEXTS)[Lang]) => Promise<string[]>,
  ) =>
    consoleForm(section, async (request, reply, operator, lang) => {
      const t = OPERATOR_TEXTS[lang];
      const field = `${section}Serial`;
      const values = typed(request.body, section);
      const serial = serialOf(values[field] ?? '', lang, t.serialName);
      if ('problem' in serial) return withErrors(request, reply, operator, section, values, { [field]: serial.problem });
      try {
        const lines = await act(serial.serial, operator.actor, request, t);
        return consolePage(request, reply, operator, { result: { kind: 'done', lines } });
      } catch (e) {
        if (!isServiceError(e) || !isTokenRefusal(e.code)) throw e;
        const status = e.code === 'ERR_UNKNOWN_TOKEN' ? 404 : 409;
        return consolePage(request, reply, operator, { forms: { [section]: { values } }, problem: { status, message: t[e.code] } });
      }
    });

  tokenForm('revoke', async (serial, actor, request, t) => {
    const info = await service.revoke(serial, actor, { ip: request.ip, actor });
    return [format(t.revoked, { serial: formatSerial(info.serial) })];
  });
  tokenForm('unlock', async (serial, actor, request, t) => {
    const info = await service.unlock(serial, actor, { ip: request.ip, actor });
    return [format(t.unlocked, { serial: formatSerial(info.serial) })];
  });
  tokenForm('reinstate', async (serial, actor, request, t) => {
    const back = await service.reinstate(serial, actor, { ip: request.ip, actor });
    return [
      format(t.reinstated, { serial: formatSerial(back.serial), user: back.userId }),
      ...(back.revoked === null ? [] : [format(t.replacementRevoked, { serial: formatSerial(back.revoked) })]),
      t.passwordCleared,
    ];
  });
}

/** A hand-over's refusal as the console says it: 404 for an unknown order, else 409 (as routes/orders.ts answers). */
function orderRefusal(r: OrderRefusal, order: string, lang: Lang): PageProblem {
  const t = OPERATOR_TEXTS[lang];
  switch (r.refused) {
    case 'unknown-order':
      return { status: 404, message: format(t.unknownOrder, { order }) };
    case 'illegal-transition':
      return { status: 409, message: format(t.illegalTransition, { order, status: STATUSES[lang][r.status] }) };
    case 'not-the-owner':
      return { status: 409, message: format(t.notTheOwner, { order }) };
    case 'serial-unusable':
      return { status: 409, message: format(t.orderRefused, { order }) };
  }
}
