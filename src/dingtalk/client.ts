/**
 * DingTalk client: one method per DingTalk call (shared/dingtalk-api.md), plus the login sequences
 * built from them (`fetchIdentity`: code → user token → users/me → corp membership → directory
 * record → departments with their names and ancestry → `UpstreamIdentity`). This file only puts it
 * together, from three parts:
 * - http-call.ts: the request path (budget slot, deadline, retries, throttling, error mapping, the
 *   `onCall` hook, the app token);
 * - sign-in-calls.ts: the authorize URL, the code exchange, users/me, free login, and the login
 *   sequences;
 * - directory-calls.ts: user/get, getbyunionid, departments, and the §11 paged reads of the sweep.
 * The low-level methods return DingTalk's own shapes; `fetchIdentity*` and `fetchMembersPage` return
 * ours (identity.ts). Knows nothing of Koa or oidc-provider.
 */
import { createMemoryDepartmentCache, type DepartmentCache } from './department-cache.js';
import { createDirectoryCalls } from './directory-calls.js';
import { createDingTalkHttp, type DingTalkHttpOptions } from './http-call.js';
import type { UpstreamIdentity } from './identity.js';
import type {
  ContactUser,
  Department,
  FreeLoginUserInfo,
  SubDepartment,
  UserAccessTokenResponse,
  UserByUnionId,
  UserDetail,
} from './schemas.js';
import { createSignInCalls, type AuthorizationUrlParams } from './sign-in-calls.js';
import type { UseridCache } from './userid-cache.js';

/** Settings of {@link createDingTalkClient}. Base URLs are the only thing that differs for the emulator. */
export interface DingTalkClientOptions extends DingTalkHttpOptions {
  /**
   * Only accept members of this organisation. Turns on scope `openid corpid`, the membership check
   * (`getbyunionid`, 60121 ⇒ `dingtalk.not_in_corp`) and the directory record.
   */
  corpId?: string;
  /** e.g. `https://login.dingtalk.com` */
  loginBaseUrl: string;
  /**
   * `maxWaitMs` for the exchange of a single-use code (web login, free login): shorter, because a
   * caller that gives up before DingTalk was called can come back with the same code (the sign-in
   * page then asks the browser to wait and retry). Default 3 s.
   */
  codeWaitMs?: number;
  /** Department names; default: in memory, 10 minutes. */
  departmentCache?: DepartmentCache;
  /**
   * unionId → userid of members, so that a returning person's sign-in skips `getbyunionid`
   * (userid-cache.ts). Absent: every sign-in asks.
   */
  useridCache?: UseridCache;
  /** `language` sent to oapi calls that take one. Default `zh_CN`. */
  language?: 'zh_CN' | 'en_US';
}

/** The DingTalk client. Low-level methods return DingTalk's own shapes; `fetchIdentity*` return ours. */
export interface DingTalkClient {
  /** `GET <login>/oauth2/auth?…` — where to send the browser. */
  authorizationUrl(params: AuthorizationUrlParams): string;
  /** Code → user access token. Retried only after throttling (the code is single-use once DingTalk took it). */
  exchangeCode(code: string): Promise<UserAccessTokenResponse>;
  /** The signed-in user's own profile, with the user access token. */
  getCurrentUser(userAccessToken: string): Promise<ContactUser>;
  /** The app access token, from the cache or freshly fetched. */
  getAppAccessToken(): Promise<string>;
  /** unionId → userid within the app's organisation; 60121 ⇒ `dingtalk.user_not_found`. */
  getUseridByUnionid(unionid: string): Promise<UserByUnionId>;
  /** The directory record of a member; 60121 ⇒ `dingtalk.user_not_found`. */
  getUser(userid: string): Promise<UserDetail>;
  /** A department (always fetched; its name is stored in the department cache). */
  getDepartment(deptId: number): Promise<Department>;
  /** A department's name, from the cache when possible. */
  getDepartmentName(deptId: number): Promise<string>;
  /** In-DingTalk free login (免登) code → userid; single-use code, so never retried. */
  getUserInfoByFreeLoginCode(code: string): Promise<FreeLoginUserInfo>;
  /**
   * The whole web-login sequence: exchange → users/me → (with `corpId`) getbyunionid → user/get →
   * departments. Throws `AccountError` `dingtalk.not_in_corp` for non-members.
   */
  fetchIdentity(code: string): Promise<UpstreamIdentity>;
  /** Free login: getuserinfo → user/get → departments. */
  fetchIdentityByFreeLoginCode(code: string): Promise<UpstreamIdentity>;
  /**
   * A member's directory record as an identity, for re-syncing an account without a login (events,
   * `accounts sync`): user/get → departments with ancestry. Unknown ⇒ `dingtalk.user_not_found`.
   */
  fetchIdentityByUserid(userid: string): Promise<UpstreamIdentity>;
  /** A department's sub-departments, one level down (§11.3 `listsub`); their names go to the department cache. */
  listSubDepartments(deptId: number): Promise<SubDepartment[]>;
  /**
   * One page (at most 100) of a department's direct members as identities (§11.4 `v2/user/list`):
   * `cursor` 0 first, then `nextCursor` while `hasMore`. Departments come from the department cache
   * (filled by a walk), else from department/get.
   */
  fetchMembersPage(deptId: number, cursor: number): Promise<{ identities: UpstreamIdentity[]; hasMore: boolean; nextCursor?: number }>;
  /** How many people the organisation has, activated or not (§11.4 `user/count`). */
  countMembers(): Promise<number>;
}

/** Builds a client; it holds no connections of its own (undici's pool does). */
export function createDingTalkClient(options: DingTalkClientOptions): DingTalkClient {
  const http = createDingTalkHttp(options);
  const directory = createDirectoryCalls(http, {
    corpId: options.corpId,
    language: options.language ?? 'zh_CN',
    departmentCache: options.departmentCache ?? createMemoryDepartmentCache(),
  });
  const signIn = createSignInCalls(http, directory, { ...options, codeWaitMs: options.codeWaitMs ?? 3_000 });
  return {
    authorizationUrl: signIn.authorizationUrl,
    exchangeCode: signIn.exchangeCode,
    getCurrentUser: signIn.getCurrentUser,
    getAppAccessToken: http.getAppAccessToken,
    getUseridByUnionid: directory.getUseridByUnionid,
    getUser: directory.getUser,
    getDepartment: directory.getDepartment,
    getDepartmentName: directory.getDepartmentName,
    getUserInfoByFreeLoginCode: signIn.getUserInfoByFreeLoginCode,
    fetchIdentity: signIn.fetchIdentity,
    fetchIdentityByFreeLoginCode: signIn.fetchIdentityByFreeLoginCode,
    fetchIdentityByUserid: directory.fetchIdentityByUserid,
    listSubDepartments: directory.listSubDepartments,
    fetchMembersPage: directory.fetchMembersPage,
    countMembers: directory.countMembers,
  };
}
