/**
 * What the rest of the product may ask of DingTalk: two small interfaces, in our vocabulary.
 *
 * - {@link DingTalkSignIn}: the login (web scan-to-login and in-client free login) → `UpstreamIdentity`.
 * - {@link DingTalkDirectory}: the organisation's directory, read without a login: one member, a
 *   membership check, a department's name, the whole organisation page by page (the sweep), and a
 *   diagnostic of the app's permissions.
 *
 * DingTalk's own vocabulary (`errcode`, `userid`, `unionid`, API paths, raw event names) stays behind
 * this file; failures are `UpstreamError`s with our codes (`dingtalk.*`, errors.ts).
 */
import { AccountError } from '../errors/app-error.js';
import { isBudgetExhausted } from './call-budget.js';
import { createDingTalkClient, type DingTalkClient, type DingTalkClientOptions } from './client.js';
import { createMemoryDepartmentCache } from './department-cache.js';
import { describeUpstreamFailure, isDingTalkError, type UpstreamFailure } from './errors.js';
import { OPERATIONS } from './http-call.js';
import type { UpstreamIdentity } from './identity.js';
import type { AuthorizationUrlParams } from './sign-in-calls.js';

/** Sign-in: where to send the browser, and who came back. */
export interface DingTalkSignIn {
  /** The DingTalk authorize URL (web login); `state` is echoed back to the callback. */
  authorizationUrl(params: AuthorizationUrlParams): string;
  /** Web login: the callback's code → who signed in. Non-members (with an organisation) ⇒ `AccountError` `dingtalk.not_in_corp`. */
  identityFromCode(code: string): Promise<UpstreamIdentity>;
  /** In-client free login (免登): the JSAPI code → who signed in. Non-members ⇒ `dingtalk.not_in_corp`. */
  identityFromFreeLoginCode(code: string): Promise<UpstreamIdentity>;
}

/**
 * A sign-in that failed before DingTalk used its single-use code (the call budget had no slot in
 * time, or DingTalk throttled the exchange of a web login code or of a free-login code): the same
 * code (web) or a fresh one (free login) can be sent again, after about `retryAfterMs` when the
 * budget knows. Undefined for any other failure.
 */
export function unusedSignInCode(error: unknown): { retryAfterMs?: number } | undefined {
  if (!isBudgetExhausted(error) && !isDingTalkError(error, 'dingtalk.throttled')) return undefined;
  if (error.operation !== OPERATIONS.exchangeCode && error.operation !== OPERATIONS.freeLogin) return undefined;
  return isBudgetExhausted(error) ? { retryAfterMs: error.retryAfterMs } : {};
}

/** The diagnostic of {@link DingTalkDirectory.check}: one DingTalk call the product needs, tried. */
export interface DirectoryCheck {
  name: 'app_token' | 'getbyunionid' | 'user_get' | 'department_get';
  /** true passed, false failed, null not run (nothing to ask with). */
  ok: boolean | null;
  /** What was asked (`unionId …`, `userid …`, `dept 42`). */
  subject: string;
  /** Our error code and message, or why the check did not run. */
  error?: string;
  /** What DingTalk answered (its own code, HTTP status, request id) or why it was not reached. */
  upstream?: UpstreamFailure;
}

/** Who to run the person-specific checks with. */
export interface CheckSubject {
  unionId?: string;
  /** The person's id in the organisation, when the membership lookup cannot give it. */
  userId?: string;
  /** A department of theirs. */
  departmentId?: number;
}

