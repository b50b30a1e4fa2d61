/**
 * DingTalk client: one method per DingTalk call (shared/dingtalk-api.md), plus the login sequence
 * built from them (`fetchIdentity`: code → user token → users/me → corp membership → directory
 * record → departments with their names and ancestry → `UpstreamIdentity`).
 *
 * Why it is shaped so:
 * - Two API generations with two error conventions (§0) meet here; `send()` turns every outcome into
 *   either parsed JSON or an `UpstreamError` (errors.ts), and every body is checked by a zod schema
 *   (schemas.ts), so nothing outside `src/dingtalk/` ever sees an undici error. The low-level methods
 *   return DingTalk's own shapes; `fetchIdentity*` return ours (identity.ts).
 * - Every request has a deadline (an AbortSignal, plus undici's own coarse ~1 s header/body timers as
 *   a backstop). A local timeout is not retried: the user is waiting on a login page.
 * - Every HTTP attempt first takes a slot of the shared call budget (call-budget.ts), which keeps every
 *   replica and caller together below DingTalk's per-API and per-address limits; this client's
 *   `priority` says whether a person is waiting (`sign-in`) or not (`background`).
 * - Idempotent reads are retried with a short exponential backoff on busy (-1), timeout (15) and 5xx;
 *   a call that consumes a single-use code is not (it may have been used). Throttling (§6.1) is
 *   retried for every call, including the code exchange (a throttled call did nothing), after about
 *   a second, for as long as the caller's bound (`maxWaitMs`) allows.
 * - The app token is shared through a `CorpTokenCache`; when DingTalk rejects it (40014, 42001,
 *   `InvalidAuthentication`) it is invalidated and the call is repeated once with a fresh one.
 * Knows nothing of Koa or oidc-provider.
 */
