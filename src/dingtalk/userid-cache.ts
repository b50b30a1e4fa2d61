import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * unionId → userid of the app's organisation, as `getbyunionid` answered it (§2.2). A unionId never
 * changes and neither does the userid it maps to while the person stays, so a returning person's
 * sign-in skips that call: the directory read that follows (`user/get` with the userid) still checks
 * membership, and a miss there (60121: the person left, or the userid was reassigned) forgets the
 * entry and asks `getbyunionid` again. Only members (contact_type 0) are stored.
 */
export interface UseridCache {
  get(unionId: string): Promise<string | undefined>;
  set(unionId: string, userid: string): Promise<void>;
  forget(unionId: string): Promise<void>;
}

/** How long an unused entry is kept (it is renewed at every sign-in). */
export const USERID_TTL_SECONDS = 30 * 24 * 3600;

/** Per process, bounded. */
export function createMemoryUseridCache(options: { maxEntries?: number } = {}): UseridCache {
  const entries = new LRUCache<string, string>({
    maxSize: options.maxEntries ?? 100_000,
    sizeCalculation: () => 1,
    ttl: USERID_TTL_SECONDS * 1000,
    updateAgeOnGet: true,
  });
  return {
    async get(unionId) {
      return entries.get(unionId);
    },
    async set(unionId, userid) {
      entries.set(unionId, userid);
    },
    async forget(unionId) {
      entries.delete(unionId);
    },
  };
}

/** `dingtalk:userid:<app>:<unionId>` — per app, since each app may belong to another organisation. */
export function useridKey(clientId: string, unionId: string): string {
  return `dingtalk:userid:${clientId}:${unionId}`;
}

/**
 * Shared by every replica. A Redis failure is reported and treated as a miss (the sign-in then
 * spends the one extra call), never as a failed sign-in.
 */
export function createRedisUseridCache(options: {
  redis: Redis | Cluster;
  clientId: string;
  onError?: (error: unknown) => void;
}): UseridCache {
  const { redis, clientId } = options;
  const onError = options.onError ?? (() => {});
  return {
    async get(unionId) {
      try {
        // GETEX renews the TTL: people who keep signing in keep their entry.
        return (await redis.getex(useridKey(clientId, unionId), 'EX', USERID_TTL_SECONDS)) ?? undefined;
      } catch (error) {
        onError(error);
        return undefined;
      }
    },
    async set(unionId, userid) {
      await redis.set(useridKey(clientId, unionId), userid, 'EX', USERID_TTL_SECONDS).catch(onError);
    },
    async forget(unionId) {
      await redis.del(useridKey(clientId, unionId)).catch(onError);
    },
  };
}
