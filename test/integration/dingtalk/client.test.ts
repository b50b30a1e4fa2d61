/**
 * The real DingTalk client against the emulator on 127.0.0.1:0; only the base URLs differ.
 */
import { expect } from 'chai';
import { AccountError, UpstreamError } from '../../../src/errors/app-error.js';
import type { DingTalkClient } from '../../../src/dingtalk/client.js';
import { createMemoryUseridCache, type UseridCache } from '../../../src/dingtalk/userid-cache.js';
import type { Emulator } from '../../../src/emulator/emulator.js';
import type { EmulatorState } from '../../../src/emulator/state.js';
import { CLIENT_ID, CORP_ID, PEOPLE, REDIRECT_URI, authCodeFor, clientFor, loginViaPage, startEmulator, type Harness } from './harness.js';

const APP_TOKEN = '/v1.0/oauth2/accessToken';
const USER_TOKEN = '/v1.0/oauth2/userAccessToken';
const USERS_ME = '/v1.0/contact/users/me';
const GETBYUNIONID = '/topapi/user/getbyunionid';
const USER_GET = '/topapi/v2/user/get';
const DEPT_GET = '/topapi/v2/department/get';
const FREE_LOGIN = '/topapi/v2/user/getuserinfo';

/** Awaits a rejection and returns it (chai has no async throws). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

async function upstreamRejection(promise: Promise<unknown>, code: string): Promise<UpstreamError> {
  const error = await rejection(promise);
  expect(error, `${error.name}: ${error.message}`).to.be.instanceOf(UpstreamError);
  expect((error as UpstreamError).code).to.equal(code);
  return error as UpstreamError;
}

describe('dingtalk client against the emulator', () => {
  let harness: Harness;
  let emulator: Emulator;
  let state: EmulatorState;
  let client: DingTalkClient;

  beforeEach(async () => {
    harness = await startEmulator();
    emulator = harness.emulator;
    state = emulator.state;
    client = clientFor(harness.url);
  });

  afterEach(async () => {
    await harness.server.close();
  });

  describe('fetchIdentity (the login sequence)', () => {
    it('returns a member with directory detail and department names', async () => {
      const identity = await client.fetchIdentity(await authCodeFor(client, PEOPLE.platform.unionid));
      expect(identity).to.deep.include({
        unionId: PEOPLE.platform.unionid,
        userId: PEOPLE.platform.userid,
        corpId: CORP_ID,
        name: '李娜',
        email: 'lina@yunqi-tech.cn',
        emailVerified: true,
        mobile: '+8613800000003',
        title: '高级后端工程师',
        jobNumber: 'A0103',
        departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
        isAdmin: false,
        isBoss: false,
        active: true,
        roleNames: ['研发'],
      });
      expect(identity.openId).to.be.a('string');
    });

    it('walks exchange → users/me → app token → getbyunionid → user/get → departments → their parents, in that order', async () => {
      const code = await authCodeFor(client, PEOPLE.frontend.unionid);
      state.resetCalls();
      await client.fetchIdentity(code);
      expect(state.calls.map((call) => `${call.method} ${call.path}`)).to.deep.equal([
        `POST ${USER_TOKEN}`,
        `GET ${USERS_ME}`,
        `POST ${APP_TOKEN}`,
        `POST ${GETBYUNIONID}`,
        `POST ${USER_GET}`,
        `POST ${DEPT_GET}`,
        `POST ${DEPT_GET}`,
        // 102 and 201 sit under 100 and 200, which sit under the root (1, known without a call).
        `POST ${DEPT_GET}`,
        `POST ${DEPT_GET}`,
      ]);
    });

    it('serves the department ancestry of later logins from the department cache', async () => {
      await client.fetchIdentity(await authCodeFor(client, PEOPLE.frontend.unionid));
      const code = await authCodeFor(client, PEOPLE.frontend.unionid);
      state.resetCalls();
      const identity = await client.fetchIdentity(code);
      expect(identity.departments).to.deep.equal([
        { id: 102, name: '前端组', ancestors: [1, 100], path: '研发中心/前端组' },
        { id: 201, name: '品牌组', ancestors: [1, 200], path: '市场部/品牌组' },
      ]);
      expect(state.countCalls(DEPT_GET)).to.equal(0);
    });

    it('maps the admin, the boss, several departments and a person without email', async () => {
      const admin = await client.fetchIdentity(await authCodeFor(client, PEOPLE.admin.unionid));
      expect(admin).to.deep.include({ isAdmin: true, isBoss: false, nickname: '建国', name: '王建国', roleNames: ['主管理员', '研发'] });
      expect(admin.avatarUrl).to.match(/^https:\/\//);
      const boss = await client.fetchIdentity(await authCodeFor(client, PEOPLE.boss.unionid));
      expect(boss).to.deep.include({
        isBoss: true,
        departments: [{ id: 1, name: '杭州云栖科技有限公司', ancestors: [], path: '杭州云栖科技有限公司' }],
      });
      const frontend = await client.fetchIdentity(await authCodeFor(client, PEOPLE.frontend.unionid));
      expect(frontend.departments.map((d) => d.name)).to.deep.equal(['前端组', '品牌组']);
      expect(frontend).to.include({ email: 'zhangwei@example.com', emailVerified: false });
      const noEmail = await client.fetchIdentity(await authCodeFor(client, PEOPLE.noEmail.unionid));
      expect(noEmail).not.to.have.property('email');
      const inactive = await client.fetchIdentity(await authCodeFor(client, PEOPLE.inactive.unionid));
      expect(inactive.active).to.equal(false);
    });

    it('refuses someone who left the organisation with dingtalk.not_in_corp', async () => {
      const error = await rejection(client.fetchIdentity(await authCodeFor(client, PEOPLE.left.unionid)));
      expect(error).to.be.instanceOf(AccountError);
      expect(error).to.include({ code: 'dingtalk.not_in_corp', status: 403, expose: true });
      expect((error.cause as UpstreamError).code).to.equal('dingtalk.user_not_found');
    });

    it('refuses an outsider with dingtalk.not_in_corp', async () => {
      const error = await rejection(client.fetchIdentity(await authCodeFor(client, PEOPLE.outsider.unionid)));
      expect(error).to.be.instanceOf(AccountError).and.to.include({ code: 'dingtalk.not_in_corp' });
    });

    it('refuses a member who leaves between login and lookup', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.markLeft(PEOPLE.platform.userid);
      const error = await rejection(client.fetchIdentity(code));
      expect(error).to.include({ code: 'dingtalk.not_in_corp' });
    });

    it('without a corp uses users/me only and never touches oapi', async () => {
      const personal = clientFor(harness.url, { corpId: undefined });
      const code = await authCodeFor(personal, PEOPLE.outsider.unionid);
      state.resetCalls();
      const identity = await personal.fetchIdentity(code);
      expect(identity).to.deep.include({
        unionId: PEOPLE.outsider.unionid,
        name: '孙丽',
        email: 'sunli@example.net',
        emailVerified: false,
        departments: [],
      });
      expect(identity).not.to.have.property('corpId');
      expect(state.calls.map((call) => call.path)).to.deep.equal([USER_TOKEN, USERS_ME]);
    });

    it('skips a department deleted between user/get and department/get', async () => {
      state.removeDepartment(201);
      const identity = await client.fetchIdentity(await authCodeFor(client, PEOPLE.frontend.unionid));
      expect(identity.departments).to.deep.equal([{ id: 102, name: '前端组', ancestors: [1, 100], path: '研发中心/前端组' }]);
    });
  });

  describe('fetchIdentity with the unionId → userid cache', () => {
    let cache: UseridCache;
    let cached: DingTalkClient;
    beforeEach(() => {
      cache = createMemoryUseridCache();
      cached = clientFor(harness.url, { useridCache: cache });
    });

    it('skips getbyunionid when the same person signs in again', async () => {
      const first = await cached.fetchIdentity(await authCodeFor(cached, PEOPLE.platform.unionid));
      const again = await cached.fetchIdentity(await authCodeFor(cached, PEOPLE.platform.unionid));
      expect(again).to.deep.equal(first);
      expect(state.countCalls(GETBYUNIONID)).to.equal(1);
      expect(state.countCalls(USER_GET)).to.equal(2);
      expect(await cache.get(PEOPLE.platform.unionid)).to.equal(PEOPLE.platform.userid);
    });

    it('still refuses a member who left since: user/get is the membership check', async () => {
      await cached.fetchIdentity(await authCodeFor(cached, PEOPLE.platform.unionid));
      const code = await authCodeFor(cached, PEOPLE.platform.unionid);
      state.markLeft(PEOPLE.platform.userid);
      const error = await rejection(cached.fetchIdentity(code));
      expect(error).to.include({ code: 'dingtalk.not_in_corp' });
      expect(await cache.get(PEOPLE.platform.unionid)).to.equal(undefined);
    });

    it('asks getbyunionid again when the cached userid is unknown now', async () => {
      await cache.set(PEOPLE.platform.unionid, 'gone-0001');
      const identity = await cached.fetchIdentity(await authCodeFor(cached, PEOPLE.platform.unionid));
      expect(identity.userId).to.equal(PEOPLE.platform.userid);
      expect(await cache.get(PEOPLE.platform.unionid)).to.equal(PEOPLE.platform.userid);
    });

    it('asks getbyunionid again when the cached userid belongs to someone else', async () => {
      await cache.set(PEOPLE.platform.unionid, PEOPLE.frontend.userid);
      const identity = await cached.fetchIdentity(await authCodeFor(cached, PEOPLE.platform.unionid));
      expect(identity).to.include({ unionId: PEOPLE.platform.unionid, userId: PEOPLE.platform.userid });
    });

    it('keeps no entry for an outsider', async () => {
      await rejection(cached.fetchIdentity(await authCodeFor(cached, PEOPLE.outsider.unionid)));
      expect(await cache.get(PEOPLE.outsider.unionid)).to.equal(undefined);
    });
  });

  describe('exchangeCode', () => {
    it('returns the user token with corpId for scope `openid corpid`', async () => {
      const token = await client.exchangeCode(await authCodeFor(client, PEOPLE.platform.unionid));
      expect(token).to.include({ expireIn: 7200, corpId: CORP_ID });
      expect(token.accessToken).to.be.a('string').with.lengthOf.above(0);
      expect(token.refreshToken).to.be.a('string');
    });

    it('accepts the code under both callback names', async () => {
      const location = await loginViaPage(client.authorizationUrl({ redirectUri: REDIRECT_URI, state: 'xyz' }), {
        unionId: PEOPLE.platform.unionid,
      });
      expect(location.searchParams.get('authCode')).to.equal(location.searchParams.get('code'));
      expect(location.searchParams.get('state')).to.equal('xyz');
    });

    it('rejects a reused code with dingtalk.invalid_code', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      await client.exchangeCode(code);
      await upstreamRejection(client.exchangeCode(code), 'dingtalk.invalid_code');
    });

    it('rejects an expired code with dingtalk.invalid_code', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.advanceTime(state.authCodeTtlMs + 1);
      await upstreamRejection(client.exchangeCode(code), 'dingtalk.invalid_code');
    });

    it('rejects a wrong client secret with dingtalk.invalid_client', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      await upstreamRejection(clientFor(harness.url, { clientSecret: 'wrong' }).exchangeCode(code), 'dingtalk.invalid_client');
    });

    it('is retried after a throttling answer, which did nothing with the code', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.failNext(USER_TOKEN, 'throttle');
      expect((await client.exchangeCode(code)).accessToken).to.be.a('string');
      expect(state.countCalls(USER_TOKEN)).to.equal(2);
    });

    it('is retried after HTTP 429 too', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.failNext(USER_TOKEN, { kind: 'respond', status: 429, body: { code: 'Throttling', message: 'slow down' } });
      expect((await client.exchangeCode(code)).accessToken).to.be.a('string');
    });

    it('gives up throttling retries at the caller’s bound with dingtalk.throttled', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.failNext(USER_TOKEN, 'throttle', 1000);
      const bounded = clientFor(harness.url, { codeWaitMs: 0 });
      await upstreamRejection(bounded.exchangeCode(code), 'dingtalk.throttled');
      expect(state.countCalls(USER_TOKEN)).to.equal(1);
    });

    it('is never retried, not even on a 5xx', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.failNext(USER_TOKEN, 'server-error');
      const error = await upstreamRejection(client.exchangeCode(code), 'dingtalk.unavailable');
      expect(error.retryable).to.equal(true);
      expect(state.countCalls(USER_TOKEN)).to.equal(1);
    });
  });

  describe('getCurrentUser', () => {
    async function userToken(unionid: string): Promise<string> {
      return (await client.exchangeCode(await authCodeFor(client, unionid))).accessToken;
    }

    it('returns the profile with mobile and stateCode', async () => {
      const me = await client.getCurrentUser(await userToken(PEOPLE.admin.unionid));
      expect(me).to.include({
        nick: '建国',
        unionId: PEOPLE.admin.unionid,
        mobile: '13900000002',
        stateCode: '86',
        email: 'jianguo.wang@example.com',
        visitor: false,
      });
    });

    it('omits mobile without the Contact.User.mobile permission', async () => {
      state.setPermissions(['Contact.User.Read']);
      const me = await client.getCurrentUser(await userToken(PEOPLE.admin.unionid));
      expect(me).not.to.have.property('mobile');
      expect(me).not.to.have.property('stateCode');
    });

    it('maps a missing Contact.User.Read to dingtalk.permission_denied', async () => {
      const token = await userToken(PEOPLE.admin.unionid);
      state.setPermissions([]);
      const error = await upstreamRejection(client.getCurrentUser(token), 'dingtalk.permission_denied');
      expect(error.cause).to.deep.include({ host: 'api', httpStatus: 403 });
    });

    it('maps an unknown or expired user token to dingtalk.invalid_token', async () => {
      await upstreamRejection(client.getCurrentUser('not-a-token'), 'dingtalk.invalid_token');
      const token = await userToken(PEOPLE.admin.unionid);
      state.expireUserTokens();
      await upstreamRejection(client.getCurrentUser(token), 'dingtalk.invalid_token');
    });

    it('is retried after a 502', async () => {
      const token = await userToken(PEOPLE.admin.unionid);
      state.failNext(USERS_ME, { kind: 'server-error', status: 502 });
      expect((await client.getCurrentUser(token)).unionId).to.equal(PEOPLE.admin.unionid);
      expect(state.countCalls(USERS_ME)).to.equal(2);
    });
  });

  describe('app access token', () => {
    it('is fetched once and then served from the cache', async () => {
      const first = await client.getAppAccessToken();
      const second = await client.getAppAccessToken();
      await client.getUser(PEOPLE.platform.userid);
      await client.getUseridByUnionid(PEOPLE.platform.unionid);
      expect(second).to.equal(first);
      expect(state.countCalls(APP_TOKEN)).to.equal(1);
    });

    it('is fetched once for concurrent calls', async () => {
      await Promise.all([client.getUser(PEOPLE.platform.userid), client.getUser(PEOPLE.admin.userid), client.getDepartment(101)]);
      expect(state.countCalls(APP_TOKEN)).to.equal(1);
    });

    it('maps wrong app credentials to dingtalk.invalid_client', async () => {
      const wrong = clientFor(harness.url, { clientSecret: 'wrong' });
      await upstreamRejection(wrong.getAppAccessToken(), 'dingtalk.invalid_client');
      await upstreamRejection(wrong.getUser(PEOPLE.platform.userid), 'dingtalk.invalid_client');
    });

    it('is replaced once when DingTalk reports it expired (88/42001)', async () => {
      const old = await client.getAppAccessToken();
      state.expireAppTokens();
      expect((await client.getUser(PEOPLE.platform.userid)).name).to.equal('李娜');
      expect(await client.getAppAccessToken()).not.to.equal(old);
      expect(state.countCalls(APP_TOKEN)).to.equal(2);
    });

    it('is replaced once when DingTalk reports it invalid (88/40014), and the call repeated', async () => {
      await client.getAppAccessToken();
      state.failNext(USER_GET, 'invalid-token');
      expect((await client.getUser(PEOPLE.platform.userid)).userid).to.equal(PEOPLE.platform.userid);
      expect(state.countCalls(APP_TOKEN)).to.equal(2);
      expect(state.countCalls(USER_GET)).to.equal(2);
    });

    it('handles a bare errcode 42001 the same way', async () => {
      await client.getAppAccessToken();
      state.failNext(GETBYUNIONID, { kind: 'respond', status: 200, body: { errcode: 42001, errmsg: 'access_token expired' } });
      expect((await client.getUseridByUnionid(PEOPLE.platform.unionid)).userid).to.equal(PEOPLE.platform.userid);
      expect(state.countCalls(APP_TOKEN)).to.equal(2);
    });

    it('gives up with dingtalk.invalid_token when the fresh token is rejected too', async () => {
      state.failNext(USER_GET, 'invalid-token', 2);
      await upstreamRejection(client.getUser(PEOPLE.platform.userid), 'dingtalk.invalid_token');
      expect(state.countCalls(USER_GET)).to.equal(2);
    });
  });

  describe('oapi reads', () => {
    it('getUseridByUnionid returns the userid of a member', async () => {
      expect(await client.getUseridByUnionid(PEOPLE.boss.unionid)).to.deep.equal({ contact_type: 0, userid: PEOPLE.boss.userid });
    });

    it('getUseridByUnionid maps 60121 to dingtalk.user_not_found for outsiders and leavers', async () => {
      await upstreamRejection(client.getUseridByUnionid(PEOPLE.outsider.unionid), 'dingtalk.user_not_found');
      await upstreamRejection(client.getUseridByUnionid(PEOPLE.left.unionid), 'dingtalk.user_not_found');
    });

    it('getUser returns the directory record and 60121 for unknown users', async () => {
      const user = await client.getUser(PEOPLE.admin.userid);
      expect(user).to.deep.include({
        userid: PEOPLE.admin.userid,
        name: '王建国',
        admin: true,
        dept_id_list: [100],
        org_email: 'wangjianguo@yunqi-tech.cn',
      });
      await upstreamRejection(client.getUser('nobody'), 'dingtalk.user_not_found');
    });

    it('getDepartment returns the department and 60003 for unknown ones', async () => {
      expect(await client.getDepartment(102)).to.deep.include({ dept_id: 102, name: '前端组', parent_id: 100 });
      await upstreamRejection(client.getDepartment(999), 'dingtalk.department_not_found');
    });

    it('getDepartmentName serves repeated lookups from the cache', async () => {
      expect(await client.getDepartmentName(201)).to.equal('品牌组');
      expect(await client.getDepartmentName(201)).to.equal('品牌组');
      expect(state.countCalls(DEPT_GET)).to.equal(1);
    });

    it('getUserInfoByFreeLoginCode resolves a free-login code once', async () => {
      const code = state.issueFreeLoginCode(PEOPLE.admin.userid);
      expect(await client.getUserInfoByFreeLoginCode(code)).to.include({ userid: PEOPLE.admin.userid, sys: true, sys_level: 1 });
      await upstreamRejection(client.getUserInfoByFreeLoginCode(code), 'dingtalk.invalid_code');
    });

    it('fetchIdentityByFreeLoginCode builds the identity from the directory', async () => {
      const identity = await client.fetchIdentityByFreeLoginCode(state.issueFreeLoginCode(PEOPLE.platform.userid));
      expect(identity).to.deep.include({
        unionId: PEOPLE.platform.unionid,
        userId: PEOPLE.platform.userid,
        corpId: CORP_ID,
        departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
      });
    });

    it('fetchIdentityByUserid builds the identity of a member from the directory, for re-syncs', async () => {
      const identity = await client.fetchIdentityByUserid(PEOPLE.frontend.userid);
      expect(identity).to.deep.include({ unionId: PEOPLE.frontend.unionid, userId: PEOPLE.frontend.userid, corpId: CORP_ID });
      expect(identity.departments.map((d) => [d.id, d.ancestors, d.path])).to.deep.equal([
        [102, [1, 100], '研发中心/前端组'],
        [201, [1, 200], '市场部/品牌组'],
      ]);
      await upstreamRejection(client.fetchIdentityByUserid(PEOPLE.left.userid), 'dingtalk.user_not_found');
    });

    it('never retries the free-login exchange', async () => {
      const code = state.issueFreeLoginCode(PEOPLE.platform.userid);
      await client.getAppAccessToken();
      state.failNext(FREE_LOGIN, 'busy');
      await upstreamRejection(client.getUserInfoByFreeLoginCode(code), 'dingtalk.unavailable');
      expect(state.countCalls(FREE_LOGIN)).to.equal(1);
    });
  });

  describe('retries of idempotent reads', () => {
    const transient: [string, Parameters<EmulatorState['failNext']>[1]][] = [
      ['errcode -1 (busy)', 'busy'],
      ['errcode 15 (remote timeout)', 'timeout'],
      ['an HTTP 5xx from the gateway', 'server-error'],
      ['errcode 90018 (QPS)', 'throttle'],
      ['errcode 90002 (platform QPS)', { kind: 'respond', status: 200, body: { errcode: 90002, errmsg: '所有请求都被暂时禁用了' } }],
      ['errcode 88 without sub_code (momentary ban)', { kind: 'respond', status: 200, body: { errcode: 88, errmsg: 'ding talk error' } }],
      ['a reset connection', 'reset'],
    ];
    for (const [label, fault] of transient) {
      it(`retries user/get after ${label}`, async () => {
        await client.getAppAccessToken();
        state.failNext(USER_GET, fault, 2);
        expect((await client.getUser(PEOPLE.platform.userid)).userid).to.equal(PEOPLE.platform.userid);
        expect(state.countCalls(USER_GET)).to.equal(3);
      });
    }

    it('retries users/me after 403 QpsLimitForAppkeyAndApi', async () => {
      const { accessToken } = await client.exchangeCode(await authCodeFor(client, PEOPLE.platform.unionid));
      state.failNext(USERS_ME, 'throttle');
      expect((await client.getCurrentUser(accessToken)).unionId).to.equal(PEOPLE.platform.unionid);
      expect(state.countCalls(USERS_ME)).to.equal(2);
    });

    it('retries the app token request after a 503', async () => {
      state.failNext(APP_TOKEN, 'busy');
      expect(await client.getAppAccessToken()).to.be.a('string');
      expect(state.countCalls(APP_TOKEN)).to.equal(2);
    });

    it('stops after the configured retries and reports the last error', async () => {
      await client.getAppAccessToken();
      state.failNext(DEPT_GET, 'busy', 3);
      const error = await upstreamRejection(client.getDepartment(101), 'dingtalk.unavailable');
      expect(error.operation).to.equal('dingtalk.department_get');
      expect(state.countCalls(DEPT_GET)).to.equal(3);
    });

    it('does not retry a permanent error', async () => {
      await client.getAppAccessToken();
      state.failNext(DEPT_GET, { kind: 'respond', status: 200, body: { errcode: 60011, errmsg: '没有调用该接口的权限' } });
      await upstreamRejection(client.getDepartment(101), 'dingtalk.permission_denied');
      expect(state.countCalls(DEPT_GET)).to.equal(1);
    });
  });

  describe('timeouts and broken answers', () => {
    it('gives up after timeoutMs with dingtalk.timeout and does not retry', async () => {
      await client.getAppAccessToken();
      state.failNext(USER_GET, { kind: 'delay', ms: 3000 });
      const started = Date.now();
      const error = await upstreamRejection(client.getUser(PEOPLE.platform.userid), 'dingtalk.timeout');
      const elapsed = Date.now() - started;
      expect(elapsed).to.be.within(900, 1600);
      expect(error.retryable).to.equal(true);
      expect(state.countCalls(USER_GET)).to.equal(1);
    });

    it('times out the code exchange too', async () => {
      const code = await authCodeFor(client, PEOPLE.platform.unionid);
      state.failNext(USER_TOKEN, { kind: 'delay', ms: 3000 });
      await upstreamRejection(client.exchangeCode(code), 'dingtalk.timeout');
    });

    it('maps an HTML page where JSON was expected to dingtalk.bad_response', async () => {
      await client.getAppAccessToken();
      state.failNext(USER_GET, 'malformed');
      const error = await upstreamRejection(client.getUser(PEOPLE.platform.userid), 'dingtalk.bad_response');
      expect(error.cause).to.deep.include({ host: 'oapi', httpStatus: 200 });
    });

    it('maps a success body of the wrong shape to dingtalk.bad_response', async () => {
      state.failNext(APP_TOKEN, { kind: 'respond', status: 200, body: { access_token: 'x', expires_in: 7200 } });
      await upstreamRejection(client.getAppAccessToken(), 'dingtalk.bad_response');
    });

    it('maps an oapi envelope without result to dingtalk.bad_response', async () => {
      await client.getAppAccessToken();
      state.failNext(USER_GET, { kind: 'respond', status: 200, body: { errcode: 0, errmsg: 'ok' } });
      await upstreamRejection(client.getUser(PEOPLE.platform.userid), 'dingtalk.bad_response');
    });

    it('maps an unreachable DingTalk to dingtalk.unavailable', async () => {
      await harness.server.close();
      const error = await upstreamRejection(client.getAppAccessToken(), 'dingtalk.unavailable');
      expect(error.cause).to.be.instanceOf(Error);
      harness = await startEmulator(); // so afterEach has something to close
    });
  });

  it('uses only the configured base URLs (login, api and oapi may be different hosts)', async () => {
    const other = await startEmulator();
    try {
      const split = clientFor(harness.url, { apiBaseUrl: other.url, oapiBaseUrl: `${other.url}/` });
      await split.getUser(PEOPLE.platform.userid);
      expect(state.countCalls(USER_GET) + state.countCalls(APP_TOKEN)).to.equal(0);
      expect(other.emulator.state.countCalls(APP_TOKEN)).to.equal(1);
      expect(other.emulator.state.countCalls(USER_GET)).to.equal(1);
      expect(split.authorizationUrl({ redirectUri: REDIRECT_URI, state: 's' })).to.match(
        new RegExp(`^${harness.url}/oauth2/auth\\?client_id=${CLIENT_ID}&`),
      );
    } finally {
      await other.server.close();
    }
  });
});
