import { LRUCache } from 'lru-cache';

import type { RedisClient } from './redis.js';

/**
 * Short-lived flags shared by every replica: "this DingTalk event was handled", "this person was a
 * member a minute ago". Redis when configured, memory otherwise. Single-key commands only, so it
 * works on Redis Cluster.
 */
export interface MarkerStore {
  /** Sets `key` unless it is set (SET NX EX); true when this call set it. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  has(key: string): Promise<boolean>;
  set(key: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export function createRedisMarkerStore(redis: RedisClient): MarkerStore {
  return {
    async claim(key, ttlSeconds) {
      return (await redis.set(key, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async has(key) {
      return (await redis.exists(key)) === 1;
    },
    async set(key, ttlSeconds) {
      await redis.set(key, '1', 'EX', ttlSeconds);
    },
    async delete(key) {
      await redis.del(key);
    },
  };
}

/** One process only: for development without Redis, and tests. */
export function createMemoryMarkerStore(max = 100_000): MarkerStore {
  const cache = new LRUCache<string, true>({ max });
  return {
    async claim(key, ttlSeconds) {
      if (cache.has(key)) return false;
      cache.set(key, true, { ttl: ttlSeconds * 1000 });
      return true;
    },
    async has(key) {
      return cache.has(key);
    },
    async set(key, ttlSeconds) {
      cache.set(key, true, { ttl: ttlSeconds * 1000 });
    },
    async delete(key) {
      cache.delete(key);
    },
  };
}
