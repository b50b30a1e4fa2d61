import { expect } from 'chai';
import { Browser } from '../../helpers/browser.js';
import { type LoginWorld, USERS } from '../../helpers/login-flow.js';
import { ADMIN, adminApiToken, api, consoleLogin, EMPLOYEE, startAdminApiWorld } from './harness.js';

describe('admin API (/admin/api)', function () {
  let world: LoginWorld;
  let adminToken: string;
  let auditorToken: string;
  let employeeToken: string;
  let adminId: string;
  let employeeId: string;

  before(async function () {
    ({ world, adminToken, auditorToken, employeeToken, adminId, employeeId } = await startAdminApiWorld());
  });

  after(async function () {
    await world?.close();
  });

  const auditOf = (type: string) => world.server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'ASC']] });

  describe('authentication and permissions', function () {
    it('answers 401 with a Bearer challenge without a token', async function () {
      const res = await api(world, undefined, 'GET', '/accounts');
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      expect(res.json).to.deep.include({ code: 'admin.unauthorized' });
    });

    it('answers 401 to a garbage token and to an ID-token-shaped JWT for another audience', async function () {
      const garbage = await api(world, 'not-a-jwt', 'GET', '/accounts');
      expect(garbage.status).to.equal(401);
      expect(garbage.headers.get('www-authenticate')).to.include('invalid_token');
      const forged = await api(world, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'GET', '/accounts');
      expect(forged.status).to.equal(401);
    });

    it('answers 403 to an ordinary employee’s token', async function () {
      const res = await api(world, employeeToken, 'GET', '/accounts');
      expect(res.status).to.equal(403);
      expect(res.json.code).to.equal('admin.forbidden');
    });

    it('answers 200 to an admin and to an auditor for reads', async function () {
      expect((await api(world, adminToken, 'GET', '/me')).json).to.deep.include({ accountId: adminId, level: 'admin' });
      expect((await api(world, auditorToken, 'GET', '/accounts')).status).to.equal(200);
    });

    it('answers 403 admin.read_only to an auditor for every write', async function () {
      for (const [method, path, body] of [
        ['POST', `/accounts/${employeeId}/disable`, {}],
        ['POST', `/accounts/${employeeId}/enable`, {}],
        ['POST', `/accounts/${employeeId}/revoke`, {}],
        ['POST', `/accounts/${employeeId}/sync`, {}],
        ['POST', '/roles', { name: 'x' }],
        ['DELETE', '/roles/auditor', undefined],
        ['POST', '/roles/auditor/assign', { account: employeeId }],
        ['POST', '/roles/auditor/unassign', { account: employeeId }],
        ['POST', '/roles/rules', { role: 'auditor', kind: 'boss' }],
        ['DELETE', '/roles/rules/1', undefined],
      ] as const) {
        const res = await api(world, auditorToken, method, path, body);
        expect(res.status, `${method} ${path}`).to.equal(403);
        expect(res.json.code, `${method} ${path}`).to.equal('admin.read_only');
      }
      expect((await world.server.services.db.models.Account.findByPk(employeeId))!.status).to.equal('active');
    });

    it('needs admin:write in the token for a write', async function () {
      const readOnly = await adminApiToken(world, ADMIN, 'openid admin:read');
      expect((await api(world, readOnly, 'GET', '/roles')).status).to.equal(200);
      const res = await api(world, readOnly, 'POST', '/roles', { name: 'x' });
      expect(res.status).to.equal(403);
    });

    it('stops accepting a token at once when its person loses the role', async function () {
      const { roles } = world.server.services;
      expect((await api(world, await adminApiToken(world, USERS.noEmail), 'GET', '/accounts')).status).to.equal(403);
      await roles.assign('admin', USERS.noEmail);
      const token = await adminApiToken(world, USERS.noEmail);
      expect((await api(world, token, 'GET', '/accounts')).status).to.equal(200);
      await roles.unassign('admin', USERS.noEmail);
      expect((await api(world, token, 'GET', '/accounts')).status).to.equal(403);
    });
  });

  describe('accounts', function () {
    it('searches by name, userid, email and department name, paginated', async function () {
      const byName = await api(world, adminToken, 'GET', `/accounts?q=${encodeURIComponent('王建')}`);
      expect(byName.json.items.map((a: { id: string }) => a.id)).to.deep.equal([adminId]);
      const byUserId = await api(world, adminToken, 'GET', '/accounts?q=manager7421');
      expect(byUserId.json.total).to.equal(1);
      const byDepartment = await api(world, adminToken, 'GET', `/accounts?q=${encodeURIComponent('研发中心')}`);
      expect(byDepartment.json.total).to.be.greaterThan(0);
      const all = await api(world, adminToken, 'GET', '/accounts?pageSize=2&page=1');
      expect(all.json).to.include({ page: 1, pageSize: 2 });
      expect(all.json.items).to.have.length(2);
      expect(all.json.total).to.be.greaterThan(2);
      const odd = await api(world, adminToken, 'GET', '/accounts?page=abc&pageSize=-3&q=%25_');
      expect(odd.status).to.equal(200);
      expect(odd.json.items).to.deep.equal([]);
    });

    it('shows one account with roles and their source, sessions, grants, consents and audit', async function () {
      const res = await api(world, adminToken, 'GET', `/accounts/${adminId}`);
      expect(res.status).to.equal(200);
      expect(res.json.account).to.include({ id: adminId, userId: 'manager7421' });
      expect(res.json.roles).to.deep.include.members([]);
      expect(res.json.roles.find((r: { role: string }) => r.role === 'admin').source).to.equal('config');
      expect(res.json.sessions.length).to.be.greaterThan(0);
      expect(res.json.grants.length).to.be.greaterThan(0);
      expect(res.json.recentAudit.map((e: { type: string }) => e.type)).to.include('login.succeeded');
      const byUserId = await api(world, adminToken, 'GET', '/accounts/manager7421');
      expect(byUserId.json.account.id).to.equal(adminId);
      const missing = await api(world, adminToken, 'GET', '/accounts/nobody');
      expect(missing.status).to.equal(404);
      expect(missing.json.code).to.equal('accounts.not_found');
    });

    it('revokes, disables, enables and re-syncs, each audited with the admin as actor', async function () {
      await consoleLogin(world, EMPLOYEE, new Browser());
      const revoked = await api(world, adminToken, 'POST', `/accounts/${employeeId}/revoke`);
      expect(revoked.status).to.equal(200);
      expect(revoked.json.sessions).to.be.greaterThan(0);
      expect((await auditOf('account.revoked')).at(-1)!.actor).to.equal(adminId);

      const disabled = await api(world, adminToken, 'POST', `/accounts/${employeeId}/disable`, { reason: 'left the team' });
      expect(disabled.json).to.include({ disabled: true });
      const disabledEvent = (await auditOf('account.disabled')).at(-1)!;
      expect(disabledEvent.actor).to.equal(adminId);
      expect(disabledEvent.details.reason).to.equal('left the team');
      expect((await api(world, employeeToken, 'GET', '/me')).status).to.equal(403);

      const enabled = await api(world, adminToken, 'POST', `/accounts/${employeeId}/enable`);
      expect(enabled.json).to.include({ enabled: true });
      expect((await auditOf('account.enabled')).at(-1)!.actor).to.equal(adminId);

      const synced = await api(world, adminToken, 'POST', `/accounts/${employeeId}/sync`);
      expect(synced.status).to.equal(200);
      expect(['updated', 'unchanged']).to.include(synced.json.outcome);
      const syncEvent = (await auditOf('account.sync_requested')).at(-1)!;
      expect(syncEvent.actor).to.equal(adminId);
      expect(syncEvent.details).to.include({ via: 'api' });
    });
  });

  describe('roles and rules', function () {
    it('creates, lists, assigns, unassigns and deletes a role, each audited', async function () {
      const created = await api(world, adminToken, 'POST', '/roles', { name: 'oncall', description: 'On call' });
      expect(created.status).to.equal(201);
      expect((await api(world, adminToken, 'POST', '/roles', { name: 'oncall' })).status).to.equal(409);
      expect((await api(world, adminToken, 'POST', '/roles', { name: 'Bad Name!' })).status).to.equal(400);
      expect((await api(world, adminToken, 'POST', '/roles', {})).status).to.equal(400);
      const list = await api(world, adminToken, 'GET', '/roles');
      expect(list.json.items.map((r: { name: string }) => r.name)).to.include('oncall');

      const assigned = await api(world, adminToken, 'POST', '/roles/oncall/assign', { account: 'manager7421' });
      expect(assigned.json.added).to.deep.equal(['oncall']);
      expect((await auditOf('role.assigned')).at(-1)).to.include({ actor: adminId, accountId: adminId });
      const unassigned = await api(world, adminToken, 'POST', '/roles/oncall/unassign', { account: adminId });
      expect(unassigned.json.removed).to.deep.equal(['oncall']);
      expect((await auditOf('role.unassigned')).at(-1)!.actor).to.equal(adminId);

      const removed = await api(world, adminToken, 'DELETE', '/roles/oncall');
      expect(removed.status).to.equal(200);
      expect((await auditOf('role.removed')).at(-1)!.details.role).to.equal('oncall');
      expect((await api(world, adminToken, 'DELETE', '/roles/oncall')).status).to.equal(404);
      // The built-in admin role cannot be removed: that would lock every administrator out.
      const builtIn = await api(world, adminToken, 'DELETE', '/roles/admin');
      expect(builtIn.status).to.equal(409);
      expect(builtIn.json.code).to.equal('roles.protected');
    });

    it('previews a rule, adds it (roles follow) and removes it, each audited', async function () {
      await api(world, adminToken, 'POST', '/roles', { name: 'rd' });
      const preview = await api(world, adminToken, 'POST', '/roles/rules/preview', {
        kind: 'department',
        value: [100],
        includeSubDepartments: true,
      });
      expect(preview.status).to.equal(200);
      expect(preview.json.items.map((a: { name: string }) => a.name)).to.include('王建国');
      const bad = await api(world, adminToken, 'POST', '/roles/rules/preview', { kind: 'department', value: ['x'] });
      expect(bad.status).to.equal(400);
      expect(bad.json.code).to.equal('roles.invalid_rule');

      const added = await api(world, adminToken, 'POST', '/roles/rules', {
        role: 'rd',
        kind: 'department',
        value: [100],
        includeSubDepartments: true,
      });
      expect(added.status).to.equal(201);
      const ruleId = added.json.rule.id as number;
      expect(await world.server.services.roles.rolesOf(adminId)).to.include('rd');
      expect((await auditOf('role_rule.created')).at(-1)!.actor).to.equal(adminId);
      expect((await auditOf('account.roles_changed')).some((e) => e.accountId === adminId && e.actor === adminId)).to.equal(true);
      const rules = await api(world, auditorToken, 'GET', '/roles/rules');
      expect(rules.json.items.map((r: { id: number }) => r.id)).to.include(ruleId);

      expect((await api(world, adminToken, 'DELETE', `/roles/rules/${ruleId}`)).status).to.equal(200);
      expect(await world.server.services.roles.rolesOf(adminId)).not.to.include('rd');
      expect((await auditOf('role_rule.removed')).at(-1)!.actor).to.equal(adminId);
      expect((await api(world, adminToken, 'DELETE', '/roles/rules/abc')).status).to.equal(404);
    });
  });

  describe('audit log', function () {
    it('filters by account, type prefix, client and time, newest first, with a cursor', async function () {
      const byAccount = await api(world, auditorToken, 'GET', `/audit?account=${adminId}&type=role.*`);
      expect(byAccount.status).to.equal(200);
      expect(byAccount.json.items.length).to.be.greaterThan(0);
      for (const item of byAccount.json.items) {
        expect(item.accountId).to.equal(adminId);
        expect(item.type).to.match(/^role\./);
      }
      const first = await api(world, auditorToken, 'GET', '/audit?pageSize=2');
      expect(first.json.items).to.have.length(2);
      expect(Number(first.json.items[0].id)).to.be.greaterThan(Number(first.json.items[1].id));
      const next = await api(world, auditorToken, 'GET', `/audit?pageSize=2&cursor=${first.json.nextCursor}`);
      expect(Number(next.json.items[0].id)).to.be.lessThan(Number(first.json.items[1].id));
      const future = await api(
        world,
        auditorToken,
        'GET',
        `/audit?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`,
      );
      expect(future.json.items).to.deep.equal([]);
      const logins = await api(world, auditorToken, 'GET', '/audit?type=login.succeeded&client=admin-console');
      expect(logins.json.items.every((e: { clientId: string }) => e.clientId === 'admin-console')).to.equal(true);
    });

    it('answers 400, never 500, to bad filters and bad JSON', async function () {
      expect((await api(world, adminToken, 'GET', '/audit?from=someday')).status).to.equal(400);
      expect((await api(world, adminToken, 'GET', '/audit?account=not-a-uuid')).status).to.equal(400);
      expect((await api(world, adminToken, 'GET', '/audit?cursor=-1')).status).to.equal(400);
      const json = await api(world, adminToken, 'POST', '/roles', '{"name":');
      expect(json.status).to.equal(400);
      expect(json.json).to.have.keys('code', 'message');
      const unknown = await api(world, adminToken, 'GET', '/nothing-here');
      expect(unknown.status).to.equal(404);
      expect(unknown.json.code).to.equal('admin.not_found');
    });

    it('exports CSV with formula-injection-safe cells', async function () {
      await world.server.services.db.models.AuditEvent.create({
        type: 'test.csv',
        actor: '+SUM(A1:A2)',
        clientId: '@evil',
        details: { x: '=1' },
      });
      const res = await api(world, auditorToken, 'GET', '/audit.csv?type=test.csv');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.include('text/csv');
      const [header, row] = res.text.trim().split('\r\n');
      expect(header).to.equal('"id","time","type","actor","account_id","client_id","ip","details"');
      expect(row).to.include(`"'+SUM(A1:A2)"`);
      expect(row).to.include(`"'@evil"`);
      expect(row).to.include(`"{""x"":""=1""}"`);
    });
  });
});
