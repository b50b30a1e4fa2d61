/**
 * `dingtalk-oidc roles …` and `accounts show` end to end: the real command as a subprocess on the
 * test database; accounts are signed in beforehand through provisioning, as a login would.
 */
import { expect } from 'chai';
import { createProvisioning } from '../../../src/accounts/provisioning.js';
import { createRoleService } from '../../../src/accounts/roles.js';
import type { UpstreamIdentity } from '../../../src/dingtalk/identity.js';
import { createDatabase, type Database } from '../../../src/db/sequelize.js';
import { resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { cli } from '../../helpers/cli.js';
import { PEOPLE } from '../dingtalk/harness.js';

function member(overrides: Partial<UpstreamIdentity>): UpstreamIdentity {
  return {
    unionId: PEOPLE.platform.unionid,
    userId: PEOPLE.platform.userid,
    corpId: 'ding5f8a2c4e71b3d902',
    name: '李娜',
    nickname: '李娜',
    email: 'lina@yunqi-tech.cn',
    emailVerified: true,
    title: '高级后端工程师',
    departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
    isAdmin: false,
    isBoss: false,
    roleNames: ['研发'],
    ...overrides,
  };
}

describe('command line: roles and accounts', function () {
  this.timeout(120_000);
  let db: Database;
  let platformId: string;
  let marketingId: string;

  before(async function () {
    await resetState();
    db = createDatabase(TEST_DATABASE_URL, { poolMax: 2 });
    const provisioning = createProvisioning(db.sequelize, db.models, {
      roles: createRoleService(db.sequelize, db.models, { adminDingtalkUserids: [] }),
    });
    platformId = (await provisioning.signIn(member({}))).id;
    marketingId = (
      await provisioning.signIn(
        member({
          unionId: PEOPLE.noEmail.unionid,
          userId: PEOPLE.noEmail.userid,
          name: '刘洋',
          title: '品牌经理',
          departments: [{ id: 201, name: '品牌组', ancestors: [1, 200], path: '市场部/品牌组' }],
          roleNames: ['市场'],
        }),
      )
    ).id;
  });

  after(async function () {
    await db?.close();
  });

  it('adds roles and refuses invalid names with a readable message', async function () {
    const added = await cli(['roles', 'add', 'grafana-editor', '--description', 'Grafana editors']);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('added role grafana-editor');
    expect((await cli(['roles', 'add', 'oncall'])).code).to.equal(0);

    const bad = await cli(['roles', 'add', 'Grafana Editor']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/^error: invalid role name "Grafana Editor"/m);
    expect(bad.stderr).to.not.match(/\n\s+at /);
    const twice = await cli(['roles', 'add', 'oncall']);
    expect(twice.code).to.equal(1);
    expect(twice.stderr).to.contain('already exists');
  });

  it('adds a rule, re-evaluates every active account and prints who changed', async function () {
    const departmentRule = ['roles', 'rules', 'add', 'grafana-editor', '--kind', 'department', '--value', '100', '--sub-departments'];
    const preview = await cli([...departmentRule, '--dry-run', '--json']);
    expect(preview.code, preview.stderr).to.equal(0);
    expect((JSON.parse(preview.stdout) as { id: string }[]).map((a) => a.id)).to.deep.equal([platformId]);
    expect(await db.models.RoleRule.count()).to.equal(0);

    const added = await cli([...departmentRule, '--description', 'R&D']);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('added rule #1: grafana-editor ← department 100 (and sub-departments)');
    expect(added.stdout).to.contain('1 account changed:');
    expect(added.stdout).to.match(/李娜 \(0226103541652\)\s+\+grafana-editor/);

    const byTitle = await cli(['roles', 'rules', 'add', 'grafana-editor', '--kind', 'title', '--value', '品牌经理', '--json']);
    const { rule, changes } = JSON.parse(byTitle.stdout) as { rule: { id: number }; changes: { accountId: string; added: string[] }[] };
    expect(rule.id).to.equal(2);
    expect(changes).to.deep.equal([{ accountId: marketingId, added: ['grafana-editor'], removed: [] }]);

    const rules = await cli(['roles', 'rules', 'list']);
    expect(rules.stdout).to.match(/1\s+grafana-editor\s+department 100 \(and sub-departments\)\s+R&D/);
    expect(rules.stdout).to.match(/2\s+grafana-editor\s+title "品牌经理"/);

    const wrong = await cli(['roles', 'rules', 'add', 'grafana-editor', '--kind', 'title', '--sub-departments', '--value', 'CTO']);
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.contain('error: sub-departments apply to department rules only');
  });

  it('assigns by userid, shows the account with each role and its source, and unassigns', async function () {
    const assigned = await cli(['roles', 'assign', 'oncall', PEOPLE.platform.userid]);
    expect(assigned.code, assigned.stderr).to.equal(0);
    expect(assigned.stdout).to.contain('assigned oncall to 李娜 (0226103541652)');

    const shown = await cli(['accounts', 'show', PEOPLE.platform.unionid]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.contain(platformId);
    expect(shown.stdout).to.match(/title\s+高级后端工程师/);
    expect(shown.stdout).to.match(/dingtalk roles\s+研发/);
    expect(shown.stdout).to.match(/101\s+研发中心\/平台组\s+1 > 100/);
    expect(shown.stdout).to.match(/grafana-editor\s+rule #1\s+department 100 \(and sub-departments\)/);
    expect(shown.stdout).to.match(/oncall\s+manual/);

    const json = JSON.parse((await cli(['accounts', 'show', platformId, '--json'])).stdout) as {
      account: { id: string; dingtalkRoles: string[] };
      roles: { role: string; source: string; rule: { id: number } | null }[];
    };
    expect(json.account).to.include({ id: platformId });
    expect(json.roles.map((r) => [r.role, r.source, r.rule?.id ?? null])).to.deep.equal([
      ['grafana-editor', 'rule', 1],
      ['oncall', 'manual', null],
    ]);

    const viaRule = await cli(['roles', 'unassign', 'grafana-editor', platformId]);
    expect(viaRule.code).to.equal(1);
    expect(viaRule.stderr).to.contain('no manual assignment of grafana-editor (it comes from rule #1');
    expect((await cli(['roles', 'unassign', 'oncall', platformId])).stdout).to.contain('unassigned oncall');

    const missing = await cli(['accounts', 'show', 'nobody']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('error: no account "nobody"');
  });

  it('removes a rule and lists roles with their holders', async function () {
    const removed = await cli(['roles', 'rules', 'remove', '1']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stdout).to.contain('removed rule #1');
    expect(removed.stdout).to.match(/李娜 \(0226103541652\)\s+-grafana-editor/);
    expect((await cli(['roles', 'rules', 'remove', '1'])).stderr).to.contain('no rule #1');

    const roles = JSON.parse((await cli(['roles', 'list', '--json'])).stdout) as { name: string; accounts: number; rules: number }[];
    expect(roles.map((r) => [r.name, r.accounts, r.rules])).to.deep.equal([
      ['grafana-editor', 1, 1],
      ['oncall', 0, 0],
    ]);
  });

  it('gives admin to ADMIN_DINGTALK_USERIDS on re-evaluation and audits every change', async function () {
    const result = await cli(['roles', 'reevaluate'], { ADMIN_DINGTALK_USERIDS: PEOPLE.noEmail.unionid });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/刘洋 \(0418892201744\)\s+\+admin/);
    const shown = await cli(['accounts', 'show', marketingId], { ADMIN_DINGTALK_USERIDS: PEOPLE.noEmail.unionid });
    expect(shown.stdout).to.match(/admin\s+ADMIN_DINGTALK_USERIDS/);

    const events = await db.models.AuditEvent.findAll({ where: { actor: 'cli' } });
    const types = events.map((e) => e.type);
    for (const type of [
      'role.created',
      'role_rule.created',
      'role_rule.removed',
      'role.assigned',
      'role.unassigned',
      'account.roles_changed',
    ]) {
      expect(types, type).to.include(type);
    }
  });
});
