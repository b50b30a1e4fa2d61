import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { EmulatorUser } from './directory.js';
import { sendOapiError, sendOapiResult, stringField } from './http.js';
import { authorizeOapi, booleanField, intField } from './oapi-guard.js';
import { userListItem } from './people.js';
import { PERMISSION } from './permissions.js';
import type { SeedDepartment } from './seed.js';
import type { EmulatorState } from './state.js';

/**
 * The directory reads of a reconciliation sweep (§11.3, §11.4), all `POST oapi/<path>?access_token=`
 * with a JSON (or form) body and the answer under `result`. Where §11.8 says DingTalk's behaviour is
 * not confirmed, the emulator chooses, and says so here:
 * - `cursor` is an offset into the department's members; `next_cursor` is present only while
 *   `has_more` is true;
 * - a missing required parameter answers `400002`, an out-of-range one (`size` outside 1–100,
 *   `cursor` outside 0–100000, an unknown `order_field`) `40035`, an unknown department `60003`;
 * - `custom` and `entry_asc` list members in the order they joined, `entry_desc` reversed; the
 *   `modify_*` orders use the joining order too; `contain_access_limit` changes nothing (no member is
 *   hidden in the emulator);
 * - `language` is accepted and changes nothing (§11.5: no English-name field is documented).
 */
