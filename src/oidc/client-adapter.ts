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
 * One cached lookup by key: each answer, found or not (a miss is cached too, so a flood of unknown
 * keys cannot turn into a flood of Postgres queries), is kept for `cacheMs` (0: no cache), at most
 * `max` of them. While Postgres is down a cached entry is served as last read; with nothing to
 * serve, the key is read afresh (a storage outage then surfaces as 503, not as "not found").
 */
function cachedLookup<T extends object>(
  read: (key: string) => Promise<T | undefined>,
  cacheMs: number,
  max: number,
): { find(key: string): Promise<T | undefined>; invalidate(key?: string): void } {
  const MISSING = Symbol('missing');
  const cache = new LRUCache<string, T | typeof MISSING>({
    // Bounded by count as `maxSize` (one per entry), not `max`, whose arrays lru-cache allocates up
    // front (resident from the start); these grow with the keys actually seen.
    maxSize: max,
    sizeCalculation: () => 1,
    ttl: Math.max(cacheMs, 1),
    fetchMethod: async (key) => (await read(key)) ?? MISSING,
    // PostgreSQL down: keep serving the entry as last read rather than refusing every service.
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
  });
  return {
    async find(key) {
      if (cacheMs > 0) {
        // A fresh entry without fetch's promises (this runs on every token and introspection call).
        const hit = cache.get(key) ?? (await cache.fetch(key));
        if (hit !== undefined) return hit === MISSING ? undefined : hit;
        // Aborted by an invalidation in flight, or failed with nothing stale to serve: read afresh.
      }
      return read(key);
    },
    invalidate(key) {
      if (key) cache.delete(key);
      else cache.clear();
    },
  };
}

/** oidc-provider's adapter for the `Client` model: read-only, cached (10 000 clients at most). */
export function createClientAdapter(
  store: ClientStore,
  cacheMs: number,
): {
  adapter: Adapter;
  invalidate(clientId?: string): void;
} {
  const clients = cachedLookup<AdapterPayload>((clientId) => store.providerMetadata(clientId), cacheMs, 10_000);
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with the CLI or the admin console, not by oidc-provider');
  };
  const adapter: Adapter = {
    find: (id) => clients.find(id),
    upsert: readOnly,
    findByUid: readOnly,
    findByUserCode: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
  };
  return { adapter, invalidate: (clientId) => clients.invalidate(clientId) };
}

/** Resource server lookups for resource indicators, cached like clients (1 000 at most). */
export function createResourceServerCache(store: ClientStore, cacheMs: number) {
  const servers = cachedLookup<ResourceServer>((identifier) => store.findResourceServer(identifier), cacheMs, 1_000);
  return {
    find: (identifier: string): Promise<ResourceServer | undefined> => servers.find(identifier),
    invalidate: (): void => servers.invalidate(),
  };
}
