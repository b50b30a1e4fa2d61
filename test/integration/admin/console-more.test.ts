import { expect } from 'chai';
import { SWEEP_AUDIT_TYPE } from '../../../src/accounts/directory-sweep.js';
import { Browser } from '../../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty } from '../../helpers/login-flow.js';
import { ADMIN, AUDITOR, accountIdOf, consoleLogin, EMPLOYEE, startAdminWorld, submit } from './harness.js';

describe('admin console: applications, sessions, keys, DingTalk, previews', function () {
  let world: LoginWorld;
  let admin: Browser;
  let auditor: Browser;
  let adminId: string;

  before(async function () {
    world = await startAdminWorld();
    admin = (await consoleLogin(world, ADMIN)).browser;
    auditor = (await consoleLogin(world, AUDITOR)).browser;
    adminId = await accountIdOf(world, ADMIN);
  });

  after(async function () {
    await world?.close();
  });

  const url = (path: string) => `${world.server.issuer}${path}`;
  const lastAudit = async (type: string) =>
    (await world.server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'DESC']], limit: 1 }))[0];

  it('registers an application from a preset and shows its secret once, on the POST answer only', async function () {
    const list = await admin.request(url('/admin/clients'));
    expect(list.status).to.equal(200);
    const page = await submit(world, admin, list, '/admin/clients', { preset: 'gitlab', baseUrl: 'https://git.example.test', public: '' });
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.equal('no-store');
    const secret = /id="client-secret">([^<]+)</.exec(page.text)![1]!;
    const clientId = /<dd><code>([^<]+)<\/code><\/dd>/.exec(page.text)![1]!;
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    const detail = await admin.request(url(`/admin/clients/${clientId}`));
    expect(detail.text).to.include('https://git.example.test/users/auth/openid_connect/callback');
    expect(detail.text).not.to.include(secret);
    expect((await lastAudit('client.created'))!.actor).to.equal(adminId);
  });

  it('edits an application and shows oidc-provider’s complaint for invalid URIs', async function () {
    await world.server.services.clientStore.add({ clientId: 'wiki', name: 'Wiki', redirectUris: ['https://wiki.example.test/cb'] });
    const detail = await admin.request(url('/admin/clients/wiki'));
    const saved = await submit(world, admin, detail, '/admin/clients/wiki', {
      name: 'Team wiki',
      redirectUris: 'https://wiki.example.test/cb\nhttps://wiki.example.test/cb2',
      policyRoles: 'auditor',
      idTokenClaims: 'roles groups',
    });
    expect(saved.status).to.equal(302);
    const client = (await world.server.services.clientStore.get('wiki'))!;
    expect(client.name).to.equal('Team wiki');
    expect(client.metadata.redirect_uris).to.deep.equal(['https://wiki.example.test/cb', 'https://wiki.example.test/cb2']);
    expect(client.metadata.access_policy).to.deep.equal({ roles: ['auditor'], departments: [] });
    expect(client.metadata.id_token_claims).to.deep.equal(['roles', 'groups']);
    const bad = await submit(world, admin, await admin.request(url('/admin/clients/wiki')), '/admin/clients/wiki', {
      redirectUris: 'ftp://nope',
    });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.match(/redirect_uris/);
    const rotated = await submit(world, admin, await admin.request(url('/admin/clients/wiki')), '/admin/clients/wiki/rotate-secret');
    expect(rotated.text).to.match(/id="client-secret">[A-Za-z0-9_-]{43}</);
  });

  it('registers a service account and adds or takes away client_credentials on an existing app', async function () {
    const list = await admin.request(url('/admin/clients'));
    const page = await submit(world, admin, list, '/admin/clients', {
      name: 'Ops robot',
      clientId: 'ops-robot',
      public: '',
      clientCredentials: 'on',
      serviceRoles: 'admin, reporting',
    });
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/id="client-secret">[A-Za-z0-9_-]{43}</);
    let robot = (await world.server.services.clientStore.get('ops-robot'))!;
    expect(robot.metadata.grant_types).to.deep.equal(['client_credentials']);
    expect(robot.metadata.service_roles).to.deep.equal(['admin', 'reporting']);
    const detail = await admin.request(url('/admin/clients/ops-robot'));
    expect(detail.text).to.match(/name="clientCredentials" value="on" checked/);
    expect(detail.text).to.include('value="admin, reporting"');

    await world.server.services.clientStore.add({ clientId: 'portal', name: 'Portal', redirectUris: ['https://portal.example.test/cb'] });
    const on = await submit(world, admin, await admin.request(url('/admin/clients/portal')), '/admin/clients/portal', {
      redirectUris: 'https://portal.example.test/cb',
      clientCredentials: 'on',
    });
    expect(on.status).to.equal(302);
    expect((await world.server.services.clientStore.get('portal'))!.metadata.grant_types).to.deep.equal([
      'authorization_code',
      'refresh_token',
      'client_credentials',
    ]);
    const off = await submit(world, admin, await admin.request(url('/admin/clients/portal')), '/admin/clients/portal', {
      redirectUris: 'https://portal.example.test/cb',
      clientCredentials: '',
    });
    expect(off.status).to.equal(302);
    expect((await world.server.services.clientStore.get('portal'))!.metadata.grant_types).to.deep.equal([
      'authorization_code',
      'refresh_token',
    ]);

    const bad = await submit(world, admin, await admin.request(url('/admin/clients/portal')), '/admin/clients/portal', {
      redirectUris: 'https://portal.example.test/cb',
      clientCredentials: '',
      serviceRoles: 'admin',
    });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.include('client_credentials');
    robot = (await world.server.services.clientStore.get('ops-robot'))!;
    expect(robot.metadata.service_roles).to.deep.equal(['admin', 'reporting']);
  });

  it('lists sessions and consents with filters and revokes a session', async function () {
    const rp = await registerRelyingParty(world, { name: 'Session app' });
    const login = await loginViaDingTalk(world, new Browser(), rp, EMPLOYEE);
    await exchangeCode(rp, login.callback, login.request);
    const page = await admin.request(url(`/admin/sessions?account=${EMPLOYEE}`));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('Session app');
    const action = /action="(\/admin\/sessions\/[^"]+\/revoke)"/.exec(page.text)![1]!;
    const done = await submit(world, admin, page, action);
    expect(done.status).to.equal(302);
    expect(done.headers.get('location')).to.include('done=session_revoked');
    expect(done.headers.get('location')).not.to.include('failed=');
    expect((await lastAudit('session.revoked'))!.accountId).to.equal(await accountIdOf(world, EMPLOYEE));
    const after = await admin.request(new URL(done.headers.get('location')!, world.server.issuer).toString());
    expect(after.text).to.match(/role="status">会话已结束/);
    expect(after.text).not.to.include('role="alert"');
    // Failed back-channel deliveries (counted by the revocation) get a notice of their own.
    const failed = await admin.request(url('/admin/sessions?done=session_revoked&failed=2'));
    expect(failed.text).to.match(/role="alert">有 2 个应用未能收到后端通道退出通知/);
  });

  it('shows keys and rotates one; shows the DingTalk checks; renders previews in both languages', async function () {
    const keys = await admin.request(url('/admin/keys'));
    expect(keys.status).to.equal(200);
    const rotated = await submit(world, admin, keys, '/admin/keys/rotate', { alg: 'ES256' });
    expect(rotated.status).to.equal(302);
    expect((await lastAudit('key.rotated'))!.details.alg).to.equal('ES256');
    // The last directory sweep's figures, as a sweep records them in the audit log.
    await world.server.services.db.models.AuditEvent.create({
      type: SWEEP_AUDIT_TYPE,
      actor: 'dingtalk:schedule',
      details: {
        trigger: 'schedule',
        startedAt: '2026-12-01T02:00:00.000Z',
        finishedAt: '2026-12-01T02:01:40.000Z',
        durationMs: 100_000,
        complete: false,
        departments: 512,
        members: 10_000,
        organisationCount: 10_003,
        checked: 9_000,
        updated: 17,
        unchanged: 8_983,
        created: 0,
        reactivated: 1,
        disabled: 0,
        leaversUnconfirmed: 4,
        calls: 1_137,
        failed: 1,
        failures: [{ ref: 'department 42', code: 'dingtalk.unavailable' }],
      },
    });
    const health = await admin.request(url('/admin/dingtalk'));
    expect(health.status).to.equal(200);
    expect(health.text).to.include('/dingtalk/events');
    expect(health.text).to.include('getbyunionid');
    expect(health.text).to.include('id="last-sweep"');
    expect(health.text).to.match(/512 个部门、10000 人（钉钉统计 10003 人）|512 departments, 10000 people \(DingTalk counts 10003\)/);
    expect(health.text).to.include('1137');
    expect(health.text).to.match(/(不完整|Incomplete)/);
    for (const name of ['login', 'consent', 'wait', 'error', 'logout', 'logged-out']) {
      const zh = await admin.request(url(`/admin/previews/${name}?lang=zh-CN`));
      const en = await admin.request(url(`/admin/previews/${name}?lang=en`));
      expect(zh.status, name).to.equal(200);
      expect(zh.text).to.include('<html lang="zh-CN">');
      expect(en.text).to.include('<html lang="en">');
    }
    // The burst page previews without its automatic reload.
    const wait = await admin.request(url('/admin/previews/wait?lang=zh-CN'));
    expect(wait.text).to.include('请稍候').and.include('5 秒').and.not.include('http-equiv="refresh"');
    expect((await admin.request(url('/admin/previews/nothing'))).status).to.equal(404);
  });

  it('lets an auditor see every new page without a single change form, and refuses its POSTs', async function () {
    for (const path of ['/admin/clients', '/admin/clients/wiki', '/admin/sessions', '/admin/keys', '/admin/dingtalk', '/admin/previews']) {
      const page = await auditor.request(url(path));
      expect(page.status, path).to.equal(200);
      expect(page.text, path).not.to.match(/method="post" action="\/admin\/(clients|resource-servers|sessions|keys|consents|apps)/);
    }
    const list = await auditor.request(url('/admin/clients'));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(list.text)![1]!;
    const res = await auditor.request(url('/admin/keys/rotate'), { form: { _csrf: csrf, alg: 'RS256' } });
    expect(res.status).to.equal(403);
  });
});
