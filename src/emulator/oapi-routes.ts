import { Router } from '@koa/router';
import { sendOapi, sendOapiError, sendOapiResult, stringField } from './http.js';
import { authorizeOapi } from './oapi-guard.js';
import { userDetail } from './people.js';
import { PERMISSION } from './permissions.js';
import type { EmulatorState } from './state.js';

/**
 * Routes of the emulated oapi.dingtalk.com for sign-in (§2, §4): always HTTP 200, `errcode` 0 on
 * success with the payload under `result`; the app token in the `access_token` query parameter (or a
 * form field); auth failures wrapped as `errcode 88` with a string `sub_code`. The directory reads
 * of §11 are in directory-routes.ts; unknown paths are answered by the emulator's fallback (errcode 22).
 */
export function createOapiRouter(state: EmulatorState): Router {
  const router = new Router();

  // POST /topapi/user/getbyunionid {unionid} → {contact_type, userid}; contact_type 1 = external contact.
  router.post('/topapi/user/getbyunionid', async (ctx) => {
    const body = await authorizeOapi(state, ctx, PERMISSION.member);
    if (body === undefined) return;
    const unionid = stringField(body, 'unionid');
    if (unionid === undefined) return sendOapiError(ctx, 400002, '无效的参数 unionid');
    const user = state.findByUnionId(unionid);
    if (user?.userid === undefined || (user.status !== 'member' && user.status !== 'external')) {
      return sendOapiError(ctx, 60121, '找不到该用户');
    }
    sendOapiResult(ctx, { contact_type: user.status === 'external' ? 1 : 0, userid: user.userid });
  });

  // POST /topapi/v2/user/get {userid, language} → the directory record (§2.3, §11.5)
  router.post('/topapi/v2/user/get', async (ctx) => {
    const body = await authorizeOapi(state, ctx, PERMISSION.member);
    if (body === undefined) return;
    const userid = stringField(body, 'userid');
    if (userid === undefined) return sendOapiError(ctx, 40035, '缺少参数 userid');
    const user = state.findMember(userid);
    if (user === undefined) return sendOapiError(ctx, 60121, '找不到该用户');
    sendOapiResult(ctx, userDetail(state, user));
  });

  // POST /topapi/v2/user/getuserinfo {code} — free login (免登, §4)
  router.post('/topapi/v2/user/getuserinfo', async (ctx) => {
    const body = await authorizeOapi(state, ctx);
    if (body === undefined) return;
    const code = stringField(body, 'code');
    if (code === undefined) return sendOapiError(ctx, 40035, '缺少参数 code');
    const outcome = state.consumeFreeLoginCode(code);
    const user = outcome.ok ? state.findMember(outcome.value.userid) : undefined;
    if (user?.userid === undefined) return sendOapiError(ctx, 40078, '不存在的临时授权码');
    const sysLevel = user.admin ? 1 : user.boss ? 100 : 0;
    sendOapiResult(ctx, {
      userid: user.userid,
      unionid: user.unionid,
      associated_unionid: '',
      name: user.name,
      device_id: 'emulator-device',
      sys: user.admin,
      sys_level: sysLevel,
    });
  });

  // GET /gettoken?appkey=&appsecret= (legacy; its errors are not wrapped in 88)
  router.get('/gettoken', (ctx) => {
    const appkey = typeof ctx.query.appkey === 'string' ? ctx.query.appkey : '';
    const appsecret = typeof ctx.query.appsecret === 'string' ? ctx.query.appsecret : '';
    if (appkey === '' || appsecret === '') return sendOapiError(ctx, 40035, '缺少参数 appkey 或 appsecret');
    if (appkey !== state.clientId || appsecret !== state.clientSecret) {
      return sendOapiError(ctx, 40096, '不合法的appKey或appSecret');
    }
    const { token, expiresIn } = state.issueAppToken();
    // Field order as documented: {"errcode":0,"access_token":"…","errmsg":"ok","expires_in":7200}.
    sendOapi(ctx, { errcode: 0, access_token: token, errmsg: 'ok', expires_in: expiresIn });
  });

  return router;
}
