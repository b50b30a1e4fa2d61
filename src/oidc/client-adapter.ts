/**
 * What oidc-provider reads of clients and resource servers, cached: each answer (found or not) is
 * kept for `clientCacheMs`, so the token and introspection hot paths do not touch Postgres on every
 * request; every change is announced (the store's `onChange`) so that each replica drops its copy at
 * once, and the cache time only bounds a lost announcement. While Postgres is down, a cached entry
 * is served as last read.
 */
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { ClientStore } from './clients.js';
import type { ResourceServer } from './resource-servers.js';

/**
 * oidc-provider's adapter for the `Client` model: read-only, cached. A miss is cached too, so a
 * flood of unknown client ids cannot turn into a flood of Postgres queries.
 */
export function createClientAdapter(
  store: ClientStore,
  cacheMs: number,
): {
  adapter: Adapter;
  invalidate(clientId?: string): void;
} {
  const MISSING = Symbol('missing');
  const cache = new LRUCache<string, AdapterPayload | typeof MISSING>({
    // Bounded by count as `maxSize` (one per entry), not `max`, whose arrays lru-cache allocates up
    // front (≈ 0.4 MiB, resident from the start); these grow with the clients actually seen.
    maxSize: 10_000,
    sizeCalculation: () => 1,
    ttl: Math.max(cacheMs, 1),
    fetchMethod: async (clientId) => (await store.providerMetadata(clientId)) ?? MISSING,
    // PostgreSQL down: keep serving the client as last read rather than refusing every service.
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
  });
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with the CLI or the admin console, not by oidc-provider');
  };
  const adapter: Adapter = {
    async find(id) {
      if (cacheMs > 0) {
        // A fresh entry without fetch's promises (this runs on every token and introspection call).
        const hit = cache.get(id) ?? (await cache.fetch(id));
        if (hit !== undefined) return hit === MISSING ? undefined : hit;
        // Aborted by an invalidation in flight, or failed with nothing stale to serve: read afresh
        // (a storage outage then surfaces as 503, not as "no such client").
      }
      return (await store.providerMetadata(id)) ?? undefined;
    },
    upsert: readOnly,
    findByUid: readOnly,
    findByUserCode: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
  };
  return {
    adapter,
    invalidate(clientId) {
      if (clientId) cache.delete(clientId);
      else cache.clear();
    },
  };
}

/** Resource server lookups for resource indicators, cached like clients. */
export function createResourceServerCache(store: ClientStore, cacheMs: number) {
  const MISSING = Symbol('missing');
  const cache = new LRUCache<string, ResourceServer | typeof MISSING>({
    maxSize: 1_000,
    sizeCalculation: () => 1,
    ttl: Math.max(cacheMs, 1),
    fetchMethod: async (identifier) => (await store.findResourceServer(identifier)) ?? MISSING,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
  });
  return {
    async find(identifier: string): Promise<ResourceServer | undefined> {
      if (cacheMs > 0) {
        const hit = await cache.fetch(identifier);
        if (hit !== undefined) return hit === MISSING ? undefined : hit;
      }
      return store.findResourceServer(identifier);
    },
    invalidate(): void {
      cache.clear();
    },
  };
}
