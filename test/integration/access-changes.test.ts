/**
 * Access changes reach live tokens (issue #11): a role taken away (admin API, command line, rule
 * change), a tightened `access_policy` and a department move out of a policy stop the person's
 * refresh token at that app (`invalid_grant`) and make its access token introspect inactive; the
 * grants are revoked and audited, so the tokens stay dead when the access comes back; and a second
 * server on the same PostgreSQL and Redis (a replica) sees a change made through the first.
 */
import { expect } from 'chai';
import { adminServiceOf } from '../../src/cli/context.js';
import { startTestServer } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { cli } from '../helpers/cli.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, type RelyingParty, registerRelyingParty, USERS } from '../helpers/login-flow.js';
import { accountIdOf, ADMIN, adminApiToken, api, startAdminWorld } from './admin/harness.js';

const ZHANG_WEI = 'Qm7TgH2wZc5yN8rB1uVxKAiEiE'; // 张伟, in 前端组 (102) and 品牌组 (201)
const ZHOU_MIN = 'Hc6bN4xE0tY2rW7qU5sP1AiEiE'; // 周敏, in 人力资源部 (300)
const LI_NA = 'a1Xk9PqR2sVb7nLmC3dEfgiEiE'; // 李娜, userid 0226103541652, in 平台组 (101) under 研发中心 (100)

interface Tokens {
  access: string;
  refresh: string;
}

async function signIn(world: LoginWorld, rp: RelyingParty, unionId: string): Promise<Tokens> {
  const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, unionId);
  const tokens = await exchangeCode(rp, callback, request);
  expect(tokens.refresh_token, 'a refresh token').to.be.a('string');
  return { access: tokens.access_token, refresh: tokens.refresh_token! };
}

async function post(
  issuer: string,
  rp: RelyingParty,
  path: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const refresh = (issuer: string, rp: RelyingParty, tokens: Tokens) =>
  post(issuer, rp, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh });
const introspect = async (issuer: string, rp: RelyingParty, tokens: Tokens): Promise<boolean> =>
  (await post(issuer, rp, '/token/introspection', { token: tokens.access })).body.active === true;

/** Both halves of "stopped": the refresh is refused with invalid_grant, the access token is inactive. */
async function expectStopped(issuer: string, rp: RelyingParty, tokens: Tokens): Promise<void> {
  const refused = await refresh(issuer, rp, tokens);
  expect(refused.status, JSON.stringify(refused.body)).to.equal(400);
  expect(refused.body.error).to.equal('invalid_grant');
  expect(await introspect(issuer, rp, tokens)).to.equal(false);
}

async function expectWorking(issuer: string, rp: RelyingParty, tokens: Tokens): Promise<void> {
  const refreshed = await refresh(issuer, rp, tokens);
  expect(refreshed.status, JSON.stringify(refreshed.body)).to.equal(200);
  expect(await introspect(issuer, rp, tokens)).to.equal(true);
}

