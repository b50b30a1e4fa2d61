import { Router } from '@koa/router';
import type { Context } from 'koa';
import { readOapiBody, sendOapi, sendOapiAuthError, sendOapiError, sendOapiResult, stringField } from './http.js';
import type { EmulatorState, EmulatorUser } from './state.js';

/**
 * Routes of the emulated oapi.dingtalk.com (§2, §4): always HTTP 200, `errcode` 0 on success with the
 * payload under `result`; the app token in the `access_token` query parameter (or a form field);
 * auth failures wrapped as `errcode 88` with a string `sub_code`. Unknown paths are answered by the
 * emulator's fallback (errcode 22).
 */
export function createOapiRouter(state: EmulatorState): Router {
  const router = new Router();

  /** Checks the app token; answers and returns undefined when it is missing/invalid/expired. */
  async function authorize(ctx: Context): Promise<Record<string, unknown> | undefined> {
    const body = await readOapiBody(ctx);
    const fromQuery = typeof ctx.query.access_token === 'string' ? ctx.query.access_token : '';
    const token = fromQuery !== '' ? fromQuery : (stringField(body, 'access_token') ?? '');
    if (token === '') {
      sendOapiAuthError(ctx, '40000', 'access_token is blank');
      return undefined;
    }
    const checked = state.checkToken(token);
    if (checked.status === 'expired') {
      // Documented as errcode 42001 "access_token expired" (PROBE §3); like every oapi auth failure
      // it arrives wrapped in 88 with the number as a string sub_code.
      sendOapiAuthError(ctx, '42001', 'access_token expired');
      return undefined;
    }
    // A user token does not work on oapi (§6.2 gotcha 14).
    if (checked.status !== 'valid' || checked.record.type !== 'app') {
      sendOapiAuthError(ctx, '40014', '不合法的access_token');
      return undefined;
    }
    return body;
  }

  // POST /topapi/user/getbyunionid {unionid} → {contact_type, userid}
  router.post('/topapi/user/getbyunionid', async (ctx) => {
    const body = await authorize(ctx);
    if (body === undefined) return;
    const unionid = stringField(body, 'unionid');
    if (unionid === undefined) return sendOapiError(ctx, 400002, '无效的参数 unionid');
    const user = state.findMemberByUnionId(unionid);
    if (user?.userid === undefined) return sendOapiError(ctx, 60121, '找不到该用户');
    sendOapiResult(ctx, { contact_type: 0, userid: user.userid });
  });

  // POST /topapi/v2/user/get {userid, language} → the directory record
  router.post('/topapi/v2/user/get', async (ctx) => {
    const body = await authorize(ctx);
    if (body === undefined) return;
    const userid = stringField(body, 'userid');
    if (userid === undefined) return sendOapiError(ctx, 40035, '缺少参数 userid');
    const user = state.findMember(userid);
    if (user === undefined) return sendOapiError(ctx, 60121, '找不到该用户');
    sendOapiResult(ctx, userDetail(user));
  });

  // POST /topapi/v2/department/get {dept_id, language}
  router.post('/topapi/v2/department/get', async (ctx) => {
    const body = await authorize(ctx);
    if (body === undefined) return;
    const deptId = Number(body.dept_id);
    if (body.dept_id === undefined || body.dept_id === '' || !Number.isInteger(deptId)) {
      return sendOapiError(ctx, 40035, '缺少参数 dept_id');
    }
    const department = state.department(deptId);
    if (department === undefined) return sendOapiError(ctx, 60003, '部门不存在');
    sendOapiResult(ctx, {
      dept_id: department.dept_id,
      name: department.name,
      ...(department.parent_id === undefined ? {} : { parent_id: department.parent_id }),
      order: department.order ?? 0,
      create_dept_group: false,
      auto_add_user: false,
      group_contain_sub_dept: false,
      hide_dept: false,
      outer_dept: false,
      dept_manager_userid_list: [],
    });
  });

  // POST /topapi/v2/user/getuserinfo {code} — free login (免登)
  router.post('/topapi/v2/user/getuserinfo', async (ctx) => {
    const body = await authorize(ctx);
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

/** `/topapi/v2/user/get` result, with the documented field names (§2.3). */
function userDetail(user: EmulatorUser): Record<string, unknown> {
  const result: Record<string, unknown> = {
    userid: user.userid,
    unionid: user.unionid,
    name: user.name,
    state_code: user.state_code ?? '86',
    mobile: user.mobile ?? '',
    hide_mobile: false,
    telephone: '',
    job_number: user.job_number ?? '',
    title: user.title ?? '',
    email: user.email ?? '',
    work_place: user.work_place ?? '',
    remark: '',
    dept_id_list: user.dept_id_list,
    dept_order_list: user.dept_id_list.map((deptId, index) => ({ dept_id: deptId, order: index })),
    extension: '{}',
    active: user.active,
    real_authed: true,
    senior: false,
    admin: user.admin,
    boss: user.boss,
    exclusive_account: false,
    leader_in_dept: user.dept_id_list.map((deptId) => ({ dept_id: deptId, leader: user.boss || user.admin })),
    role_list: user.role_list,
  };
  if (user.avatar !== undefined) result.avatar = user.avatar;
  // Only with corporate mail enabled (§2.3): absent, not empty, when the person has none.
  if (user.org_email !== undefined) {
    result.org_email = user.org_email;
    result.org_email_type = 'profession';
  }
  if (user.manager_userid !== undefined) result.manager_userid = user.manager_userid;
  if (user.hired_date !== undefined) result.hired_date = user.hired_date;
  return result;
}
