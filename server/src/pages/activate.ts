/**
 * /activate: a code display activated as POST /v1/activate activates it — a proof of identity,
 * the serial from the back of the device, a code it shows and a new password — by
 * service.activate, so every refusal reads the same (which part failed is never said) and a
 * block is said with how long it lasts.
 *
 * The proof comes one of three ways: typed (the proof id an operator at a service centre gave);
 * from /activate/self, the owner's login with the code display they have now (service.proveSelf,
 * as POST /v1/proofs/self); or, on a test server only (KODEVISER_SIMULATED_PASSPORT=1), from
 * /activate/passport, a *simulated* passport check of a test identity (service.prove, as the
 * app's passport check would). A proof made here is kept for the activation form in a signed
 * cookie (Strict, path /activate, as long as the proof holds), never shown: a proof id is a secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { parseDocument, parseNationalId, type ProofRefusal } from '../domain/identity.js';
import { busyGate } from '../routes/users.js';
import { clearSigned, readSigned, setSigned, type SignedCookie } from './cookies.js';
import { compact, fieldProblem, formSchema, nonNull, OTP, PASSWORD, PROOF_ID, refusedBy, serialOf, USER_ID, valueOf } from './fields.js';
import { COMMON, duration, format, langOf, type Lang, type Texts } from './i18n.js';
import type { PageModuleOptions } from './index.js';
import { render, renderForm, type PageProblem } from './render.js';

export const ACTIVATE_TEXTS: Texts<
  | 'title'
  | 'intro'
  | 'waysTitle'
  | 'wayCentre'
  | 'waySelf'
  | 'waySelfLink'
  | 'wayPassport'
  | 'wayPassportLink'
  | 'proven'
  | 'useAnother'
  | 'proofId'
  | 'proofIdName'
  | 'proofIdHint'
  | 'proofIdFormat'
  | 'serial'
  | 'serialName'
  | 'serialHint'
  | 'otp'
  | 'otpName'
  | 'otpHint'
  | 'newPassword'
  | 'newPasswordName'
  | 'newPasswordHint'
  | 'repeatPassword'
  | 'repeatPasswordName'
  | 'activate'
  | 'failed'
  | 'doneTitle'
  | 'done'
  | 'doneHint'
  | 'logIn'
  | 'selfTitle'
  | 'selfIntro'
  | 'userId'
  | 'userIdName'
  | 'password'
  | 'passwordName'
  | 'prove'
  | 'selfFailed'
  | 'back'
  | 'passportTitle'
  | 'passportWarning'
  | 'nationalId'
  | 'nationalIdName'
  | 'nationalIdHint'
  | 'nationalIdFormat'
  | 'passportNumber'
  | 'passportNumberName'
  | 'passportNumberFormat'
  | 'wishedUserId'
  | 'wishedUserIdName'
  | 'wishedUserIdHint'
  | 'check'
  | 'notOffered'
  | ProofRefusal
> = {
  en: {
    title: 'Activate your code display',
    intro: 'Prove who you are, then type the serial number from the back of the code display, a code it shows, and the password you want.',
    waysTitle: 'Three ways to prove who you are',
    wayCentre:
      'At a citizen service centre: an operator checks your passport or ID card and gives you a proof id. Type it in the form below.',
    waySelf: 'With the code display you use now (to add or replace one):',
    waySelfLink: 'prove it with your user ID, a code and your password',
    wayPassport: 'On this test server only:',
    wayPassportLink: 'a simulated passport check for test identities',
    proven: 'Identity proven for user {user}.',
    useAnother: 'Use another proof',
    proofId: 'Proof of identity',
    proofIdName: 'proof of identity',
    proofIdHint: 'The proof id the operator gave you. It is valid for 15 minutes.',
    proofIdFormat: 'A proof of identity is the letters, digits, - and _ the operator gave you (at most 64).',
    serial: 'Serial number',
    serialName: 'serial number',
    serialHint: 'As printed on the back of the code display: NN-NNNNNNN-N.',
    otp: 'One-time code',
    otpName: 'one-time code',
    otpHint: 'Press the button on the code display and type the 6 digits it shows.',
    newPassword: 'New password',
    newPasswordName: 'new password',
    newPasswordHint: 'At least 8 characters. A few words you remember are hard to guess.',
    repeatPassword: 'Repeat the new password',
    repeatPasswordName: 'new password again',
    activate: 'Activate',
    failed: 'That did not work. Check the proof of identity, the serial number and the code, and try again with a new code.',
    doneTitle: 'Activated',
    done: 'Your code display is active. Your user ID is {user}.',
    doneHint: 'You log in with your user ID, a code from the code display and your password.',
    logIn: 'Log in',
    selfTitle: 'Prove it with your code display',
    selfIntro: 'Log in with the code display you use now: that proves who you are, for adding or replacing a code display.',
    userId: 'User ID',
    userIdName: 'user ID',
    password: 'Password',
    passwordName: 'password',
    prove: 'Prove who I am',
    selfFailed: 'That did not work. Check the code and the password, and try again with a new code.',
    back: 'Back to the activation',
    passportTitle: 'Simulated passport check',
    passportWarning:
      'A simulation for test identities, on a test server: no passport is read and no register asked. Never use a real person’s numbers.',
    nationalId: 'National ID (CPR number)',
    nationalIdName: 'national ID',
    nationalIdHint: 'Ten digits: the date of birth (DDMMYY) and four more.',
    nationalIdFormat: 'A national ID is ten digits, the first six a date of birth (DDMMYY).',
    passportNumber: 'Passport number',
    passportNumberName: 'passport number',
    passportNumberFormat: 'A passport number is 1 to 30 letters and digits.',
    wishedUserId: 'User ID you would like (optional)',
    wishedUserIdName: 'user ID',
    wishedUserIdHint: 'Leave it empty to get one made for you. If you have a user ID already, you get that one.',
    check: 'Check the passport',
    notOffered: 'This server offers no passport check here.',
    'identity-linked-elsewhere': 'This identity has another user ID. Leave the user ID empty to get yours.',
    'user-linked-elsewhere': 'That user ID belongs to someone else. Choose another, or leave it empty.',
    'owner-proof-required': 'That user ID was made before identities were checked: prove it is yours with your code display instead.',
    'owner-not-proven': 'The identity could not be proven.',
  },
  da: {
    title: 'Aktivér din kodeviser',
    intro:
      'Bevis, hvem du er, og indtast så serienummeret fra bagsiden af kodeviseren, en kode, den viser, og den adgangskode, du vil have.',
    waysTitle: 'Tre måder at bevise, hvem du er',
    wayCentre:
      'I et borgerservicecenter: en medarbejder tjekker dit pas eller ID-kort og giver dig et bevis-id. Indtast det i formularen nedenfor.',
    waySelf: 'Med den kodeviser, du bruger nu (for at tilføje eller udskifte en):',
    waySelfLink: 'bevis det med dit bruger-id, en kode og din adgangskode',
    wayPassport: 'Kun på denne testserver:',
    wayPassportLink: 'et simuleret pastjek for testidentiteter',
    proven: 'Identitet bevist for bruger {user}.',
    useAnother: 'Brug et andet bevis',
    proofId: 'Identitetsbevis',
    proofIdName: 'identitetsbeviset',
    proofIdHint: 'Det bevis-id, medarbejderen gav dig. Det gælder i 15 minutter.',
    proofIdFormat: 'Et identitetsbevis er de bogstaver, cifre, - og _, medarbejderen gav dig (højst 64).',
    serial: 'Serienummer',
    serialName: 'serienummer',
    serialHint: 'Som det står på bagsiden af kodeviseren: NN-NNNNNNN-N.',
    otp: 'Engangskode',
    otpName: 'engangskode',
    otpHint: 'Tryk på knappen på kodeviseren, og indtast de 6 cifre, den viser.',
    newPassword: 'Ny adgangskode',
    newPasswordName: 'ny adgangskode',
    newPasswordHint: 'Mindst 8 tegn. Et par ord, du kan huske, er svære at gætte.',
    repeatPassword: 'Gentag den nye adgangskode',
    repeatPasswordName: 'ny adgangskode igen',
    activate: 'Aktivér',
    failed: 'Det lykkedes ikke. Tjek identitetsbeviset, serienummeret og koden, og prøv igen med en ny kode.',
    doneTitle: 'Aktiveret',
    done: 'Din kodeviser er aktiv. Dit bruger-id er {user}.',
    doneHint: 'Du logger på med dit bruger-id, en kode fra kodeviseren og din adgangskode.',
    logIn: 'Log på',
    selfTitle: 'Bevis det med din kodeviser',
    selfIntro: 'Log på med den kodeviser, du bruger nu: det beviser, hvem du er, når du tilføjer eller udskifter en kodeviser.',
    userId: 'Bruger-id',
    userIdName: 'bruger-id',
    password: 'Adgangskode',
    passwordName: 'adgangskode',
    prove: 'Bevis, hvem jeg er',
    selfFailed: 'Det lykkedes ikke. Tjek koden og adgangskoden, og prøv igen med en ny kode.',
    back: 'Tilbage til aktiveringen',
    passportTitle: 'Simuleret pastjek',
    passportWarning:
      'En simulering for testidentiteter på en testserver: intet pas læses, og intet register spørges. Brug aldrig en rigtig persons numre.',
    nationalId: 'CPR-nummer',
    nationalIdName: 'CPR-nummer',
    nationalIdHint: 'Ti cifre: fødselsdatoen (DDMMÅÅ) og fire til.',
    nationalIdFormat: 'Et CPR-nummer er ti cifre, de første seks en fødselsdato (DDMMÅÅ).',
    passportNumber: 'Pasnummer',
    passportNumberName: 'pasnummer',
    passportNumberFormat: 'Et pasnummer er 1 til 30 bogstaver og cifre.',
    wishedUserId: 'Ønsket bruger-id (valgfrit)',
    wishedUserIdName: 'bruger-id',
    wishedUserIdHint: 'Lad det stå tomt for at få et lavet til dig. Har du allerede et bruger-id, får du det.',
    check: 'Tjek passet',
    notOffered: 'Denne server tilbyder ikke pastjek her.',
    'identity-linked-elsewhere': 'Denne identitet har et andet bruger-id. Lad bruger-id stå tomt for at få dit.',
    'user-linked-elsewhere': 'Det bruger-id tilhører en anden. Vælg et andet, eller lad det stå tomt.',
    'owner-proof-required': 'Det bruger-id blev lavet, før identiteter blev tjekket: bevis, at det er dit, med din kodeviser i stedet.',
    'owner-not-proven': 'Identiteten kunne ikke bevises.',
  },
};

/** A proof made here, for the activation form: its id (never shown) and its user. */
interface ProofKept {
  p: string;
  u: string;
}

