import { expect } from 'chai';
import { Cluster } from 'ioredis';
import * as oidc from 'openid-client';
import type { DeepPartial } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { createRedisAdapterFactory } from '../../../src/store/redis-adapter.js';
import { checkRedisReady, createRedis, type RedisClient } from '../../../src/store/redis.js';
import { adapterSuite } from '../../helpers/adapter-suite.js';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';
import { type LoginWorld, startLoginWorld } from '../../helpers/login-flow.js';
import { type PrivateRedisCluster, redisCall, startPrivateRedisCluster } from './servers.js';
import {
  addServiceClient,
  clientCredentials,
  eventually,
  expectDiscovery,
  expectNoRedisErrors,
  introspect,
  issueToken,
  postForm,
  type ServiceClient,
  type SignedIn,
  signInThroughDingTalk,
} from './product.js';

/**
 * REDIS_URL=redis-cluster://… on a real Redis Cluster: three masters of our own (no replicas),
 * joined by `redis-cli --cluster create`. Every key the product writes lands on the master owning
 * its slot, so a multi-key command across slots (CROSSSLOT), a FLUSHDB that reaches one node only,
 * or pub/sub that stays on one node would show up here.
 */
describe('Redis Cluster (3 private masters, REDIS_URL=redis-cluster://)', function () {
  this.timeout(30_000);
  let cluster: PrivateRedisCluster;

  before(async function () {
    cluster = await startPrivateRedisCluster({ masters: 3 });
  });

  after(async function () {
    await cluster?.close();
  });

  describe('the storage adapter on Cluster', function () {
    let client: RedisClient;

    before(async function () {
      client = createRedis(cluster.url, { lazyConnect: true });
      client.on('error', () => undefined);
      await client.connect();
      expect(client).to.be.instanceOf(Cluster);
    });

    after(async function () {
      await client?.quit().catch(() => undefined);
    });

    adapterSuite('Redis adapter on Cluster', async () => {
      await cluster.flushAll();
      return { factory: createRedisAdapterFactory(client), cleanup: () => cluster.flushAll() };
    });
  });

  describe('the whole product on Cluster, two replicas sharing it', function () {
    const limits: DeepPartial<Config> = {
      rateLimits: {
        enabled: true,
        tokenFlood: { points: 10_000, durationSeconds: 10 },
        tokenFailuresPerIp: { points: 1_000, durationSeconds: 60, blockSeconds: 30 },
        tokenFailuresPerClient: { points: 1_000, durationSeconds: 60, blockSeconds: 30 },
        tokenFailuresPerClientIp: { points: 3, durationSeconds: 60, blockSeconds: 30 },
        browser: { points: 1_000, durationSeconds: 60 },
        dingtalkCallback: { points: 1_000, durationSeconds: 60 },
      },
    };
    /** TOPOLOGY_LOG_LEVEL=info shows the servers' logs (they are silent in tests). */
    const logs: DeepPartial<Config> = process.env.TOPOLOGY_LOG_LEVEL
      ? { logLevel: process.env.TOPOLOGY_LOG_LEVEL as Config['logLevel'] }
      : {};
    let world: LoginWorld;
    /** A second replica: same issuer, Postgres and Cluster, its own port and process state. */
    let replica: TestServer;
    let replicaUrl: string;
    let admin: Cluster;
    let service: ServiceClient;
    /** Clients whose secret a test rotates; registered up front (see expectRotationSeenByReplica). */
    const rotating: ServiceClient[] = [];

    before(async function () {
      await resetState();
      await cluster.flushAll();
      world = await startLoginWorld({ ...limits, ...logs, redis: { url: cluster.url } });
      replica = await startTestServer({ ...limits, ...logs, redis: { url: cluster.url }, issuer: world.server.issuer });
      replicaUrl = `http://127.0.0.1:${replica.config.port}`;
      expect(world.server.services.redis).to.be.instanceOf(Cluster);
      admin = createRedis(cluster.url) as Cluster;
      admin.on('error', () => undefined);
      service = await addServiceClient(world, 'Billing job');
      rotating.push(await addServiceClient(world, 'Rotating job'), await addServiceClient(world, 'Rotating job after the outage'));
    });

    /**
     * A client the replica has cached (oidc.clientCacheMs, 30 s) gets a new secret through the
     * first replica's store: the replica refuses the old secret well before its cache time.
     * The client is registered in before(), not here: the notification of its registration must not
     * reach the replica while the replica is reading it for the first time (an invalidation during
     * that read makes it answer "no such client", src/oidc/client-adapter.ts, see the report).
     */
    async function expectRotationSeenByReplica(index: number): Promise<void> {
      const client = rotating[index]!;
      await issueToken(replicaUrl, client);
      const secret = await world.server.services.clientStore.rotateSecret(client.clientId);
      expect(secret).to.be.a('string');
      const refused = await eventually(
        () => clientCredentials(replicaUrl, client),
        (answer) => answer.status !== 200,
        2_000,
        'the replica still accepts the old secret',
      );
      expect(refused.status, refused.text).to.equal(401);
      await issueToken(replicaUrl, { clientId: client.clientId, clientSecret: secret! });
    }

    after(async function () {
      await replica?.close();
      await world?.close();
      admin?.disconnect();
    });

    it('serves discovery, the key set and /readyz', async function () {
      await expectDiscovery(world);
    });

    it('issues client_credentials tokens that either replica introspects', async function () {
      const token = await issueToken(world.server.issuer, service);
      expect(await introspect(world.server.issuer, service, token)).to.include({ active: true, client_id: service.clientId });
      expect(await introspect(replicaUrl, service, token)).to.include({ active: true, client_id: service.clientId });
      const other = await issueToken(replicaUrl, service);
      expect(await introspect(world.server.issuer, service, other)).to.include({ active: true });
    });

    describe('a DingTalk login', function () {
      let session: SignedIn;

      it('signs in through the emulator to tokens and userinfo', async function () {
        session = await signInThroughDingTalk(world);
      });

      it('spread the provider state over every master, and shares the DingTalk app token', async function () {
        // A dozen or so keys in random slots: every master usually holds some, two at least always do.
        const counts = await cluster.keyCounts();
        const holding = Object.values(counts).filter((count) => count > 0);
        expect(holding.length, `keys per master: ${JSON.stringify(counts)}`).to.be.at.least(2);
        expect(await admin.get('dingtalk:app-token:dingtest-app'), 'the DingTalk app token').to.be.a('string');
        // The call budget's script (two keys under one hash tag: one slot) ran on the Cluster.
        const exchange = 'dingtalk:budget:{dingtest-app:/v1.0/oauth2/userAccessToken}:all';
        expect(Number(await admin.get(exchange)), 'the call budget of the code exchange').to.be.above(0);
      });

      it('refreshes, and the other replica serves userinfo for the new access token', async function () {
        const refreshed = await oidc.refreshTokenGrant(session.rp.config, session.tokens.refresh_token!);
        const userinfo = await fetch(`${replicaUrl}/me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
        expect(userinfo.status).to.equal(200);
        expect(((await userinfo.json()) as { sub: string }).sub).to.equal(session.sub);
        session = { ...session, tokens: refreshed };
      });

      it('revokes the account: introspection answers inactive, the refresh token is refused', async function () {
        const before = await oidc.tokenIntrospection(session.rp.config, session.tokens.access_token);
        expect(before.active).to.equal(true);
        const result = await world.server.services.deprovisioning.revoke(session.sub, { actor: 'test', reason: 'test.redis_cluster' });
        expect(result.sessions).to.be.at.least(1);
        expect(result.grants).to.be.at.least(1);
        expect((await oidc.tokenIntrospection(session.rp.config, session.tokens.access_token)).active).to.equal(false);
        let refused: unknown;
        try {
          await oidc.refreshTokenGrant(session.rp.config, session.tokens.refresh_token!);
        } catch (error) {
          refused = error;
        }
        expect(refused, 'refresh after revocation').to.have.property('error', 'invalid_grant');
      });
    });

    // After the login (mocha runs a suite's own tests before its nested suites).
    describe('replicas sharing the Cluster', function () {
      it('tells the other replica of a rotated secret at once (pub/sub across the Cluster)', async function () {
        await expectRotationSeenByReplica(0);
      });

      it('counts failed client authentication in the Cluster, shared by both replicas (429 + Retry-After)', async function () {
        const victim = await addServiceClient(world, 'Victim');
        const wrong = { ...victim, clientSecret: 'wrong' };
        // Two failures at each replica: 4 > 3 only when they count together.
        for (const base of [world.server.issuer, world.server.issuer, replicaUrl, replicaUrl]) {
          expect((await clientCredentials(base, wrong)).status).to.equal(401);
        }
        const refused = await clientCredentials(replicaUrl, victim);
        expect(refused.status, refused.text).to.equal(429);
        expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 30);
        expect(refused.body).to.include({ error: 'temporarily_unavailable' });
        const counter = await admin.get(`ratelimit:tokenFailuresPerClientIp:${victim.clientId}|127.0.0.1`);
        expect(Number(counter)).to.be.at.least(4);
        // Another client from the same address is not affected.
        expect((await clientCredentials(replicaUrl, service)).status).to.equal(200);
      });

      it('limits browser routes per address in the Cluster too', async function () {
        // Sign-in routes count per browser under one per-address ceiling (rate-limit.ts).
        expect(await admin.exists('ratelimit:browserPerAddress:127.0.0.1')).to.equal(1);
      });

      it('revokes a token at one replica: inactive at the other', async function () {
        const token = await issueToken(world.server.issuer, service);
        const revoked = await postForm(replicaUrl, '/token/revocation', { token }, service);
        expect(revoked.status, revoked.text).to.equal(200);
        expect(await introspect(world.server.issuer, service, token)).to.deep.equal({ active: false });
      });

      it('counted no Redis error anywhere (no CROSSSLOT, no fallback to memory)', async function () {
        await expectNoRedisErrors(world.server.issuer);
        await expectNoRedisErrors(replicaUrl);
      });
    });

    describe('while one master is down (cluster_state:fail), and after it is back', function () {
      before(async function () {
        const [alive, , dead] = cluster.ports;
        await cluster.stopNode(dead!);
        await eventually(
          async () => String(await redisCall(alive!, 'CLUSTER', 'INFO')),
          (info) => info.includes('cluster_state:fail'),
          10_000,
          'the surviving masters did not mark the Cluster failed',
        );
      });

      after(async function () {
        await cluster.start();
      });

      // Needs src/store/unavailable.ts to know a MULTI refused with EXECABORT (see the report). Several
      // tokens at once: each lands in a random slot, and a slot of a live master fails that way,
      // one of the stopped master with "Connection is closed".
      it('answers token requests with 503 temporarily_unavailable within 3 s', async function () {
        const started = Date.now();
        const answers = await Promise.all(Array.from({ length: 6 }, () => clientCredentials(world.server.issuer, service)));
        expect(Date.now() - started, 'no hang').to.be.below(3_000);
        for (const answer of answers) {
          expect(answer.status, answer.text).to.equal(503);
          expect(answer.body.error).to.equal('temporarily_unavailable');
        }
      });

      // Needs src/store/unavailable.ts to know ioredis's "Too many Cluster redirections. Last error:
      // ReplyError: CLUSTERDOWN …" (see the report); a MULTI fails with CLUSTERDOWN itself.
      it('answers introspection with 503 temporarily_unavailable too (a read, not a MULTI)', async function () {
        const answer = await postForm(world.server.issuer, '/token/introspection', { token: 'x'.repeat(43) }, service);
        expect(answer.status, answer.text).to.equal(503);
        expect(answer.body.error).to.equal('temporarily_unavailable');
      });

      it('is seen by checkRedisReady, though a node still answers PING', async function () {
        expect(await admin.ping()).to.equal('PONG');
        let failure: unknown;
        await checkRedisReady(admin).catch((error: unknown) => {
          failure = error;
        });
        expect(failure, 'checkRedisReady on a failed Cluster').to.be.instanceOf(Error);
        expect((failure as Error).message).to.match(/^CLUSTERDOWN/);
      });

      // Needs src/app/compose.ts to use checkRedisReady for its `redis` readiness check (see the report).
      it('reports not ready (PONG from a node is not a serving Cluster)', async function () {
        const ready = await fetch(`${world.server.issuer}/readyz`, { signal: AbortSignal.timeout(10_000) });
        expect(ready.status, await ready.text()).to.equal(503);
      });

      it('serves tokens again once the master is back', async function () {
        await cluster.start();
        await checkRedisReady(admin);
        await eventually(
          () => clientCredentials(world.server.issuer, service),
          (answer) => answer.status === 200,
          10_000,
          'tokens after the master came back',
        );
      });
    });

    describe('while the whole Cluster is down, and after it is back', function () {
      before(async function () {
        await cluster.stop();
      });

      after(async function () {
        await cluster.start();
      });

      it('answers a token request with 503 temporarily_unavailable within 3 s (no hang)', async function () {
        const started = Date.now();
        const answer = await clientCredentials(world.server.issuer, service);
        const ms = Date.now() - started;
        expect(ms, 'no hang').to.be.below(3_000);
        expect(answer.status, answer.text).to.equal(503);
        expect(answer.body.error).to.equal('temporarily_unavailable');
      });

      it('reports not ready within 3 s', async function () {
        const started = Date.now();
        const ready = await fetch(`${world.server.issuer}/readyz`, { signal: AbortSignal.timeout(10_000) });
        expect(Date.now() - started, 'no hang').to.be.below(3_000);
        expect(ready.status).to.equal(503);
      });

      it('serves tokens again once the Cluster is back, without a restart', async function () {
        await cluster.start();
        const ready = await eventually(
          () => fetch(`${world.server.issuer}/readyz`, { signal: AbortSignal.timeout(3_000) }),
          (response) => response.status === 200,
          10_000,
          '/readyz after the Cluster came back',
        );
        expect(ready.status).to.equal(200);
        const token = await issueToken(replicaUrl, service);
        expect(await introspect(world.server.issuer, service, token)).to.include({ active: true });
      });

      it('delivers change notifications again (the pub/sub connection came back too)', async function () {
        await expectRotationSeenByReplica(1);
      });
    });
  });
});
