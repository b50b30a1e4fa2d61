import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { request } from 'undici';
import { createAuditLog } from '../../../src/accounts/audit.js';
import { AUDIT, createDeprovisioning, LEFT_ORG_REASON } from '../../../src/accounts/deprovisioning.js';
import { runAccountAdmin } from '../../../src/cli/account-admin.js';
import { createEventCrypto, parseHttpPush } from '../../../src/dingtalk/index.js';
import { contactEvent, pushEvent, type EmulatorUser } from '../../../src/emulator/index.js';
import { createRedisMarkerStore } from '../../../src/store/markers.js';
import { createRedisAccountIndex } from '../../../src/store/redis-adapter.js';
import { Browser } from '../../helpers/browser.js';
import { captureConsole } from '../../helpers/cli.js';
import { authorize, CORP_ID, exchangeCode, loginViaDingTalk, registerRelyingParty, type RelyingParty } from '../../helpers/login-flow.js';
import {
  introspectAs,
  type DeprovisioningWorld,
  EVENT_SETTINGS,
  newMember,
  settledItem,
  startDeprovisioningWorld,
  TestRelyingPartyEndpoint,
} from './harness.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('deprovisioning from DingTalk (emulator, real Postgres and Redis)', function () {
  let world: DeprovisioningWorld;
  let endpoint: TestRelyingPartyEndpoint;
  let rp: RelyingParty;

  before(async function () {
    world = await startDeprovisioningWorld();
    endpoint = await new TestRelyingPartyEndpoint().start();
    rp = await registerRelyingParty(world, { name: 'Wiki', backchannelLogoutUri: endpoint.url });
  });

  after(async function () {
    await endpoint?.close();
    await world?.close();
  });

  beforeEach(function () {
    endpoint.reset();
  });

  /** A person signs in to the RP with offline_access: tokens, the browser holding the session, the account. */
  async function signIn(person: EmulatorUser) {
    const browser = new Browser();
    const { callback, request: authRequest } = await loginViaDingTalk(world, browser, rp, person.unionid, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });
    const tokens = await exchangeCode(rp, callback, authRequest);
    const account = await world.server.services.db.models.Account.findOne({ where: { unionId: person.unionid } });
    expect(account, 'account created at sign-in').to.not.equal(null);
    return { browser, tokens, account: account!, claims: tokens.claims()! };
  }

  const introspect = (token: string) => introspectAs(world, rp, token);

  async function expectRefreshRefused(refreshToken: string): Promise<void> {
    try {
      await oidc.refreshTokenGrant(rp.config, refreshToken);
    } catch (error) {
      expect((error as { error?: string }).error).to.equal('invalid_grant');
      return;
    }
    expect.fail('the refresh token still works');
  }

  async function auditOf(accountId: string) {
    const rows = await world.server.services.db.models.AuditEvent.findAll({ where: { accountId }, order: [['id', 'ASC']] });
    return rows.map((row) => ({ type: row.type, actor: row.actor, clientId: row.clientId, details: row.details }));
  }

  async function accountStatus(accountId: string) {
    const account = await world.server.services.db.models.Account.findByPk(accountId);
    return { status: account?.status, statusReason: account?.statusReason };
  }

  function push(event: Record<string, unknown>) {
    return pushEvent(world.eventsUrl, event, EVENT_SETTINGS);
  }

  /** The inbox id of an HTTP push. */
  function idOf(event: Record<string, unknown>): string {
    const parsed = parseHttpPush(JSON.stringify(event));
    if (parsed.kind !== 'event') throw new Error('not an event');
    return parsed.event.id;
  }

  /** Pushes, then waits until the inbox worker has done the slow part. */
  async function pushAndSettle(event: Record<string, unknown>) {
    const pushed = await push(event);
    expect(pushed).to.include({ accepted: true, reply: 'success' });
    return settledItem(world, idOf(event));
  }

  describe('the leaver path: user_leave_org pushed by DingTalk', function () {
    let person: EmulatorUser;
    let session: Awaited<ReturnType<typeof signIn>>;
    /** What held when DingTalk got its answer, while the app's logout endpoint had not answered yet. */
    let atAck: { status: unknown; introspection: Record<string, unknown>; tokens: number };
    /** Logout tokens the app received once the inbox worker was done. */
    let delivered: string[];

    before(async function () {
      endpoint.reset();
      person = newMember(world);
      session = await signIn(person);
      expect(await introspect(session.tokens.access_token)).to.include({ active: true });

      world.emulator.state.markLeft(person.userid!);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      // The app's logout endpoint answers nothing until released: were the delivery part of the
      // push, DingTalk would get no answer (the push would time out).
      endpoint.hold();
      const pushed = await push(event);
      expect(pushed, 'DingTalk got the encrypted success reply').to.include({ accepted: true, reply: 'success' });
      atAck = {
        status: await accountStatus(session.account.id),
        introspection: await introspect(session.tokens.access_token),
        tokens: endpoint.tokens.length,
      };
      endpoint.release();
      const item = await settledItem(world, idOf(event));
      expect(item).to.deep.include({ status: 'done', urgentDone: true, pendingLogouts: 0, attempts: 1 });
      delivered = [...endpoint.tokens];
    });

    it('disables the account before DingTalk gets its answer', async function () {
      expect(atAck.status).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
    });

    it('makes introspection of the live access token answer active: false before DingTalk gets its answer', async function () {
      expect(atAck.introspection).to.deep.equal({ active: false });
    });

    it('refuses the refresh token with invalid_grant', async function () {
      await expectRefreshRefused(session.tokens.refresh_token!);
    });

    it('deletes the session, the grant and every token from the store', async function () {
      const provider = world.server.services.holder.current();
      expect(await provider.AccessToken.find(session.tokens.access_token)).to.equal(undefined);
      expect(await provider.RefreshToken.find(session.tokens.refresh_token!)).to.equal(undefined);
      expect(await world.deprovisioning.revoke(session.account.id, { actor: 'test', reason: 'test.again' })).to.deep.include({
        sessions: 0,
        grants: 0,
      });
    });

    it('ends the session: the browser is asked to sign in again', async function () {
      const next = await authorize(rp, { prompt: 'none' });
      const answer = await session.browser.follow(next.url.toString(), [world.server.issuer]);
      expect(new URL(answer.headers.get('location')!).searchParams.get('error')).to.equal('login_required');
    });

    it('sent the app a logout token from the inbox, after the answer, that verifies against /jwks: iss, aud, events, sid, sub, no nonce', async function () {
      expect(atAck.tokens, "no logout token is sent within DingTalk's request").to.equal(0);
      expect(delivered).to.have.length(1);
      const jwks = createRemoteJWKSet(new URL(`${world.server.issuer}/jwks`));
      const { payload } = await jwtVerify(delivered[0]!, jwks, {
        issuer: world.server.issuer,
        audience: rp.clientId,
        typ: 'logout+jwt',
        maxTokenAge: '2 minutes',
      });
      expect(payload.events).to.deep.equal({ [BACKCHANNEL_EVENT]: {} });
      expect(payload.sub).to.equal(session.account.id);
      expect(payload.sid).to.be.a('string').and.equal(session.claims.sid);
      expect(payload.jti).to.be.a('string');
      expect(payload.iat).to.be.a('number');
      expect(payload).to.not.have.property('nonce');
    });

    it('writes the disabling, the revocation and the logout to the audit log', async function () {
      const audit = await auditOf(session.account.id);
      const disabled = audit.find((e) => e.type === AUDIT.disabled);
      expect(disabled).to.deep.include({ actor: 'dingtalk:event' });
      expect(disabled?.details).to.deep.include({ reason: LEFT_ORG_REASON, source: 'user_leave_org' });
      const revoked = audit.find((e) => e.type === AUDIT.revoked);
      expect(revoked?.details).to.deep.include({ sessions: 1, grants: 1, backchannelQueued: 1 });
      const sent = audit.filter((e) => e.type === AUDIT.backchannelSent);
      expect(sent.map((e) => [e.clientId, e.actor])).to.deep.equal([[rp.clientId, 'dingtalk:event']]);
    });
  });

  describe('the event endpoint', function () {
    it('answers the check_url handshake with an encrypted success', async function () {
      const pushed = await push({ EventType: 'check_url' });
      expect(pushed).to.deep.equal({ accepted: true, status: 200, reply: 'success' });
    });

    it('refuses a bad signature with 403 and no details, and does nothing', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      const forged = await pushEvent(world.eventsUrl, contactEvent('user_leave_org', [person.userid!], CORP_ID), {
        ...EVENT_SETTINGS,
        token: 'not-the-subscription-token',
      });
      expect(forged).to.include({ accepted: false, status: 403 });

      const crypto = createEventCrypto(EVENT_SETTINGS);
      const encrypt = crypto.encrypt(JSON.stringify(contactEvent('user_leave_org', [person.userid!], CORP_ID)));
      const response = await request(`${world.eventsUrl}?signature=${'0'.repeat(40)}&timestamp=${Date.now()}&nonce=abc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ encrypt }),
      });
      expect(response.statusCode).to.equal(403);
      expect(await response.body.json()).to.deep.equal({ code: 'forbidden' });
      expect(await accountStatus(account.id)).to.deep.include({ status: 'active' });
    });

    it('refuses a malformed request with 400', async function () {
      const crypto = createEventCrypto(EVENT_SETTINGS);
      const timestamp = String(Date.now());
      const notJson = await request(`${world.eventsUrl}?signature=x&timestamp=${timestamp}&nonce=n`, { method: 'POST', body: 'nope' });
      expect(notJson.statusCode).to.equal(400);
      expect(await notJson.body.json()).to.deep.equal({ code: 'bad_request' });
      const noEncrypt = await request(`${world.eventsUrl}?signature=x&timestamp=${timestamp}&nonce=n`, {
        method: 'POST',
        body: JSON.stringify({ other: 1 }),
      });
      expect(noEncrypt.statusCode).to.equal(400);
      await noEncrypt.body.dump();
      const noQuery = await request(world.eventsUrl, { method: 'POST', body: JSON.stringify({ encrypt: 'abc' }) });
      expect(noQuery.statusCode).to.equal(400);
      await noQuery.body.dump();
      // Signed correctly, but not encrypted for this app (another owner key).
      const other = createEventCrypto({ ...EVENT_SETTINGS, ownerKey: 'another-app' }).encrypt('{"EventType":"check_url"}');
      const foreign = await request(`${world.eventsUrl}?signature=${crypto.sign(timestamp, 'n', other)}&timestamp=${timestamp}&nonce=n`, {
        method: 'POST',
        body: JSON.stringify({ encrypt: other }),
      });
      expect(foreign.statusCode).to.equal(400);
      await foreign.body.dump();
    });

    it('refuses a correctly signed push stamped more than a day ago (a replay)', async function () {
      const pushed = await pushEvent(
        world.eventsUrl,
        { EventType: 'check_url' },
        {
          ...EVENT_SETTINGS,
          timestamp: String(Date.now() - 25 * 60 * 60 * 1000),
        },
      );
      expect(pushed).to.include({ accepted: false, status: 403 });
    });

    it('does not redo an event DingTalk delivers twice', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      world.emulator.state.markLeft(person.userid!);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      expect(await push(event)).to.include({ accepted: true });
      expect(await accountStatus(account.id)).to.deep.include({ status: 'disabled' });

      // An admin lets the person back in; the same event arriving again must not undo that.
      await world.deprovisioning.enable(account, { actor: 'test' });
      const again = await push(event);
      expect(again, 'a duplicate still gets the success reply').to.include({ accepted: true, reply: 'success' });
      expect(await accountStatus(account.id)).to.deep.include({ status: 'active' });
      expect((await auditOf(account.id)).filter((e) => e.type === AUDIT.disabled)).to.have.length(1);
    });

    it('ignores events of another organisation', async function () {
      const person = newMember(world);
      const { tokens, account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], 'dingotherorg0000000');
      expect(await push(event)).to.include({ accepted: true });
      expect(await world.server.services.inbox.get(idOf(event))).to.deep.include({
        status: 'ignored',
        reason: 'event of another organisation',
      });
      expect(await accountStatus(account.id)).to.deep.include({ status: 'active' });
      expect(await introspect(tokens.access_token)).to.include({ active: true });
    });

    it('acknowledges unknown event types and records them as failed', async function () {
      const event = { EventType: 'label_user_change', CorpId: CORP_ID, TimeStamp: String(Date.now()) };
      const pushed = await push(event);
      expect(pushed).to.include({ accepted: true, reply: 'success' });
      expect(await world.server.services.inbox.get(idOf(event))).to.deep.include({ status: 'failed', reason: 'unknown event type' });
    });

    it('re-enables on user_add_org an account disabled because its person had left', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      world.emulator.state.markLeft(person.userid!);
      expect(await push(contactEvent('user_leave_org', [person.userid!], CORP_ID))).to.include({ accepted: true });
      expect(await accountStatus(account.id)).to.deep.include({ status: 'disabled' });

      world.emulator.state.markMember(person.userid!);
      expect(await pushAndSettle(contactEvent('user_add_org', [person.userid!], CORP_ID))).to.include({ status: 'done' });
      expect(await accountStatus(account.id)).to.deep.equal({ status: 'active', statusReason: null });
      const enabled = (await auditOf(account.id)).find((e) => e.type === AUDIT.enabled);
      expect(enabled?.details).to.deep.include({ previousReason: LEFT_ORG_REASON, source: 'user_add_org' });
    });

    it('keeps an account an admin disabled disabled on user_add_org', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      await world.deprovisioning.disable(account, { actor: 'test', reason: 'security review' });
      expect(await pushAndSettle(contactEvent('user_add_org', [person.userid!], CORP_ID))).to.include({ status: 'done' });
      expect(await accountStatus(account.id)).to.deep.equal({ status: 'disabled', statusReason: 'security review' });
    });

    it('copies a profile change on user_modify_org', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      world.emulator.state.setProfile(person.userid!, { title: '架构师', dept_id_list: [101, 201] });
      expect(await pushAndSettle(contactEvent('user_modify_org', [person.userid!], CORP_ID))).to.include({ status: 'done' });

      await account.reload();
      expect(account.title).to.equal('架构师');
      expect(account.departments.map((d) => d.id)).to.deep.equal([101, 201]);
      expect(account.departments.find((d) => d.id === 201)).to.deep.include({ name: '品牌组', ancestors: [1, 200], path: '市场部/品牌组' });
      const synced = (await auditOf(account.id)).find((e) => e.type === AUDIT.synced);
      expect(synced?.details).to.deep.include({ source: 'user_modify_org' });
      expect(synced?.details.changed).to.include.members(['title', 'departments']);
    });

    it('renames a department in the accounts of its members and of its sub-departments on org_dept_modify', async function () {
      const person = newMember(world, { dept_id_list: [101] });
      const { account } = await signIn(person);
      world.emulator.state.setDepartment({ dept_id: 100, name: '研发与平台中心', parent_id: 1, order: 1 });
      expect(
        await pushAndSettle({ EventType: 'org_dept_modify', DeptId: [100], CorpId: CORP_ID, TimeStamp: String(Date.now()) }),
      ).to.include({
        status: 'done',
      });
      await account.reload();
      expect(account.departments).to.deep.equal([{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发与平台中心/平台组' }]);
      // Renamed back, as DingTalk would tell us: caches everywhere follow.
      world.emulator.state.setDepartment({ dept_id: 100, name: '研发中心', parent_id: 1, order: 1 });
      expect(
        await pushAndSettle({ EventType: 'org_dept_modify', DeptId: [100], CorpId: CORP_ID, TimeStamp: String(Date.now() + 1) }),
      ).to.include({
        status: 'done',
      });
      await account.reload();
      expect(account.departments[0]?.path).to.equal('研发中心/平台组');
    });
  });

  describe('sync of one account', function () {
    it('reads back exactly what the login stored, then runs afterSync (role re-evaluation)', async function () {
      const { services } = world.server;
      const seen: string[] = [];
      const deprovisioning = createDeprovisioning({
        models: services.db.models,
        provider: () => services.holder.current(),
        accountIndex: createRedisAccountIndex(services.redis!),
        directory: services.dingtalk.directory,
        audit: createAuditLog(services.db.models, services.logger),
        logger: services.logger,
        corpId: CORP_ID,
        markers: createRedisMarkerStore(services.redis!),
        afterSync: async (account) => void seen.push(account.id),
      });
      const person = newMember(world, { dept_id_list: [101, 201], title: '测试工程师' });
      const { account } = await signIn(person);
      expect(await deprovisioning.syncAccount(account, { actor: 'test', source: 'test' })).to.equal('unchanged');
      expect(seen).to.deep.equal([account.id]);
    });
  });

  describe('back-channel logout delivery', function () {
    it('retries a logout token the app could not take at first', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      endpoint.answers.push(503);
      const result = await world.deprovisioning.revoke(account.id, { actor: 'test', reason: 'test.retry' });
      expect(result.failures).to.deep.equal([]);
      expect(endpoint.attempts).to.equal(2);
      expect(endpoint.tokens).to.have.length(1);
    });

    it('audits a logout token the app never took, and still revokes everything', async function () {
      const person = newMember(world);
      const { tokens, account } = await signIn(person);
      endpoint.answers.push(500, 500, 500, 500);
      const result = await world.deprovisioning.revoke(account.id, { actor: 'test', reason: 'test.failure' });
      expect(result.failures).to.have.length(1);
      expect(result.failures[0]).to.deep.include({ clientId: rp.clientId, ok: false });
      expect(await introspect(tokens.access_token)).to.deep.equal({ active: false });
      const failed = (await auditOf(account.id)).find((e) => e.type === AUDIT.backchannelFailed);
      expect(failed).to.deep.include({ clientId: rp.clientId, actor: 'test' });
      expect(failed?.details.error).to.be.a('string').and.match(/500/);
    });
  });

  describe('membership re-check on refresh', function () {
    it('lets a member refresh and asks DingTalk once per few minutes', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      const calls = () => world.emulator.state.countCalls('/topapi/user/getbyunionid');
      const before = calls();
      expect(await world.deprovisioning.checkMembershipOnRefresh(account.id)).to.equal(true);
      expect(await world.deprovisioning.checkMembershipOnRefresh(account.id)).to.equal(true);
      expect(calls() - before).to.equal(1);
    });

    it('refuses a person who left without an event: disabled, revoked, refresh fails', async function () {
      const person = newMember(world);
      const { tokens, account } = await signIn(person);
      world.emulator.state.markLeft(person.userid!);
      // findAccount (oidc/claims.ts) calls the check when a refresh token is used.
      await expectRefreshRefused(tokens.refresh_token!);
      expect(await accountStatus(account.id)).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
      expect(await introspect(tokens.access_token)).to.deep.equal({ active: false });
      expect(endpoint.tokens).to.have.length(1);
    });

    it('lets the refresh through when DingTalk is unavailable', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      world.emulator.state.failNext('/topapi/user/getbyunionid', 'server-error', 5);
      try {
        expect(await world.deprovisioning.checkMembershipOnRefresh(account.id)).to.equal(true);
      } finally {
        world.emulator.state.clearFaults();
      }
      expect(await accountStatus(account.id)).to.deep.include({ status: 'active' });
    });
  });

  describe('command line', function () {
    async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
      return captureConsole(() => runAccountAdmin(world.server.config, args));
    }

    it('accounts sync disables a person who left and copies profile changes of the others', async function () {
      const leaver = newMember(world);
      const stayer = newMember(world);
      const gone = await signIn(leaver);
      const kept = await signIn(stayer);
      world.emulator.state.markLeft(leaver.userid!);
      world.emulator.state.setProfile(stayer.userid!, { title: '技术经理' });

      const result = await cli(['sync', '--json']);
      expect(result.code, result.err).to.equal(0);
      const summary = JSON.parse(result.out) as Record<string, number>;
      expect(summary.disabled).to.be.at.least(1);
      expect(summary.failed).to.equal(0);

      expect(await accountStatus(gone.account.id)).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
      await expectRefreshRefused(gone.tokens.refresh_token!);
      expect(await introspect(gone.tokens.access_token)).to.deep.equal({ active: false });
      await kept.account.reload();
      expect(kept.account.title).to.equal('技术经理');
      expect(await introspect(kept.tokens.access_token)).to.include({ active: true });
      expect((await auditOf(gone.account.id)).find((e) => e.type === AUDIT.disabled)?.details).to.deep.include({ source: 'sweep' });
    });

    it('accounts revoke <userid> ends every session and grant but keeps the account enabled', async function () {
      const person = newMember(world);
      const first = await signIn(person);
      const second = await signIn(person);
      const result = await cli(['revoke', person.userid!]);
      expect(result.code, result.err).to.equal(0);
      expect(result.out).to.match(/revoked 2 session\(s\) and [12] grant\(s\)/);
      expect(await introspect(first.tokens.access_token)).to.deep.equal({ active: false });
      expect(await introspect(second.tokens.access_token)).to.deep.equal({ active: false });
      await expectRefreshRefused(second.tokens.refresh_token!);
      expect(endpoint.tokens).to.have.length(2);
      expect(await accountStatus(first.account.id)).to.deep.include({ status: 'active' });
      const revoked = (await auditOf(first.account.id)).find((e) => e.type === AUDIT.revoked);
      expect(revoked?.actor).to.match(/^cli/);
    });

    it('accounts disable and enable <unionId>', async function () {
      const person = newMember(world);
      const { tokens, account } = await signIn(person);
      const disabled = await cli(['disable', person.unionid, '--reason', 'security review']);
      expect(disabled.code, disabled.err).to.equal(0);
      expect(disabled.out).to.contain('disabled');
      expect(await accountStatus(account.id)).to.deep.equal({ status: 'disabled', statusReason: 'security review' });
      expect(await introspect(tokens.access_token)).to.deep.equal({ active: false });

      const enabled = await cli(['enable', account.id]);
      expect(enabled.code, enabled.err).to.equal(0);
      expect(await accountStatus(account.id)).to.deep.equal({ status: 'active', statusReason: null });
      expect((await auditOf(account.id)).map((e) => e.type)).to.include.members([AUDIT.disabled, AUDIT.enabled]);
    });

    it('says so when the account does not exist', async function () {
      const result = await cli(['revoke', 'nobody-like-this']);
      expect(result.code).to.equal(1);
      expect(result.err).to.contain('no account');
    });
  });
});
