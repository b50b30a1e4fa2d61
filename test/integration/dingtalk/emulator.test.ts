/**
 * The emulator checked against shared/dingtalk-api.md over real HTTP: paths, header names, field
 * names, both error shapes, the Missingbody rule, 88 with a string sub_code, single-use authCode,
 * and both `authCode` and `code` on the callback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createEventCrypto } from '../../../src/dingtalk/event-crypto.js';
import { contactEvent, pushEvent } from '../../../src/emulator/event-pusher.js';
import type { EmulatorState } from '../../../src/emulator/state.js';
import { apiErrors, eventFixtures, oapiErrors, successBodies } from '../../fixtures/dingtalk/payloads.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CORP_ID,
  PEOPLE,
  REDIRECT_URI,
  http,
  parseLoginForm,
  postJson,
  startEmulator,
  type Harness,
  type HttpResult,
} from './harness.js';

type Json = Record<string, unknown>;

function body(result: HttpResult): Json {
  expect(result.json, result.text).to.be.an('object');
  return result.json as Json;
}

/** api.dingtalk.com error: the status, and exactly the documented keys with a string code. */
function expectApiError(result: HttpResult, status: number, code: string): Json {
  expect(result.status, result.text).to.equal(status);
  const json = body(result);
  expect(json.code).to.equal(code);
  expect(json.requestid)
    .to.be.a('string')
    .and.match(/^[0-9A-F-]{36}$/);
  expect(json.message).to.be.a('string');
  expect(json).not.to.have.property('errcode');
  return json;
}

/** oapi error: HTTP 200 and `{errcode, errmsg, request_id}`. */
function expectOapiError(result: HttpResult, errcode: number): Json {
  expect(result.status).to.equal(200);
  const json = body(result);
  expect(json.errcode, result.text).to.equal(errcode);
  expect(json.errmsg).to.be.a('string');
  expect(json.request_id).to.be.a('string');
  return json;
}

function authorizeQuery(overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid corpid',
    state: 'st/42',
    prompt: 'consent',
    ...overrides,
  };
  return Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
}

