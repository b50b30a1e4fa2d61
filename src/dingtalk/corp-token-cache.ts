import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A freshly fetched token and its lifetime as DingTalk reported it (`expireIn`, seconds). */
export interface AppTokenGrant {
  token: string;
  expiresInSeconds: number;
}

/**
 * Where the client keeps its app access token (§2.1). DingTalk hands out one token per app, valid
 * 7200 s, returns the same token while it is valid and throttles apps that ask too often (§6.2/9), so
 * the token is fetched once and shared: per process in memory, or across replicas in Redis.
 */
export interface CorpTokenCache {
  /** The cached token, or `undefined` when none is cached (or it is about to expire). */
  get(): Promise<string | undefined>;
  /**
   * The cached token, or else the result of `fetcher` (which is then cached). Concurrent callers
   * share one fetch.
   */
  getOrRefresh(fetcher: () => Promise<AppTokenGrant>): Promise<string>;
  /**
   * Forgets `token` after DingTalk rejected it (40014 / 42001 / `InvalidAuthentication`). A token
   * that has already been replaced by a newer one is left alone, so a slow replica cannot evict a
   * fresh token.
   */
  invalidate(token: string): Promise<void>;
}

/** Default safety margin: refresh ~5 minutes before DingTalk's expiry (official guidance: ~7000 s). */
export const DEFAULT_SAFETY_MARGIN_MS = 5 * 60 * 1000;

/**
 * How long to keep a token: its lifetime minus the safety margin, or half its lifetime when it is
 * shorter than the margin (only ever seen with test doubles), but never less than 1 s.
 */
export function cacheTtlMs(expiresInSeconds: number, safetyMarginMs: number): number {
  const lifetimeMs = Math.max(0, expiresInSeconds * 1000);
  const ttl = lifetimeMs > safetyMarginMs * 2 ? lifetimeMs - safetyMarginMs : lifetimeMs / 2;
  return Math.max(1000, Math.floor(ttl));
}

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/** Options of {@link createMemoryCorpTokenCache}. */
export interface MemoryCorpTokenCacheOptions {
  safetyMarginMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A per-process cache with single-flight refresh. Fine for one replica and for tests. */
export function createMemoryCorpTokenCache(options: MemoryCorpTokenCacheOptions = {}): CorpTokenCache {
  const safetyMarginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const now = options.now ?? Date.now;
  let entry: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  const read = (): string | undefined => (entry !== undefined && entry.expiresAt > now() ? entry.token : undefined);

  return {
    async get() {
      return read();
    },
    getOrRefresh(fetcher) {
      const cached = read();
      if (cached !== undefined) return Promise.resolve(cached);
      inflight ??= (async () => {
        try {
          const grant = await fetcher();
          entry = { token: grant.token, expiresAt: now() + cacheTtlMs(grant.expiresInSeconds, safetyMarginMs) };
          return grant.token;
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
    async invalidate(token) {
      if (entry?.token === token) entry = undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis (single, Sentinel or Cluster)
// ---------------------------------------------------------------------------------------------

/** Options of {@link createRedisCorpTokenCache}. */
export interface RedisCorpTokenCacheOptions {
  /** A connected ioredis client; the cache never closes it. */
  redis: Redis | Cluster;
  /** The DingTalk app's Client ID (AppKey); tokens are per app. */
  clientId: string;
  safetyMarginMs?: number;
  /** Lifetime of the refresh lock; should exceed one token fetch (timeout × attempts). Default 10 s. */
  lockTtlMs?: number;
  /** How often a replica that lost the lock race looks for the winner's token. Default 50 ms. */
  pollIntervalMs?: number;
  /** How long a replica waits for the winner before fetching itself. Default `lockTtlMs`. */
  waitTimeoutMs?: number;
  /**
   * Called when Redis fails. The cache then degrades to fetching from DingTalk directly (which
   * returns the same token while it is valid), so a Redis outage does not block logins.
   */
  onError?: (error: unknown) => void;
}

// Compare-and-delete: only remove the key if it still holds the value we know about. One key per
// script, so it is valid on Redis Cluster without hash tags.
const DELETE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Key holding the token: `dingtalk:app-token:<clientId>`. */
export function appTokenKey(clientId: string): string {
  return `dingtalk:app-token:${clientId}`;
}

/** A cache shared by all replicas through Redis. */
export function createRedisCorpTokenCache(options: RedisCorpTokenCacheOptions): CorpTokenCache {
  const { redis } = options;
  const key = appTokenKey(options.clientId);
  const lockKey = `${key}:lock`;
  const safetyMarginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const lockTtlMs = options.lockTtlMs ?? 10_000;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  const waitTimeoutMs = options.waitTimeoutMs ?? lockTtlMs;
  const onError = options.onError ?? (() => {});
  let inflight: Promise<string> | undefined;

  async function readToken(): Promise<string | undefined> {
    try {
      return (await redis.get(key)) ?? undefined;
    } catch (error) {
      onError(error);
      return undefined;
    }
  }

  async function fetchAndStore(fetcher: () => Promise<AppTokenGrant>): Promise<string> {
    const grant = await fetcher();
    try {
      await redis.set(key, grant.token, 'PX', cacheTtlMs(grant.expiresInSeconds, safetyMarginMs));
    } catch (error) {
      onError(error);
    }
    return grant.token;
  }

  async function refresh(fetcher: () => Promise<AppTokenGrant>): Promise<string> {
    const lockValue = randomUUID();
    let acquired: boolean;
    try {
      acquired = (await redis.set(lockKey, lockValue, 'PX', lockTtlMs, 'NX')) === 'OK';
    } catch (error) {
      onError(error);
      return fetchAndStore(fetcher);
    }
    if (acquired) {
      try {
        // Another replica may have stored a token between our miss and our lock.
        return (await readToken()) ?? (await fetchAndStore(fetcher));
      } finally {
        await redis.eval(DELETE_IF_EQUALS, 1, lockKey, lockValue).catch(onError);
      }
    }
    const deadline = Date.now() + waitTimeoutMs;
    while (Date.now() < deadline) {
      await sleep(pollIntervalMs);
      const token = await readToken();
      if (token !== undefined) return token;
      // The winner failed or gave up: compete again rather than wait out the whole lock.
      const lockHeld = await redis.exists(lockKey).catch((error: unknown) => {
        onError(error);
        return 1;
      });
      if (lockHeld === 0) return refresh(fetcher);
    }
    // The holder is stuck; DingTalk returns the same token anyway, so fetching too is harmless.
    return fetchAndStore(fetcher);
  }

  return {
    get: readToken,
    async getOrRefresh(fetcher) {
      const cached = await readToken();
      if (cached !== undefined) return cached;
      inflight ??= refresh(fetcher).finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    async invalidate(token) {
      try {
        await redis.eval(DELETE_IF_EQUALS, 1, key, token);
      } catch (error) {
        onError(error);
      }
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
