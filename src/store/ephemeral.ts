import { LRUCache } from 'lru-cache';
import type { RedisClient } from './redis.js';

/**
 * Short-lived, single-use values (login `state`, hand-over tokens): Redis when configured, so every
 * replica sees them, memory otherwise. `take` reads and deletes in one step (GETDEL), so a value
 * can be used once even when two requests race for it.
 */
export interface EphemeralStore {
  put(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  take<T>(key: string): Promise<T | undefined>;
}

export function createRedisEphemeralStore(redis: RedisClient): EphemeralStore {
  return {
    async put(key, value, ttlSeconds) {
      await redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
    },
    async take(key) {
      const raw = await redis.getdel(key);
      return raw === null ? undefined : (JSON.parse(raw) as never);
    },
  };
}

export function createMemoryEphemeralStore(): EphemeralStore {
  const cache = new LRUCache<string, string>({ max: 50_000, ttlAutopurge: false });
  return {
    async put(key, value, ttlSeconds) {
      cache.set(key, JSON.stringify(value), { ttl: ttlSeconds * 1000 });
    },
    async take(key) {
      const raw = cache.get(key);
      cache.delete(key);
      return raw === undefined ? undefined : (JSON.parse(raw) as never);
    },
  };
}
