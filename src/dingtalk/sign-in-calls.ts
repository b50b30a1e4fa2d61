/**
 * The sign-in calls of the DingTalk client (client.ts), on the request path (http-call.ts): the
 * authorize URL, the code exchange, users/me and the free-login getuserinfo, and the login sequences
 * built from them with the directory reads (directory-calls.ts): `fetchIdentity` (code → user token →
 * users/me → corp membership → directory record → departments → `UpstreamIdentity`) and
 * `fetchIdentityByFreeLoginCode`.
 */
import { AccountError } from '../errors/app-error.js';
import type { DirectoryCalls } from './directory-calls.js';
import { isDingTalkError } from './errors.js';
import { joinUrl, OPERATIONS, type DingTalkHttp } from './http-call.js';
import { toUpstreamIdentity, type UpstreamDepartment, type UpstreamIdentity } from './identity.js';
import {
  contactUserSchema,
  freeLoginUserInfoSchema,
  userAccessTokenSchema,
  type ContactUser,
  type FreeLoginUserInfo,
  type UserAccessTokenResponse,
  type UserDetail,
} from './schemas.js';
import type { UseridCache } from './userid-cache.js';

/** Parameters of the authorize redirect (§1.1). */
export interface AuthorizationUrlParams {
  /** Must match a redirect URL registered for the app. */
  redirectUri: string;
  /** Echoed back unchanged; bind it to the browser session yourself (§6.2 gotcha 12). */
  state: string;
  /** Pre-select the organisation; defaults to the configured `corpId`. */
  corpId?: string;
}

/** What the sign-in calls need of the client's settings. */
export interface SignInCallsOptions {
  clientId: string;
  clientSecret: string;
  /** With it: scope `openid corpid`, the membership check and the directory record. */
  corpId?: string | undefined;
  loginBaseUrl: string;
  /** The bound of a single-use code's exchange (client.ts `codeWaitMs`). */
  codeWaitMs: number;
  useridCache?: UseridCache | undefined;
}

