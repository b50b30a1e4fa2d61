/**
 * The directory reads of the DingTalk client (client.ts), on the request path (http-call.ts): one
 * member (`user/get`), unionId → userid (`getbyunionid`), departments with their names and ancestry,
 * and the §11 paged reads of the sweep (`department/listsub`, `v2/user/list`, `user/count`). The
 * low-level methods return DingTalk's own shapes; `fetchIdentityByUserid` and `fetchMembersPage`
 * return ours (identity.ts).
 */
import type { DepartmentCache } from './department-cache.js';
import { isDingTalkError } from './errors.js';
import { OPERATIONS, type DingTalkHttp } from './http-call.js';
import { toUpstreamIdentity, type UpstreamDepartment, type UpstreamIdentity } from './identity.js';
import {
  departmentSchema,
  subDepartmentsSchema,
  userByUnionIdSchema,
  userCountSchema,
  userDetailSchema,
  userListPageSchema,
  type Department,
  type SubDepartment,
  type UserByUnionId,
  type UserDetail,
} from './schemas.js';

/** What the directory reads need of the client's settings. */
export interface DirectoryCallsOptions {
  /** The organisation; identities carry it. */
  corpId?: string | undefined;
  /** `language` sent to oapi calls that take one. */
  language: 'zh_CN' | 'en_US';
  /** Department names and parents. */
  departmentCache: DepartmentCache;
}

/** The directory reads; client.ts documents each on `DingTalkClient`. */
export type DirectoryCalls = ReturnType<typeof createDirectoryCalls>;

/** The directory reads over `http`; department names and parents go to the department cache. */

/** Department lookups of one walk (or of one page of walks), each asked once. */
type DepartmentNodes = Map<number, Promise<{ name: string; parentId: number | null } | undefined>>;
export function createDirectoryCalls(http: DingTalkHttp, options: DirectoryCallsOptions) {
  const { language, departmentCache } = options;

  async function getUseridByUnionid(unionid: string): Promise<UserByUnionId> {
    // POST oapi /topapi/user/getbyunionid?access_token= {unionid} → result {contact_type, userid}
    // Doc: GETBYUNION (open.dingtalk.com/document/development/query-a-user-by-the-union-id).
    // Quirks: the body field is lower-case `unionid`; 60121 = not an employee of this organisation
    // (the membership check, §6.2 gotcha 4); -1 = busy. Needs "成员信息读权限".
    return http.callOapi(
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
    return http.callOapi(
      { operation: OPERATIONS.userGet, path: '/topapi/v2/user/get', json: { userid, language } },
      userDetailSchema,
      true,
    );
  }

  async function getDepartment(deptId: number): Promise<Department> {
    // POST oapi /topapi/v2/department/get?access_token= {dept_id, language} → result (§2.4)
    // Doc: ZHAO-DEPT (zhaoyunxing92/dingtalk response/dept_detail.go; official page "获取部门详情").
    // Quirks: `dept_id` is a number; the root department is 1; unknown → 60003.
    const department = await http.callOapi(
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
   * each asked once per walk (shared ancestors) and at most MAX_DEPARTMENT_DEPTH levels up. `nodes`
   * shares the lookups between the walks of one page of members, read at once.
   */
  async function departmentsOf(user: UserDetail, nodes: DepartmentNodes = new Map()): Promise<UpstreamDepartment[]> {
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

  async function fetchIdentityByUserid(userid: string): Promise<UpstreamIdentity> {
    const user = await getUser(userid);
    const identity = { member: user, departments: await departmentsOf(user) };
    return toUpstreamIdentity(options.corpId === undefined ? identity : { ...identity, corpId: options.corpId });
  }

  async function listSubDepartments(deptId: number): Promise<SubDepartment[]> {
    // POST oapi /topapi/v2/department/listsub?access_token= {dept_id, language} → result: [department]
    // Doc: D-LISTSUB (open.dingtalk.com/document/orgapp/obtain-the-department-list-v2).
    // Quirks: one level only, never grandchildren (§11.7/1); `result` is an array; only departments
    // within the app's Contacts scope; needs 通讯录部门信息读权限 (60011 without).
    const children = await http.callOapi(
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
    const page = await http.callOapi(
      {
        operation: OPERATIONS.userList,
        path: '/topapi/v2/user/list',
        json: { dept_id: deptId, cursor, size: MEMBER_PAGE_SIZE, language, contain_access_limit: true },
      },
      userListPageSchema,
      true,
    );
    // One set of department lookups for the page: its members share departments and ancestors.
    const nodes: DepartmentNodes = new Map();
    const identities = await Promise.all(
      page.list.map(async (member) => {
        const identity = { member, departments: await departmentsOf(member, nodes) };
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
    const result = await http.callOapi(
      { operation: OPERATIONS.userCount, path: '/topapi/user/count', json: { only_active: false } },
      userCountSchema,
      true,
    );
    return result.count;
  }

  return {
    getUseridByUnionid,
    getUser,
    getDepartment,
    getDepartmentName,
    departmentsOf,
    fetchIdentityByUserid,
    listSubDepartments,
    fetchMembersPage,
    countMembers,
  };
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
