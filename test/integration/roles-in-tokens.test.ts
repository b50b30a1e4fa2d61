import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { resetState, startTestServer } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../helpers/login-flow.js';

const LINA = 'a1Xk9PqR2sVb7nLmC3dEfgiEiE'; // 李娜, in 平台组 (101) under 研发中心 (100)
const API = 'https://api.example.test/deploy';

describe('roles from rules and settings, in userinfo, ID tokens and access tokens', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ adminDingtalkUserids: ['manager7421'] });
    const { roles } = world.server.services;
    await roles.addRole('rd');
    await roles.addRule({ role: 'rd', kind: 'department', value: [100], includeSubDepartments: true });
    await roles.addRole('bosses');
    await roles.addRule({ role: 'bosses', kind: 'boss', value: true });
  });

  after(async function () {
    await world?.close();
  });

  it('gives a sub-department member the department rule role at login', async function () {
    const rp = await registerRelyingParty(world, { firstParty: true });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, LINA);
    const tokens = await exchangeCode(rp, callback, request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.roles).to.deep.equal(['rd']);
    expect(info.groups).to.deep.equal(['rd']);
  });

  it('gives admin to ADMIN_DINGTALK_USERIDS, besides rule roles', async function () {
    const rp = await registerRelyingParty(world, { firstParty: true, metadata: { id_token_claims: ['roles'] } });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
    const claims = (await exchangeCode(rp, callback, request)).claims()!;
    expect(claims.roles).to.include.members(['admin', 'rd']);
  });

  it('puts roles, scopes and the resource in a JWT access token for a resource server', async function () {
    await world.server.services.clientStore.addResourceServer({ identifier: API, scopes: ['deploy:read', 'deploy:write'] });
    const rp = await registerRelyingParty(world, { firstParty: true, allowedResources: { [API]: ['deploy:read'] } });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.boss, {
      scope: 'openid deploy:read',
      resource: API,
    });
    const tokens = await exchangeCode(rp, callback, request);
    const jwks = createRemoteJWKSet(new URL(`${world.server.issuer}/jwks`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: world.server.issuer, audience: API, typ: 'at+jwt' });
    expect(payload.roles).to.deep.equal(['bosses']);
    expect(payload.scope).to.equal('deploy:read');
    expect(payload.client_id).to.equal(rp.clientId);
  });

  it('keeps a manual role through re-evaluation at the next login', async function () {
    const { roles } = world.server.services;
    await roles.addRole('oncall');
    await roles.assign('oncall', LINA);
    const rp = await registerRelyingParty(world, { firstParty: true });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, LINA);
    const tokens = await exchangeCode(rp, callback, request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.roles).to.deep.equal(['oncall', 'rd']);
  });

  it('shows a role change on another replica at once, although accounts are cached there', async function () {
    const replica = await startTestServer({ oidc: { accountCacheMs: 60_000 } });
    try {
      const rp = await registerRelyingParty(world, { firstParty: true });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, LINA);
      const tokens = await exchangeCode(rp, callback, request);
      const userinfo = async (): Promise<string[]> =>
        (
          (await (await fetch(`${replica.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as {
            roles: string[];
          }
        ).roles;
      expect(await userinfo()).to.not.include('auditor'); // now cached on the replica for a minute
      await world.server.services.roles.addRole('auditor');
      await world.server.services.roles.assign('auditor', LINA);
      let roles: string[] = [];
      for (let i = 0; i < 40 && !roles.includes('auditor'); i += 1) {
        roles = await userinfo();
        if (!roles.includes('auditor')) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(roles).to.include('auditor');
    } finally {
      await replica.close();
    }
  });
});
