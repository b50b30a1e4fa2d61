/**
 * The directory sweep (issue #13 items 1 and 3) against the emulator's directory (§11 reads), with the
 * server's real services: PostgreSQL, Redis, the shared call budget.
 */
import { expect } from 'chai';
import { createAuditLog } from '../../../src/accounts/audit.js';
import { LEFT_ORG_REASON } from '../../../src/accounts/deprovisioning.js';
import {
  createDirectorySweep,
  PROVISIONED_AUDIT_TYPE,
  SWEEP_AUDIT_TYPE,
  type SweepProgress,
} from '../../../src/accounts/directory-sweep.js';
import { captureConsole } from '../../helpers/cli.js';
import { runAccountAdmin } from '../../../src/cli/account-admin.js';
import { CORP_ID } from '../../helpers/login-flow.js';
import { newMember, startDeprovisioningWorld, type DeprovisioningWorld } from '../deprovisioning/harness.js';

describe('directory sweep (emulator directory, real Postgres and Redis)', function () {
  this.timeout(60_000);
  let world: DeprovisioningWorld;

  before(async function () {
    world = await startDeprovisioningWorld();
  });

  after(async function () {
    await world?.close();
  });

  function sweepOf(options: { provision?: 'login' | 'directory' } = {}) {
    const { services } = world.server;
    return createDirectorySweep({
      sequelize: services.db.sequelize,
      models: services.db.models,
      directory: services.dingtalk.directory,
      deprovisioning: world.deprovisioning,
      audit: createAuditLog(services.db.models, services.logger),
      logger: services.logger,
      corpId: CORP_ID,
      ...(options.provision ? { provision: options.provision } : {}),
    });
  }

  async function accountOf(unionId: string) {
    return world.server.services.db.models.Account.findOne({ where: { unionId } });
  }

  it('disables and revokes a person who left without an event, copies changes, and reports its figures', async function () {
    const { emulator } = world;
    const leaver = newMember(world);
    const stayer = newMember(world, { dept_id_list: [102] });
    // Accounts as a sign-in would have made them (through the server's own sign-in path).
    for (const person of [leaver, stayer]) {
      const identity = await world.server.services.dingtalk.directory.member(person.userid!);
      await world.server.services.db.models.Account.create({
        unionId: identity!.unionId,
        userId: identity!.userId!,
        corpId: CORP_ID,
        name: identity!.name,
        nickname: identity!.name,
        avatarUrl: null,
        email: null,
        mobile: null,
        title: identity!.title ?? null,
        jobNumber: null,
        statusReason: null,
        lastLoginAt: new Date(),
        departments: identity!.departments,
      });
    }
    emulator.state.markLeft(leaver.userid!);
    emulator.state.setProfile(stayer.userid!, { title: '技术经理', dept_id_list: [101, 102] });

    const seen: SweepProgress[] = [];
    const summary = await sweepOf().sweep({ actor: 'test', trigger: 'test', onProgress: (progress) => seen.push(progress) });

    expect(summary.complete).to.equal(true);
    expect(summary.failed).to.equal(0);
    expect(summary.disabled).to.equal(1);
    expect(summary.created).to.equal(0);
    expect(summary.departments).to.be.at.least(5);
    expect(summary.members).to.equal(emulator.state.users().filter((user) => user.status === 'member').length);
    expect(summary.organisationCount).to.equal(summary.members);
    expect(seen.map((progress) => progress.phase)).to.include.members(['departments', 'members']);

    const gone = await accountOf(leaver.unionid);
    expect(gone).to.deep.include({ status: 'disabled', statusReason: LEFT_ORG_REASON });
    const kept = await accountOf(stayer.unionid);
    expect(kept).to.deep.include({ status: 'active', title: '技术经理' });
    expect(kept!.departments.map((department) => department.id).sort((a, b) => a - b)).to.deep.equal([101, 102]);
    expect(kept!.departments.find((department) => department.id === 102)?.path).to.equal('研发中心/前端组');

    const last = await sweepOf().last();
    expect(last).to.deep.include({ trigger: 'test', disabled: 1, actor: 'test' });
    const recorded = await world.server.services.db.models.AuditEvent.count({ where: { type: SWEEP_AUDIT_TYPE } });
    expect(recorded).to.be.at.least(1);
  });

  it('a second sweep right after changes nothing', async function () {
    const summary = await sweepOf().sweep({ actor: 'test', trigger: 'test' });
    expect(summary).to.deep.include({ updated: 0, disabled: 0, created: 0, failed: 0, complete: true });
    expect(summary.unchanged).to.equal(summary.checked);
  });

  it('disables nobody after a partial walk (a member read failed), and says so', async function () {
    const { emulator } = world;
    const leaver = newMember(world);
    const identity = await world.server.services.dingtalk.directory.member(leaver.userid!);
    const account = await world.server.services.db.models.Account.create({
      unionId: identity!.unionId,
      userId: identity!.userId!,
      corpId: CORP_ID,
      name: identity!.name,
      nickname: null,
      avatarUrl: null,
      email: null,
      mobile: null,
      title: null,
      jobNumber: null,
      statusReason: null,
      lastLoginAt: null,
    });
    emulator.state.markLeft(leaver.userid!);
    emulator.state.failNext('/topapi/v2/user/list', 'server-error', 20);
    try {
      const summary = await sweepOf().sweep({ actor: 'test', trigger: 'test' });
      expect(summary.complete).to.equal(false);
      expect(summary.disabled).to.equal(0);
      expect(summary.leaversUnconfirmed).to.be.at.least(1);
    } finally {
      emulator.state.clearFaults();
    }
    await account.reload();
    expect(account.status).to.equal('active');
  });

  it('with DINGTALK_PROVISION=directory creates accounts for members who never signed in', async function () {
    const newcomer = newMember(world, { dept_id_list: [201] });
    expect(await accountOf(newcomer.unionid)).to.equal(null);
    const summary = await sweepOf({ provision: 'directory' }).sweep({ actor: 'test', trigger: 'test' });
    expect(summary.created).to.be.at.least(1);
    const created = await accountOf(newcomer.unionid);
    expect(created).to.deep.include({ status: 'active', userId: newcomer.userid, name: newcomer.name, lastLoginAt: null });
    expect(created!.departments.map((department) => department.path)).to.deep.equal(['市场部/品牌组']);
    const audit = await world.server.services.db.models.AuditEvent.findOne({
      where: { type: PROVISIONED_AUDIT_TYPE, accountId: created!.id },
    });
    expect(audit?.actor).to.equal('test');

    // Off by default: a sweep without it creates nobody.
    const later = newMember(world);
    expect((await sweepOf().sweep({ actor: 'test', trigger: 'test' })).created).to.equal(0);
    expect(await accountOf(later.unionid)).to.equal(null);
  });

  it('runs one sweep at a time: a second one started meanwhile is refused', async function () {
    const sweep = sweepOf();
    const results = await Promise.allSettled([sweep.sweep({ actor: 'a', trigger: 'test' }), sweep.sweep({ actor: 'b', trigger: 'test' })]);
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused).to.have.length(1);
    expect((refused[0] as PromiseRejectedResult).reason).to.have.property('code', 'sweep.busy');
  });

  it('accounts sync runs the sweep and prints its summary (no progress bar when stdout is not a terminal)', async function () {
    const result = await captureConsole(() => runAccountAdmin(world.server.config, ['sync']));
    expect(result.code, result.err).to.equal(0);
    expect(result.out).to.match(/^read \d+ department\(s\) and \d+ people \(DingTalk counts \d+\) in [\d.]+ s, \d+ DingTalk call\(s\)\n/);
    expect(result.out).to.match(/accounts: \d+ checked, \d+ updated, \d+ unchanged, 0 created, \d+ re-enabled, \d+ disabled/);
    expect(result.out).not.to.contain('\r');
  });
});
