import { Router } from '@koa/router';
import type { Context } from 'koa';
import { readJsonObject, sendApi, sendApiError, stringField } from './http.js';
import type { EmulatorState, EmulatorUser } from './state.js';

/**
 * Error code for an unknown, reused or expired `authCode` at `/v1.0/oauth2/userAccessToken`.
 * dingtalk-api.md §1.3 marks the real code as (unverified); this string follows the style of the
 * documented `invalidClientIdOrSecret` and what other DingTalk integrations test against.
 */
export const INVALID_AUTH_CODE = 'invalidCode';

/**
 * Routes of the emulated api.dingtalk.com (`/v1.0/...`, §1.3, §1.4, §2.1): JSON bodies only (anything
 * else → 400 `Missingbody`), the token only in `x-acs-dingtalk-access-token`, errors as HTTP 4xx/5xx
 * with a string `code`.
 */
export function createApiRouter(state: EmulatorState): Router {
  const router = new Router();

  // POST /v1.0/oauth2/userAccessToken {clientId, clientSecret, code | refreshToken, grantType}
  router.post('/v1.0/oauth2/userAccessToken', async (ctx) => {
    const body = await requireJson(ctx);
    if (body === undefined) return;
    const missing = firstMissing(body, ['clientId', 'clientSecret', 'grantType']);
    if (missing !== undefined) return sendMissing(ctx, missing);
    if (body.clientId !== state.clientId || body.clientSecret !== state.clientSecret) {
      return sendApiError(ctx, 400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
    }

    if (body.grantType === 'authorization_code') {
      const code = stringField(body, 'code');
      if (code === undefined) return sendMissing(ctx, 'code');
      const outcome = state.consumeAuthCode(code);
      if (!outcome.ok || outcome.value.clientId !== state.clientId) {
        const message = outcome.ok ? '不合法的临时授权码' : CODE_MESSAGES[outcome.reason];
        return sendApiError(ctx, 400, INVALID_AUTH_CODE, message);
      }
      const user = state.findByUnionId(outcome.value.unionid);
      if (user === undefined) return sendApiError(ctx, 400, INVALID_AUTH_CODE, '不合法的临时授权码');
      const corpId = outcome.value.scope.includes('corpid') ? corpIdOf(state, user) : undefined;
      const token = state.issueUserToken(user.unionid, corpId);
      return sendApi(ctx, 200, corpId === undefined ? token : { ...token, corpId });
    }

    if (body.grantType === 'refresh_token') {
      const refreshToken = stringField(body, 'refreshToken');
      if (refreshToken === undefined) return sendMissing(ctx, 'refreshToken');
      const record = state.consumeRefreshToken(refreshToken);
      if (record === undefined) return sendApiError(ctx, 400, 'invalidRefreshToken', '不合法的refreshToken');
      const token = state.issueUserToken(record.unionid, record.corpId);
      return sendApi(ctx, 200, record.corpId === undefined ? token : { ...token, corpId: record.corpId });
    }

    return sendApiError(ctx, 400, 'InvalidParameter', 'grantType must be authorization_code or refresh_token');
  });

  // POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn}
  router.post('/v1.0/oauth2/accessToken', async (ctx) => {
    const body = await requireJson(ctx);
    if (body === undefined) return;
    const missing = firstMissing(body, ['appKey', 'appSecret']);
    if (missing !== undefined) return sendMissing(ctx, missing);
    if (body.appKey !== state.clientId || body.appSecret !== state.clientSecret) {
      return sendApiError(ctx, 400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
    }
    const { token, expiresIn } = state.issueAppToken();
    sendApi(ctx, 200, { accessToken: token, expireIn: expiresIn });
  });

  // GET /v1.0/contact/users/me (or /users/<own unionId>) with the user token in the header.
  router.get('/v1.0/contact/users/:unionId', (ctx) => {
    // Only this header counts; `?access_token=` and `Authorization: Bearer` are ignored (PROBE P7/P10).
    const token = ctx.get('x-acs-dingtalk-access-token');
    if (token === '') {
      return sendApiError(ctx, 400, 'AuthenticationFailed.MissingParameter', '缺少参数 x-acs-dingtalk-access-token');
    }
    const checked = state.checkToken(token);
    const record = checked.status === 'valid' ? checked.record : undefined;
    const user = record?.type === 'user' ? state.findByUnionId(record.unionid) : undefined;
    if (user === undefined) return sendApiError(ctx, 400, 'InvalidAuthentication', '不合法的access_token');
    const wanted = ctx.params.unionId;
    // Without Contact.User.Read (or for someone else's unionId) DingTalk answers 403 (§1.4).
    if (!state.hasPermission('Contact.User.Read') || (wanted !== 'me' && wanted !== user.unionid)) {
      return sendApiError(ctx, 403, 'Forbidden.AccessDenied.AccessTokenPermissionDenied', PERMISSION_DENIED_MESSAGE, {
        accessdenieddetail: { requiredScopes: ['Contact.User.Read'] },
      });
    }
    sendApi(ctx, 200, contactUser(state, user));
  });

  return router;
}

const PERMISSION_DENIED_MESSAGE = '没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp/add-api-permission';

const CODE_MESSAGES: Record<'unknown' | 'used' | 'expired', string> = {
  unknown: '不合法的临时授权码',
  used: '临时授权码已被使用',
  expired: '临时授权码已过期',
};

/** The users/me body: `{nick, unionId, openId, avatarUrl?, mobile?, stateCode?, email?, visitor}`. */
function contactUser(state: EmulatorState, user: EmulatorUser): Record<string, unknown> {
  const body: Record<string, unknown> = { nick: user.nick ?? user.name, unionId: user.unionid, openId: user.openid };
  if (user.avatar !== undefined) body.avatarUrl = user.avatar;
  // Mobile only with the mobile field permission (§1.4).
  if (state.hasPermission('Contact.User.mobile') && user.mobile !== undefined) {
    body.mobile = user.mobile;
    body.stateCode = user.state_code ?? '86';
  }
  if (user.personal_email !== undefined) body.email = user.personal_email;
  body.visitor = false;
  return body;
}

/** The organisation a person picks on the login page: ours for members, their own otherwise. */
function corpIdOf(state: EmulatorState, user: EmulatorUser): string | undefined {
  return user.status === 'member' ? state.corpId : user.other_corp_id;
}

async function requireJson(ctx: Context): Promise<Record<string, unknown> | undefined> {
  const body = await readJsonObject(ctx);
  if (body === undefined) sendApiError(ctx, 400, 'Missingbody', 'body is mandatory for this action.');
  return body;
}

function firstMissing(body: Record<string, unknown>, names: readonly string[]): string | undefined {
  return names.find((name) => stringField(body, name) === undefined);
}

/** Alibaba-gateway style, like the documented `Missingbody`: `Missing<name>`. */
function sendMissing(ctx: Context, name: string): void {
  sendApiError(ctx, 400, `Missing${name}`, `${name} is mandatory for this action.`);
}
