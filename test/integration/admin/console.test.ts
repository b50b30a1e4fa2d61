import { expect } from 'chai';
import { Browser } from '../../helpers/browser.js';
import type { LoginWorld } from '../../helpers/login-flow.js';
import { ADMIN, AUDITOR, accountIdOf, consoleLogin, EMPLOYEE, startAdminWorld, submit } from './harness.js';

describe('admin console (pages)', function () {
  let world: LoginWorld;
  let admin: Browser;
  let adminId: string;
  let employeeId: string;

  before(async function () {
    world = await startAdminWorld();
    const login = await consoleLogin(world, ADMIN);
    expect(login.page.status).to.equal(200);
    admin = login.browser;
    adminId = await accountIdOf(world, ADMIN);
    await consoleLogin(world, EMPLOYEE);
    employeeId = await accountIdOf(world, EMPLOYEE);
  });

  after(async function () {
    await world?.close();
  });

  const url = (path: string) => `${world.server.issuer}${path}`;
  const auditOf = (type: string) => world.server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'ASC']] });

  it('shows a sign-in page at /admin without a session, and sends other pages to the login', async function () {
    const browser = new Browser();
    const landing = await browser.request(url('/admin'));
    expect(landing.status).to.equal(200);
    expect(landing.text).to.include('href="/admin/login"');
    const accounts = await browser.request(url('/admin/accounts?q=x'));
    expect(accounts.status).to.equal(302);
    expect(accounts.headers.get('location')).to.equal('/admin/login?returnTo=%2Fadmin%2Faccounts%3Fq%3Dx');
  });

  it('signs an admin in through DingTalk into a server-side session in a signed HttpOnly cookie', async function () {
    const cookies = admin.cookies(world.server.issuer);
    expect(cookies.get('admin_session')).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(cookies.has('admin_session.sig')).to.equal(true);
    const page = await admin.request(url('/admin'));
    expect(page.text).to.include('王建国');
    expect(page.text).to.include('href="/admin/accounts"');
  });

  it('answers 403 with a clear page to someone without the admin or auditor role', async function () {
    const { page } = await consoleLogin(world, EMPLOYEE);
    expect(page.status).to.equal(403);
    expect(page.text).to.include('无权访问');
  });

  it('speaks English when the browser prefers it', async function () {
    const english = new Browser({ 'accept-language': 'en-US,en;q=0.9' });
    const { page } = await consoleLogin(world, ADMIN, english);
    expect(page.text).to.include('Admin console');
    expect(page.text).to.include('<html lang="en">');
  });

  it('searches accounts by department name, escapes what it shows and paginates', async function () {
    await world.server.services.db.models.Account.update({ title: 'x', nickname: null }, { where: { id: employeeId } });
    await world.server.services.db.models.Account.update({ name: '王建国<script>alert(1)</script>' }, { where: { id: adminId } });
    try {
      const page = await admin.request(url('/admin/accounts?q=' + encodeURIComponent('研发')));
      expect(page.status).to.equal(200);
      expect(page.text).to.include('王建国&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.text).not.to.include('<script>alert(1)');
      const paged = await admin.request(url('/admin/accounts?pageSize=1&page=2'));
      expect(paged.text).to.match(/第 2 页，共 2 页/);
    } finally {
      await world.server.services.db.models.Account.update({ name: '王建国' }, { where: { id: adminId } });
    }
  });

  it('shows an account with its roles and where they come from, sessions and grants', async function () {
    const page = await admin.request(url(`/admin/accounts/${adminId}`));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('ADMIN_DINGTALK_USERIDS');
    expect(page.text).to.include('Admin console'); // the console's own grant, by app name
    expect(page.text).to.include('manager7421');
  });

  it('refuses a form without its CSRF token and changes nothing', async function () {
    const page = await admin.request(url(`/admin/accounts/${employeeId}/disable`), { form: { _csrf: 'forged' } });
    expect(page.status).to.equal(403);
    const account = await world.server.services.db.models.Account.findByPk(employeeId);
    expect(account!.status).to.equal('active');
  });

  it('disables and enables an account, each audited with the admin as actor', async function () {
    const detail = await admin.request(url(`/admin/accounts/${employeeId}`));
    const disabled = await submit(world, admin, detail, `/admin/accounts/${employeeId}/disable`);
    expect(disabled.status).to.equal(302);
    expect(disabled.headers.get('location')).to.equal(`/admin/accounts/${employeeId}?done=disable`);
    const [event] = await auditOf('account.disabled');
    expect(event!.actor).to.equal(adminId);
    expect(event!.accountId).to.equal(employeeId);

    const after = await admin.request(url(`/admin/accounts/${employeeId}`));
    expect(after.text).to.include('/enable"');
    await submit(world, admin, after, `/admin/accounts/${employeeId}/enable`);
    const [enabled] = await auditOf('account.enabled');
    expect(enabled!.actor).to.equal(adminId);
    expect((await world.server.services.db.models.Account.findByPk(employeeId))!.status).to.equal('active');
  });

  it('previews a rule with the accounts it matches, then saves it (audited)', async function () {
    let roles = await admin.request(url('/admin/roles'));
    await submit(world, admin, roles, '/admin/roles', { name: 'bosses', description: 'The boss' });
    expect((await auditOf('role.created')).map((e) => e.details.role)).to.include('bosses');
    roles = await admin.request(url('/admin/roles'));
    const preview = await submit(world, admin, roles, '/admin/roles/rules/preview', {
      role: 'bosses',
      kind: 'boss',
      value: 'true',
      includeSubDepartments: '',
    });
    expect(preview.status).to.equal(200);
    expect(preview.text).to.include('>陈晓明</a>');
    expect(preview.text).not.to.include('>王建国</a>');
    expect(await world.server.services.roles.listRules()).to.have.length(1); // only the auditor rule so far
    const saved = await submit(world, admin, preview, '/admin/roles/rules');
    expect(saved.status).to.equal(302);
    const rules = await world.server.services.roles.listRules();
    expect(rules.map((r) => r.role)).to.include('bosses');
    const [created] = await auditOf('role_rule.created');
    expect(created!.actor).to.equal(adminId);
    expect(await world.server.services.roles.rolesOf(employeeId)).to.include('bosses');
  });

  it('lets an auditor read everything but answers 403 to every change', async function () {
    const { browser, page } = await consoleLogin(world, AUDITOR);
    expect(page.status).to.equal(200);
    expect(page.text).to.include('审计员');
    const detail = await browser.request(url(`/admin/accounts/${employeeId}`));
    expect(detail.status).to.equal(200);
    expect(detail.text).not.to.include('/disable"');
    const roles = await browser.request(url('/admin/roles'));
    expect(roles.status).to.equal(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(roles.text)![1]!;
    const refused = await browser.request(url(`/admin/accounts/${employeeId}/disable`), { form: { _csrf: csrf } });
    expect(refused.status).to.equal(403);
    const role = await browser.request(url('/admin/roles'), { form: { _csrf: csrf, name: 'sneaky' } });
    expect(role.status).to.equal(403);
    expect((await world.server.services.roles.listRoles()).map((r) => r.name)).not.to.include('sneaky');
  });

  it('filters the audit log and downloads it as formula-safe CSV', async function () {
    await world.server.services.db.models.AuditEvent.create({ type: 'test.injection', actor: '=HYPERLINK("http://evil")', details: {} });
    const page = await admin.request(url('/admin/audit?type=account.*'));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('account.disabled');
    expect(page.text).not.to.include('role.created');
    const csv = await admin.request(url('/admin/audit.csv?type=test.injection'));
    expect(csv.status).to.equal(200);
    expect(csv.headers.get('content-type')).to.include('text/csv');
    expect(csv.headers.get('content-disposition')).to.include('audit.csv');
    expect(csv.text).to.include(`"'=HYPERLINK(""http://evil"")"`);
    const bad = await admin.request(url('/admin/audit?from=yesterday'));
    expect(bad.status).to.equal(400);
  });

  it('signs out: the session ends and the browser goes to the issuer’s logout', async function () {
    const { browser, page } = await consoleLogin(world, ADMIN);
    const out = await submit(world, browser, page, '/admin/logout');
    expect(out.status).to.equal(302);
    const location = new URL(out.headers.get('location')!);
    expect(location.pathname).to.equal('/session/end');
    expect(location.searchParams.get('client_id')).to.equal('admin-console');
    expect(location.searchParams.get('id_token_hint')).to.be.a('string');
    const again = await browser.request(url('/admin/accounts'));
    expect(again.status).to.equal(302);
  });
});
