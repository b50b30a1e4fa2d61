/**
 * One suite for every CorpTokenCache implementation (memory, Redis), plus what only Redis does:
 * the key and TTL, one refresh across replicas, and degrading when Redis is down.
 * Redis: `REDIS_URL` (default redis://127.0.0.1:6379), database 13, flushed before each test.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import {
  appTokenKey,
  createMemoryCorpTokenCache,
  createRedisCorpTokenCache,
  type AppTokenGrant,
  type CorpTokenCache,
} from '../../../src/dingtalk/corp-token-cache.js';
import { PEOPLE, clientFor, startEmulator } from './harness.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLIENT_ID = 'dingcachetest';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function countingFetcher(token: string, delayMs = 0): { fetcher: () => Promise<AppTokenGrant>; count: () => number } {
  let calls = 0;
  return {
    fetcher: async () => {
      calls += 1;
      if (delayMs > 0) await sleep(delayMs);
      return { token, expiresInSeconds: 7200 };
    },
    count: () => calls,
  };
}

function connect(): Redis {
  const client = new Redis(REDIS_URL, { db: 13, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  // Failures surface as rejected commands (and the `before` hook's message); no duplicate log spam.
  client.on('error', () => undefined);
  return client;
}

/** The behaviour every implementation must have. */
function corpTokenCacheSuite(name: string, make: () => CorpTokenCache): void {
  describe(`CorpTokenCache contract: ${name}`, () => {
    let cache: CorpTokenCache;
    beforeEach(() => {
      cache = make();
    });

    it('is empty at first', async () => {
      expect(await cache.get()).to.equal(undefined);
    });

    it('fetches once and then serves the cached token', async () => {
      const { fetcher, count } = countingFetcher('T1');
      expect(await cache.getOrRefresh(fetcher)).to.equal('T1');
      expect(await cache.getOrRefresh(fetcher)).to.equal('T1');
      expect(await cache.get()).to.equal('T1');
      expect(count()).to.equal(1);
    });

    it('shares one fetch among concurrent callers', async () => {
      const { fetcher, count } = countingFetcher('T2', 30);
      const tokens = await Promise.all(Array.from({ length: 5 }, () => cache.getOrRefresh(fetcher)));
      expect(new Set(tokens)).to.deep.equal(new Set(['T2']));
      expect(count()).to.equal(1);
    });

    it('forgets a token DingTalk rejected, and then fetches a new one', async () => {
      await cache.getOrRefresh(countingFetcher('OLD').fetcher);
      await cache.invalidate('OLD');
      expect(await cache.get()).to.equal(undefined);
      expect(await cache.getOrRefresh(countingFetcher('NEW').fetcher)).to.equal('NEW');
    });

    it('keeps a newer token when an older one is invalidated', async () => {
      await cache.getOrRefresh(countingFetcher('NEW').fetcher);
      await cache.invalidate('OLD');
      expect(await cache.get()).to.equal('NEW');
    });

    it('propagates a failed fetch and tries again next time', async () => {
      const failure = new Error('DingTalk down');
      let thrown: unknown;
      try {
        await cache.getOrRefresh(async () => {
          throw failure;
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).to.equal(failure);
      expect(await cache.getOrRefresh(countingFetcher('AFTER').fetcher)).to.equal('AFTER');
    });
  });
}

describe('dingtalk corp-token-cache', () => {
  const redis = connect();
  const others: Redis[] = [];

  before(async () => {
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      throw new Error(`Redis is unreachable at ${REDIS_URL} (${String(error)}). Start Redis or set REDIS_URL; these tests never skip.`, {
        cause: error,
      });
    }
  });

  beforeEach(async () => {
    await redis.flushdb();
  });

  after(async () => {
    await Promise.all([redis, ...others].map((client) => client.quit().catch(() => undefined)));
  });

  corpTokenCacheSuite('memory', () => createMemoryCorpTokenCache());
  corpTokenCacheSuite('redis', () => createRedisCorpTokenCache({ redis, clientId: CLIENT_ID }));

  describe('Redis specifics', () => {
    it('stores the token under dingtalk:app-token:<clientId> for expireIn minus 5 minutes', async () => {
      const cache = createRedisCorpTokenCache({ redis, clientId: CLIENT_ID });
      await cache.getOrRefresh(countingFetcher('T').fetcher);
      expect(appTokenKey(CLIENT_ID)).to.equal(`dingtalk:app-token:${CLIENT_ID}`);
      expect(await redis.get(`dingtalk:app-token:${CLIENT_ID}`)).to.equal('T');
      const ttl = await redis.pttl(`dingtalk:app-token:${CLIENT_ID}`);
      expect(ttl).to.be.within(6_890_000, 6_900_000);
      expect(await redis.exists(`dingtalk:app-token:${CLIENT_ID}:lock`)).to.equal(0);
    });

    it('lets only one replica refresh; the others read its token', async () => {
      const replicas = Array.from({ length: 3 }, () => {
        const connection = connect();
        others.push(connection);
        return createRedisCorpTokenCache({ redis: connection, clientId: CLIENT_ID, pollIntervalMs: 10 });
      });
      const { fetcher, count } = countingFetcher('SHARED', 80);
      const tokens = await Promise.all(replicas.map((replica) => replica.getOrRefresh(fetcher)));
      expect(tokens).to.deep.equal(['SHARED', 'SHARED', 'SHARED']);
      expect(count()).to.equal(1);
    });

    it('fetches itself when the lock holder never finishes', async () => {
      await redis.set(`dingtalk:app-token:${CLIENT_ID}:lock`, 'someone-else', 'PX', 10_000);
      const cache = createRedisCorpTokenCache({ redis, clientId: CLIENT_ID, pollIntervalMs: 10, waitTimeoutMs: 100 });
      const started = Date.now();
      expect(await cache.getOrRefresh(countingFetcher('MINE').fetcher)).to.equal('MINE');
      expect(Date.now() - started).to.be.within(90, 1000);
    });

    it('competes again as soon as a failed holder releases the lock', async () => {
      const holder = createRedisCorpTokenCache({ redis, clientId: CLIENT_ID });
      const waiterConnection = connect();
      others.push(waiterConnection);
      const waiter = createRedisCorpTokenCache({ redis: waiterConnection, clientId: CLIENT_ID, pollIntervalMs: 10 });
      const failing = holder.getOrRefresh(async () => {
        await sleep(50);
        throw new Error('DingTalk down');
      });
      await sleep(10);
      const waited = waiter.getOrRefresh(countingFetcher('SECOND').fetcher);
      await failing.catch(() => undefined);
      expect(await waited).to.equal('SECOND');
    });

    it('degrades to fetching directly when Redis is down, reporting the error', async () => {
      const dead = new Redis({
        port: 1,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      const errors: unknown[] = [];
      const cache = createRedisCorpTokenCache({ redis: dead, clientId: CLIENT_ID, onError: (error) => errors.push(error) });
      expect(await cache.getOrRefresh(countingFetcher('DIRECT').fetcher)).to.equal('DIRECT');
      expect(errors).to.have.lengthOf.above(0);
      dead.disconnect();
    });

    it('shares one app token between two client replicas talking to the emulator', async () => {
      const harness = await startEmulator();
      try {
        const a = clientFor(harness.url, { tokenCache: createRedisCorpTokenCache({ redis, clientId: CLIENT_ID }) });
        const second = connect();
        others.push(second);
        const b = clientFor(harness.url, { tokenCache: createRedisCorpTokenCache({ redis: second, clientId: CLIENT_ID }) });
        await Promise.all([a.getUser(PEOPLE.platform.userid), b.getUser(PEOPLE.admin.userid)]);
        await b.getDepartment(101);
        expect(harness.emulator.state.countCalls('/v1.0/oauth2/accessToken')).to.equal(1);
      } finally {
        await harness.server.close();
      }
    });

    it('replaces a token the emulator expired, for every replica', async () => {
      const harness = await startEmulator();
      try {
        const cache = createRedisCorpTokenCache({ redis, clientId: CLIENT_ID });
        const client = clientFor(harness.url, { tokenCache: cache });
        const old = await client.getAppAccessToken();
        harness.emulator.state.expireAppTokens();
        await client.getUser(PEOPLE.platform.userid);
        const fresh = await redis.get(appTokenKey(CLIENT_ID));
        expect(fresh).to.be.a('string').and.not.equal(old);
      } finally {
        await harness.server.close();
      }
    });
  });
});