/** A change announced through Redis reaches another process shortly after: ask again a few times. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; attempt < 80; attempt += 1) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

describe('access changes reach live tokens', function () {
  this.timeout(60_000);
  let world: LoginWorld;
  let adminToken: string;

  before(async function () {
    world = await startAdminWorld();
    adminToken = await adminApiToken(world, ADMIN);
  });

  after(async function () {
    await world?.close();
  });

  async function auditOf(type: string, accountId: string, clientId: string) {
    return world.server.services.db.models.AuditEvent.findAll({ where: { type, accountId, clientId } });
  }

  it('a role taken away through the admin API stops the refresh and the access token at the app that needs it, and only there', async function () {
    const { roles } = world.server.services;
    await roles.addRole('grafana-users');
    const open = await registerRelyingParty(world, { name: 'Open wiki', firstParty: true });
    const atOpen = await signIn(world, open, USERS.boss);
    const bossId = await accountIdOf(world, USERS.boss);
    await roles.assign('grafana-users', bossId);
    const grafana = await registerRelyingParty(world, {
      name: 'Grafana',
      firstParty: true,
      metadata: { access_policy: { roles: ['grafana-users'] } },
    });
    const atGrafana = await signIn(world, grafana, USERS.boss);
    await expectWorking(world.server.issuer, grafana, atGrafana);

    const answer = await api(world, adminToken, 'POST', '/roles/grafana-users/unassign', { account: bossId });
    expect(answer.status, answer.text).to.equal(200);

    await expectStopped(world.server.issuer, grafana, atGrafana);
    await expectWorking(world.server.issuer, open, atOpen);
    const [revoked] = await auditOf('access.revoked', bossId, grafana.clientId);
    expect(revoked?.actor).to.equal(await accountIdOf(world, ADMIN));
    expect(revoked?.details).to.include({ reason: 'roles_changed', grants: 1 });

    // Revoked, not only refused: giving the role back does not bring the old tokens back.
    await roles.assign('grafana-users', bossId);
    await expectStopped(world.server.issuer, grafana, atGrafana);
  });

  it('a role taken away on the command line stops the tokens too (revoked in the shared Redis)', async function () {
    const { roles } = world.server.services;
    await roles.addRole('jenkins-users');
    const wangId = await accountIdOf(world, USERS.admin);
    await roles.assign('jenkins-users', wangId);
    const jenkins = await registerRelyingParty(world, {
      name: 'Jenkins',
      firstParty: true,
      metadata: { access_policy: { roles: ['jenkins-users'] } },
    });
    const tokens = await signIn(world, jenkins, USERS.admin);
    await expectWorking(world.server.issuer, jenkins, tokens);

    const result = await cli(['roles', 'unassign', 'jenkins-users', wangId]);
    expect(result.code, result.stderr).to.equal(0);

    await roles.assign('jenkins-users', wangId); // back at once: only the revocation can stop the tokens now
    await expectStopped(world.server.issuer, jenkins, tokens);
    const [revoked] = await auditOf('access.revoked', wangId, jenkins.clientId);
    expect(revoked?.actor).to.equal('cli');
  });

  it('a rule removed takes its role away and stops the tokens of the people who had it from the rule', async function () {
    const created = await api(world, adminToken, 'POST', '/roles', { name: 'hr-app' });
    expect(created.status, created.text).to.be.oneOf([200, 201]);
    const rule = await api(world, adminToken, 'POST', '/roles/rules', { role: 'hr-app', kind: 'department', value: [300] });
    expect(rule.status, rule.text).to.equal(201);
    const hr = await registerRelyingParty(world, { name: 'HR', firstParty: true, metadata: { access_policy: { roles: ['hr-app'] } } });
    const tokens = await signIn(world, hr, ZHOU_MIN);
    await expectWorking(world.server.issuer, hr, tokens);

    const removed = await api(world, adminToken, 'DELETE', `/roles/rules/${rule.json.rule.id}`);
    expect(removed.status, removed.text).to.equal(200);

    await expectStopped(world.server.issuer, hr, tokens);
    expect(await auditOf('access.revoked', await accountIdOf(world, ZHOU_MIN), hr.clientId)).to.have.length(1);
  });

  it('a policy added to an app stops the tokens of everyone it does not admit', async function () {
    const finance = await registerRelyingParty(world, { name: 'Finance', firstParty: true });
    const tokens = await signIn(world, finance, USERS.noEmail);
    await expectWorking(world.server.issuer, finance, tokens);

    const updated = await api(world, adminToken, 'PATCH', `/clients/${finance.clientId}`, { accessPolicy: { roles: ['finance'] } });
    expect(updated.status, updated.text).to.equal(200);

    await expectStopped(world.server.issuer, finance, tokens);
    const [revoked] = await auditOf('access.revoked', await accountIdOf(world, USERS.noEmail), finance.clientId);
    expect(revoked?.details).to.include({ reason: 'access_policy_changed' });
  });

  it('a department move out of an app’s departments stops the tokens (DingTalk sync)', async function () {
    const wiki = await registerRelyingParty(world, {
      name: 'R&D wiki',
      firstParty: true,
      metadata: { access_policy: { departments: [100] } },
    });
    const tokens = await signIn(world, wiki, LI_NA);
    await expectWorking(world.server.issuer, wiki, tokens);

    world.emulator.state.setProfile('0226103541652', { dept_id_list: [200] }); // 研发中心 → 市场部
    const liNaId = await accountIdOf(world, LI_NA);
    const synced = await api(world, adminToken, 'POST', `/accounts/${liNaId}/sync`);
    expect(synced.status, synced.text).to.equal(200);

    await expectStopped(world.server.issuer, wiki, tokens);
    const [revoked] = await auditOf('access.revoked', liNaId, wiki.clientId);
    expect(revoked?.details).to.include({ reason: 'directory_changed' });
  });

  it('a department move noticed at the next sign-in, at another app, stops the tokens at the app it leaves', async function () {
    const platform = await registerRelyingParty(world, {
      name: 'R&D portal',
      firstParty: true,
      metadata: { access_policy: { departments: [100] } },
    });
    const tokens = await signIn(world, platform, ZHANG_WEI); // 前端组 (102) is under 研发中心 (100)
    await expectWorking(world.server.issuer, platform, tokens);

    world.emulator.state.setProfile('0331458726309', { dept_id_list: [201] }); // only 品牌组 now
    await signIn(world, await registerRelyingParty(world, { name: 'Canteen', firstParty: true }), ZHANG_WEI);

    await expectStopped(world.server.issuer, platform, tokens);
    const [revoked] = await auditOf('access.revoked', await accountIdOf(world, ZHANG_WEI), platform.clientId);
    expect(revoked?.actor).to.equal('login');
    expect(revoked?.details).to.include({ reason: 'signed_in' });
    world.emulator.state.setProfile('0331458726309', { dept_id_list: [102, 201] });
  });

  it('a replica on the same PostgreSQL and Redis sees a change made through the other server, both ways', async function () {
    const replica = await startTestServer({ oidc: { accountCacheMs: 60_000, clientCacheMs: 60_000 } });
    try {
      const { roles } = world.server.services;
      await roles.addRole('ops');
      await signIn(world, await registerRelyingParty(world, { firstParty: true }), ZHANG_WEI); // the account exists after a login
      const zhangId = await accountIdOf(world, ZHANG_WEI);
      await roles.assign('ops', zhangId);
      const ops = await registerRelyingParty(world, {
        name: 'Ops console',
        firstParty: true,
        metadata: { access_policy: { roles: ['ops'] } },
      });
      const tokens = await signIn(world, ops, ZHANG_WEI);
      await expectWorking(replica.issuer, ops, tokens); // the replica now holds the account and the client for a minute

      // Only the role service: no revocation, so the replica's own use-time check must notice.
      await roles.unassign('ops', zhangId);
      expect(await eventually(async () => (await refresh(replica.issuer, ops, tokens)).status !== 200)).to.equal(true);
      await expectStopped(replica.issuer, ops, tokens);

      // And the other way: a policy tightened through the replica's admin service stops tokens at the first server.
      const board = await registerRelyingParty(world, { name: 'Status board', firstParty: true });
      const atBoard = await signIn(world, board, ZHANG_WEI);
      await expectWorking(world.server.issuer, board, atBoard);
      await adminServiceOf(replica.services).updateClient(
        board.clientId,
        { accessPolicy: { roles: ['ops'] } },
        { accountId: 'replica-admin', via: 'api' },
      );
      await expectStopped(world.server.issuer, board, atBoard);
    } finally {
      await replica.close();
    }
  });
});