/** The directory: reads without a login. */
export interface DingTalkDirectory {
  /**
   * One member's directory record, departments with their ancestry included (as at sign-in), or
   * `null` when the organisation no longer lists them (they left).
   */
  member(userId: string): Promise<UpstreamIdentity | null>;
  /**
   * Whether the person (by unionId) is still an employee of the organisation: false when DingTalk
   * does not know them there or lists them as an external contact.
   */
  isMember(unionId: string): Promise<boolean>;
  /** Reads a department again, refreshing its cached name; false when it no longer exists. */
  refreshDepartment(departmentId: number): Promise<boolean>;
  /** Tries the calls the product needs (app token, membership, member record, department) and reports each. */
  check(subject: CheckSubject): Promise<DirectoryCheck[]>;
  /**
   * The whole organisation, read page by page for a reconciliation sweep (dingtalk-api.md §11): the
   * department tree from the root down, then each department's direct members, 100 a page. Each
   * person comes once (in the first department that lists them; their record carries all their
   * departments). A failed read is reported as a step and the walk goes on, so the caller can tell a
   * complete walk from a partial one (and must not take "not listed" as "left" after a partial one).
   * Every call goes through the client, so the shared call budget paces it.
   */
  walk(): AsyncGenerator<DirectoryStep>;
  /** How many people the organisation has, activated or not (a cross-check of a walk). */
  memberCount(): Promise<number>;
}

/** One step of {@link DingTalkDirectory.walk}. */
export type DirectoryStep =
  /** The department tree is being read: `found` departments so far (the root included). */
  | { kind: 'departments'; found: number; done: boolean }
  /** One page of a department's members, people already seen removed. */
  | { kind: 'members'; departmentId: number; members: UpstreamIdentity[]; departmentsRead: number; departmentsTotal: number }
  /** A read failed (after the client's retries): the walk is partial. */
  | { kind: 'failed'; departmentId: number; stage: 'departments' | 'members'; error: unknown };

/**
 * Both halves over one app: one token cache, one department cache, one call budget (call-budget.ts),
 * with the priority each caller has in it.
 */
export interface DingTalk {
  /** A person is waiting: the budget's sign-in priority. */
  signIn: DingTalkSignIn;
  /** Nobody is waiting (sweeps, events, refresh re-checks): the budget's background share. */
  directory: DingTalkDirectory;
  /** The directory for a person waiting on a page (the console's DingTalk check): sign-in priority. */
  interactive: DingTalkDirectory;
}

/** Settings of {@link createDingTalk}: the client's, without the priority, which each half sets. */
export type DingTalkOptions = Omit<DingTalkClientOptions, 'priority'>;

/** Builds the DingTalk contract: one HTTP client per priority, sharing caches and budget. */
export function createDingTalk(options: DingTalkOptions): DingTalk {
  const shared = { ...options, departmentCache: options.departmentCache ?? createMemoryDepartmentCache() };
  const { codeWaitMs: _onlyForSignIn, ...background } = shared;
  const signInClient = createDingTalkClient({ ...shared, priority: 'sign-in' });
  const backgroundClient = createDingTalkClient({ ...background, priority: 'background' });
  return { signIn: signInOver(signInClient), directory: directoryOver(backgroundClient), interactive: directoryOver(signInClient) };
}

function signInOver(client: DingTalkClient): DingTalkSignIn {
  return {
    authorizationUrl: (params) => client.authorizationUrl(params),
    identityFromCode: (code) => client.fetchIdentity(code),
    identityFromFreeLoginCode: (code) => client.fetchIdentityByFreeLoginCode(code),
  };
}

