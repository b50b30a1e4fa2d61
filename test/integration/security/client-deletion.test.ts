import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Browser } from '../../helpers/browser.js';
import { authorize, type LoginWorld, loginViaDingTalk, type RelyingParty } from '../../helpers/login-flow.js';
import { type AdminApiWorld, api, EMPLOYEE, startAdminApiWorld } from '../admin/harness.js';

const CLIENT_ID = 'wiki';
const REDIRECT = 'https://rp.example.test/callback';

/** A (third-party) app under a fixed client id, as a re-registration would reuse it. */
async function registerWiki(world: LoginWorld, name: string): Promise<RelyingParty> {
  const created = await world.server.services.clientStore.add({ clientId: CLIENT_ID, name, redirectUris: [REDIRECT] });
  const config = await oidc.discovery(
    new URL(world.server.issuer),
    CLIENT_ID,
    created.clientSecret,
    oidc.ClientSecretBasic(created.clientSecret),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  return { clientId: CLIENT_ID, clientSecret: created.clientSecret, redirectUri: REDIRECT, config };
}

describe('security: deleting a client forgets its consents, grants and sessions (real PostgreSQL and Redis)', function () {
  let admin: AdminApiWorld;
  let world: LoginWorld;

  before(async function () {
    admin = await startAdminApiWorld();
    world = admin.world;
  });

  after(async function () {
    await world?.close();
  });

  it('a different app registered later under the same client id asks for consent again', async function () {
    const browser = new Browser();
    const old = await registerWiki(world, 'Old wiki');
    const { callback, request } = await loginViaDingTalk(world, browser, old, EMPLOYEE, { scope: 'openid profile' });
    const tokens = await oidc.authorizationCodeGrant(old.config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const { Consent } = world.server.services.db.models;
    expect(await Consent.count({ where: { clientId: CLIENT_ID } })).to.equal(1);

    const deleted = await api(world, admin.adminToken, 'DELETE', `/clients/${CLIENT_ID}`);
    expect(deleted.status, deleted.text).to.equal(200);
    expect(deleted.json).to.include({ clientId: CLIENT_ID, removed: true, consents: 1 });
    expect(deleted.json.grants).to.be.at.least(1);
    expect(deleted.json.sessions).to.equal(1);
    expect(await Consent.count({ where: { clientId: CLIENT_ID } })).to.equal(0);

    // The old app's refresh token died with its grant.
    const grantId = (await world.server.services.holder.current().RefreshToken.find(tokens.refresh_token!))?.grantId;
    expect(grantId).to.equal(undefined);

    world.server.services.invalidateClients();
    const reborn = await registerWiki(world, 'Someone else’s app');
    const again = await authorize(reborn, { scope: 'openid profile' });
    const page = await browser.follow(again.url.toString(), [world.server.issuer]);
    expect(page.headers.get('location') ?? '', 'no silent redirect to the new app').to.not.match(/^https:\/\/rp\.example\.test/);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('/consent"');
  });
});