import { request, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { AccountError, UpstreamError } from '../errors/app-error.js';
import { isBudgetExhausted, type CallBudget, type CallPriority } from './call-budget.js';
import type { CorpTokenCache } from './corp-token-cache.js';
import { createMemoryDepartmentCache, type DepartmentCache } from './department-cache.js';
import {
  dingTalkError,
  isDingTalkError,
  isThrottled,
  mapApiError,
  mapOapiError,
  mapOapiHttpError,
  mapTransportError,
  type DingTalkErrorDetail,
  type ErrorContext,
} from './errors.js';
import { toUpstreamIdentity, type UpstreamDepartment, type UpstreamIdentity } from './identity.js';
import type { UseridCache } from './userid-cache.js';
import {
  apiErrorSchema,
  appAccessTokenSchema,
  contactUserSchema,
  departmentSchema,
  freeLoginUserInfoSchema,
  oapiEnvelopeSchema,
  userAccessTokenSchema,
  userByUnionIdSchema,
  userDetailSchema,
  subDepartmentsSchema,
  userCountSchema,
  userListPageSchema,
  type SubDepartment,
  type ContactUser,
  type Department,
  type FreeLoginUserInfo,
  type UserAccessTokenResponse,
  type UserByUnionId,
  type UserDetail,
} from './schemas.js';

/** Settings of {@link createDingTalkClient}. Base URLs are the only thing that differs for the emulator. */
export interface DingTalkClientOptions {
  /** The app's Client ID (AppKey). */
  clientId: string;
  /** The app's Client secret (AppSecret). */
  clientSecret: string;
  /**
   * Only accept members of this organisation. Turns on scope `openid corpid`, the membership check
   * (`getbyunionid`, 60121 ⇒ `dingtalk.not_in_corp`) and the directory record.
   */
  corpId?: string;
  /** e.g. `https://login.dingtalk.com` */
  loginBaseUrl: string;
  /** e.g. `https://api.dingtalk.com` */
  apiBaseUrl: string;
  /** e.g. `https://oapi.dingtalk.com` */
  oapiBaseUrl: string;
  /** Deadline of one HTTP attempt, connect to last body byte. */
  timeoutMs: number;
  /** Extra attempts for idempotent reads. Default 2. */
  retries?: number;
  /** First backoff; doubled per attempt, with a little jitter. Default 200 ms. */
  retryDelayMs?: number;
  /** Backoff after a throttling answer; DingTalk's QPS window is 1 s (§6.1). Default 1000 ms. */
  throttleRetryDelayMs?: number;
  /**
   * The shared call budget every HTTP attempt takes a slot from (call-budget.ts). Absent: calls go
   * out unpaced (tests of other things, one-off CLI commands).
   */
  budget?: CallBudget;
  /** Who this client calls for: `sign-in` (default; a person is waiting) or `background` (sweeps, events). */
  priority?: CallPriority;
  /**
   * How long one call may wait, for a budget slot and for throttling retries together, before it
   * fails (`dingtalk.busy` / `dingtalk.throttled`). Default 10 s for `sign-in`, 60 s for `background`.
   */
  maxWaitMs?: number;
  /**
   * The same bound for the exchange of a single-use code (web login, free login): shorter, because a
   * caller that gives up before DingTalk was called can come back with the same code (the sign-in
   * page then asks the browser to wait and retry). Default 3 s.
   */
  codeWaitMs?: number;
  tokenCache: CorpTokenCache;
  /** Department names; default: in memory, 10 minutes. */
  departmentCache?: DepartmentCache;
  /**
   * unionId → userid of members, so that a returning person's sign-in skips `getbyunionid`
   * (userid-cache.ts). Absent: every sign-in asks.
   */
  useridCache?: UseridCache;
  /** `language` sent to oapi calls that take one. Default `zh_CN`. */
  language?: 'zh_CN' | 'en_US';
  /** undici dispatcher (proxy, connection pool); default: undici's global one. */
  dispatcher?: Dispatcher;
  /**
   * Told after every HTTP attempt (metrics, logs): the operation, how long it took, and our error
   * code when it failed. Never changes the call; an exception thrown by it is ignored.
   */
  onCall?: (call: { operation: string; api: string; durationMs: number; error?: string }) => void;
}

/** Parameters of the authorize redirect (§1.1). */
export interface AuthorizationUrlParams {
  /** Must match a redirect URL registered for the app. */
  redirectUri: string;
  /** Echoed back unchanged; bind it to the browser session yourself (§6.2 gotcha 12). */
  state: string;
  /** Pre-select the organisation; defaults to the configured `corpId`. */
  corpId?: string;
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

/** `UpstreamError.operation` of each call. */
export const OPERATIONS = {
  exchangeCode: 'dingtalk.exchange_code',
  usersMe: 'dingtalk.users_me',
  appToken: 'dingtalk.app_token',
  getbyunionid: 'dingtalk.getbyunionid',
  userGet: 'dingtalk.user_get',
  departmentGet: 'dingtalk.department_get',
  freeLogin: 'dingtalk.free_login_userinfo',
  departmentListsub: 'dingtalk.department_listsub',
  userList: 'dingtalk.user_list',
  userCount: 'dingtalk.user_count',
} as const;

interface CallSpec extends ErrorContext {
  host: 'api' | 'oapi';
  /** This call's bound instead of `maxWaitMs` (the exchange of a single-use code). */
  maxWaitMs?: number;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  json?: unknown;
}

const MAX_LOGGED_BODY = 2000;

/** Builds a client; it holds no connections of its own (undici's pool does). */
export function createDingTalkClient(options: DingTalkClientOptions): DingTalkClient {
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const throttleRetryDelayMs = options.throttleRetryDelayMs ?? 1000;
  const priority = options.priority ?? 'sign-in';
  const maxWaitMs = options.maxWaitMs ?? (priority === 'sign-in' ? 10_000 : 60_000);
  const codeWaitMs = options.codeWaitMs ?? 3_000;
  const language = options.language ?? 'zh_CN';
  const departmentCache = options.departmentCache ?? createMemoryDepartmentCache();
  const { tokenCache } = options;
  // Our own deadline firing is not retried, unlike DingTalk's gateway timeouts (504 / errcode 15).
  const localTimeouts = new WeakSet<UpstreamError>();

  /** One HTTP attempt: a budget slot (waiting until `deadline` at most), then the call. */
  async function send(spec: CallSpec, deadline: number): Promise<unknown> {
    if (options.budget) {
      await options.budget.acquire({ api: spec.path, priority, maxWaitMs: deadline - Date.now(), operation: spec.operation });
    }
    const { onCall } = options;
    if (!onCall) return sendOnce(spec);
    const started = performance.now();
    let error: string | undefined;
    try {
      return await sendOnce(spec);
    } catch (failure) {
      error = failure instanceof UpstreamError ? failure.code : 'dingtalk.error';
      throw failure;
    } finally {
      try {
        onCall({ operation: spec.operation, api: spec.path, durationMs: performance.now() - started, ...(error ? { error } : {}) });
      } catch {
        // a reporting hook never breaks a call
      }
    }
  }

  async function sendOnce(spec: CallSpec): Promise<unknown> {
    const base = spec.host === 'api' ? options.apiBaseUrl : options.oapiBaseUrl;
    const url = new URL(joinUrl(base, spec.path));
    for (const [name, value] of Object.entries(spec.query ?? {})) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (spec.json !== undefined) headers['content-type'] = 'application/json';

    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method: spec.method,
        headers,
        ...(spec.json === undefined ? {} : { body: JSON.stringify(spec.json) }),
        signal: AbortSignal.timeout(options.timeoutMs),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const mapped = mapTransportError(error, spec);
      if (mapped.code === 'dingtalk.timeout') localTimeouts.add(mapped);
      throw mapped;
    }

    const parsed = parseJson(text);
    const raw = parsed === undefined ? text.slice(0, MAX_LOGGED_BODY) : parsed;
    if (spec.host === 'api') {
      if (status >= 200 && status < 300) {
        if (parsed === undefined) throw badResponse(spec, status, raw);
        return parsed;
      }
      const body = apiErrorSchema.safeParse(parsed);
      throw mapApiError(status, body.success ? body.data : undefined, spec, raw);
    }
    // oapi answers errors with HTTP 200 too; any other status came from a gateway in front of it.
    if (status !== 200) throw mapOapiHttpError(status, raw, spec);
    const envelope = oapiEnvelopeSchema.safeParse(parsed);
    if (!envelope.success) throw badResponse(spec, status, raw);
    if (envelope.data.errcode !== 0) throw mapOapiError(envelope.data, spec, raw);
    return parsed;
  }

  function badResponse(spec: CallSpec, httpStatus: number, body: unknown, cause?: unknown): UpstreamError {
    const detail: DingTalkErrorDetail & { issues?: unknown } = { host: spec.host, httpStatus, body };
    if (cause !== undefined) detail.issues = cause;
    return dingTalkError('dingtalk.bad_response', spec.operation, detail);
  }

  function parse<S extends z.ZodType>(spec: CallSpec, schema: S, value: unknown): z.output<S> {
    const result = schema.safeParse(value);
    if (!result.success) throw badResponse(spec, 200, value, result.error.issues);
    return result.data;
  }

  /**
   * Runs `attempt` until it succeeds or may not be retried. Throttling is retried by time (while the
   * pause ends before the call's deadline), whatever the call: DingTalk did nothing with it. Other
   * retryable failures of idempotent calls are retried `retries` times. A budget refusal has already
   * waited its bound and is not retried.
   */
  async function withRetry<T>(idempotent: boolean, waitMs: number, attempt: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    let failures = 0;
    for (;;) {
      try {
        return await attempt(deadline);
      } catch (error) {
        if (!(error instanceof UpstreamError) || isBudgetExhausted(error)) throw error;
        let pause: number;
        if (isThrottled(error)) {
          pause = throttleRetryDelayMs + Math.floor(Math.random() * throttleRetryDelayMs * 0.2);
          if (Date.now() + pause >= deadline) throw error;
        } else {
          const retry = idempotent && failures < retries && error.retryable && !localTimeouts.has(error);
          if (!retry) throw error;
          const base = retryDelayMs * 2 ** failures;
          failures += 1;
          pause = base + Math.floor(Math.random() * base * 0.2);
        }
        await sleep(pause);
      }
    }
  }

  /** An api.dingtalk.com call; its body is the object itself. */
  async function callApi<S extends z.ZodType>(spec: CallSpec, schema: S, idempotent: boolean): Promise<z.output<S>> {
    return withRetry(idempotent, spec.maxWaitMs ?? maxWaitMs, async (deadline) => parse(spec, schema, await send(spec, deadline)));
  }

  /** An oapi.dingtalk.com call with the app token; its payload is under `result`. */
  async function callOapi<S extends z.ZodType>(
    spec: Omit<CallSpec, 'host' | 'method'>,
    schema: S,
    idempotent: boolean,
  ): Promise<z.output<S>> {
    const run = (token: string) =>
      withRetry(idempotent, spec.maxWaitMs ?? maxWaitMs, async (deadline) => {
        const full: CallSpec = { ...spec, host: 'oapi', method: 'POST', query: { access_token: token } };
        const body = await send(full, deadline);
        return parse(full, schema, (body as { result?: unknown }).result);
      });
    const token = await getAppAccessToken();
    try {
      return await run(token);
    } catch (error) {
      if (!isDingTalkError(error, 'dingtalk.invalid_token')) throw error;
      // Revoked or expired before our cache noticed (e.g. the secret was reset): one fresh attempt.
      await tokenCache.invalidate(token);
      return run(await getAppAccessToken());
    }
  }

  async function getAppAccessToken(): Promise<string> {
    return tokenCache.getOrRefresh(async () => {
      // POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn: 7200}
      // Doc: ACCESSTOKEN-DOC (open.dingtalk.com/document/development/obtain-the-access-token-of-an-internal-app).
      // Quirks: within its validity the same token comes back (and is extended), so fetching twice is
      // harmless, but calling often gets the app throttled; wrong credentials → 400
      // `invalidClientIdOrSecret`. The token also works as `access_token` of /topapi/* (§2.1, §6.2/14).
      const result = await callApi(
        {
          operation: OPERATIONS.appToken,
          host: 'api',
          method: 'POST',
          path: '/v1.0/oauth2/accessToken',
          json: { appKey: options.clientId, appSecret: options.clientSecret },
        },
        appAccessTokenSchema,
        true,
      );
      return { token: result.accessToken, expiresInSeconds: result.expireIn };
    });
  }

  async function getUseridByUnionid(unionid: string): Promise<UserByUnionId> {
    // POST oapi /topapi/user/getbyunionid?access_token= {unionid} → result {contact_type, userid}
    // Doc: GETBYUNION (open.dingtalk.com/document/development/query-a-user-by-the-union-id).
    // Quirks: the body field is lower-case `unionid`; 60121 = not an employee of this organisation
    // (the membership check, §6.2 gotcha 4); -1 = busy. Needs "成员信息读权限".
    return callOapi(
      { operation: OPERATIONS.getbyunionid, path: '/topapi/user/getbyunionid', json: { unionid } },
      userByUnionIdSchema,
      true,
    );
  }

  async function getUser(userid: string): Promise<UserDetail> {
    // POST oapi /topapi/v2/user/get?access_token= {userid, language} → result (§2.3)
    // Doc: HELP-QUD (help.dingtalk.io/open/development/query-user-details).
    // Quirks: org email, title, departments and admin flags are only here, not in users/me; `mobile`
    // and `email` need their own permissions; `org_email` only with corporate mail; unknown → 60121.
    return callOapi({ operation: OPERATIONS.userGet, path: '/topapi/v2/user/get', json: { userid, language } }, userDetailSchema, true);
  }

  async function getDepartment(deptId: number): Promise<Department> {
    // POST oapi /topapi/v2/department/get?access_token= {dept_id, language} → result (§2.4)
    // Doc: ZHAO-DEPT (zhaoyunxing92/dingtalk response/dept_detail.go; official page "获取部门详情").
    // Quirks: `dept_id` is a number; the root department is 1; unknown → 60003.
    const department = await callOapi(
      { operation: OPERATIONS.departmentGet, path: '/topapi/v2/department/get', json: { dept_id: deptId, language } },
      departmentSchema,
      true,
    );
    await departmentCache.set(department.dept_id, department.name, parentOf(department));
    return department;
  }

  async function getDepartmentName(deptId: number): Promise<string> {
    return (await departmentCache.get(deptId)) ?? (await getDepartment(deptId)).name;
  }

  /**
   * The user's departments with their ancestry, walking `parent_id` up to the root. Names and parents
   * come from the department cache when it has them; otherwise one department/get per department,
   * each asked once per walk (shared ancestors) and at most MAX_DEPARTMENT_DEPTH levels up.
   */
  async function departmentsOf(user: UserDetail): Promise<UpstreamDepartment[]> {
    const nodes = new Map<number, Promise<{ name: string; parentId: number | null } | undefined>>();
    const node = (id: number) => {
      let pending = nodes.get(id);
      if (pending === undefined) {
        pending = (async () => {
          const cached = await departmentCache.lookup(id);
          if (cached !== undefined && cached.parentId !== undefined) return { name: cached.name, parentId: cached.parentId };
          try {
            const department = await getDepartment(id);
            return { name: department.name, parentId: parentOf(department) };
          } catch (error) {
            // Deleted between user/get and department/get: the membership itself is gone too.
            if (isDingTalkError(error, 'dingtalk.department_not_found')) return undefined;
            throw error;
          }
        })();
        nodes.set(id, pending);
      }
      return pending;
    };

    const found = await Promise.all(
      user.dept_id_list.map(async (id): Promise<UpstreamDepartment | undefined> => {
        const own = await node(id);
        if (own === undefined) return undefined;
        const ancestors: number[] = [];
        const names: string[] = [];
        let parentId = own.parentId;
        while (parentId !== null && ancestors.length < MAX_DEPARTMENT_DEPTH && parentId !== id && !ancestors.includes(parentId)) {
          ancestors.unshift(parentId);
          // The root's name is the organisation's: known without a call, and left out of paths.
          if (parentId === ROOT_DEPARTMENT_ID) break;
          const parent = await node(parentId);
          if (parent === undefined) break; // a parent deleted mid-walk: keep what is known
          names.unshift(parent.name);
          parentId = parent.parentId;
        }
        return { id, name: own.name, ancestors, path: [...names, own.name].join('/') };
      }),
    );
    return found.filter((department): department is UpstreamDepartment => department !== undefined);
  }

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
    const user = await asMember(() => getUser(userid));
    return { user, departments: await departmentsOf(user) };
  }

  return {
    authorizationUrl({ redirectUri, state, corpId }) {
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
    },

    exchangeCode,
    getCurrentUser,
    getAppAccessToken,
    getUseridByUnionid,
    getUser,
    getDepartment,
    getDepartmentName,
    getUserInfoByFreeLoginCode,
    fetchIdentity,
    fetchIdentityByFreeLoginCode,
    fetchIdentityByUserid,
    listSubDepartments,
    fetchMembersPage,
    countMembers,
  };

  async function listSubDepartments(deptId: number): Promise<SubDepartment[]> {
    // POST oapi /topapi/v2/department/listsub?access_token= {dept_id, language} → result: [department]
    // Doc: D-LISTSUB (open.dingtalk.com/document/orgapp/obtain-the-department-list-v2).
    // Quirks: one level only, never grandchildren (§11.7/1); `result` is an array; only departments
    // within the app's Contacts scope; needs 通讯录部门信息读权限 (60011 without).
    const children = await callOapi(
      { operation: OPERATIONS.departmentListsub, path: '/topapi/v2/department/listsub', json: { dept_id: deptId, language } },
      subDepartmentsSchema,
      true,
    );
    for (const child of children) {
      await departmentCache.set(child.dept_id, child.name, child.parent_id === undefined || child.parent_id <= 0 ? null : child.parent_id);
    }
    return children;
  }

  async function fetchMembersPage(deptId: number, cursor: number) {
    // POST oapi /topapi/v2/user/list?access_token= {dept_id, cursor, size, language} → result {has_more, next_cursor, list}
    // Doc: D-USERLIST (help.dingtalk.io/open/development/queries-the-complete-information-of-a-department-user).
    // Quirks: direct members only (§11.7/2); size at most 100; follow next_cursor until has_more is
    // false (§11.7/3); no manager_userid or role_list in the items (§11.5); mobile/email only with
    // their field permissions; needs 通讯录部门成员读权限.
    const page = await callOapi(
      {
        operation: OPERATIONS.userList,
        path: '/topapi/v2/user/list',
        json: { dept_id: deptId, cursor, size: MEMBER_PAGE_SIZE, language, contain_access_limit: true },
      },
      userListPageSchema,
      true,
    );
    const identities = await Promise.all(
      page.list.map(async (member) => {
        const identity = { member, departments: await departmentsOf(member) };
        return toUpstreamIdentity(options.corpId === undefined ? identity : { ...identity, corpId: options.corpId });
      }),
    );
    return {
      identities,
      hasMore: page.has_more,
      ...(page.has_more && page.next_cursor !== undefined ? { nextCursor: page.next_cursor } : {}),
    };
  }

  async function countMembers(): Promise<number> {
    // POST oapi /topapi/user/count?access_token= {only_active: false} → result {count}
    // Doc: D-COUNT (open.dingtalk.com/document/orgapp/obtain-the-number-of-employees-v2).
    // Quirks: `only_active` is required (400002 without); whole organisation, not limited by the
    // Contacts scope — a cross-check of what a sweep found (§11.6).
    const result = await callOapi(
      { operation: OPERATIONS.userCount, path: '/topapi/user/count', json: { only_active: false } },
      userCountSchema,
      true,
    );
    return result.count;
  }

  async function exchangeCode(code: string): Promise<UserAccessTokenResponse> {
    // POST https://api.dingtalk.com/v1.0/oauth2/userAccessToken (§1.3). Doc: D-TOKEN
    // (open.dingtalk.com/document/development/obtain-user-token).
    // Quirks: JSON only (a form body → 400 `Missingbody`); camelCase `expireIn`; `corpId` only with
    // scope `openid corpid`; the code is single-use and short-lived, so this is retried only after a
    // throttling answer (the call did nothing); the error code for a reused/expired code is
    // undocumented → any unclassified 4xx is invalid_code.
    return callApi(
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
    return callApi(
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
    return callOapi(
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
    const link = await asMember(() => getUseridByUnionid(me.unionId));
    if (link.contact_type === 1) throw notInCorp(); // an external contact, not an employee
    const { user, departments } = await memberDetail(link.userid);
    await useridCache?.set(me.unionId, link.userid);
    return toUpstreamIdentity({ me, member: user, departments, corpId: options.corpId });
  }

  async function fetchIdentityByUserid(userid: string): Promise<UpstreamIdentity> {
    const user = await getUser(userid);
    const identity = { member: user, departments: await departmentsOf(user) };
    return toUpstreamIdentity(options.corpId === undefined ? identity : { ...identity, corpId: options.corpId });
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
}

/** Members per `v2/user/list` page: DingTalk's maximum (§11.4). */
const MEMBER_PAGE_SIZE = 100;

/** DingTalk's root department: the organisation itself (§2.4). */
const ROOT_DEPARTMENT_ID = 1;
/** How far up the ancestry walk goes; deeper trees are cut (and a cycle never loops). */
const MAX_DEPARTMENT_DEPTH = 32;

/** `parent_id` in our terms: `null` for the root (which has none, or 0, or itself). */
function parentOf(department: Department): number | null {
  const parent = department.parent_id;
  if (department.dept_id === ROOT_DEPARTMENT_ID || parent === undefined || parent <= 0 || parent === department.dept_id) {
    return null;
  }
  return parent;
}

function notInCorp(cause?: unknown): AccountError {
  return new AccountError('dingtalk.not_in_corp', 'The DingTalk account is not a member of the organisation', {
    cause,
  });
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