function directoryOver(client: DingTalkClient): DingTalkDirectory {
  return {
    async member(userId) {
      try {
        return await client.fetchIdentityByUserid(userId);
      } catch (error) {
        if (isNotMember(error)) return null;
        throw error;
      }
    },

    async isMember(unionId) {
      try {
        const link = await client.getUseridByUnionid(unionId);
        // contact_type 1 = an external contact of the organisation, not an employee (as at login).
        return link.contact_type !== 1;
      } catch (error) {
        if (isDingTalkError(error, 'dingtalk.user_not_found')) return false;
        throw error;
      }
    },

    async refreshDepartment(departmentId) {
      try {
        await client.getDepartment(departmentId);
        return true;
      } catch (error) {
        if (isDingTalkError(error, 'dingtalk.department_not_found')) return false;
        throw error;
      }
    },

    async check(subject) {
      const checks: DirectoryCheck[] = [];
      const attempt = async <T>(name: DirectoryCheck['name'], what: string, work: () => Promise<T>): Promise<T | undefined> => {
        try {
          const result = await work();
          checks.push({ name, ok: true, subject: what });
          return result;
        } catch (error) {
          const upstream = describeUpstreamFailure(error);
          checks.push({ name, ok: false, subject: what, error: shortText(error), ...(upstream ? { upstream } : {}) });
          return undefined;
        }
      };
      await attempt('app_token', 'app', () => client.getAppAccessToken());
      let userId: string | undefined;
      if (subject.unionId !== undefined) {
        const unionId = subject.unionId;
        userId = (await attempt('getbyunionid', `unionId ${unionId}`, () => client.getUseridByUnionid(unionId)))?.userid;
      } else {
        checks.push({ name: 'getbyunionid', ok: null, subject: 'unionId ?', error: 'no DingTalk identity: run this as a person' });
      }
      userId ??= subject.userId;
      if (userId !== undefined) {
        const id = userId;
        await attempt('user_get', `userid ${id}`, () => client.getUser(id));
      } else {
        checks.push({ name: 'user_get', ok: null, subject: 'userid ?', error: 'no userid to ask for' });
      }
      if (subject.departmentId !== undefined) {
        const dept = subject.departmentId;
        await attempt('department_get', `dept ${dept}`, () => client.getDepartment(dept));
      } else {
        checks.push({ name: 'department_get', ok: null, subject: 'dept ?', error: 'your account has no department' });
      }
      return checks;
    },

    async *walk() {
      // Breadth first from the root: each listsub is one level (§11.7/1); parents are known (and
      // cached) before their children, so every member's department path resolves without a call.
      const departments: number[] = [ROOT_DEPARTMENT_ID];
      const known = new Set(departments);
      for (let index = 0; index < departments.length; index += 1) {
        const parent = departments[index]!;
        try {
          const children = await client.listSubDepartments(parent);
          for (const child of children) {
            if (known.has(child.dept_id)) continue; // a cycle or a repeat never loops
            known.add(child.dept_id);
            departments.push(child.dept_id);
          }
        } catch (error) {
          yield { kind: 'failed', departmentId: parent, stage: 'departments', error };
        }
        yield { kind: 'departments', found: departments.length, done: index === departments.length - 1 };
      }
      const seen = new Set<string>();
      for (const [index, departmentId] of departments.entries()) {
        let cursor: number | undefined = 0;
        while (cursor !== undefined) {
          let page: Awaited<ReturnType<DingTalkClient['fetchMembersPage']>>;
          try {
            page = await client.fetchMembersPage(departmentId, cursor);
          } catch (error) {
            yield { kind: 'failed', departmentId, stage: 'members', error };
            break;
          }
          const members = page.identities.filter((member) => {
            const key = member.userId ?? member.unionId;
            if (seen.has(key)) return false;
            seen.add(key);
            return true;
          });
          const last: boolean = !page.hasMore || page.nextCursor === undefined || page.nextCursor <= cursor;
          yield {
            kind: 'members',
            departmentId,
            members,
            departmentsRead: last ? index + 1 : index,
            departmentsTotal: departments.length,
          };
          // A page that says "more" without a cursor moving forward cannot be followed: stop there.
          if (page.hasMore && last) {
            yield { kind: 'failed', departmentId, stage: 'members', error: new Error('next_cursor did not advance') };
          }
          cursor = last ? undefined : page.nextCursor;
        }
      }
    },

    memberCount: () => client.countMembers(),
  };
}

/** DingTalk's root department: the organisation itself (§2.4). */
const ROOT_DEPARTMENT_ID = 1;

/** DingTalk no longer lists the person: user/get's 60121, or the client's membership error wrapping it. */
function isNotMember(error: unknown): boolean {
  return isDingTalkError(error, 'dingtalk.user_not_found') || (error instanceof AccountError && error.code === 'dingtalk.not_in_corp');
}

/** Our code and message of a failure, in one line (never DingTalk's own text). */
function shortText(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  return [typeof e.code === 'string' ? e.code : undefined, typeof e.message === 'string' ? e.message : undefined]
    .filter(Boolean)
    .join(': ')
    .slice(0, 300);
}