describe('dingtalk emulator conformance (dingtalk-api.md)', () => {
  let harness: Harness;
  let url: string;
  let state: EmulatorState;

  beforeEach(async () => {
    harness = await startEmulator();
    url = harness.url;
    state = harness.emulator.state;
  });

  afterEach(async () => {
    await harness.server.close();
  });

  async function appToken(): Promise<string> {
    const result = await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
    return body(result).accessToken as string;
  }

  /** A user access token for `unionid`, through the real code exchange. */
  async function userToken(unionid: string): Promise<string> {
    const code = state.issueAuthCode({ unionid });
    const result = await postJson(`${url}/v1.0/oauth2/userAccessToken`, {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      code,
      grantType: 'authorization_code',
    });
    return String(body(result).accessToken);
  }

  /** GET users/me (or another path under /v1.0/contact/users) with the given headers. */
  function usersMe(headers: Record<string, string> = {}, path = 'me', query = ''): Promise<HttpResult> {
    return http(`${url}/v1.0/contact/users/${path}${query}`, { headers });
  }

  async function oapi(path: string, payload: Json, token?: string): Promise<HttpResult> {
    const query = token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`;
    return postJson(`${url}${path}${query}`, payload);
  }

  describe('login.dingtalk.com /oauth2/auth (§1.1, §1.2)', () => {
    it('shows a zh-CN user picker listing every seed person, with Deny, and no script', async () => {
      const page = await http(`${url}/oauth2/auth?${authorizeQuery()}`);
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(page.text).to.include('<html lang="zh-CN">').and.include('拒绝').and.include('李娜');
      expect(page.text).not.to.match(/<script/i);
      const form = parseLoginForm(page.text);
      expect(form.unionIds).to.have.members(state.users().map((user) => user.unionid));
      expect(form.hidden).to.include({ client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: 'st/42', prompt: 'consent' });
    });

    it('speaks English when the browser prefers it', async () => {
      const page = await http(`${url}/oauth2/auth?${authorizeQuery()}`, { headers: { 'accept-language': 'en-US,en;q=0.9,zh-CN;q=0.5' } });
      expect(page.text).to.include('<html lang="en">').and.include('Deny');
    });

    it('redirects with both authCode and code (same value) and the state unchanged', async () => {
      const form = parseLoginForm((await http(`${url}/oauth2/auth?${authorizeQuery()}`)).text);
      const fields = new URLSearchParams({ ...form.hidden, unionId: PEOPLE.platform.unionid });
      const answer = await http(`${url}/oauth2/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: fields.toString(),
      });
      expect(answer.status).to.equal(302);
      const location = new URL(String(answer.headers.location));
      expect(location.origin + location.pathname).to.equal(REDIRECT_URI);
      const authCode = location.searchParams.get('authCode');
      expect(authCode).to.be.a('string').with.lengthOf.above(0);
      expect(location.searchParams.get('code')).to.equal(authCode);
      expect(location.searchParams.get('state')).to.equal('st/42');
    });

    it('redirects Deny with error=access_denied and the state', async () => {
      const form = parseLoginForm((await http(`${url}/oauth2/auth?${authorizeQuery()}`)).text);
      const answer = await http(`${url}/oauth2/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.hidden, decision: 'deny' }).toString(),
      });
      const location = new URL(String(answer.headers.location));
      expect(Object.fromEntries(location.searchParams)).to.deep.equal({ error: 'access_denied', state: 'st/42' });
    });

    const invalid: [string, Record<string, string | undefined>, string][] = [
      ['prompt is missing', { prompt: undefined }, 'prompt'],
      ['response_type is not code', { response_type: 'token' }, 'response_type'],
      ['client_id is unknown', { client_id: 'dingnobody' }, 'client_id'],
      ['redirect_uri is missing', { redirect_uri: undefined }, 'redirect_uri'],
      ['scope lacks openid', { scope: 'corpid' }, 'scope'],
    ];
    for (const [label, overrides, mentioned] of invalid) {
      it(`shows a readable 400 page, not a redirect, when ${label}`, async () => {
        const page = await http(`${url}/oauth2/auth?${authorizeQuery(overrides)}`);
        expect(page.status).to.equal(400);
        expect(page.headers.location).to.equal(undefined);
        expect(page.text).to.include('钉钉登录请求有误').and.include(mentioned);
      });
    }

    it('accepts only registered redirect URIs when a list is configured', async () => {
      const strict = await startEmulator({ redirectUris: ['https://sso.example.com/dingtalk/callback'] });
      try {
        expect((await http(`${strict.url}/oauth2/auth?${authorizeQuery()}`)).status).to.equal(400);
        const ok = await http(`${strict.url}/oauth2/auth?${authorizeQuery({ redirect_uri: 'https://sso.example.com/dingtalk/callback' })}`);
        expect(ok.status).to.equal(200);
      } finally {
        await strict.server.close();
      }
    });
  });

  describe('api.dingtalk.com (§0, §1.3–§1.5, §2.1)', () => {
    it('sends x-acs-request-id, x-acs-trace-id, Server and the JSON content type', async () => {
      const result = await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: 'wrong' });
      const json = expectApiError(result, 400, 'invalidClientIdOrSecret');
      expect(result.headers['x-acs-request-id']).to.equal(json.requestid);
      expect(result.headers['x-acs-trace-id'])
        .to.be.a('string')
        .and.match(/^[0-9a-f]{32}$/);
      expect(result.headers.server).to.equal('DingTalk/1.0.0');
      expect(result.headers['content-type']).to.equal('application/json;charset=utf-8');
    });

    it('answers a form body on /v1.0 with 400 Missingbody', async () => {
      const form = await http(`${url}/v1.0/oauth2/accessToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `appKey=${CLIENT_ID}&appSecret=${CLIENT_SECRET}`,
      });
      expect(expectApiError(form, 400, 'Missingbody')).to.have.all.keys(Object.keys(apiErrors.missingBody.body));
      expectApiError(await http(`${url}/v1.0/oauth2/userAccessToken`, { method: 'POST' }), 400, 'Missingbody');
    });

    it('/v1.0/oauth2/accessToken returns {accessToken, expireIn} and the same token while valid', async () => {
      const first = await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
      expect(first.status).to.equal(200);
      expect(body(first)).to.have.all.keys(Object.keys(successBodies.appAccessToken.body));
      expect(body(first).expireIn).to.equal(7200);
      const second = await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
      expect(body(second).accessToken).to.equal(body(first).accessToken);
    });

    describe('/v1.0/oauth2/userAccessToken', () => {
      function exchange(code: string, overrides: Json = {}): Promise<HttpResult> {
        return postJson(`${url}/v1.0/oauth2/userAccessToken`, {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          code,
          grantType: 'authorization_code',
          ...overrides,
        });
      }

      it('returns accessToken, refreshToken, expireIn and corpId for scope `openid corpid`', async () => {
        const result = await exchange(state.issueAuthCode({ unionid: PEOPLE.platform.unionid, scope: 'openid corpid' }));
        expect(result.status).to.equal(200);
        expect(body(result)).to.have.all.keys(Object.keys(successBodies.userAccessToken.body));
        expect(body(result)).to.include({ expireIn: 7200, corpId: CORP_ID });
      });

      it('leaves corpId out for scope `openid`', async () => {
        const result = await exchange(state.issueAuthCode({ unionid: PEOPLE.platform.unionid, scope: 'openid' }));
        expect(body(result)).not.to.have.property('corpId');
      });

      it("gives an outsider their own organisation's corpId", async () => {
        const result = await exchange(state.issueAuthCode({ unionid: PEOPLE.outsider.unionid, scope: 'openid corpid' }));
        expect(body(result).corpId).to.be.a('string').and.not.equal(CORP_ID);
      });

      it('accepts an authCode once only', async () => {
        const code = state.issueAuthCode({ unionid: PEOPLE.platform.unionid });
        expect((await exchange(code)).status).to.equal(200);
        expectApiError(await exchange(code), 400, 'invalidCode');
      });

      it('rejects an expired or unknown authCode', async () => {
        const code = state.issueAuthCode({ unionid: PEOPLE.platform.unionid });
        state.advanceTime(5 * 60 * 1000 + 1);
        expectApiError(await exchange(code), 400, 'invalidCode');
        expectApiError(await exchange('made-up'), 400, 'invalidCode');
      });

      it('answers a wrong client secret with 400 invalidClientIdOrSecret', async () => {
        expectApiError(await exchange('x', { clientSecret: 'nope' }), 400, 'invalidClientIdOrSecret');
      });

      it('names a missing field like Missingbody does', async () => {
        const noCode = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, grantType: 'authorization_code' };
        expectApiError(await postJson(`${url}/v1.0/oauth2/userAccessToken`, noCode), 400, 'Missingcode');
      });

      it('refreshes with grantType refresh_token', async () => {
        const first = body(await exchange(state.issueAuthCode({ unionid: PEOPLE.platform.unionid })));
        const refreshed = await postJson(`${url}/v1.0/oauth2/userAccessToken`, {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          refreshToken: first.refreshToken,
          grantType: 'refresh_token',
        });
        expect(refreshed.status).to.equal(200);
        expect(body(refreshed).accessToken).not.to.equal(first.accessToken);
      });
    });

    describe('/v1.0/contact/users/me', () => {
      it('returns the documented fields with the header token', async () => {
        const result = await usersMe({ 'x-acs-dingtalk-access-token': await userToken(PEOPLE.platform.unionid) });
        expect(result.status).to.equal(200);
        expect(body(result)).to.include.all.keys(Object.keys(successBodies.usersMe.body));
        expect(body(result)).to.include({ unionId: PEOPLE.platform.unionid, nick: '李娜', stateCode: '86', visitor: false });
        expect(result.headers['x-acs-request-id']).to.be.a('string');
      });

      it('answers a missing header with AuthenticationFailed.MissingParameter, ignoring query and Bearer tokens', async () => {
        const token = await userToken(PEOPLE.platform.unionid);
        const missing = 'AuthenticationFailed.MissingParameter';
        expectApiError(await usersMe(), 400, missing);
        expectApiError(await usersMe({}, 'me', `?access_token=${token}`), 400, missing);
        expectApiError(await usersMe({ authorization: `Bearer ${token}` }), 400, missing);
      });

      it('answers a bad or an app token with InvalidAuthentication', async () => {
        expectApiError(await usersMe({ 'x-acs-dingtalk-access-token': 'garbled' }), 400, 'InvalidAuthentication');
        expectApiError(await usersMe({ 'x-acs-dingtalk-access-token': await appToken() }), 400, 'InvalidAuthentication');
      });

      it('answers 403 AccessTokenPermissionDenied with accessdenieddetail without Contact.User.Read', async () => {
        const token = await userToken(PEOPLE.platform.unionid);
        state.setPermissions([]);
        const answer = await usersMe({ 'x-acs-dingtalk-access-token': token });
        const json = expectApiError(answer, 403, 'Forbidden.AccessDenied.AccessTokenPermissionDenied');
        expect(json).to.have.all.keys(Object.keys(apiErrors.permissionDenied.body));
        expect(json.accessdenieddetail).to.deep.equal({ requiredScopes: ['Contact.User.Read'] });
      });

      it('also answers under the caller’s own unionId', async () => {
        const token = await userToken(PEOPLE.platform.unionid);
        const result = await usersMe({ 'x-acs-dingtalk-access-token': token }, PEOPLE.platform.unionid);
        expect(result.status).to.equal(200);
      });
    });

    it('answers an unknown /v1.0 path with 404 and the api error shape', async () => {
      expectApiError(await http(`${url}/v1.0/contact/nothing`), 404, 'InvalidAction.NotFound');
    });
  });

  describe('oapi.dingtalk.com (§2, §4)', () => {
    it('wraps a missing token as errcode 88 with the string sub_code "40000"', async () => {
      const json = expectOapiError(await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid }), 88);
      expect(json).to.have.all.keys(Object.keys(oapiErrors.blankToken88.body));
      expect(json.sub_code).to.equal('40000');
    });

    it('wraps an invalid token as 88/"40014" and an expired one as 88/"42001"', async () => {
      const invalid = expectOapiError(await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid }, 'garbled'), 88);
      expect(invalid).to.include({ sub_code: '40014', sub_msg: '不合法的access_token' });
      expect(invalid.errmsg).to.equal('ding talk error[subcode=40014,submsg=不合法的access_token]');
      const token = await appToken();
      state.expireAppTokens();
      expect(expectOapiError(await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid }, token), 88).sub_code).to.equal('42001');
    });

    it('does not accept a user token, nor the api header, on oapi', async () => {
      const user = await userToken(PEOPLE.platform.unionid);
      const withUserToken = await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid }, user);
      expect(expectOapiError(withUserToken, 88).sub_code).to.equal('40014');
      const apiHeader = { 'x-acs-dingtalk-access-token': await appToken() };
      const header = await postJson(`${url}/topapi/v2/user/get`, { userid: PEOPLE.platform.userid }, apiHeader);
      expect(expectOapiError(header, 88).sub_code).to.equal('40000');
    });

    it('accepts access_token as a form field', async () => {
      const result = await http(`${url}/topapi/user/getbyunionid`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: await appToken(), unionid: PEOPLE.platform.unionid }).toString(),
      });
      expect(body(result)).to.include({ errcode: 0 });
    });

    it('getbyunionid returns {contact_type, userid} under result, and 60121 for leavers and outsiders', async () => {
      const token = await appToken();
      const ok = await oapi('/topapi/user/getbyunionid', { unionid: PEOPLE.platform.unionid }, token);
      expect(body(ok)).to.have.all.keys(Object.keys(successBodies.getbyunionid.body));
      expect(body(ok)).to.deep.include({ errcode: 0, errmsg: 'ok', result: { contact_type: 0, userid: PEOPLE.platform.userid } });
      expectOapiError(await oapi('/topapi/user/getbyunionid', { unionid: PEOPLE.left.unionid }, token), 60121);
      expectOapiError(await oapi('/topapi/user/getbyunionid', { unionid: PEOPLE.outsider.unionid }, token), 60121);
      expectOapiError(await oapi('/topapi/user/getbyunionid', {}, token), 400002);
    });

    it('follows markLeft: the person disappears from the directory but can still use users/me', async () => {
      const token = await appToken();
      state.markLeft(PEOPLE.platform.userid);
      expectOapiError(await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid }, token), 60121);
      const me = await usersMe({ 'x-acs-dingtalk-access-token': await userToken(PEOPLE.platform.unionid) });
      expect(me.status).to.equal(200);
    });

    it('user/get returns the documented fields, snake_case, and 60121 for unknown users', async () => {
      const token = await appToken();
      const result = body(await oapi('/topapi/v2/user/get', { userid: PEOPLE.platform.userid, language: 'zh_CN' }, token));
      const expectedKeys = Object.keys(successBodies.userGet.body.result).filter((key) => key !== 'avatar');
      expect(result.result).to.include.all.keys(expectedKeys);
      expect(result.result).to.deep.include({ dept_id_list: [101], org_email: 'lina@yunqi-tech.cn', state_code: '86' });
      expectOapiError(await oapi('/topapi/v2/user/get', { userid: 'nobody' }, token), 60121);
    });

    it('user/get omits org_email for someone without corporate mail', async () => {
      const result = body(await oapi('/topapi/v2/user/get', { userid: PEOPLE.noEmail.userid }, await appToken()));
      expect(result.result).not.to.have.property('org_email');
      expect(result.result).to.include({ email: '' });
    });

    it('department/get returns the department, nested two levels under root 1, and 60003 when unknown', async () => {
      const token = await appToken();
      const platform = body(await oapi('/topapi/v2/department/get', { dept_id: 101, language: 'zh_CN' }, token)).result as Json;
      expect(platform).to.include({ dept_id: 101, name: '平台组', parent_id: 100 });
      const centre = body(await oapi('/topapi/v2/department/get', { dept_id: 100 }, token)).result as Json;
      expect(centre).to.include({ name: '研发中心', parent_id: 1 });
      const root = body(await oapi('/topapi/v2/department/get', { dept_id: 1 }, token)).result as Json;
      expect(root).not.to.have.property('parent_id');
      expectOapiError(await oapi('/topapi/v2/department/get', { dept_id: 424242 }, token), 60003);
    });

    it('getuserinfo resolves a free-login code once, then answers 40078', async () => {
      const token = await appToken();
      const code = state.issueFreeLoginCode(PEOPLE.boss.userid);
      const ok = body(await oapi('/topapi/v2/user/getuserinfo', { code }, token));
      expect(ok.result).to.include.all.keys(Object.keys(successBodies.freeLoginUserInfo.body.result));
      expect(ok.result).to.include({ userid: PEOPLE.boss.userid, sys_level: 100 });
      expectOapiError(await oapi('/topapi/v2/user/getuserinfo', { code }, token), 40078);
    });

    it('gettoken returns the legacy shape and 40096 (not 88) for bad credentials', async () => {
      const ok = await http(`${url}/gettoken?appkey=${CLIENT_ID}&appsecret=${CLIENT_SECRET}`);
      expect(body(ok)).to.include.all.keys(Object.keys(successBodies.gettoken.body));
      expect(body(ok)).to.include({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
      expect(body(ok).access_token).to.equal(await appToken());
      expectOapiError(await http(`${url}/gettoken?appkey=${CLIENT_ID}&appsecret=wrong`), 40096);
      expectOapiError(await http(`${url}/gettoken`), 40035);
    });

    it('answers an unknown API path with HTTP 200 errcode 22', async () => {
      const result = await oapi('/topapi/app/remove_auth', {}, await appToken());
      expect(expectOapiError(result, 22).errmsg).to.equal(oapiErrors.unknownApiName.body.errmsg);
      expect(result.headers.server).to.equal('DingTalk/1.0.0');
    });
  });

  describe('QPS limit (§6.1)', () => {
    it('answers over-limit oapi calls with 90018 and api calls with 403 QpsLimitForAppkeyAndApi', async () => {
      const limited = await startEmulator({ qpsLimit: 3 });
      try {
        const token = body(
          await postJson(`${limited.url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET }),
        ).accessToken;
        // 8 calls at once: even split across a second boundary, one window sees more than 3.
        const oapiResults = await Promise.all(
          Array.from({ length: 8 }, () =>
            postJson(`${limited.url}/topapi/v2/department/get?access_token=${String(token)}`, { dept_id: 1 }),
          ),
        );
        const codes = oapiResults.map((result) => body(result).errcode);
        expect(codes).to.include(90018);
        expect(codes.filter((code) => code === 0).length).to.be.at.least(3);
        const apiResults = await Promise.all(
          Array.from({ length: 8 }, () =>
            postJson(`${limited.url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET }),
          ),
        );
        const throttled = apiResults.find((result) => result.status === 403);
        expect(throttled, 'one api call throttled').not.to.equal(undefined);
        if (throttled !== undefined) expectApiError(throttled, 403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi');
      } finally {
        await limited.server.close();
      }
    });
  });

  describe('failNext', () => {
    it('injects -1 / 15 on oapi and 503 / 504 on api, then recovers', async () => {
      const token = await appToken();
      state.failNext('/topapi/v2/department/get', 'busy');
      state.failNext('/topapi/v2/department/get', 'timeout');
      expectOapiError(await oapi('/topapi/v2/department/get', { dept_id: 1 }, token), -1);
      expectOapiError(await oapi('/topapi/v2/department/get', { dept_id: 1 }, token), 15);
      expect(body(await oapi('/topapi/v2/department/get', { dept_id: 1 }, token)).errcode).to.equal(0);
      state.failNext('/v1.0/oauth2/accessToken', 'busy');
      state.failNext('/v1.0/oauth2/accessToken', 'timeout');
      expectApiError(
        await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET }),
        503,
        'ServiceUnavailable',
      );
      expect((await postJson(`${url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET })).status).to.equal(504);
    });

    it('injects an HTML 5xx from the oapi gateway', async () => {
      state.failNext('/topapi/v2/user/get', { kind: 'server-error', status: 502 });
      const result = await oapi('/topapi/v2/user/get', {}, await appToken());
      expect(result.status).to.equal(502);
      expect(result.headers['content-type']).to.match(/^text\/html/);
    });
  });

  describe('event pusher (§5.1)', () => {
    const subscription = { token: 'evt-token', aesKey: eventFixtures.referenceVector.aesKey, ownerKey: CLIENT_ID };
    let receiver: Server;
    let receiverUrl: string;
    let received: { query: URLSearchParams; body: Json }[];
    let reply: (crypto: ReturnType<typeof createEventCrypto>) => unknown;

    beforeEach(async () => {
      received = [];
      const crypto = createEventCrypto(subscription);
      reply = (c) => c.encryptedReply('success');
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          received.push({
            query: new URL(req.url ?? '/', 'http://x').searchParams,
            body: JSON.parse(Buffer.concat(chunks).toString()) as Json,
          });
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(reply(crypto)));
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/dingtalk/events`;
    });

    afterEach(async () => {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    });

    it('POSTs {encrypt} with signature, msg_signature, timestamp and nonce, and accepts an encrypted success', async () => {
      const event = contactEvent('user_leave_org', [PEOPLE.left.userid], CORP_ID, 1731400000000);
      const result = await pushEvent(receiverUrl, event, subscription);
      expect(result).to.deep.equal({ accepted: true, status: 200, reply: 'success' });
      const [push] = received;
      expect(push).not.to.equal(undefined);
      if (push === undefined) return;
      expect(Object.keys(push.body)).to.deep.equal(['encrypt']);
      expect(push.query.get('signature')).to.equal(push.query.get('msg_signature'));
      expect(push.query.get('timestamp')).to.match(/^\d{13}$/);
      const opened = createEventCrypto(subscription).open({
        signature: String(push.query.get('msg_signature')),
        timestamp: String(push.query.get('timestamp')),
        nonce: String(push.query.get('nonce')),
        encrypt: String(push.body.encrypt),
      });
      expect(JSON.parse(opened)).to.deep.equal({ ...eventFixtures.userLeaveOrg.body, UserId: [PEOPLE.left.userid], CorpId: CORP_ID });
    });

    it('counts a plain "success" reply as a failed push', async () => {
      reply = () => 'success';
      expect(await pushEvent(receiverUrl, { EventType: 'check_url' }, subscription)).to.include({
        accepted: false,
        reason: 'bad-reply-shape',
      });
    });

    it('counts a reply encrypted for another owner key as a failed push', async () => {
      reply = () => createEventCrypto({ ...subscription, ownerKey: CORP_ID }).encryptedReply('success');
      expect(await pushEvent(receiverUrl, { EventType: 'check_url' }, subscription)).to.include({
        accepted: false,
        reason: 'bad-reply-payload',
      });
    });
  });
});
