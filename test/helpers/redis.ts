/**
 * Redis for test files that use it directly: the test database (REDIS_URL's server, TEST_REDIS_DB)
 * for one `describe` block, and a client of a Redis that is not there.
 */
import { Redis } from 'ioredis';
import { TEST_REDIS_DB, TEST_REDIS_URL } from './bootstrap.js';

/**
 * Call inside `describe`: connects to the test database before the block's tests (stopping the run
 * with a clear message when Redis is not there), hands the client to `use`, flushes the database
 * before each test and after the last one, then disconnects.
 */
export function useTestRedis(use: (redis: Redis) => void): void {
  let redis: Redis | undefined;
  before(async function () {
    const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw new Error(`Redis is needed at ${new URL(TEST_REDIS_URL).host} (db ${TEST_REDIS_DB}): ${(error as Error).message}`, {
        cause: error,
      });
    }
    redis = client;
    use(client);
  });
  beforeEach(async function () {
    await redis?.flushdb();
  });
  after(async function () {
    if (!redis) return;
    await redis.flushdb();
    redis.disconnect();
  });
}

/** A client of a Redis that is not there (port 1): every command fails at once, nothing retried. */
export function unreachableRedis(): Redis {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  down.on('error', () => undefined);
  return down;
}
