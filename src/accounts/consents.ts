import type { Models } from '../db/models/index.js';

export interface ConsentGrant {
  scopes: string[];
  claims: string[];
  resourceScopes: Record<string, string[]>;
}

/** Consent remembered per account and application, across sessions (Postgres). */
export function createConsentStore(models: Models) {
  const { Consent } = models;
  return {
    async find(accountId: string, clientId: string): Promise<ConsentGrant | undefined> {
      const row = await Consent.findOne({ where: { accountId, clientId } });
      return row ? { scopes: row.scopes, claims: row.claims, resourceScopes: row.resourceScopes } : undefined;
    },
    /** Add to what was allowed before (a consent only grows until it is revoked). */
    async remember(accountId: string, clientId: string, given: ConsentGrant): Promise<void> {
      const row = await Consent.findOne({ where: { accountId, clientId } });
      const union = (a: string[] = [], b: string[] = []): string[] => [...new Set([...a, ...b])].sort();
      const merged: ConsentGrant = {
        scopes: union(row?.scopes, given.scopes),
        claims: union(row?.claims, given.claims),
        resourceScopes: { ...row?.resourceScopes },
      };
      for (const [resource, scopes] of Object.entries(given.resourceScopes)) {
        merged.resourceScopes[resource] = union(merged.resourceScopes[resource], scopes);
      }
      if (row) await row.update(merged);
      else await Consent.create({ accountId, clientId, ...merged });
    },
    async revoke(accountId: string, clientId?: string): Promise<number> {
      return Consent.destroy({ where: clientId ? { accountId, clientId } : { accountId } });
    },
  };
}

export type ConsentStore = ReturnType<typeof createConsentStore>;