export function createDirectoryRouter(state: EmulatorState): Router {
  const router = new Router();
  const directory = state.directory;

  /** The department named by `dept_id`, or an answer (400002 / 60003) and `undefined`. */
  function department(ctx: Context, body: Record<string, unknown>, fallbackToRoot = false): SeedDepartment | undefined {
    const deptId = intField(body, 'dept_id');
    if (deptId === 'missing' && fallbackToRoot) return requireDepartment(ctx, 1);
    if (deptId === 'missing' || deptId === 'invalid') {
      sendOapiError(ctx, 400002, '无效的参数 dept_id');
      return undefined;
    }
    return requireDepartment(ctx, deptId);
  }

  function requireDepartment(ctx: Context, deptId: number): SeedDepartment | undefined {
    const found = directory.department(deptId);
    if (found === undefined) sendOapiError(ctx, 60003, '未找到部门');
    return found;
  }

  /**
   * A read of one department: the caller authorized with `permission`, the department named by
   * `dept_id` (or the root, where `fallbackToRoot`) found, and `answer` of it sent as `result`.
   */
  function departmentRead(path: string, permission: string, answer: (found: SeedDepartment) => unknown, fallbackToRoot = false): void {
    router.post(path, async (ctx) => {
      const body = await authorizeOapi(state, ctx, permission);
      if (body === undefined) return;
      const found = department(ctx, body, fallbackToRoot);
      if (found === undefined) return;
      sendOapiResult(ctx, answer(found));
    });
  }

  // POST /topapi/v2/department/listsub {dept_id?, language} → [department] (next level only; default root)
  departmentRead(
    '/topapi/v2/department/listsub',
    PERMISSION.departmentList,
    (parent) =>
      directory.childrenOf(parent.dept_id).map((child) => ({
        dept_id: child.dept_id,
        name: child.name,
        parent_id: child.parent_id,
        create_dept_group: false,
        auto_add_user: false,
        from_union_org: false,
        tags: '',
        source_identifier: '',
        ext: '{}',
      })),
    true,
  );

  // POST /topapi/v2/department/listsubid {dept_id} → {dept_id_list}
  departmentRead('/topapi/v2/department/listsubid', PERMISSION.departmentList, (parent) => ({
    dept_id_list: directory.childrenOf(parent.dept_id).map((child) => child.dept_id),
  }));

  // POST /topapi/v2/department/get {dept_id, language} → the department (§2.4, §11.3)
  departmentRead('/topapi/v2/department/get', PERMISSION.departmentList, (found) => {
    const managers = directory
      .membersOf(found.dept_id)
      .filter((user) => directory.isLeader(user, found.dept_id))
      .map((user) => user.userid);
    return {
      dept_id: found.dept_id,
      name: found.name,
      ...(found.parent_id === undefined ? {} : { parent_id: found.parent_id }),
      order: found.order ?? 0,
      source_identifier: '',
      create_dept_group: false,
      auto_add_user: false,
      from_union_org: false,
      group_contain_sub_dept: false,
      hide_dept: false,
      outer_dept: false,
      org_dept_owner: managers[0] ?? '',
      dept_manager_userid_list: managers,
      extention: '{}', // spelled so (§11.7 gotcha 8)
    };
  });

  // POST /topapi/v2/department/listparentbydept {dept_id} → {parent_id_list: [self, …, 1]}
  departmentRead('/topapi/v2/department/listparentbydept', PERMISSION.departmentList, (found) => ({
    parent_id_list: directory.pathToRoot(found.dept_id),
  }));

  // POST /topapi/v2/department/listparentbyuser {userid} → {parent_list: [{parent_dept_id_list}]}
  router.post('/topapi/v2/department/listparentbyuser', async (ctx) => {
    const body = await authorizeOapi(state, ctx, PERMISSION.departmentList);
    if (body === undefined) return;
    const userid = stringField(body, 'userid');
    if (userid === undefined) return sendOapiError(ctx, 400002, '无效的参数 userid');
    const user = state.findMember(userid);
    if (user === undefined) return sendOapiError(ctx, 33012, '无效的USERID');
    sendOapiResult(ctx, {
      parent_list: [...new Set(user.dept_id_list)].map((deptId) => ({ parent_dept_id_list: directory.pathToRoot(deptId) })),
    });
  });

  // POST /topapi/user/listid {dept_id} → {userid_list} (not paged)
  departmentRead('/topapi/user/listid', PERMISSION.member, (found) => ({
    userid_list: directory.membersOf(found.dept_id).map((user) => user.userid),
  }));

  // POST /topapi/user/count {only_active} → {count}
  router.post('/topapi/user/count', async (ctx) => {
    const body = await authorizeOapi(state, ctx, PERMISSION.member);
    if (body === undefined) return;
    const onlyActive = booleanField(body, 'only_active');
    if (onlyActive === 'missing') return sendOapiError(ctx, 400002, '参数为空 only_active');
    if (onlyActive === 'invalid') return sendOapiError(ctx, 40035, '不合法的参数 only_active');
    sendOapiResult(ctx, { count: directory.memberCount(onlyActive) });
  });

  // POST /topapi/user/listsimple {dept_id, cursor, size, order_field?, …} → {has_more, next_cursor?, list: [{userid, name}]}
  pagedRead('/topapi/user/listsimple', (user) => ({ userid: user.userid, name: user.name }));

  // POST /topapi/v2/user/list {dept_id, cursor, size, order_field?, …} → {has_more, next_cursor?, list: [person]}
  pagedRead('/topapi/v2/user/list', (user, page) => userListItem(state, user, page.deptId));

  interface Page {
    deptId: number;
    members: EmulatorUser[];
    cursor: number;
    size: number;
  }

  /** A paged read of a department's members: one page (readPage) of `item` of each, sent as `result`. */
  function pagedRead(path: string, item: (user: EmulatorUser, page: Page) => unknown): void {
    router.post(path, async (ctx) => {
      const body = await authorizeOapi(state, ctx, PERMISSION.departmentMember);
      if (body === undefined) return;
      const page = readPage(ctx, body);
      if (page === undefined) return;
      sendOapiResult(
        ctx,
        paged(page, (user) => item(user, page)),
      );
    });
  }

  /** Reads `dept_id`, `cursor`, `size` and `order_field` of a paged member read (§11.4). */
  function readPage(ctx: Context, body: Record<string, unknown>): Page | undefined {
    const deptId = intField(body, 'dept_id');
    const cursor = intField(body, 'cursor');
    const size = intField(body, 'size');
    for (const [name, value] of [
      ['dept_id', deptId],
      ['cursor', cursor],
      ['size', size],
    ] as const) {
      if (value === 'missing') return refuse(ctx, 400002, `参数为空 ${name}`);
      if (value === 'invalid') return refuse(ctx, 40035, `不合法的参数 ${name}`);
    }
    if (typeof deptId !== 'number' || typeof cursor !== 'number' || typeof size !== 'number') return undefined;
    if (size < 1 || size > 100) return refuse(ctx, 40035, '不合法的参数 size：取值范围 1–100');
    if (cursor < 0 || cursor > 100_000) return refuse(ctx, 40035, '不合法的参数 cursor');
    const order = stringField(body, 'order_field') ?? 'custom';
    if (!ORDER_FIELDS.has(order)) return refuse(ctx, 40035, '不合法的参数 order_field');
    const found = requireDepartment(ctx, deptId);
    if (found === undefined) return undefined;
    const members = directory.membersOf(deptId);
    return { deptId, members: order === 'entry_desc' ? [...members].reverse() : members, cursor, size };
  }

  return router;
}

/** Answers an oapi error; returns `undefined` for the caller to pass on. */
function refuse(ctx: Context, errcode: number, errmsg: string): undefined {
  sendOapiError(ctx, errcode, errmsg);
  return undefined;
}

const ORDER_FIELDS = new Set(['custom', 'entry_asc', 'entry_desc', 'modify_asc', 'modify_desc']);

function paged(page: { members: EmulatorUser[]; cursor: number; size: number }, item: (user: EmulatorUser) => unknown) {
  const end = page.cursor + page.size;
  const hasMore = end < page.members.length;
  return {
    has_more: hasMore,
    ...(hasMore ? { next_cursor: end } : {}),
    list: page.members.slice(page.cursor, end).map(item),
  };
}