/** As long as a proof holds (domain/identity.ts: 15 minutes). */
export const PROOF_COOKIE: SignedCookie = { name: 'kv_proof', path: '/activate', sameSite: 'strict', ttlMs: 15 * 60 * 1000 };

/** A proof id as typed (spaces around it dropped), checked as the API's schema checks it, or the problem with it. */
export function proofIdOf(value: string, lang: Lang): { proofId: string } | { problem: string } {
  const t = ACTIVATE_TEXTS[lang];
  const proofId = value.trim();
  const problem = fieldProblem(proofId, PROOF_ID, t.proofIdName, lang, t.proofIdFormat);
  return problem === null ? { proofId } : { problem };
}

type ActivateField = 'proofId' | 'serial' | 'otp' | 'password' | 'password2';
type SelfField = 'userId' | 'otp' | 'password';
type PassportField = 'nationalId' | 'passportNumber' | 'userId';

export async function activatePages(
  app: FastifyInstance,
  { service, clock, perUserLimit, simulatedPassport }: PageModuleOptions,
): Promise<void> {
  const keptProof = (request: FastifyRequest): ProofKept | null => readSigned<ProofKept>(request, PROOF_COOKIE, clock.now());

  const activateForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { serial?: string; errors?: Partial<Record<ActivateField, string>>; problem?: PageProblem } = {},
  ) => {
    const lang = langOf(request, reply);
    const t = ACTIVATE_TEXTS[lang];
    const kept = keptProof(request);
    return renderForm(
      request,
      reply,
      'activate',
      { t, proven: kept === null ? null : format(t.proven, { user: kept.u }), simulatedPassport, serial: state.serial ?? '' },
      state,
    );
  };

  const selfForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { userId?: string; errors?: Partial<Record<SelfField, string>>; problem?: PageProblem } = {},
  ) => {
    const t = ACTIVATE_TEXTS[langOf(request, reply)];
    return renderForm(request, reply, 'activate-self', { t, userId: state.userId ?? '' }, state);
  };

  const passportForm = (
    request: FastifyRequest,
    reply: FastifyReply,
    state: { typed?: Partial<Record<PassportField, string>>; errors?: Partial<Record<PassportField, string>>; problem?: PageProblem } = {},
  ) => {
    const t = ACTIVATE_TEXTS[langOf(request, reply)];
    return renderForm(
      request,
      reply,
      'activate-passport',
      { t, typed: { nationalId: '', passportNumber: '', userId: '', ...state.typed } },
      state,
    );
  };

  /** A proof made: kept for the activation form, which shows whose it is. */
  const keep = (reply: FastifyReply, proof: { proofId: string; userId: string }) => {
    setSigned(reply, PROOF_COOKIE, { p: proof.proofId, u: proof.userId } satisfies ProofKept, clock.now());
    return reply.redirect('/activate', 303);
  };

  /** A block, said as the API's 429 says it: with how long it lasts. */
  const blocked = (reply: FastifyReply, lang: Lang, retryAfterSeconds: number): PageProblem => {
    reply.header('retry-after', String(retryAfterSeconds));
    return { status: 429, message: format(COMMON[lang].blocked, { wait: duration(retryAfterSeconds, lang) }) };
  };

  app.get('/activate', { schema: { hide: true } }, async (request, reply) => activateForm(request, reply));

  // The per-user limit counts on the device, as for POST /v1/activate, never on a field the form adds.
  const limitByDevice: preHandlerHookHandler = (request, _reply, done) => {
    const body = request.body as Record<string, unknown>;
    delete body.userId;
    body.serial = compact(valueOf(body, 'serial'));
    done();
  };

  app.post<{ Body: Record<string, string> }>(
    '/activate',
    {
      schema: { hide: true, body: formSchema('proofId', 'serial', 'otp', 'password', 'password2') },
      onRequest: busyGate(service),
      preValidation: app.csrfProtection,
      preHandler: perUserLimit === null ? [limitByDevice] : [limitByDevice, perUserLimit],
      config: {
        pageHome: '/activate',
        pageForm: (request, reply, problem) => activateForm(request, reply, { serial: valueOf(request.body, 'serial'), problem }),
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ACTIVATE_TEXTS[lang];
      const typedSerial = valueOf(request.body, 'serial');
      const typedProof = valueOf(request.body, 'proofId');
      const otp = compact(valueOf(request.body, 'otp'));
      const password = valueOf(request.body, 'password');
      const kept = keptProof(request);
      // A proof typed is the one meant; else the one proven here.
      const proof = typedProof.trim() === '' && kept !== null ? { proofId: kept.p } : proofIdOf(typedProof, lang);
      const serial = serialOf(typedSerial, lang, t.serialName);
      const errors: Partial<Record<ActivateField, string>> = {
        ...nonNull('proofId', 'problem' in proof ? proof.problem : null),
        ...nonNull('serial', 'problem' in serial ? serial.problem : null),
        ...nonNull('otp', fieldProblem(otp, OTP, t.otpName, lang)),
        ...nonNull('password', fieldProblem(password, PASSWORD, t.newPasswordName, lang)),
      };
      if (errors.password === undefined && valueOf(request.body, 'password2') !== password) errors.password2 = COMMON[lang].passwordsDiffer;
      if ('problem' in proof || 'problem' in serial || Object.keys(errors).length > 0) {
        return activateForm(request, reply, { serial: typedSerial, errors });
      }
      const outcome = await service.activate({ proofId: proof.proofId, serial: serial.serial, otp, password }, { ip: request.ip });
      if (outcome.result === 'accept') {
        clearSigned(reply, PROOF_COOKIE);
        return render(request, reply, 'activate-done', {
          t,
          done: format(t.done, { user: outcome.userId }),
          loginHref: `/login?${new URLSearchParams({ user: outcome.userId }).toString()}`,
        });
      }
      if (outcome.result === 'blocked') {
        return activateForm(request, reply, { serial: typedSerial, problem: blocked(reply, lang, outcome.retryAfterSeconds) });
      }
      return activateForm(request, reply, { serial: typedSerial, problem: { status: 401, message: t.failed } });
    },
  );

  // "Use another proof": the one kept is forgotten (a form, not a link: it changes what is kept).
  app.post(
    '/activate/forget',
    {
      schema: { hide: true, body: formSchema() },
      preValidation: app.csrfProtection,
      config: { pageHome: '/activate', pageForm: (request, reply, problem) => activateForm(request, reply, { problem }) },
    },
    async (_request, reply) => {
      clearSigned(reply, PROOF_COOKIE);
      return reply.redirect('/activate', 303);
    },
  );

  app.get('/activate/self', { schema: { hide: true } }, async (request, reply) => selfForm(request, reply));

  // The per-user limit counts on the user ID as typed (trimmed, as it is used).
  const limitByUser: preHandlerHookHandler = (request, _reply, done) => {
    const body = request.body as Record<string, unknown>;
    body.userId = valueOf(body, 'userId').trim();
    done();
  };

  app.post<{ Body: Record<string, string> }>(
    '/activate/self',
    {
      schema: { hide: true, body: formSchema('userId', 'otp', 'password') },
      onRequest: busyGate(service),
      preValidation: app.csrfProtection,
      preHandler: perUserLimit === null ? [limitByUser] : [limitByUser, perUserLimit],
      config: {
        pageHome: '/activate/self',
        pageForm: (request, reply, problem) =>
          selfForm(request, reply, { userId: valueOf(request.body, 'userId').slice(0, USER_ID.max), problem }),
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ACTIVATE_TEXTS[lang];
      const userId = valueOf(request.body, 'userId').trim();
      const otp = compact(valueOf(request.body, 'otp'));
      const password = valueOf(request.body, 'password');
      const errors: Partial<Record<SelfField, string>> = {
        ...nonNull('userId', fieldProblem(userId, USER_ID, t.userIdName, lang)),
        ...nonNull('otp', fieldProblem(otp, OTP, t.otpName, lang)),
        ...nonNull('password', password.length === 0 ? fieldProblem(password, PASSWORD, t.passwordName, lang) : null),
      };
      const shown = userId.slice(0, USER_ID.max);
      if (Object.keys(errors).length > 0) return selfForm(request, reply, { userId: shown, errors });
      // A password the API's schema would refuse is a wrong one (as login.ts): the same refusal.
      const { outcome, proof } = await service.proveSelf({ userId, otp, password: password.slice(0, PASSWORD.max) }, { ip: request.ip });
      if (proof !== null) return keep(reply, proof);
      if (outcome.result === 'blocked')
        return selfForm(request, reply, { userId: shown, problem: blocked(reply, lang, outcome.retryAfterSeconds) });
      return selfForm(request, reply, { userId: shown, problem: { status: 401, message: t.selfFailed } });
    },
  );

  if (!simulatedPassport) {
    // Off (the default): there is no such page, whatever is asked of it.
    const notOffered = async (request: FastifyRequest, reply: FastifyReply) => {
      const lang = langOf(request, reply);
      return render(request, reply, 'message', { title: COMMON[lang].problem, message: ACTIVATE_TEXTS[lang].notOffered }, 404);
    };
    app.get('/activate/passport', { schema: { hide: true } }, notOffered);
    app.post('/activate/passport', { schema: { hide: true } }, notOffered);
    return;
  }

  app.get('/activate/passport', { schema: { hide: true } }, async (request, reply) => passportForm(request, reply));

  app.post<{ Body: Record<string, string> }>(
    '/activate/passport',
    {
      schema: { hide: true, body: formSchema('nationalId', 'passportNumber', 'userId') },
      preValidation: app.csrfProtection,
      config: {
        pageHome: '/activate/passport',
        pageForm: (request, reply, problem) => passportForm(request, reply, { typed: typedPassport(request.body), problem }),
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = ACTIVATE_TEXTS[lang];
      const typed = typedPassport(request.body);
      const nationalId = typed.nationalId.trim();
      const document = { type: 'passport' as const, country: 'DK', number: typed.passportNumber.trim() };
      const userId = typed.userId.trim();
      const required = (value: string, name: string) => (value === '' ? format(COMMON[lang].required, { field: name }) : null);
      // The identity's numbers are judged by the domain's own parsers (what prove will read).
      const errors: Partial<Record<PassportField, string>> = {
        ...nonNull(
          'nationalId',
          required(nationalId, t.nationalIdName) ?? refusedBy(() => parseNationalId(nationalId), t.nationalIdFormat),
        ),
        ...nonNull(
          'passportNumber',
          required(document.number, t.passportNumberName) ?? refusedBy(() => parseDocument(document), t.passportNumberFormat),
        ),
        ...nonNull('userId', userId === '' ? null : fieldProblem(userId, USER_ID, t.wishedUserIdName, lang)),
      };
      if (Object.keys(errors).length > 0) return passportForm(request, reply, { typed, errors });
      const result = await service.prove(
        { identity: { nationalId, document }, ...(userId !== '' ? { userId } : {}) },
        { ip: request.ip, actor: 'simulated-passport' },
      );
      if ('refused' in result) return passportForm(request, reply, { typed, problem: { status: 409, message: t[result.refused] } });
      return keep(reply, result);
    },
  );
}

const typedPassport = (body: unknown): Record<PassportField, string> => ({
  nationalId: valueOf(body, 'nationalId'),
  passportNumber: valueOf(body, 'passportNumber'),
  userId: valueOf(body, 'userId'),
});
