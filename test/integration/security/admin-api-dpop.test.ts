import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Browser } from '../../helpers/browser.js';
import { type LoginWorld, loginViaDingTalk, registerRelyingParty } from '../../helpers/login-flow.js';
import { ADMIN, adminApiToken, api, startAdminWorld } from '../admin/harness.js';

describe('security: sender-constrained tokens at the admin API (real PostgreSQL and Redis)', function () {
  let world: LoginWorld;

  before(async function () {
    world = await startAdminWorld();
  });

  after(async function () {
    await world?.close();
  });

  it('refuses a DPoP-bound access token presented as a plain bearer token', async function () {
    const resource = `${world.server.issuer}/admin`;
    const rp = await registerRelyingParty(world, { name: 'DPoP automation', firstParty: true, allowedResources: { [resource]: [] } });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, ADMIN, {
      scope: 'openid admin:read admin:write',
      resource,
    });
    const DPoP = oidc.getDPoPHandle(rp.config, await oidc.randomDPoPKeyPair());
    const tokens = await oidc.authorizationCodeGrant(
      rp.config,
      callback,
      { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce },
      undefined,
      { DPoP },
    );
    expect(tokens.token_type.toLowerCase()).to.equal('dpop');
    const answer = await api(world, tokens.access_token, 'GET', '/accounts');
    expect(answer.status).to.equal(401);
    expect(answer.json).to.include({ code: 'admin.unauthorized' });
  });

  it('still accepts the same admin’s bearer token', async function () {
    const token = await adminApiToken(world, ADMIN);
    expect((await api(world, token, 'GET', '/accounts')).status).to.equal(200);
  });
});
