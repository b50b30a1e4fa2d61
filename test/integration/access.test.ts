import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { resetState } from '../helpers/bootstrap.js';
import { Browser, formOf } from '../helpers/browser.js';
import {
  authorize,
  exchangeCode,
  type LoginWorld,
  loginViaDingTalk,
  openDingTalkPicker,
  pickInDingTalk,
  registerRelyingParty,
  startLoginWorld,
  USERS,
} from '../helpers/login-flow.js';

const OPAQUE_API = 'https://api.example.test/opaque';

async function grantRole(world: LoginWorld, unionId: string, roleName: string): Promise<void> {
  const { Account, Role, AccountRole } = world.server.services.db.models;
  const account = await Account.findOne({ where: { unionId } });
  const [role] = await Role.findOrCreate({ where: { name: roleName } });
  await AccountRole.findOrCreate({ where: { accountId: account!.id, roleId: role.id, source: 'manual', ruleId: null } });
}

function backAfterRefusal(page: { text: string }): string {
  return /href="(\/interaction\/[^"]+\/abort\?error=[a-z_]+)"/.exec(page.text)![1]!;
}

describe('roles in tokens, per-app access, introspection rights and logout', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
    // Accounts exist after a first login.
    const rp = await registerRelyingParty(world, { name: 'Warm-up', firstParty: true });
    for (const unionId of [USERS.admin, USERS.boss]) await loginViaDingTalk(world, new Browser(), rp, unionId);
  });

  after(async function () {
    await world?.close();
  });

  describe('per-app access policy', function () {
    it('shows "no access" and answers access_denied to someone without the role, and lets them in once they have it', async function () {
      const rp = await registerRelyingParty(world, {
        name: 'Grafana',
        firstParty: true,
        metadata: { access_policy: { roles: ['grafana-users'] } },
      });
      const request = await authorize(rp);
      const browser = new Browser();
      const picker = await openDingTalkPicker(world, browser, request.url);
      const page = await pickInDingTalk(world, browser, picker, USERS.boss);
      expect(page.status).to.equal(403);
      expect(page.text).to.contain('access.denied').and.contain('没有使用此应用的权限');
      const back = await browser.follow(`${world.server.issuer}${backAfterRefusal(page)}`, [world.server.issuer]);
      expect(new URL(back.headers.get('location')!).searchParams.get('error')).to.equal('access_denied');
      const denied = await world.server.services.db.models.AuditEvent.findOne({ where: { type: 'login.denied' } });
      expect(denied?.clientId).to.equal(rp.clientId);

      await grantRole(world, USERS.boss, 'grafana-users');
      const ok = await loginViaDingTalk(world, new Browser(), rp, USERS.boss);
      expect(ok.callback.searchParams.get('code')).to.be.a('string');
    });

    it('admits by department', async function () {
      const rp = await registerRelyingParty(world, {
        name: 'R&D wiki',
        firstParty: true,
        metadata: { access_policy: { departments: [100] } },
      });
      const ok = await loginViaDingTalk(world, new Browser(), rp, USERS.admin); // 王建国 is in 100
      expect(ok.callback.searchParams.get('code')).to.be.a('string');
    });

    it('checks an existing session too: another app refuses without a second DingTalk login', async function () {
      const open = await registerRelyingParty(world, { name: 'Open app', firstParty: true });
      const closed = await registerRelyingParty(world, {
        name: 'HR app',
        firstParty: true,
        metadata: { access_policy: { roles: ['hr'] } },
      });
      const browser = new Browser();
      await loginViaDingTalk(world, browser, open, USERS.admin);
      const request = await authorize(closed);
      const page = await browser.follow(request.url.toString(), [world.server.issuer]);
      expect(page.status).to.equal(403);
      expect(page.text).to.contain('access.denied');
      const silent = await authorize(closed, { prompt: 'none' });
      const answer = await browser.request(silent.url.toString());
      const location = new URL(answer.headers.get('location')!);
      expect(location.searchParams.get('error')).to.equal('access_denied');
    });
  });

  describe('claims in the ID token', function () {
    it('keeps the ID token minimal by default (claims are in userinfo)', async function () {
      const rp = await registerRelyingParty(world, { name: 'Plain', firstParty: true });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
      const claims = (await exchangeCode(rp, callback, request)).claims()!;
      expect(claims).to.not.have.any.keys('email', 'roles', 'name');
    });

    it('puts every granted claim in the ID token of a client configured with id_token_claims', async function () {
      await grantRole(world, USERS.admin, 'grafana-editor');
      const rp = await registerRelyingParty(world, { name: 'Argo CD', firstParty: true, metadata: { id_token_claims: true } });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
      const claims = (await exchangeCode(rp, callback, request)).claims()!;
      expect(claims).to.include({ email: 'wangjianguo@yunqi-tech.cn', name: '王建国' });
      expect(claims.roles).to.include('grafana-editor');
      expect(claims.groups).to.include('grafana-editor');
    });

    it('puts only the listed claims in the ID token when a list is configured, and departments in groups on request', async function () {
      const rp = await registerRelyingParty(world, {
        name: 'GitLab',
        firstParty: true,
        metadata: { id_token_claims: ['groups'], groups_include_departments: true },
      });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
      const claims = (await exchangeCode(rp, callback, request)).claims()!;
      expect(claims).to.not.have.any.keys('email', 'name');
      expect(claims.groups).to.include('grafana-editor').and.include('研发中心');
    });
  });

  describe('introspection rights', function () {
    it('lets the resource server a token is for introspect it, and nobody else', async function () {
      const { clientStore } = world.server.services;
      await clientStore.addResourceServer({ identifier: OPAQUE_API, tokenFormat: 'opaque', scopes: ['read'] });
      const caller = await clientStore.add({ name: 'caller', grantTypes: ['client_credentials'], allowedResources: { [OPAQUE_API]: [] } });
      const api = await clientStore.add({
        name: 'the API',
        grantTypes: ['client_credentials'],
        metadata: { introspect_resources: [OPAQUE_API] },
      });
      const stranger = await clientStore.add({ name: 'stranger', grantTypes: ['client_credentials'] });
      const basic = (c: { clientId: string; clientSecret?: string }) =>
        `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`;
      const post = (path: string, auth: string, body: Record<string, string>) =>
        fetch(`${world.server.issuer}${path}`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(body),
        }).then((r) => r.json() as Promise<Record<string, unknown>>);
      const { access_token: token } = await post('/token', basic(caller), {
        grant_type: 'client_credentials',
        resource: OPAQUE_API,
        scope: 'read',
      });
      expect(await post('/token/introspection', basic(api), { token: token as string })).to.include({ active: true, aud: OPAQUE_API });
      expect(await post('/token/introspection', basic(stranger), { token: token as string })).to.deep.equal({ active: false });
      expect(await post('/token/introspection', basic(caller), { token: token as string })).to.include({ active: true });
    });

    it('answers active: false for a token of an account that was disabled', async function () {
      const rp = await registerRelyingParty(world, { name: 'Disable me', firstParty: true });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.boss);
      const tokens = await exchangeCode(rp, callback, request);
      expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(true);
      const { Account } = world.server.services.db.models;
      await Account.update({ status: 'disabled' }, { where: { unionId: USERS.boss } });
      try {
        expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(false);
      } finally {
        await Account.update({ status: 'active' }, { where: { unionId: USERS.boss } });
      }
    });
  });

  describe('refresh tokens', function () {
    it('revokes the whole grant when a rotated refresh token is used again', async function () {
      const spa = await registerRelyingParty(world, { name: 'SPA', public: true, firstParty: true });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), spa, USERS.admin, {
        scope: 'openid profile offline_access',
        prompt: 'consent',
      });
      const first = await exchangeCode(spa, callback, request);
      const second = await oidc.refreshTokenGrant(spa.config, first.refresh_token!);
      expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      let reuse: unknown;
      try {
        await oidc.refreshTokenGrant(spa.config, first.refresh_token!);
      } catch (error) {
        reuse = error;
      }
      expect((reuse as { error?: string }).error).to.equal('invalid_grant');
      let after: unknown;
      try {
        await oidc.refreshTokenGrant(spa.config, second.refresh_token!);
      } catch (error) {
        after = error;
      }
      expect((after as { error?: string }).error, 'the newer refresh token dies with the grant').to.equal('invalid_grant');
    });
  });

  describe('back-channel logout', function () {
    let receiver: Server;
    let received: string[];

    before(async function () {
      received = [];
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push(new URLSearchParams(body).get('logout_token') ?? '');
          res.statusCode = 200;
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    });

    after(async function () {
      await new Promise((resolve) => receiver.close(resolve));
    });

    it('sends a valid logout token to an app of the session when the person logs out', async function () {
      const port = (receiver.address() as AddressInfo).port;
      const rp = await registerRelyingParty(world, {
        name: 'Jenkins',
        firstParty: true,
        backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel`,
      });
      const browser = new Browser();
      const { callback, request } = await loginViaDingTalk(world, browser, rp, USERS.admin);
      const tokens = await exchangeCode(rp, callback, request);
      const logout = oidc.buildEndSessionUrl(rp.config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'https://rp.example.test/logged-out',
      });
      const confirm = await browser.follow(logout.toString(), [world.server.issuer]);
      const form = formOf(confirm.text, '/session/end/confirm');
      await browser.request(new URL(form.action, world.server.issuer).toString(), { form: { ...form.fields, logout: 'yes' } });
      expect(received).to.have.length(1);
      const jwks = createRemoteJWKSet(new URL(`${world.server.issuer}/jwks`));
      const { payload } = await jwtVerify(received[0]!, jwks, { issuer: world.server.issuer, audience: rp.clientId, typ: 'logout+jwt' });
      expect(payload.sub).to.equal(tokens.claims()!.sub);
      expect(payload.sid).to.equal(tokens.claims()!.sid);
      expect(payload.events).to.have.property('http://schemas.openid.net/event/backchannel-logout');
      expect(decodeJwt(received[0]!)).to.not.have.property('nonce');
    });
  });
});

describe('logout that also revokes offline grants (LOGOUT_REVOKES_OFFLINE_GRANTS)', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ oidc: { logoutRevokesOfflineGrants: true } });
  });

  after(async function () {
    await world?.close();
  });

  it('makes the refresh token useless after the person logs out', async function () {
    const rp = await registerRelyingParty(world, { name: 'Offline app' });
    const browser = new Browser();
    const { callback, request } = await loginViaDingTalk(world, browser, rp, USERS.admin, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const tokens = await exchangeCode(rp, callback, request);
    const logout = oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token! });
    const confirm = await browser.follow(logout.toString(), [world.server.issuer]);
    const form = formOf(confirm.text, '/session/end/confirm');
    await browser.request(new URL(form.action, world.server.issuer).toString(), { form: { ...form.fields, logout: 'yes' } });
    let failure: unknown;
    try {
      await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    } catch (error) {
      failure = error;
    }
    expect((failure as { error?: string }).error).to.equal('invalid_grant');
  });
});
