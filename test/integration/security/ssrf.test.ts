import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { generateKeyPair, SignJWT } from 'jose';
import { Browser } from '../../helpers/browser.js';
import { freePort, resetState } from '../../helpers/bootstrap.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../../helpers/login-flow.js';
import { createOutboundFetch } from '../../../src/oidc/outbound.js';
import { OutboundError } from '../../../src/errors/outbound-error.js';
import { revokeAccount } from '../../../src/accounts/revocation.js';

/** A loopback HTTP server standing for an internal service: it counts what reaches it. */
async function internalService(
  handler?: (path: string, res: import('node:http').ServerResponse) => void,
): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (handler) handler(req.url ?? '', res);
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe('security: outgoing requests to apps cannot reach the internal network (SSRF)', function () {
  describe('the guarded fetch', function () {
    let internal: Awaited<ReturnType<typeof internalService>>;

    before(async function () {
      internal = await internalService((path, res) => {
        // localhost is allowed; its redirect to 127.0.0.1 is a new destination and is checked again.
        if (path === '/redirect') res.writeHead(302, { location: `http://127.0.0.1:${internal.port}/metadata` }).end();
        else res.writeHead(200).end('secret');
      });
    });

    after(function () {
      internal?.server.close();
    });

    it('refuses a loopback destination, and nothing reaches it', async function () {
      internal.hits.length = 0;
      const guarded = createOutboundFetch({ blockPrivate: true, allowed: [] });
      const failure = await guarded(`http://127.0.0.1:${internal.port}/metadata`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).to.be.instanceOf(OutboundError);
      expect((failure as OutboundError).failure).to.equal('blocked');
      expect(internal.hits).to.deep.equal([]);
    });

    it('refuses a name that resolves to loopback (the check is after DNS)', async function () {
      internal.hits.length = 0;
      const guarded = createOutboundFetch({ blockPrivate: true, allowed: [] });
      const failure = await guarded(`http://localhost:${internal.port}/metadata`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as OutboundError).failure).to.equal('blocked');
      expect(internal.hits).to.deep.equal([]);
    });

    it('checks every redirect: an allowed host cannot bounce the request to a refused one', async function () {
      internal.hits.length = 0;
      const guarded = createOutboundFetch({ blockPrivate: true, allowed: ['localhost'] });
      const failure = await guarded(`http://localhost:${internal.port}/redirect`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as OutboundError).failure).to.equal('blocked');
      expect(internal.hits).to.deep.equal(['/redirect']);
    });

    it('reaches an allowed internal app (OUTBOUND_ALLOWED_HOSTS), by address range too', async function () {
      const guarded = createOutboundFetch({ blockPrivate: true, allowed: ['127.0.0.0/8'] });
      const response = await guarded(`http://127.0.0.1:${internal.port}/jwks`);
      expect(response.status).to.equal(200);
    });

    it('reaches loopback when the guard is off (development: the emulator and demo app)', async function () {
      const open = createOutboundFetch({ blockPrivate: false, allowed: [] });
      expect((await open(`http://127.0.0.1:${internal.port}/jwks`)).status).to.equal(200);
    });
  });

  describe('the whole product with the production guard (real PostgreSQL and Redis)', function () {
    let world: LoginWorld;
    let internal: Awaited<ReturnType<typeof internalService>>;

    before(async function () {
      await resetState();
      internal = await internalService();
      world = await startLoginWorld({ outbound: { blockPrivate: true, allowedHosts: ['localhost'] } });
    });

    after(async function () {
      await world?.close();
      internal?.server.close();
    });

    it('an unauthenticated /token call cannot make the server fetch a loopback jwks_uri', async function () {
      const { clientId } = await world.server.services.clientStore.add({
        name: 'Scanner',
        grantTypes: ['client_credentials'],
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwksUri: `http://127.0.0.1:${internal.port}/jwks`,
      });
      const { privateKey } = await generateKeyPair('ES256');
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(world.server.issuer)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const response = await fetch(`${world.server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      expect(response.status).to.equal(401);
      expect(internal.hits).to.deep.equal([]);
    });

    it('a failed back-channel logout is reported without the network error (no port scanner)', async function () {
      const closed = await freePort(); // allowed host, nothing listening: the connection is refused
      const rp = await registerRelyingParty(world, { name: 'Probe', backchannelLogoutUri: `http://localhost:${closed}/logout` });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.boss);
      await exchangeCode(rp, callback, request);
      const account = await world.server.services.db.models.Account.findOne({ where: { unionId: USERS.boss } });
      const { holder, accountIndex } = world.server.services;
      const result = await revokeAccount(holder.current(), accountIndex, account!.id, { reason: 'test' });
      expect(result.failures).to.have.length(1);
      const text = JSON.stringify(result);
      expect(text).to.contain('could not be reached');
      expect(text).to.not.match(/ECONNREFUSED|127\.0\.0\.1|::1/);
      expect(text).to.not.contain(String(closed));
    });
  });
});
