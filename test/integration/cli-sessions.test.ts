import { expect } from 'chai';
import { cli } from '../helpers/cli.js';
import * as oidc from 'openid-client';
import { resetState } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../helpers/login-flow.js';

describe('command line: sessions and consents', function () {
  this.timeout(60_000);
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
  });

  after(async function () {
    await world?.close();
  });

  it('lists and revokes consents and sessions, with audit entries', async function () {
    const rp = await registerRelyingParty(world, { name: 'Wiki' }); // not first-party: consent is given
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
    const tokens = await exchangeCode(rp, callback, request);

    const consents = JSON.parse((await cli(['consents', 'list', '--account', 'manager7421', '--json'])).stdout) as {
      items: { clientId: string }[];
    };
    expect(consents.items.map((c) => c.clientId)).to.include(rp.clientId);
    const sessions = JSON.parse((await cli(['sessions', 'list', '--account', 'manager7421', '--json'])).stdout) as {
      items: { uid: string; apps: { clientId: string }[] }[];
    };
    const mine = sessions.items.find((s) => s.apps.some((a) => a.clientId === rp.clientId))!;
    expect(mine.uid).to.be.a('string');

    expect((await cli(['consents', 'revoke', 'manager7421', rp.clientId])).code).to.equal(0);
    const revoked = await cli(['sessions', 'revoke', mine.uid]);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(false);

    const { AuditEvent } = world.server.services.db.models;
    for (const type of ['consent.revoked', 'session.revoked']) {
      const entry = await AuditEvent.findOne({ where: { type }, order: [['id', 'DESC']] });
      expect(entry?.actor, type).to.match(/^cli/);
    }
    expect((await cli(['sessions', 'revoke'])).code).to.equal(1);
  });
});
