import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { expect } from 'chai';
import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';

import type { IndexedAdapterConstructor } from '../../src/store/account-index.js';

/** What a test file hands to {@link adapterSuite}: a fresh, empty adapter store. */
export interface AdapterFixture {
  /** The value for oidc-provider's `adapter` option, with its account index. */
  factory: IndexedAdapterConstructor;
  /** Called after each test. */
  cleanup(): Promise<void>;
}

/** Long enough for a 1 s TTL to have passed on Redis (ms-precise expiry) and in memory. */
const PAST_ONE_SECOND_MS = 1_150;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function payloadFor(kind: string, jti: string, extra: AdapterPayload = {}): AdapterPayload {
  const iat = nowSeconds();
  return { iat, exp: iat + 60, jti, kind, clientId: 'svc', ...extra };
}

/**
 * The storage-adapter contract oidc-provider 9 relies on, run against every implementation
 * (Redis and memory). `makeFactory` is called before each test and must return an empty store.
 * The last test runs a real `Provider` on the adapter to prove oidc-provider accepts it.
 */
export function adapterSuite(name: string, makeFactory: () => Promise<AdapterFixture>): void {
  describe(`${name}: oidc-provider adapter contract`, function () {
    let fixture: AdapterFixture;
    const adapter = (model: string): Adapter => new fixture.factory(model);

    beforeEach(async function () {
      fixture = await makeFactory();
    });

    afterEach(async function () {
      await fixture.cleanup();
    });

    it('returns what was upserted, without a consumed field', async function () {
      const tokens = adapter('AccessToken');
      const payload = payloadFor('AccessToken', 'at-1', { grantId: 'g-1', scope: 'openid', extra: { a: [1, 'b'] } });
      await tokens.upsert('at-1', payload, 60);
      expect(await tokens.find('at-1')).to.deep.equal(payload);
    });

    it('returns undefined for an unknown id, uid or user code', async function () {
      expect(await adapter('AccessToken').find('nope')).to.equal(undefined);
      expect(await adapter('Session').findByUid('nope')).to.equal(undefined);
      expect(await adapter('DeviceCode').findByUserCode('nope')).to.equal(undefined);
    });

    it('keeps models apart: the same id under two models is two records', async function () {
      await adapter('AccessToken').upsert('same', payloadFor('AccessToken', 'same'), 60);
      expect(await adapter('RefreshToken').find('same')).to.equal(undefined);
    });

    it('stores a record without expiresIn, as oidc-provider does for Client', async function () {
      const clients = adapter('Client');
      await clients.upsert('rp', { client_id: 'rp', client_secret: 's', redirect_uris: ['https://rp.test/cb'] });
      expect(await clients.find('rp')).to.deep.equal({
        client_id: 'rp',
        client_secret: 's',
        redirect_uris: ['https://rp.test/cb'],
      });
    });

    it('forgets a record and its uid and user code indexes once expiresIn has passed', async function () {
      const sessions = adapter('Session');
      const deviceCodes = adapter('DeviceCode');
      await sessions.upsert('s-1', { jti: 's-1', kind: 'Session', uid: 'u-1', exp: nowSeconds() + 1 }, 1);
      await deviceCodes.upsert('dc-1', payloadFor('DeviceCode', 'dc-1', { userCode: 'ABCD-EFGH' }), 1);
      await adapter('AccessToken').upsert('at-1', payloadFor('AccessToken', 'at-1', { grantId: 'g-1' }), 1);
      expect(await sessions.findByUid('u-1')).to.include({ jti: 's-1' });

      await sleep(PAST_ONE_SECOND_MS);

      expect(await sessions.find('s-1')).to.equal(undefined);
      expect(await sessions.findByUid('u-1')).to.equal(undefined);
      expect(await deviceCodes.findByUserCode('ABCD-EFGH')).to.equal(undefined);
      expect(await adapter('AccessToken').find('at-1')).to.equal(undefined);
    });

    it('treats an expiresIn of 0 or less as already expired, not as "never expires"', async function () {
      const interactions = adapter('Interaction');
      await interactions.upsert('i-1', { jti: 'i-1', kind: 'Interaction' }, 0);
      await interactions.upsert('i-2', { jti: 'i-2', kind: 'Interaction' }, -5);
      expect(await interactions.find('i-1')).to.equal(undefined);
      expect(await interactions.find('i-2')).to.equal(undefined);
    });

    for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'PushedAuthorizationRequest', 'PreAuthorizedCode']) {
      it(`consumes a ${model}: sets consumed to epoch seconds and keeps the payload`, async function () {
        const store = adapter(model);
        const payload = payloadFor(model, 'x-1', { grantId: 'g-1' });
        await store.upsert('x-1', payload, 60);
        const before = nowSeconds();

        await store.consume('x-1');

        const found = await store.find('x-1');
        expect(found).to.deep.include(payload);
        expect(found?.consumed).to.be.a('number').within(before, nowSeconds());
      });
    }

    it('ignores consume of an unknown id and does not create a record', async function () {
      const codes = adapter('AuthorizationCode');
      await codes.consume('gone');
      expect(await codes.find('gone')).to.equal(undefined);
    });

    it('replaces the whole record on re-upsert, consumed included', async function () {
      const codes = adapter('AuthorizationCode');
      await codes.upsert('c-1', payloadFor('AuthorizationCode', 'c-1'), 60);
      await codes.consume('c-1');
      const replacement = payloadFor('AuthorizationCode', 'c-1', { scope: 'openid email' });
      await codes.upsert('c-1', replacement, 60);
      expect(await codes.find('c-1')).to.deep.equal(replacement);
    });

    it('finds a Session by uid', async function () {
      const sessions = adapter('Session');
      const payload = { jti: 's-1', kind: 'Session', uid: 'u-1', accountId: 'acc-1' };
      await sessions.upsert('s-1', payload, 60);
      expect(await sessions.findByUid('u-1')).to.deep.equal(payload);
    });

    it('follows a Session to its new id when oidc-provider resets it (destroy old id, upsert new)', async function () {
      const sessions = adapter('Session');
      await sessions.upsert('s-old', { jti: 's-old', kind: 'Session', uid: 'u-1' }, 60);
      await sessions.destroy('s-old');
      await sessions.upsert('s-new', { jti: 's-new', kind: 'Session', uid: 'u-1' }, 60);
      expect(await sessions.findByUid('u-1')).to.include({ jti: 's-new' });
    });

    it('finds a DeviceCode by user code', async function () {
      const deviceCodes = adapter('DeviceCode');
      const payload = payloadFor('DeviceCode', 'dc-1', { userCode: 'ABCD-EFGH', grantId: 'g-1' });
      await deviceCodes.upsert('dc-1', payload, 60);
      expect(await deviceCodes.findByUserCode('ABCD-EFGH')).to.deep.equal(payload);
    });

    it('destroys a record and the indexes that point at it', async function () {
      const sessions = adapter('Session');
      const deviceCodes = adapter('DeviceCode');
      await sessions.upsert('s-1', { jti: 's-1', kind: 'Session', uid: 'u-1' }, 60);
      await deviceCodes.upsert('dc-1', payloadFor('DeviceCode', 'dc-1', { userCode: 'ABCD-EFGH' }), 60);

      await sessions.destroy('s-1');
      await deviceCodes.destroy('dc-1');
      await sessions.destroy('never-existed');

      expect(await sessions.find('s-1')).to.equal(undefined);
      expect(await sessions.findByUid('u-1')).to.equal(undefined);
      expect(await deviceCodes.find('dc-1')).to.equal(undefined);
      expect(await deviceCodes.findByUserCode('ABCD-EFGH')).to.equal(undefined);
    });

    it('revokes every token of a grant and none of another grant', async function () {
      const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode'];
      for (const model of models) {
        await adapter(model).upsert(`${model}-a`, payloadFor(model, `${model}-a`, { grantId: 'g-a' }), 60);
        await adapter(model).upsert(`${model}-b`, payloadFor(model, `${model}-b`, { grantId: 'g-b' }), 60);
      }

      await adapter('AccessToken').revokeByGrantId('g-a');

      for (const model of models) {
        expect(await adapter(model).find(`${model}-a`), `${model} of g-a`).to.equal(undefined);
        expect(await adapter(model).find(`${model}-b`), `${model} of g-b`).to.include({ grantId: 'g-b' });
      }
      await adapter('AccessToken').revokeByGrantId('g-unknown');
    });

    it('keeps one index entry per token when a token is upserted again', async function () {
      const refreshTokens = adapter('RefreshToken');
      for (const rotations of [1, 2, 3]) {
        await refreshTokens.upsert('rt-1', payloadFor('RefreshToken', 'rt-1', { grantId: 'g-1', rotations }), 60);
      }
      expect(await refreshTokens.find('rt-1')).to.include({ rotations: 3 });

      await refreshTokens.revokeByGrantId('g-1');
      expect(await refreshTokens.find('rt-1')).to.equal(undefined);

      // A destroyed token leaves the grant index, so a later revoke does not touch its id again.
      await refreshTokens.upsert('rt-2', payloadFor('RefreshToken', 'rt-2', { grantId: 'g-2' }), 60);
      await refreshTokens.destroy('rt-2');
      await refreshTokens.upsert('rt-2', payloadFor('RefreshToken', 'rt-2', { grantId: 'g-3' }), 60);
      await refreshTokens.revokeByGrantId('g-2');
      expect(await refreshTokens.find('rt-2')).to.include({ grantId: 'g-3' });
    });

    it('keeps the grant index alive as long as its longest-lived token, whatever the order of upserts', async function () {
      const accessTokens = adapter('AccessToken');
      const refreshTokens = adapter('RefreshToken');
      // Long then short: a plain EXPIRE would shorten the index to the last token's TTL.
      await refreshTokens.upsert('rt-a', payloadFor('RefreshToken', 'rt-a', { grantId: 'g-a' }), 3);
      await accessTokens.upsert('at-a', payloadFor('AccessToken', 'at-a', { grantId: 'g-a' }), 1);
      // Short then long: the index must be lengthened.
      await accessTokens.upsert('at-b', payloadFor('AccessToken', 'at-b', { grantId: 'g-b' }), 1);
      await refreshTokens.upsert('rt-b', payloadFor('RefreshToken', 'rt-b', { grantId: 'g-b' }), 3);

      await sleep(PAST_ONE_SECOND_MS);
      expect(await refreshTokens.find('rt-a')).to.include({ grantId: 'g-a' });
      expect(await refreshTokens.find('rt-b')).to.include({ grantId: 'g-b' });

      await accessTokens.revokeByGrantId('g-a');
      await accessTokens.revokeByGrantId('g-b');
      expect(await refreshTokens.find('rt-a')).to.equal(undefined);
      expect(await refreshTokens.find('rt-b')).to.equal(undefined);
    });

    describe('account index', function () {
      const session = (id: string, accountId?: string, ttl = 60): [string, AdapterPayload, number] => [
        id,
        { jti: id, kind: 'Session', uid: `uid-${id}`, ...(accountId ? { accountId } : {}), exp: nowSeconds() + ttl },
        ttl,
      ];
      const grant = (id: string, accountId: string, ttl = 60): [string, AdapterPayload, number] => [
        id,
        { jti: id, kind: 'Grant', accountId, clientId: 'rp', iat: nowSeconds(), exp: nowSeconds() + ttl },
        ttl,
      ];

      it("lists the Sessions and Grants of an account, and nobody else's", async function () {
        await adapter('Session').upsert(...session('s-a1', 'acc-a'));
        await adapter('Session').upsert(...session('s-a2', 'acc-a'));
        await adapter('Session').upsert(...session('s-b1', 'acc-b'));
        await adapter('Grant').upsert(...grant('g-a1', 'acc-a'));
        await adapter('Grant').upsert(...grant('g-b1', 'acc-b'));
        // Re-saving (oidc-provider does it on every authorization) does not duplicate an entry.
        await adapter('Grant').upsert(...grant('g-a1', 'acc-a'));

        const index = fixture.factory.accountIndex;
        expect(await index.sessionIds('acc-a')).to.deep.equal(['s-a1', 's-a2']);
        expect(await index.grantIds('acc-a')).to.deep.equal(['g-a1']);
        expect(await index.sessionIds('acc-b')).to.deep.equal(['s-b1']);
        expect(await index.grantIds('acc-b')).to.deep.equal(['g-b1']);
        expect(await index.sessionIds('acc-unknown')).to.deep.equal([]);
        expect(await index.grantIds('acc-unknown')).to.deep.equal([]);
      });

      it('indexes only Sessions and Grants that name an account', async function () {
        await adapter('Session').upsert(...session('s-anonymous'));
        await adapter('AccessToken').upsert('at-1', payloadFor('AccessToken', 'at-1', { accountId: 'acc-a', grantId: 'g-1' }), 60);
        await adapter('Interaction').upsert('i-1', { jti: 'i-1', kind: 'Interaction', accountId: 'acc-a' }, 60);
        expect(await fixture.factory.accountIndex.sessionIds('acc-a')).to.deep.equal([]);
        expect(await fixture.factory.accountIndex.grantIds('acc-a')).to.deep.equal([]);
      });

      it('forgets a destroyed Session or Grant, and a Session whose id oidc-provider reset', async function () {
        await adapter('Session').upsert(...session('s-old', 'acc-a'));
        await adapter('Grant').upsert(...grant('g-1', 'acc-a'));
        await adapter('Grant').upsert(...grant('g-2', 'acc-a'));

        await adapter('Session').destroy('s-old');
        await adapter('Session').upsert(...session('s-new', 'acc-a'));
        await adapter('Grant').destroy('g-1');

        expect(await fixture.factory.accountIndex.sessionIds('acc-a')).to.deep.equal(['s-new']);
        expect(await fixture.factory.accountIndex.grantIds('acc-a')).to.deep.equal(['g-2']);
      });

      it('moves a Session re-saved for another account', async function () {
        await adapter('Session').upsert(...session('s-1', 'acc-a'));
        await adapter('Session').upsert(...session('s-1', 'acc-b'));
        expect(await fixture.factory.accountIndex.sessionIds('acc-a')).to.deep.equal([]);
        expect(await fixture.factory.accountIndex.sessionIds('acc-b')).to.deep.equal(['s-1']);
      });

      it('drops expired records and keeps the index as long as its longest-lived record', async function () {
        // Long then short: the index must not shrink to the last record's TTL.
        await adapter('Session').upsert(...session('s-long', 'acc-a', 3));
        await adapter('Session').upsert(...session('s-short', 'acc-a', 1));
        // Short then long: the index must be lengthened.
        await adapter('Grant').upsert(...grant('g-short', 'acc-a', 1));
        await adapter('Grant').upsert(...grant('g-long', 'acc-a', 3));
        expect(await fixture.factory.accountIndex.sessionIds('acc-a')).to.deep.equal(['s-long', 's-short']);

        await sleep(PAST_ONE_SECOND_MS);

        expect(await fixture.factory.accountIndex.sessionIds('acc-a')).to.deep.equal(['s-long']);
        expect(await fixture.factory.accountIndex.grantIds('acc-a')).to.deep.equal(['g-long']);
      });
    });

    describe('inside a real oidc-provider', function () {
      let server: Server | undefined;

      afterEach(async function () {
        const running = server;
        server = undefined;
        if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
      });

      it('issues a client_credentials token that introspection finds through the adapter', async function () {
        // Our own key keeps oidc-provider from warning about its development keys.
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const secret = 'x'.repeat(32);
        const provider = new Provider('http://127.0.0.1', {
          adapter: fixture.factory,
          jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test', use: 'sig', alg: 'RS256' }] },
          clients: [
            { client_id: 'svc', client_secret: secret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
          ],
          features: {
            clientCredentials: { enabled: true },
            introspection: { enabled: true, allowedPolicy: async () => true },
            devInteractions: { enabled: false },
          },
          ttl: { ClientCredentials: 600 },
        });
        const handle = provider.callback();
        // Koa answers its own errors (ctx.onerror), so the request's promise never rejects.
        server = createServer((req, res) => void handle(req, res));
        const listening = server;
        await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
        const { port } = listening.address() as AddressInfo;
        const base = `http://127.0.0.1:${port}`;
        const authorization = `Basic ${Buffer.from(`svc:${secret}`).toString('base64')}`;
        const post = async (path: string, form: Record<string, string>): Promise<Response> =>
          fetch(`${base}${path}`, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(form),
          });

        const tokenResponse = await post('/token', { grant_type: 'client_credentials' });
        expect(tokenResponse.status).to.equal(200);
        const token = (await tokenResponse.json()) as { access_token: string; token_type: string; expires_in: number };
        expect(token).to.include({ token_type: 'Bearer', expires_in: 600 });

        // The token went through our adapter, not oidc-provider's built-in memory store.
        const stored = await new fixture.factory('ClientCredentials').find(token.access_token);
        expect(stored).to.include({ kind: 'ClientCredentials', clientId: 'svc' });

        const active = await post('/token/introspection', { token: token.access_token });
        expect(active.status).to.equal(200);
        expect(await active.json()).to.include({ active: true, client_id: 'svc', token_type: 'Bearer' });

        await new fixture.factory('ClientCredentials').destroy(token.access_token);
        const gone = await post('/token/introspection', { token: token.access_token });
        expect(await gone.json()).to.deep.equal({ active: false });
      });
    });
  });
}
