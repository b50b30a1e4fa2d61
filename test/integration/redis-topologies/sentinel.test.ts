import { expect } from 'chai';
import * as oidc from 'openid-client';
import { resetState } from '../../helpers/bootstrap.js';
import { type LoginWorld, startLoginWorld } from '../../helpers/login-flow.js';
import { type PrivateRedisSentinel, redisCall, redisInfo, startPrivateRedisSentinel } from './servers.js';
import {
  addServiceClient,
  clientCredentials,
  eventually,
  expectDiscovery,
  expectNoRedisErrors,
  introspect,
  issueToken,
  type ServiceClient,
  type SignedIn,
  signInThroughDingTalk,
} from './product.js';

/**
 * REDIS_URL=redis-sentinel://… on a real Sentinel group: a master, its replica and two Sentinels of
 * our own (quorum 1). The product must find the master through the Sentinels, and follow it when
 * the Sentinels promote the replica: tokens issued before keep working, and what is written after
 * lands on the new master (not on the demoted one, whose data the resync would wipe).
 */
describe('Redis Sentinel (private master + replica, 2 Sentinels, REDIS_URL=redis-sentinel://)', function () {
  this.timeout(30_000);
  let sentinel: PrivateRedisSentinel;
  let world: LoginWorld;
  let service: ServiceClient;
  /**
   * Registered up front: the notification of a registration must not arrive while the server reads
   * the new client for the first time (that read then answers "no such client", src/oidc/client-adapter.ts).
   */
  let rotating: ServiceClient;

  before(async function () {
    sentinel = await startPrivateRedisSentinel({ sentinels: 2, replica: true });
    await resetState();
    world = await startLoginWorld({ redis: { url: sentinel.url } });
    service = await addServiceClient(world, 'Billing job');
    rotating = await addServiceClient(world, 'Rotating job');
  });

  after(async function () {
    await world?.close();
    await sentinel?.close();
  });

  /** Is this record (an `oidc:<Model>:<id>` hash) on the server at `port`? */
  async function storedOn(port: number, key: string): Promise<boolean> {
    return Number(await redisCall(port, 'EXISTS', key)) === 1;
  }

  it('serves discovery, the key set and /readyz', async function () {
    expect(await sentinel.currentMasterPort()).to.equal(sentinel.dataPorts[0]);
    await expectDiscovery(world);
  });

  it('issues client_credentials tokens stored on the master and introspects them', async function () {
    const token = await issueToken(world.server.issuer, service);
    expect(await introspect(world.server.issuer, service, token)).to.include({ active: true, client_id: service.clientId });
    expect(await storedOn(sentinel.dataPorts[0]!, `oidc:ClientCredentials:${token}`)).to.equal(true);
  });

  describe('a DingTalk login, then a failover', function () {
    let session: SignedIn;
    let issuedBefore: string;
    let switched: { from: number; to: number };

    it('signs in through the emulator to tokens and userinfo', async function () {
      session = await signInThroughDingTalk(world);
      issuedBefore = await issueToken(world.server.issuer, service);
      // Replication is asynchronous: wait until the replica has what the failover must keep.
      const replica = sentinel.dataPorts[1]!;
      await eventually(() => storedOn(replica, `oidc:ClientCredentials:${issuedBefore}`), Boolean, 3_000, 'replicated to the replica');
      await eventually(() => storedOn(replica, `oidc:AccessToken:${session.tokens.access_token}`), Boolean, 3_000, 'replicated');
    });

    it('fails over (SENTINEL FAILOVER) to the replica within 15 s', async function () {
      const started = Date.now();
      switched = await sentinel.failover(15_000);
      expect(switched.to).to.equal(sentinel.dataPorts[1]);
      expect(Date.now() - started).to.be.below(15_000);
    });

    it('writes to the new master right after the failover, not to the demoted one', async function () {
      const token = await eventually(
        () => clientCredentials(world.server.issuer, service),
        (answer) => answer.status === 200,
        5_000,
        'a token after the failover',
      );
      const key = `oidc:ClientCredentials:${token.body.access_token as string}`;
      expect(await storedOn(switched.to, key), 'on the new master').to.equal(true);
      expect(await storedOn(switched.from, key), 'on the demoted master').to.equal(false);
    });

    it('keeps the tokens issued before the failover working', async function () {
      expect(await introspect(world.server.issuer, service, issuedBefore)).to.include({ active: true });
      expect((await oidc.tokenIntrospection(session.rp.config, session.tokens.access_token)).active).to.equal(true);
      const info = await oidc.fetchUserInfo(session.rp.config, session.tokens.access_token, session.sub);
      expect(info.sub).to.equal(session.sub);
      const refreshed = await oidc.refreshTokenGrant(session.rp.config, session.tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string');
      expect(await storedOn(switched.to, `oidc:AccessToken:${refreshed.access_token}`)).to.equal(true);
    });

    it('delivers change notifications through the new master (rotated secret refused at once)', async function () {
      // The subscriber connection (a duplicate of the client) followed the master too.
      const subscribers = async (port: number): Promise<number> =>
        Number(((await redisCall(port, 'PUBSUB', 'NUMSUB', 'oidc:changes')) as [string, string])[1]);
      await eventually(
        () => subscribers(switched.to),
        (count) => count >= 1,
        3_000,
        'subscribed on the new master',
      );
      expect(await subscribers(switched.from), 'still subscribed on the demoted master').to.equal(0);
      await issueToken(world.server.issuer, rotating); // cached for oidc.clientCacheMs (30 s)
      const secret = await world.server.services.clientStore.rotateSecret(rotating.clientId);
      const refused = await eventually(
        () => clientCredentials(world.server.issuer, rotating),
        (answer) => answer.status !== 200,
        2_000,
        'the old secret is still accepted',
      );
      expect(refused.status, refused.text).to.equal(401);
      await issueToken(world.server.issuer, { clientId: rotating.clientId, clientSecret: secret! });
    });

    it('signs in again after the failover, and is ready', async function () {
      const again = await signInThroughDingTalk(world, session.rp);
      expect(again.sub).to.equal(session.sub);
      const ready = await fetch(`${world.server.issuer}/readyz`);
      expect(ready.status).to.equal(200);
      expect((await redisInfo(switched.to, 'replication')).role).to.equal('master');
    });

    it('counted no Redis error', async function () {
      await expectNoRedisErrors(world.server.issuer);
    });
  });
});
