import { expect } from 'chai';

import { createRedisAdapterFactory } from '../../../src/store/redis-adapter.js';
import { createRedis, parseRedisUrl, type RedisClient } from '../../../src/store/redis.js';
import { adapterSuite } from '../../helpers/adapter-suite.js';

/** A database of its own, flushed before every test, so a developer's data in db 0 is safe. */
const TEST_DB = 14;
const baseUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The same server, database {@link TEST_DB}. Cluster has only database 0, so it is refused. */
function testDatabaseUrl(url: string): string {
  const parsed = parseRedisUrl(url);
  if (parsed.kind === 'cluster') {
    throw new Error(`the adapter tests flush database ${TEST_DB}; REDIS_URL must be a single or Sentinel Redis, not a Cluster`);
  }
  // Keep scheme, credentials and hosts as written; rebuild only the path.
  const authority = /^[^:]+:\/\/[^/?#]*/.exec(url)?.[0] ?? url;
  return parsed.kind === 'single' ? `${authority}/${TEST_DB}` : `${authority}/${encodeURIComponent(parsed.name)}/${TEST_DB}`;
}

describe('Redis adapter (integration)', function () {
  let client: RedisClient;

  before(async function () {
    client = createRedis(testDatabaseUrl(baseUrl), { lazyConnect: true });
    // Without this listener ioredis logs every failed reconnect as an unhandled error event.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw new Error(`Redis is not reachable at ${baseUrl}: start it or set REDIS_URL`, { cause: error });
    }
  });

  beforeEach(async function () {
    await client.flushdb();
  });

  after(async function () {
    await client?.quit();
  });

  adapterSuite('Redis adapter', async () => ({
    factory: createRedisAdapterFactory(client),
    cleanup: async () => {},
  }));

  describe('key layout', function () {
    it('stores every model as one string oidc:<Model>:<id>, the payload as JSON, consumed inside it', async function () {
      const Adapter = createRedisAdapterFactory(client);
      const pars = new Adapter('PushedAuthorizationRequest');
      await pars.upsert('par-1', { jti: 'par-1', kind: 'PushedAuthorizationRequest' }, 60);
      expect(await client.type('oidc:PushedAuthorizationRequest:par-1')).to.equal('string');
      await pars.consume('par-1');

      expect(await client.type('oidc:PushedAuthorizationRequest:par-1')).to.equal('string');
      const stored = JSON.parse((await client.get('oidc:PushedAuthorizationRequest:par-1'))!) as Record<string, unknown>;
      expect(stored).to.include({ jti: 'par-1', kind: 'PushedAuthorizationRequest' });
      expect(stored.consumed).to.be.a('number');
      const ttl = await client.ttl('oidc:PushedAuthorizationRequest:par-1');
      expect(ttl).to.be.within(59, 60);
    });

    it('consumes a record with an empty payload', async function () {
      const Adapter = createRedisAdapterFactory(client);
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('c-0', {}, 60);
      await codes.consume('c-0');
      expect(Object.keys((await codes.find('c-0'))!)).to.deep.equal(['consumed']);
    });

    it('keeps the first consumed mark when a record is consumed twice', async function () {
      const Adapter = createRedisAdapterFactory(client);
      const codes = new Adapter('AuthorizationCode');
      await codes.upsert('c-1', { jti: 'c-1', kind: 'AuthorizationCode' }, 60);
      await codes.consume('c-1');
      const once = await client.get('oidc:AuthorizationCode:c-1');
      await codes.consume('c-1');
      expect(await client.get('oidc:AuthorizationCode:c-1')).to.equal(once);
    });

    describe('records written before issue #15 (a hash { payload, consumed })', function () {
      async function writeOldRecord(key: string, payload: Record<string, unknown>, ttl: number): Promise<void> {
        await client.hset(key, 'payload', JSON.stringify(payload));
        await client.expire(key, ttl);
      }

      it('finds, consumes and destroys them, and cleans up their indexes', async function () {
        const Adapter = createRedisAdapterFactory(client);
        const tokens = new Adapter('RefreshToken');
        const payload = { jti: 'rt-old', kind: 'RefreshToken', grantId: 'g-old' };
        await writeOldRecord('oidc:RefreshToken:rt-old', payload, 3_600);
        await client.sadd('oidc:grant:g-old', 'oidc:RefreshToken:rt-old');

        expect(await tokens.find('rt-old')).to.deep.equal(payload);
        await tokens.consume('rt-old');
        const consumed = await tokens.find('rt-old');
        expect(consumed).to.deep.include(payload);
        expect(consumed?.consumed).to.be.a('number');

        await tokens.destroy('rt-old');
        expect(await client.exists('oidc:RefreshToken:rt-old')).to.equal(0);
        expect(await client.smembers('oidc:grant:g-old')).to.deep.equal([]);
      });

      it('finds an old Session by uid, lists it for its account, and replaces it with a string on the next upsert', async function () {
        const Adapter = createRedisAdapterFactory(client);
        const sessions = new Adapter('Session');
        const payload = { jti: 's-old', kind: 'Session', uid: 'u-old', accountId: 'acc-old' };
        await writeOldRecord('oidc:Session:s-old', payload, 3_600);
        await client.set('oidc:sessionUid:u-old', 's-old', 'EX', 3_600);
        await client.sadd('oidc:account:acc-old:Session', 's-old');

        expect(await sessions.findByUid('u-old')).to.deep.equal(payload);
        expect(await Adapter.accountIndex.sessionIds('acc-old')).to.deep.equal(['s-old']);

        await sessions.upsert('s-old', { ...payload, exp: 1 }, 3_600);
        expect(await client.type('oidc:Session:s-old')).to.equal('string');
        expect(await sessions.find('s-old')).to.deep.equal({ ...payload, exp: 1 });
      });
    });

    it('stores a Client without a TTL', async function () {
      const Adapter = createRedisAdapterFactory(client);
      await new Adapter('Client').upsert('rp', { client_id: 'rp' });
      expect(await client.ttl('oidc:Client:rp')).to.equal(-1);
    });

    it('indexes a re-upserted token once and keeps the grant set TTL at least its longest member', async function () {
      const Adapter = createRedisAdapterFactory(client);
      const refreshTokens = new Adapter('RefreshToken');
      const accessTokens = new Adapter('AccessToken');
      for (let i = 0; i < 3; i += 1) {
        await refreshTokens.upsert('rt-1', { jti: 'rt-1', kind: 'RefreshToken', grantId: 'g-1' }, 3_600);
      }
      await accessTokens.upsert('at-1', { jti: 'at-1', kind: 'AccessToken', grantId: 'g-1' }, 60);

      expect(await client.smembers('oidc:grant:g-1')).to.have.members(['oidc:RefreshToken:rt-1', 'oidc:AccessToken:at-1']);
      expect(await client.ttl('oidc:grant:g-1')).to.be.at.least(await client.ttl('oidc:RefreshToken:rt-1'));
    });

    it('indexes Sessions and Grants in a set of ids per account and model, living as long as its longest record', async function () {
      const Adapter = createRedisAdapterFactory(client);
      await new Adapter('Session').upsert('s-1', { jti: 's-1', kind: 'Session', uid: 'u-1', accountId: 'acc-1' }, 3_600);
      await new Adapter('Session').upsert('s-2', { jti: 's-2', kind: 'Session', uid: 'u-2', accountId: 'acc-1' }, 60);
      await new Adapter('Grant').upsert('g-1', { jti: 'g-1', kind: 'Grant', accountId: 'acc-1', clientId: 'rp' }, 600);

      expect(await client.type('oidc:account:acc-1:Session')).to.equal('set');
      expect(await client.smembers('oidc:account:acc-1:Session')).to.have.members(['s-1', 's-2']);
      expect(await client.smembers('oidc:account:acc-1:Grant')).to.deep.equal(['g-1']);
      expect(await client.ttl('oidc:account:acc-1:Session')).to.be.at.least(await client.ttl('oidc:Session:s-1'));
      expect(await client.ttl('oidc:account:acc-1:Grant')).to.be.at.least(await client.ttl('oidc:Grant:g-1'));

      await new Adapter('Session').destroy('s-2');
      expect(await client.smembers('oidc:account:acc-1:Session')).to.deep.equal(['s-1']);
    });

    it('prunes ids whose record is gone when the account index is read', async function () {
      const Adapter = createRedisAdapterFactory(client);
      await new Adapter('Grant').upsert('g-1', { jti: 'g-1', kind: 'Grant', accountId: 'acc-1', clientId: 'rp' }, 600);
      await new Adapter('Grant').upsert('g-2', { jti: 'g-2', kind: 'Grant', accountId: 'acc-1', clientId: 'rp' }, 600);
      // Gone without the adapter knowing (expiry, or a DEL by hand): the set still names it.
      await client.del('oidc:Grant:g-2');

      expect(await Adapter.accountIndex.grantIds('acc-1')).to.deep.equal(['g-1']);
      expect(await client.smembers('oidc:account:acc-1:Grant')).to.deep.equal(['g-1']);
    });

    it('honours the prefix option', async function () {
      const Adapter = createRedisAdapterFactory(client, { prefix: 'other:' });
      await new Adapter('Session').upsert('s-1', { jti: 's-1', kind: 'Session', uid: 'u-1' }, 60);
      expect(await client.exists('other:Session:s-1', 'other:sessionUid:u-1')).to.equal(2);
      expect(await client.keys('oidc:*')).to.deep.equal([]);
    });
  });
});
