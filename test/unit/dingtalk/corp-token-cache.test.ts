import { expect } from 'chai';
import { cacheTtlMs, createMemoryCorpTokenCache, DEFAULT_SAFETY_MARGIN_MS } from '../../../src/dingtalk/corp-token-cache.js';
import { createMemoryDepartmentCache } from '../../../src/dingtalk/department-cache.js';

describe('dingtalk/corp-token-cache (memory)', () => {
  it('keeps a 7200 s token for 7200 s minus the 5-minute margin', () => {
    expect(DEFAULT_SAFETY_MARGIN_MS).to.equal(300_000);
    expect(cacheTtlMs(7200, DEFAULT_SAFETY_MARGIN_MS)).to.equal(6_900_000);
  });

  it('keeps a token shorter than twice the margin for half its life, at least 1 s', () => {
    expect(cacheTtlMs(60, DEFAULT_SAFETY_MARGIN_MS)).to.equal(30_000);
    expect(cacheTtlMs(0, DEFAULT_SAFETY_MARGIN_MS)).to.equal(1000);
  });

  it('expires the token before DingTalk does', async () => {
    let now = 1_000_000;
    const cache = createMemoryCorpTokenCache({ now: () => now });
    await cache.getOrRefresh(async () => ({ token: 'T1', expiresInSeconds: 7200 }));
    now += 6_899_000;
    expect(await cache.get()).to.equal('T1');
    now += 2_000;
    expect(await cache.get()).to.equal(undefined);
  });

  it('shares one fetch among concurrent callers', async () => {
    const cache = createMemoryCorpTokenCache();
    let fetches = 0;
    const fetcher = async () => {
      fetches += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { token: 'T', expiresInSeconds: 7200 };
    };
    const tokens = await Promise.all([cache.getOrRefresh(fetcher), cache.getOrRefresh(fetcher), cache.getOrRefresh(fetcher)]);
    expect(tokens).to.deep.equal(['T', 'T', 'T']);
    expect(fetches).to.equal(1);
  });
});

describe('dingtalk/department-cache (memory)', () => {
  it('forgets names after the TTL and drops the oldest beyond the size limit', async () => {
    let now = 0;
    const cache = createMemoryDepartmentCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    await cache.set(1, 'a');
    await cache.set(2, 'b');
    await cache.set(3, 'c');
    expect(await cache.get(1)).to.equal(undefined);
    expect(await cache.get(3)).to.equal('c');
    now = 1000;
    expect(await cache.get(3)).to.equal(undefined);
  });
});