/** The sign-in calls over `http`; the membership check and the directory record come from `directory`. */
export function createSignInCalls(http: DingTalkHttp, directory: DirectoryCalls, options: SignInCallsOptions) {
  const { codeWaitMs } = options;

  /** 60121 on the membership path means "not a member", an account problem rather than an outage. */
  async function asMember<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isDingTalkError(error, 'dingtalk.user_not_found')) throw notInCorp(error);
      throw error;
    }
  }

  async function memberDetail(userid: string): Promise<{ user: UserDetail; departments: UpstreamDepartment[] }> {
    const user = await asMember(() => directory.getUser(userid));
    return { user, departments: await directory.departmentsOf(user) };
  }

  function authorizationUrl({ redirectUri, state, corpId }: AuthorizationUrlParams): string {
    // GET https://login.dingtalk.com/oauth2/auth (§1.1). Doc: D-CRED
    // (open.dingtalk.com/document/orgapp/obtain-identity-credentials).
    // Quirks: `prompt=consent` is mandatory (§6.2/2); scopes are space-separated as %20, not '+'
    // or ','; `corpid` in scope is what makes the token response carry `corpId` (§6.2/5); `corpId`
    // (not `exclusiveCorpId`) pre-selects the organisation.
    const selectedCorp = corpId ?? options.corpId;
    const params: [string, string][] = [
      ['client_id', options.clientId],
      ['redirect_uri', redirectUri],
      ['response_type', 'code'],
      ['scope', options.corpId === undefined ? 'openid' : 'openid corpid'],
      ['state', state],
      ['prompt', 'consent'],
    ];
    if (selectedCorp !== undefined) params.push(['corpId', selectedCorp]);
    const query = params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&');
    return `${joinUrl(options.loginBaseUrl, '/oauth2/auth')}?${query}`;
  }

  async function exchangeCode(code: string): Promise<UserAccessTokenResponse> {
    // POST https://api.dingtalk.com/v1.0/oauth2/userAccessToken (§1.3). Doc: D-TOKEN
    // (open.dingtalk.com/document/development/obtain-user-token).
    // Quirks: JSON only (a form body → 400 `Missingbody`); camelCase `expireIn`; `corpId` only with
    // scope `openid corpid`; the code is single-use and short-lived, so this is retried only after a
    // throttling answer (the call did nothing); the error code for a reused/expired code is
    // undocumented → any unclassified 4xx is invalid_code.
    return http.callApi(
      {
        operation: OPERATIONS.exchangeCode,
        consumesCode: true,
        maxWaitMs: codeWaitMs,
        host: 'api',
        method: 'POST',
        path: '/v1.0/oauth2/userAccessToken',
        json: { clientId: options.clientId, clientSecret: options.clientSecret, code, grantType: 'authorization_code' },
      },
      userAccessTokenSchema,
      false,
    );
  }

  async function getCurrentUser(userAccessToken: string): Promise<ContactUser> {
    // GET https://api.dingtalk.com/v1.0/contact/users/me (§1.4). Doc: HELP-USERINFO
    // (help.dingtalk.io/open/development/dingtalk-retrieve-user-information).
    // Quirks: token only in the `x-acs-dingtalk-access-token` header (query/Bearer are ignored);
    // needs `Contact.User.Read` (else 403 `Forbidden.AccessDenied.AccessTokenPermissionDenied`);
    // `mobile`/`stateCode` only with `Contact.User.mobile`; `email` is the personal address.
    return http.callApi(
      {
        operation: OPERATIONS.usersMe,
        host: 'api',
        method: 'GET',
        path: '/v1.0/contact/users/me',
        headers: { 'x-acs-dingtalk-access-token': userAccessToken },
      },
      contactUserSchema,
      true,
    );
  }

  async function getUserInfoByFreeLoginCode(code: string): Promise<FreeLoginUserInfo> {
    // POST oapi /topapi/v2/user/getuserinfo?access_token= {code} → result {userid, unionid, sys, sys_level…}
    // Doc: LEGACY-GETUSERINFO successor, "通过免登码获取用户信息" (open.dingtalk.com/document/development/
    // get-user-userid-through-login-free-code). Quirks: the code comes from the JSAPI
    // `requestAuthCode` inside the DingTalk client, lives ~5 min and is single-use (reuse → 40078),
    // so retried only after throttling; it needs the corp (app) token, not a user token.
    return http.callOapi(
      { operation: OPERATIONS.freeLogin, path: '/topapi/v2/user/getuserinfo', json: { code }, maxWaitMs: codeWaitMs },
      freeLoginUserInfoSchema,
      false,
    );
  }

  async function fetchIdentity(code: string): Promise<UpstreamIdentity> {
    const token = await exchangeCode(code);
    const me = await getCurrentUser(token.accessToken);
    if (options.corpId === undefined) return toUpstreamIdentity({ me, corpId: token.corpId });
    // Anyone with a DingTalk account can complete the OAuth dance (§6.2 gotcha 4); membership is
    // decided by the organisation's directory, not by the corpId the user picked on the login page.
    const { useridCache } = options;
    const known = await useridCache?.get(me.unionId);
    if (known !== undefined) {
      // A returning member: user/get with the userid getbyunionid gave last time (a unionId's userid
      // does not change) is the membership check. Left, or the userid now someone else's: ask again.
      const member = await memberDetail(known).catch((error: unknown) => {
        if (error instanceof AccountError && error.code === 'dingtalk.not_in_corp') return undefined;
        throw error;
      });
      if (member !== undefined && (member.user.unionid === undefined || member.user.unionid === me.unionId)) {
        return toUpstreamIdentity({ me, member: member.user, departments: member.departments, corpId: options.corpId });
      }
      await useridCache?.forget(me.unionId);
    }
    const link = await asMember(() => directory.getUseridByUnionid(me.unionId));
    if (link.contact_type === 1) throw notInCorp(); // an external contact, not an employee
    const { user, departments } = await memberDetail(link.userid);
    await useridCache?.set(me.unionId, link.userid);
    return toUpstreamIdentity({ me, member: user, departments, corpId: options.corpId });
  }

  async function fetchIdentityByFreeLoginCode(code: string): Promise<UpstreamIdentity> {
    const info = await getUserInfoByFreeLoginCode(code);
    const { user, departments } = await memberDetail(info.userid);
    if (user.unionid === undefined && info.unionid !== undefined) user.unionid = info.unionid;
    // The same person's web sign-in can then skip getbyunionid.
    if (user.unionid !== undefined) await options.useridCache?.set(user.unionid, info.userid);
    const identity = { member: user, departments };
    return toUpstreamIdentity(options.corpId === undefined ? identity : { ...identity, corpId: options.corpId });
  }

  return {
    authorizationUrl,
    exchangeCode,
    getCurrentUser,
    getUserInfoByFreeLoginCode,
    fetchIdentity,
    fetchIdentityByFreeLoginCode,
  };
}

function notInCorp(cause?: unknown): AccountError {
  return new AccountError('dingtalk.not_in_corp', 'The DingTalk account is not a member of the organisation', {
    cause,
  });
}
