/**
 * /login: the service's steps — the user ID, Continue; then the text being approved, if any (its
 * action word and reference text), the one-time code and the password. The second step is decided
 * by service.authenticate, exactly as POST /v1/authenticate (blocks, replays, drift, budget, the
 * audit log), and every refusal reads the same: which factor failed, or whether the user exists,
 * is never said. A block is said, with how long it lasts, as the API's 429 says it.
 *
 * What the person is logging in as and approving is carried from the first step to the second in
 * a signed cookie (the login interaction: SameSite=Lax, since a relying party's redirect arrives
 * cross-site), so the text approved cannot be changed in between; it is spent by a success.
 * An approval is asked for with /login?action=APPROVE&text=… (and ?user= fills in the user ID).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { ACTIONS, MAX_REFERENCE_TEXT, type Action } from '../domain/types.js';
import { busyGate } from '../routes/users.js';
import { clearSigned, readSigned, setSigned, type SignedCookie } from './cookies.js';
import { compact, fieldProblem, formSchema, nonNull, OTP, PASSWORD, USER_ID, valueOf } from './fields.js';
import { COMMON, duration, format, langOf, preferLang, type Lang, type Texts } from './i18n.js';
import type { PageModuleOptions } from './index.js';
import { cspHeader } from './csp.js';
import { render, renderForm, type FormState } from './render.js';

export const LOGIN_TEXTS: Texts<
  | 'title'
  | 'approveTitle'
  | 'userId'
  | 'userIdName'
  | 'userIdHint'
  | 'continue'
  | 'asked'
  | 'otp'
  | 'otpName'
  | 'otpHint'
  | 'password'
  | 'passwordName'
  | 'logIn'
  | 'approve'
  | 'loggingInAs'
  | 'notYou'
  | 'failed'
  | 'expired'
  | 'rpExpired'
  | 'badAction'
  | 'textTooLong'
  | 'loggedIn'
  | 'approved'
  | 'receipt'
  | 'receiptHint'
  | 'again'
  | 'LOG_ON'
  | 'APPROVE'
  | 'CONFIRM'
  | 'ACCEPT'
  | 'SIGN'
> = {
  en: {
    title: 'Log in',
    approveTitle: 'Approve',
    userId: 'User ID',
    userIdName: 'user ID',
    userIdHint: 'The user ID you chose when you activated your code display.',
    continue: 'Continue',
    asked: 'You are asked to {action}:',
    otp: 'One-time code',
    otpName: 'one-time code',
    otpHint: 'Press the button on your code display and type the 6 digits it shows.',
    password: 'Password',
    passwordName: 'password',
    logIn: 'Log in',
    approve: 'Approve',
    loggingInAs: 'User ID: {user}',
    notYou: 'Not you? Start again',
    failed: 'That did not work. Check the code and the password, and try again with a new code.',
    expired: 'Your login took too long. Please start again.',
    rpExpired: 'This login has expired or was already used. Go back to the application and start again from there.',
    badAction: 'The action asked for is not one of LOG_ON, APPROVE, CONFIRM, ACCEPT or SIGN.',
    textTooLong: 'The text to approve is longer than {max} characters.',
    loggedIn: 'You are logged in as {user}.',
    approved: 'You approved as {user}:',
    receipt: 'Receipt',
    receiptHint: 'A signed receipt (JWS, EdDSA): verify it with /.well-known/jwks.json.',
    again: 'Log in again',
    LOG_ON: 'log on',
    APPROVE: 'approve',
    CONFIRM: 'confirm',
    ACCEPT: 'accept',
    SIGN: 'sign',
  },
  da: {
    title: 'Log på',
    approveTitle: 'Godkend',
    userId: 'Bruger-id',
    userIdName: 'bruger-id',
    userIdHint: 'Det bruger-id, du valgte, da du aktiverede din kodeviser.',
    continue: 'Fortsæt',
    asked: 'Du bliver bedt om at {action}:',
    otp: 'Engangskode',
    otpName: 'engangskode',
    otpHint: 'Tryk på knappen på din kodeviser, og indtast de 6 cifre, den viser.',
    password: 'Adgangskode',
    passwordName: 'adgangskode',
    logIn: 'Log på',
    approve: 'Godkend',
    loggingInAs: 'Bruger-id: {user}',
    notYou: 'Ikke dig? Start forfra',
    failed: 'Det lykkedes ikke. Tjek koden og adgangskoden, og prøv igen med en ny kode.',
    expired: 'Dit login tog for lang tid. Start venligst forfra.',
    rpExpired: 'Dette login er udløbet eller allerede brugt. Gå tilbage til tjenesten, og start forfra derfra.',
    badAction: 'Den ønskede handling er ikke en af LOG_ON, APPROVE, CONFIRM, ACCEPT eller SIGN.',
    textTooLong: 'Teksten, der skal godkendes, er længere end {max} tegn.',
    loggedIn: 'Du er logget på som {user}.',
    approved: 'Du godkendte som {user}:',
    receipt: 'Kvittering',
    receiptHint: 'En signeret kvittering (JWS, EdDSA): verificér den med /.well-known/jwks.json.',
    again: 'Log på igen',
    LOG_ON: 'logge på',
    APPROVE: 'godkende',
    CONFIRM: 'bekræfte',
    ACCEPT: 'acceptere',
    SIGN: 'underskrive',
  },
};

/** What the first step decided: who, and what they approve. */
export interface LoginInteraction {
  /** the user ID typed */
  u: string;
  a: Action;
  /** the reference text, when there is one */
  r?: string;
  /** for a relying party: the OpenID provider's interaction, and where its redirect goes */
  o?: string;
  ro?: string | null;
}

