/**
 * Who a user is to the OpenID provider: an opaque subject, HMAC-SHA-256 of the user ID and the
 * user's creation under a key of its own (sealed in the database, the same on every instance), so
 * stable per user and never the ID typed. It is the provider's accountId too, so what the provider
 * keeps (sessions, grants) and what it sends by itself (a back-channel logout token's `sub`) name
 * the user only by it.
 *
 * The way back, from subject to user, is an entry kept as long as a grant (refreshed at each
 * login) and deleted when the user is erased, so the provider's sessions, grants and tokens name
 * nobody from then on; a new user with the same ID is another subject.
 */
import { createHmac } from 'node:crypto';
import type { Clock, TokenService, UserView } from '../domain/types.js';
import { storedSecret, type SeedVault } from '../security/seed-vault.js';
import type { TokenStore } from '../store/types.js';

/** The secret the subjects are made under (made at the provider's first use). */
export const SUBJECT_KEY = 'oidc-subject-key';
/** The model of the subject → user entries. */
export const SUBJECT_MODEL = 'Subject';
/** As long as oidc-provider keeps a grant by default (14 days). */
const SUBJECT_TTL_MS = 14 * 24 * 3600 * 1000;

export interface Subjects {
  /** The user's subject (recorded, for userOf); null when there is no such user. */
  subjectOf(userId: string): Promise<string | null>;
  /** The user a subject names, if there still is one. */
  userOf(subject: string): Promise<UserView | null>;
  /** Forgets the way back from `user`'s subject (the user is being erased): it names nobody from now on. */
  forget(user: UserView): Promise<void>;
}

export async function subjects(store: TokenStore, vault: SeedVault, service: TokenService, clock: Clock): Promise<Subjects> {
  const key = await storedSecret(store, vault, SUBJECT_KEY);
  const subjectFor = (user: UserView): string =>
    createHmac('sha256', key).update(`${user.userId}\u0000${user.createdAt}`).digest('base64url');
  return {
    async subjectOf(userId) {
      const user = await service.getUser(userId);
      if (user === null) return null;
      const subject = subjectFor(user);
      await store.oidc.upsert(SUBJECT_MODEL, subject, { userId: user.userId, createdAt: user.createdAt }, clock.now() + SUBJECT_TTL_MS);
      return subject;
    },
    async userOf(subject) {
      const entry = await store.oidc.find(SUBJECT_MODEL, subject, clock.now());
      if (entry === null) return null;
      const { userId, createdAt } = entry.payload as { userId: string; createdAt: number };
      const user = await service.getUser(userId);
      return user !== null && user.createdAt === createdAt ? user : null;
    },
    forget: (user) => store.oidc.destroy(SUBJECT_MODEL, subjectFor(user)),
  };
}
