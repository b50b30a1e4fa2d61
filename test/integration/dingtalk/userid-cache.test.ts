/**
 * One suite for both UseridCache implementations, then what only Redis does (key, expiry, a Redis
 * failure read as a miss). Redis: REDIS_URL, database TEST_REDIS_DB (default 15), flushed before each test.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  createMemoryUseridCache,
  createRedisUseridCache,
  USERID_TTL_SECONDS,
  useridKey,
  type UseridCache,
} from '../../../src/dingtalk/userid-cache.js';
import { unreachableRedis, useTestRedis } from '../../helpers/redis.js';

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
  useTestRedis((client) => (redis = client));

  suite('memory', () => createMemoryUseridCache());
  suite('Redis', () => createRedisUseridCache({ redis, clientId: 'app-a' }));

  it('keeps one key per app and unionId, expiring after 30 days unless used', async () => {
    await createRedisUseridCache({ redis, clientId: 'app-a' }).set('union-a', 'user-a');
    expect(await redis.get(useridKey('app-a', 'union-a'))).to.equal('user-a');
    expect(await redis.ttl(useridKey('app-a', 'union-a'))).to.be.within(USERID_TTL_SECONDS - 60, USERID_TTL_SECONDS);
    expect(await createRedisUseridCache({ redis, clientId: 'app-b' }).get('union-a')).to.equal(undefined);
  });

  it('reads a Redis failure as a miss, and says so', async () => {
    const down = unreachableRedis();
    const errors: unknown[] = [];
    const cache = createRedisUseridCache({ redis: down, clientId: 'app-a', onError: (error) => errors.push(error) });
    await cache.set('union-a', 'user-a');
    expect(await cache.get('union-a')).to.equal(undefined);
    expect(errors).to.have.length(2);
    down.disconnect();
  });
});
