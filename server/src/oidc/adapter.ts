/**
 * oidc-provider's storage (its Adapter interface) over the project's own store (TokenStore.oidc:
 * SQLite by default, PostgreSQL shared by several instances), never its in-memory development
 * adapter. A client's secret is kept sealed under the master key, as seeds are: the database alone
 * does not let anyone act as a relying party. Expiry is the store's (an entry found after it is
 * gone); expired entries are swept (sweepOidc).
 */
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { Clock } from '../domain/types.js';
import type { SeedVault } from '../security/seed-vault.js';
import type { OidcEntry, OidcStore } from '../store/types.js';

const SEALED = 'kodeviser_sealed_secret';
const secretName = (clientId: string): string => `oidc-client:${clientId}`;

interface SealedJson {
  ciphertext: string;
  nonce: string;
  keyVersion: number;
}

/** A client's payload with its secret sealed (as stored). */
export function sealClient(payload: AdapterPayload, vault: SeedVault): Record<string, unknown> {
  const { client_secret: secret, ...rest } = payload as AdapterPayload & { client_secret?: unknown };
  if (typeof secret !== 'string' || typeof rest.client_id !== 'string') return { ...payload };
  const sealed = vault.seal(secretName(rest.client_id), new TextEncoder().encode(secret));
  const json: SealedJson = {
    ciphertext: Buffer.from(sealed.ciphertext).toString('base64url'),
    nonce: Buffer.from(sealed.nonce).toString('base64url'),
    keyVersion: sealed.keyVersion,
  };
  return { ...rest, [SEALED]: json };
}

/** A stored client's payload with its secret opened. */
export function openClient(stored: Record<string, unknown>, vault: SeedVault): AdapterPayload {
  const { [SEALED]: sealed, ...rest } = stored;
  if (sealed === undefined || typeof rest.client_id !== 'string') return stored as AdapterPayload;
  const s = sealed as SealedJson;
  const secret = vault.open(secretName(rest.client_id), {
    ciphertext: Buffer.from(s.ciphertext, 'base64url'),
    nonce: Buffer.from(s.nonce, 'base64url'),
    keyVersion: s.keyVersion,
  });
  return { ...rest, client_secret: new TextDecoder().decode(secret) } as AdapterPayload;
}

/** The Adapter class oidc-provider makes one of per model. */
export function storeAdapter(store: OidcStore, clock: Clock, vault: SeedVault): AdapterConstructor {
  return class StoreAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private out(entry: OidcEntry | null): AdapterPayload | undefined {
      if (entry === null) return undefined;
      const payload = this.model === 'Client' ? openClient(entry.payload, vault) : (entry.payload as AdapterPayload);
      return entry.consumedAt === null ? payload : { ...payload, consumed: Math.floor(entry.consumedAt / 1000) };
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn > 0 ? clock.now() + expiresIn * 1000 : null;
      const stored = this.model === 'Client' ? sealClient(payload, vault) : (payload as Record<string, unknown>);
      await store.upsert(this.model, id, stored, expiresAt);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return this.out(await store.find(this.model, id, clock.now()));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.out(await store.findBy(this.model, 'uid', uid, clock.now()));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.out(await store.findBy(this.model, 'userCode', userCode, clock.now()));
    }

    async consume(id: string): Promise<void> {
      await store.consume(this.model, id, clock.now());
    }

    async destroy(id: string): Promise<void> {
      await store.destroy(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.revokeByGrantId(grantId);
    }
  };
}