export const LOGIN_COOKIE: SignedCookie = { name: 'kv_login', path: '/login', sameSite: 'lax', ttlMs: 10 * 60 * 1000 };

const isAction = (v: string): v is Action => (ACTIONS as readonly string[]).includes(v);

/** The action and text asked for (query or hidden fields), or the problem with them. */
function askedFor(source: unknown, lang: Lang): { action: Action; text?: string } | { problem: string } {
  const t = LOGIN_TEXTS[lang];
  const action = valueOf(source, 'action') || 'LOG_ON';
  const text = valueOf(source, 'text');
  if (!isAction(action)) return { problem: t.badAction };
  if ([...text].length > MAX_REFERENCE_TEXT) return { problem: format(t.textTooLong, { max: MAX_REFERENCE_TEXT }) };
  return text.length > 0 ? { action, text } : { action };
}

export async function loginPages(app: FastifyInstance, { service, clock, perUserLimit, oidc }: PageModuleOptions): Promise<void> {
  const userStep = (
    request: FastifyRequest,
    reply: FastifyReply,
    state: FormState & { userId?: string; action?: string; text?: string; interaction?: string },
  ) => {
    const lang = langOf(request, reply);
    return renderForm(
      request,
      reply,
      'login',
      {
        t: LOGIN_TEXTS[lang],
        step: 'user',
        userId: state.userId ?? '',
        action: state.action ?? '',
        text: state.text ?? '',
        interaction: state.interaction ?? '',
      },
      state,
    );
  };

  const codeStep = (request: FastifyRequest, reply: FastifyReply, interaction: LoginInteraction, state: FormState = {}) => {
    const lang = langOf(request, reply);
    const t = LOGIN_TEXTS[lang];
    // The form ends, for a relying party, in redirects to it: form-action must allow its origin.
    if (interaction.ro) reply.header('content-security-policy', cspHeader([interaction.ro]));
    return renderForm(
      request,
      reply,
      'login',
      {
        t,
        step: 'code',
        who: format(t.loggingInAs, { user: interaction.u }),
        approving: interaction.a !== 'LOG_ON' || interaction.r !== undefined,
        asked: format(t.asked, { action: t[interaction.a] }),
        text: interaction.r ?? null,
      },
      state,
    );
  };

  const interactionOf = (request: FastifyRequest): LoginInteraction | null =>
    readSigned<LoginInteraction>(request, LOGIN_COOKIE, clock.now());

  app.get<{ Querystring: { user?: string; action?: string; text?: string; lang?: string; interaction?: string } }>(
    '/login',
    {
      schema: {
        hide: true,
        querystring: {
          type: 'object',
          properties: {
            user: { type: 'string' },
            action: { type: 'string' },
            text: { type: 'string' },
            lang: { type: 'string' },
            interaction: { type: 'string' },
          },
        },
      },
    },
    async (request, reply) => {
      if (request.query.interaction !== undefined) {
        const rp = oidc === null ? null : await oidc.asked(request, reply);
        if (rp === null || rp.uid !== request.query.interaction) {
          return userStep(request, reply, { problem: { status: 400, message: LOGIN_TEXTS[langOf(request, reply)].rpExpired } });
        }
        preferLang(request, reply, rp.lang);
        return userStep(request, reply, { userId: rp.userHint.slice(0, USER_ID.max), interaction: rp.uid });
      }
      const lang = langOf(request, reply);
      const asked = askedFor(request.query, lang);
      const user = (request.query.user ?? '').slice(0, USER_ID.max);
      if ('problem' in asked) return userStep(request, reply, { userId: user, problem: { status: 400, message: asked.problem } });
      return userStep(request, reply, { userId: user, action: asked.action, text: asked.text ?? '' });
    },
  );

  app.post<{ Body: Record<string, string> }>(
    '/login',
    {
      schema: { hide: true, body: formSchema('userId', 'action', 'text', 'interaction') },
      preValidation: app.csrfProtection,
      config: {
        pageHome: '/login',
        pageForm: (request, reply, problem) =>
          userStep(request, reply, { userId: valueOf(request.body, 'userId').slice(0, USER_ID.max), problem }),
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = LOGIN_TEXTS[lang];
      const userId = valueOf(request.body, 'userId').trim();
      const uid = valueOf(request.body, 'interaction');
      if (uid !== '') {
        // For a relying party, what is approved is what its request asked, never the form's.
        const rp = oidc === null ? null : await oidc.asked(request, reply);
        if (rp === null || rp.uid !== uid) return userStep(request, reply, { problem: { status: 400, message: t.rpExpired } });
        const problem = fieldProblem(userId, USER_ID, t.userIdName, lang);
        if (problem !== null)
          return userStep(request, reply, { userId: userId.slice(0, USER_ID.max), interaction: uid, errors: { userId: problem } });
        const text = rp.referenceText === undefined ? {} : { r: rp.referenceText };
        setSigned(
          reply,
          LOGIN_COOKIE,
          { u: userId, a: rp.action, ...text, o: rp.uid, ro: rp.redirectOrigin } satisfies LoginInteraction,
          clock.now(),
        );
        return reply.redirect('/login/code', 303);
      }
      const asked = askedFor(request.body, lang);
      if ('problem' in asked) return userStep(request, reply, { userId, problem: { status: 400, message: asked.problem } });
      const problem = fieldProblem(userId, USER_ID, t.userIdName, lang);
      if (problem !== null) {
        return userStep(request, reply, {
          userId: userId.slice(0, USER_ID.max),
          action: asked.action,
          text: asked.text ?? '',
          errors: { userId: problem },
        });
      }
      const interaction: LoginInteraction =
        asked.text === undefined ? { u: userId, a: asked.action } : { u: userId, a: asked.action, r: asked.text };
      setSigned(reply, LOGIN_COOKIE, interaction, clock.now());
      return reply.redirect('/login/code', 303);
    },
  );

  app.get('/login/code', { schema: { hide: true } }, async (request, reply) => {
    const interaction = interactionOf(request);
    if (interaction === null) {
      const t = LOGIN_TEXTS[langOf(request, reply)];
      return userStep(request, reply, { problem: { status: 200, message: t.expired } });
    }
    return codeStep(request, reply, interaction);
  });

  // The per-user limit counts on the user ID the interaction holds (not on anything in the form).
  const interactionUser: preHandlerHookHandler = (request, _reply, done) => {
    const interaction = interactionOf(request);
    if (interaction !== null) (request.body as Record<string, string>).userId = interaction.u;
    done();
  };

  app.post<{ Body: Record<string, string> }>(
    '/login/code',
    {
      schema: { hide: true, body: formSchema('otp', 'password') },
      onRequest: busyGate(service),
      preValidation: app.csrfProtection,
      preHandler: perUserLimit === null ? [interactionUser] : [interactionUser, perUserLimit],
      config: {
        pageHome: '/login',
        pageForm: (request, reply, problem) => {
          const interaction = interactionOf(request);
          return interaction === null ? userStep(request, reply, { problem }) : codeStep(request, reply, interaction, { problem });
        },
      },
    },
    async (request, reply) => {
      const lang = langOf(request, reply);
      const t = LOGIN_TEXTS[lang];
      const interaction = interactionOf(request);
      if (interaction === null) return userStep(request, reply, { problem: { status: 400, message: t.expired } });
      const otp = compact(valueOf(request.body, 'otp'));
      const password = valueOf(request.body, 'password');
      const errors = {
        ...nonNull('otp', fieldProblem(otp, OTP, t.otpName, lang)),
        ...nonNull('password', password.length === 0 ? fieldProblem(password, PASSWORD, t.passwordName, lang) : null),
      };
      if (Object.keys(errors).length > 0) return codeStep(request, reply, interaction, { errors });
      // For a relying party, the approval is what its request asks, read again from the provider
      // (the receipt's audience its client id); a login it no longer waits for is not decided.
      const rp = interaction.o === undefined || oidc === null ? null : await oidc.asked(request, reply);
      if (interaction.o !== undefined && (rp === null || rp.uid !== interaction.o)) {
        clearSigned(reply, LOGIN_COOKIE);
        return userStep(request, reply, { problem: { status: 400, message: t.rpExpired } });
      }
      const approval = rp ?? { action: interaction.a, ...(interaction.r !== undefined ? { referenceText: interaction.r } : {}) };
      const outcome = await service.authenticate(
        {
          userId: interaction.u,
          otp,
          // A password the API's schema would refuse (too short or long) is a wrong one: the same
          // refusal, after the code is checked, as any other wrong password.
          password: password.slice(0, PASSWORD.max),
          action: approval.action,
          ...(approval.referenceText !== undefined ? { referenceText: approval.referenceText } : {}),
          ...(rp !== null ? { audience: rp.clientId } : {}),
        },
        { ip: request.ip },
      );
      if (outcome.result === 'accept') {
        clearSigned(reply, LOGIN_COOKIE);
        if (rp !== null && oidc !== null) {
          const next = await oidc.finish(request, reply, interaction.u, rp);
          if (next === null) return userStep(request, reply, { problem: { status: 400, message: t.rpExpired } });
          return reply.redirect(next, 303);
        }
        return render(request, reply, 'login-done', {
          t,
          approving: interaction.a !== 'LOG_ON' || interaction.r !== undefined,
          loggedIn: format(t.loggedIn, { user: interaction.u }),
          approved: format(t.approved, { user: interaction.u }),
          asked: format(t.asked, { action: t[interaction.a] }),
          text: interaction.r ?? null,
          receipt: outcome.receipt,
        });
      }
      if (outcome.result === 'blocked') {
        reply.header('retry-after', String(outcome.retryAfterSeconds));
        const message = format(COMMON[lang].blocked, { wait: duration(outcome.retryAfterSeconds, lang) });
        return codeStep(request, reply, interaction, { problem: { status: 429, message } });
      }
      return codeStep(request, reply, interaction, { problem: { status: 401, message: t.failed } });
    },
  );
}
