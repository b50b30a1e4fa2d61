/**
 * The role service and provisioning on a real Postgres; DingTalk records come from the emulator
 * through the real client where the path matters (department ancestry), else are written here.
 */
import { expect } from 'chai';
import { createAuditLog } from '../../../src/accounts/audit.js';
import { createProvisioning } from '../../../src/accounts/provisioning.js';
import { ADMIN_ROLE, createRoleService, type RoleService } from '../../../src/accounts/roles.js';
import type { UpstreamIdentity } from '../../../src/dingtalk/identity.js';
import { createDatabase, type Database } from '../../../src/db/sequelize.js';
import { AppError } from '../../../src/errors/app-error.js';
import { createLogger } from '../../../src/log.js';
import { resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { authCodeFor, clientFor, PEOPLE, startEmulator, type Harness } from '../dingtalk/harness.js';

/** A DingTalk member as the client would hand it over; 李娜 of the seed unless overridden. */
function identity(overrides: Partial<UpstreamIdentity> = {}): UpstreamIdentity {
  return {
    unionId: PEOPLE.platform.unionid,
    userId: PEOPLE.platform.userid,
    corpId: 'ding5f8a2c4e71b3d902',
    name: '李娜',
    nickname: '李娜',
    emailVerified: false,
    title: '高级后端工程师',
    departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
    isAdmin: false,
    isBoss: false,
    roleNames: ['研发'],
    ...overrides,
  };
}

const ADMIN = identity({
  unionId: PEOPLE.admin.unionid,
  userId: PEOPLE.admin.userid,
  name: '王建国',
  title: '技术总监',
  departments: [{ id: 100, name: '研发中心', ancestors: [1], path: '研发中心' }],
  isAdmin: true,
  roleNames: ['主管理员', '研发'],
});

const MARKETING = identity({
  unionId: PEOPLE.noEmail.unionid,
  userId: PEOPLE.noEmail.userid,
  name: '刘洋',
  title: '品牌经理',
  departments: [{ id: 201, name: '品牌组', ancestors: [1, 200], path: '市场部/品牌组' }],
  roleNames: ['市场'],
});

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

describe('roles (service on Postgres)', function () {
  let db: Database;

  function services(adminDingtalkUserids: string[] = []) {
    const roles = createRoleService(db.sequelize, db.models, { adminDingtalkUserids });
    const audit = createAuditLog(db.models, createLogger({ logLevel: 'silent' }));
    const provisioning = createProvisioning(db.sequelize, db.models, { roles, audit });
    return { roles, provisioning };
  }

  async function rowsOf(accountId: string) {
    const rows = await db.models.AccountRole.findAll({ where: { accountId }, include: [db.models.Role], order: [['id', 'ASC']] });
    return rows.map((row) => {
      const named = row as typeof row & { Role: { name: string } };
      return { role: named.Role.name, source: row.source, ruleId: row.ruleId };
    });
  }

  before(async function () {
    await resetState();
    db = createDatabase(TEST_DATABASE_URL, { poolMax: 4 });
  });

  beforeEach(async function () {
    await resetState();
  });

  after(async function () {
    await db?.close();
  });

  describe('provisioning', function () {
    it('gives one account to the same person signing in for the first time in two tabs at once', async function () {
      const { provisioning } = services();
      const accounts = await Promise.all([provisioning.signIn(identity()), provisioning.signIn(identity())]);
      expect(accounts[0].id).to.equal(accounts[1].id);
      expect(await db.models.Account.count()).to.equal(1);
    });
  });

  describe('roles and manual assignments', function () {
    let roles: RoleService;
    beforeEach(function () {
      roles = services().roles;
    });

    it('adds roles with valid names only, once each', async function () {
      await roles.addRole('grafana:editor', 'Grafana editors');
      await roles.addRole('ops.on-call_2');
      for (const bad of ['Admin', '-ops', 'ops team', '研发', 'a'.repeat(65), '']) {
        expect((await rejection(roles.addRole(bad))).code, bad).to.equal('roles.invalid_name');
      }
      expect((await rejection(roles.addRole('ops.on-call_2'))).code).to.equal('roles.exists');
      expect((await roles.listRoles()).map((r) => [r.name, r.description])).to.deep.equal([
        ['grafana:editor', 'Grafana editors'],
        ['ops.on-call_2', null],
      ]);
    });

    it('assigns and unassigns by account id, DingTalk userid or unionId', async function () {
      const { provisioning } = services();
      const account = await provisioning.signIn(identity());
      await roles.addRole('ops');
      await roles.addRole('billing');
      expect(await roles.assign('ops', PEOPLE.platform.userid)).to.deep.equal({ accountId: account.id, added: ['ops'], removed: [] });
      await roles.assign('billing', PEOPLE.platform.unionid);
      expect((await roles.assign('ops', account.id)).added).to.deep.equal([]); // idempotent
      expect(await roles.rolesOf(account.id)).to.deep.equal(['billing', 'ops']);
      expect(await roles.unassign('ops', account.id)).to.deep.equal({ accountId: account.id, added: [], removed: ['ops'] });
      expect(await roles.unassign('ops', account.id)).to.equal(undefined);
      expect((await rejection(roles.assign('ops', 'nobody'))).code).to.equal('accounts.not_found');
      expect((await rejection(roles.assign('nope', account.id))).code).to.equal('roles.not_found');
    });

    it('removing a role removes its assignments and rules and says who lost it', async function () {
      const { provisioning } = services();
      const account = await provisioning.signIn(identity());
      await roles.addRole('eng');
      await roles.assign('eng', account.id);
      await roles.addRule({ role: 'eng', kind: 'title', value: ['高级后端工程师'] });
      expect(await roles.removeRole('eng')).to.deep.equal([{ accountId: account.id, added: [], removed: ['eng'] }]);
      expect(await rowsOf(account.id)).to.deep.equal([]);
      expect(await roles.listRules()).to.deep.equal([]);
    });
  });

  describe('rules and re-evaluation', function () {
    it('a new rule gives its role to every matching active account at once, and removing it takes it back', async function () {
      const { roles, provisioning } = services();
      const platform = await provisioning.signIn(identity());
      const admin = await provisioning.signIn(ADMIN);
      await provisioning.signIn(MARKETING);
      await roles.addRole('engineering');

      const { rule, changes } = await roles.addRule({ role: 'engineering', kind: 'department', value: [100], includeSubDepartments: true });
      expect(rule).to.include({ role: 'engineering', kind: 'department', includeSubDepartments: true });
      expect(changes.map((c) => c.accountId).sort()).to.deep.equal([platform.id, admin.id].sort());
      expect(changes.every((c) => c.added.join() === 'engineering' && c.removed.length === 0)).to.equal(true);
      expect(await rowsOf(platform.id)).to.deep.equal([{ role: 'engineering', source: 'rule', ruleId: rule.id }]);

      const removed = await roles.removeRule(rule.id);
      expect(removed.changes.map((c) => c.removed)).to.deep.equal([['engineering'], ['engineering']]);
      expect(await roles.rolesOf(platform.id)).to.deep.equal([]);
    });

    it('without sub-departments a department rule matches its direct members only', async function () {
      const { roles, provisioning } = services();
      const platform = await provisioning.signIn(identity());
      const admin = await provisioning.signIn(ADMIN);
      await roles.addRole('rnd-direct');
      const { changes } = await roles.addRule({ role: 'rnd-direct', kind: 'department', value: [100] });
      expect(changes.map((c) => c.accountId)).to.deep.equal([admin.id]);
      expect(await roles.rolesOf(platform.id)).to.deep.equal([]);
    });

    it('gives a role by every rule kind', async function () {
      const { roles, provisioning } = services();
      const platform = await provisioning.signIn(identity());
      const admin = await provisioning.signIn(ADMIN);
      const boss = await provisioning.signIn(
        identity({
          unionId: PEOPLE.boss.unionid,
          userId: PEOPLE.boss.userid,
          name: '陈晓明',
          isBoss: true,
          title: '首席执行官',
          roleNames: ['老板'],
          departments: [{ id: 1, name: '杭州云栖科技有限公司', ancestors: [], path: '杭州云栖科技有限公司' }],
        }),
      );
      const marketing = await provisioning.signIn(MARKETING);
      for (const name of ['dt-admins', 'bosses', 'developers', 'brand', 'listed']) await roles.addRole(name);
      await roles.addRule({ role: 'dt-admins', kind: 'admin' });
      await roles.addRule({ role: 'bosses', kind: 'boss', value: 'true' });
      await roles.addRule({ role: 'developers', kind: 'dingtalk_role', value: ['研发'] });
      await roles.addRule({ role: 'brand', kind: 'title', value: ['品牌经理'] });
      await roles.addRule({ role: 'listed', kind: 'users', value: [PEOPLE.boss.unionid, PEOPLE.noEmail.userid] });
      expect(await roles.rolesOf(platform.id)).to.deep.equal(['developers']);
      expect(await roles.rolesOf(admin.id)).to.deep.equal(['developers', 'dt-admins']);
      expect(await roles.rolesOf(boss.id)).to.deep.equal(['bosses', 'listed']);
      expect(await roles.rolesOf(marketing.id)).to.deep.equal(['brand', 'listed']);
    });

    it('manual assignments survive re-evaluation and rule removal', async function () {
      const { roles, provisioning } = services();
      const account = await provisioning.signIn(identity());
      await roles.addRole('eng');
      await roles.addRole('oncall');
      await roles.assign('oncall', account.id);
      await roles.assign('eng', account.id);
      const { rule } = await roles.addRule({ role: 'eng', kind: 'dingtalk_role', value: ['研发'] });
      expect(await rowsOf(account.id)).to.deep.equal([
        { role: 'oncall', source: 'manual', ruleId: null },
        { role: 'eng', source: 'manual', ruleId: null },
        { role: 'eng', source: 'rule', ruleId: rule.id },
      ]);
      // The next login no longer matches the rule: only the rule's row goes.
      await provisioning.signIn(identity({ roleNames: [] }));
      expect(await rowsOf(account.id)).to.deep.equal([
        { role: 'oncall', source: 'manual', ruleId: null },
        { role: 'eng', source: 'manual', ruleId: null },
      ]);
      expect(await roles.reevaluate(account.id)).to.deep.equal({ accountId: account.id, added: [], removed: [] });
      expect((await roles.removeRule(rule.id)).changes).to.deep.equal([]);
      expect(await roles.rolesOf(account.id)).to.deep.equal(['eng', 'oncall']);
      // unassign touches only the manual row: the role stays while a rule gives it.
      await roles.addRule({ role: 'oncall', kind: 'title', value: ['高级后端工程师'] });
      expect(await roles.unassign('oncall', account.id)).to.deep.equal({ accountId: account.id, added: [], removed: [] });
      expect(await roles.rolesOf(account.id)).to.deep.equal(['eng', 'oncall']);
    });

    it('re-evaluates at every login from the refreshed DingTalk record, and audits the change', async function () {
      const { roles, provisioning } = services();
      await roles.addRole('platform');
      await roles.addRule({ role: 'platform', kind: 'department', value: [101] });
      const account = await provisioning.signIn(identity());
      expect(await roles.rolesOf(account.id)).to.deep.equal(['platform']);
      await provisioning.signIn(identity({ departments: [{ id: 102, name: '前端组', ancestors: [1, 100], path: '研发中心/前端组' }] }));
      expect(await roles.rolesOf(account.id)).to.deep.equal([]);
      const events = await db.models.AuditEvent.findAll({
        where: { type: 'account.roles_changed', accountId: account.id },
        order: [['id', 'ASC']],
      });
      expect(events.map((e) => e.details)).to.deep.equal([
        { added: ['platform'], removed: [] },
        { added: [], removed: ['platform'] },
      ]);
    });

    it('stores departments with their ancestry and DingTalk role names from a real DingTalk login', async function () {
      const harness: Harness = await startEmulator();
      try {
        const client = clientFor(harness.url);
        const { roles, provisioning } = services();
        await roles.addRole('rnd');
        await roles.addRule({ role: 'rnd', kind: 'department', value: [100], includeSubDepartments: true });
        const fetched = await client.fetchIdentity(await authCodeFor(client, PEOPLE.frontend.unionid));
        const account = await provisioning.signIn(fetched);
        expect(account.departments).to.deep.equal([
          { id: 102, name: '前端组', ancestors: [1, 100], path: '研发中心/前端组' },
          { id: 201, name: '品牌组', ancestors: [1, 200], path: '市场部/品牌组' },
        ]);
        expect(account.dingtalkRoles).to.deep.equal(['研发']);
        expect(await roles.rolesOf(account.id)).to.deep.equal(['rnd']);
      } finally {
        await harness.server.close();
      }
    });

    it('does not re-evaluate disabled accounts after a rule change', async function () {
      const { roles, provisioning } = services();
      const account = await provisioning.signIn(identity());
      await account.update({ status: 'disabled' });
      await roles.addRole('eng');
      expect((await roles.addRule({ role: 'eng', kind: 'dingtalk_role', value: ['研发'] })).changes).to.deep.equal([]);
      expect(await roles.rolesOf(account.id)).to.deep.equal([]);
    });

    it('survives concurrent evaluations of one account', async function () {
      const { roles, provisioning } = services([PEOPLE.platform.userid]);
      await roles.addRole('eng');
      await roles.addRule({ role: 'eng', kind: 'dingtalk_role', value: ['研发'] });
      const account = await provisioning.signIn(identity());
      await db.models.AccountRole.destroy({ where: { accountId: account.id } });
      await Promise.all([
        roles.reevaluate(account.id),
        roles.reevaluate(account.id),
        provisioning.signIn(identity()),
        roles.reevaluateAll(),
      ]);
      expect(await rowsOf(account.id)).to.have.length(2);
      expect(await roles.rolesOf(account.id)).to.deep.equal([ADMIN_ROLE, 'eng']);
    });

    it('an evaluation racing a rule removal waits for it instead of failing', async function () {
      const { roles, provisioning } = services();
      const account = await provisioning.signIn(identity());
      await roles.addRole('eng');
      const { rule } = await roles.addRule({ role: 'eng', kind: 'title', value: ['CTO'] });
      await account.update({ title: 'CTO' });
      const removal = await db.sequelize.transaction();
      await db.models.RoleRule.destroy({ where: { id: rule.id }, transaction: removal });
      const evaluation = roles.reevaluate(account.id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await removal.commit();
      expect(await evaluation).to.deep.equal({ accountId: account.id, added: [], removed: [] });
    });

    it('previews which active accounts a rule would match without writing anything', async function () {
      const { roles, provisioning } = services();
      const platform = await provisioning.signIn(identity());
      const admin = await provisioning.signIn(ADMIN);
      const marketing = await provisioning.signIn(MARKETING);
      await marketing.update({ status: 'disabled' });
      const matched = await roles.preview({ kind: 'department', value: ['1'], includeSubDepartments: true });
      expect(matched.map((a) => a.id).sort()).to.deep.equal([platform.id, admin.id].sort());
      expect(matched[0]).to.have.keys(['id', 'name', 'userId', 'unionId']);
      expect((await rejection(roles.preview({ kind: 'department', value: [] }))).code).to.equal('roles.invalid_rule');
      expect(await db.models.AccountRole.count()).to.equal(0);
    });

    it('refuses a rule for a missing role or with an invalid value', async function () {
      const { roles } = services();
      expect((await rejection(roles.addRule({ role: 'ghost', kind: 'admin' }))).code).to.equal('roles.not_found');
      await roles.addRole('x');
      expect((await rejection(roles.addRule({ role: 'x', kind: 'department', value: ['abc'] }))).message).to.contain(
        'positive whole numbers',
      );
      expect((await rejection(roles.removeRule(999))).code).to.equal('roles.rule_not_found');
    });
  });

  describe('ADMIN_DINGTALK_USERIDS', function () {
    it('gives admin by userid or unionId, creating the role, as a config assignment without rule', async function () {
      const { roles, provisioning } = services([PEOPLE.platform.userid, PEOPLE.admin.unionid]);
      expect(await roles.listRoles()).to.deep.equal([]);
      const platform = await provisioning.signIn(identity());
      const admin = await provisioning.signIn(ADMIN);
      const other = await provisioning.signIn(MARKETING);
      expect(await rowsOf(platform.id)).to.deep.equal([{ role: ADMIN_ROLE, source: 'config', ruleId: null }]);
      expect(await roles.rolesOf(admin.id)).to.deep.equal([ADMIN_ROLE]);
      expect(await roles.rolesOf(other.id)).to.deep.equal([]);
      expect((await roles.listRoles()).map((r) => [r.name, r.accounts])).to.deep.equal([[ADMIN_ROLE, 2]]);
    });

    it('creates the admin role once when several admins are evaluated at the same time', async function () {
      const first = services();
      const accounts = [await first.provisioning.signIn(identity()), await first.provisioning.signIn(ADMIN)];
      const { roles } = services([PEOPLE.platform.userid, PEOPLE.admin.userid]);
      const changes = await Promise.all(accounts.map((account) => roles.reevaluate(account)));
      expect(changes.map((c) => c.added)).to.deep.equal([[ADMIN_ROLE], [ADMIN_ROLE]]);
      expect(await db.models.Role.count()).to.equal(1);
    });

    it('keeps the config row apart from manual and rule rows of admin', async function () {
      const { roles, provisioning } = services([PEOPLE.platform.userid]);
      const account = await provisioning.signIn(identity());
      await roles.assign(ADMIN_ROLE, account.id);
      const { rule } = await roles.addRule({ role: ADMIN_ROLE, kind: 'dingtalk_role', value: ['研发'] });
      expect(await rowsOf(account.id)).to.deep.equal([
        { role: ADMIN_ROLE, source: 'config', ruleId: null },
        { role: ADMIN_ROLE, source: 'manual', ruleId: null },
        { role: ADMIN_ROLE, source: 'rule', ruleId: rule.id },
      ]);
      expect(await roles.rolesOf(account.id)).to.deep.equal([ADMIN_ROLE]);
      const assignments = await roles.assignmentsOf(account.id);
      expect(assignments.map((a) => [a.source, a.rule?.id ?? null])).to.deep.equal([
        ['config', null],
        ['manual', null],
        ['rule', rule.id],
      ]);
    });

    it('takes admin back when the id leaves the setting, but not a manual admin', async function () {
      const before = services([PEOPLE.platform.userid, PEOPLE.admin.userid]);
      const platform = await before.provisioning.signIn(identity());
      const admin = await before.provisioning.signIn(ADMIN);
      await before.roles.assign(ADMIN_ROLE, admin.id);
      const after = services([]);
      expect(await after.roles.reevaluateAll()).to.deep.equal([{ accountId: platform.id, added: [], removed: [ADMIN_ROLE] }]);
      expect(await after.roles.rolesOf(admin.id)).to.deep.equal([ADMIN_ROLE]);
    });
  });

  describe('accounts', function () {
    it('finds an account by id, userid or unionId and refuses an ambiguous userid', async function () {
      const { roles, provisioning } = services();
      const account = await provisioning.signIn(identity());
      for (const ref of [account.id, account.id.toUpperCase(), PEOPLE.platform.userid, PEOPLE.platform.unionid]) {
        expect((await roles.findAccount(ref)).id, ref).to.equal(account.id);
      }
      await provisioning.signIn(identity({ unionId: 'anotherCorpUnion', corpId: 'dingother' }));
      expect((await rejection(roles.findAccount(PEOPLE.platform.userid))).code).to.equal('accounts.ambiguous');
    });
  });
});
