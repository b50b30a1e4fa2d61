/**
 * One suite for both UseridCache implementations, then what only Redis does (key, expiry, a Redis
 * failure read as a miss). Redis: REDIS_URL, database TEST_REDIS_DB (default 15), flushed before each test.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import {
  createMemoryUseridCache,
  createRedisUseridCache,
  USERID_TTL_SECONDS,
  useridKey,
  type UseridCache,
} from '../../../src/dingtalk/userid-cache.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_DB = Number(process.env.TEST_REDIS_DB ?? 15);

function suite(name: string, make: () => UseridCache): void {
  describe(`UseridCache contract: ${name}`, () => {
    it('returns what was stored, per unionId, until forgotten', async () => {
      const cache = make();
      expect(await cache.get('union-a')).to.equal(undefined);
      await cache.set('union-a', 'user-a');
      await cache.set('union-b', 'user-b');
      expect(await cache.get('union-a')).to.equal('user-a');
      await cache.forget('union-a');
      expect(await cache.get('union-a')).to.equal(undefined);
      expect(await cache.get('union-b')).to.equal('user-b');
    });
  });
}

describe('DingTalk unionId → userid cache', () => {
  let redis: Redis;
  before(async () => {
    redis = new Redis(REDIS_URL, { db: REDIS_DB, lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
    } catch (error) {
      throw new Error(`Redis is needed at ${REDIS_URL} (db ${REDIS_DB}): ${(error as Error).message}`, { cause: error });
    }
  });
  beforeEach(async () => {
    await redis.flushdb();
  });
  after(async () => {
    await redis.flushdb();
    redis.disconnect();
  });

  suite('memory', () => createMemoryUseridCache());
  suite('Redis', () => createRedisUseridCache({ redis, clientId: 'app-a' }));

  it('keeps one key per app and unionId, expiring after 30 days unless used', async () => {
    await createRedisUseridCache({ redis, clientId: 'app-a' }).set('union-a', 'user-a');
    expect(await redis.get(useridKey('app-a', 'union-a'))).to.equal('user-a');
    expect(await redis.ttl(useridKey('app-a', 'union-a'))).to.be.within(USERID_TTL_SECONDS - 60, USERID_TTL_SECONDS);
    expect(await createRedisUseridCache({ redis, clientId: 'app-b' }).get('union-a')).to.equal(undefined);
  });

  it('reads a Redis failure as a miss, and says so', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    down.on('error', () => undefined);
    const errors: unknown[] = [];
    const cache = createRedisUseridCache({ redis: down, clientId: 'app-a', onError: (error) => errors.push(error) });
    await cache.set('union-a', 'user-a');
    expect(await cache.get('union-a')).to.equal(undefined);
    expect(errors).to.have.length(2);
    down.disconnect();
  });
});
