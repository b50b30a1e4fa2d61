import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from './redis.js';

/** One limit's counter: `ratelimit:<name>` keys, `points` per `duration` seconds, then blocked for `blockDuration`. */
export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
  blockDuration: number;
}

/**
 * Counters that every replica shares (http/middleware/rate-limit.ts): Redis, or this process's
 * memory. `onFallback` is told each time a Redis counter had to count in memory instead.
 */
export type SharedLimiters = (options: LimiterOptions, onFallback: () => void) => RateLimiterAbstract;

/**
 * In Redis, with an in-memory `insuranceLimiter` and `rejectIfRedisNotReady`, so an outage neither
 * fails requests nor makes them wait.
 */
export function createRedisLimiters(redis: RedisClient): SharedLimiters {
  return (options, onFallback) =>
    new RateLimiterRedis({
      ...options,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new InsuranceLimiter(options, onFallback),
    });
}

/** In this process (no Redis): N replicas allow N × the limit. */
export function createMemoryLimiters(): SharedLimiters {
  return (options) => new RateLimiterMemory(options);
}

/** Counts in memory while Redis is unreachable, and says so. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    this.onUse();
    return super.consume(key, points, options);
  }
}
