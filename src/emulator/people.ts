import type { EmulatorUser } from './directory.js';
import { PERMISSION } from './permissions.js';
import type { EmulatorState } from './state.js';

// A person as the oapi member reads answer (§2.3, §11.5): `v2/user/get` carries everything,
// `v2/user/list` items leave out the detail-only fields. Without the field permissions `mobile`,
// `state_code` and `email` are absent, not an error (§11.7 gotcha 7).

/** The fields both reads share. */
function common(state: EmulatorState, user: EmulatorUser): Record<string, unknown> {
  const result: Record<string, unknown> = { userid: user.userid, unionid: user.unionid, name: user.name };
  if (user.avatar !== undefined) result.avatar = user.avatar;
  if (state.hasPermission(PERMISSION.fieldMobile)) {
    result.state_code = user.state_code ?? '86';
    result.mobile = user.mobile ?? '';
    result.hide_mobile = false;
  }
  result.telephone = '';
  result.job_number = user.job_number ?? '';
  result.title = user.title ?? '';
  if (state.hasPermission(PERMISSION.fieldEmail)) result.email = user.email ?? '';
  // Only with corporate mail enabled (§2.3): absent, not empty, when the person has none.
  if (user.org_email !== undefined) result.org_email = user.org_email;
  result.work_place = user.work_place ?? '';
  result.remark = '';
  result.dept_id_list = user.dept_id_list;
  result.extension = user.extension ?? '{}';
  if (user.hired_date !== undefined) result.hired_date = user.hired_date;
  result.active = user.active;
  result.admin = user.admin;
  result.boss = user.boss;
  result.exclusive_account = false;
  return result;
}

/** `/topapi/v2/user/get` result (§2.3, §11.5). */
export function userDetail(state: EmulatorState, user: EmulatorUser): Record<string, unknown> {
  const result = common(state, user);
  if (user.org_email !== undefined) result.org_email_type = 'profession';
  result.dept_order_list = user.dept_id_list.map((deptId) => ({ dept_id: deptId, order: orderIn(state, user, deptId) }));
  result.leader_in_dept = user.dept_id_list.map((deptId) => ({ dept_id: deptId, leader: state.directory.isLeader(user, deptId) }));
  if (user.manager_userid !== undefined) result.manager_userid = user.manager_userid;
  result.role_list = user.role_list;
  result.real_authed = true;
  result.senior = user.senior;
  result.union_emp_ext = {};
  return result;
}

/** One item of `/topapi/v2/user/list` for department `deptId` (§11.4, §11.5). */
export function userListItem(state: EmulatorState, user: EmulatorUser, deptId: number): Record<string, unknown> {
  const result = common(state, user);
  result.leader = state.directory.isLeader(user, deptId);
  result.dept_order = orderIn(state, user, deptId);
  return result;
}

/** Position inside the department: the order of joining, as the member list gives it. */
function orderIn(state: EmulatorState, user: EmulatorUser, deptId: number): number {
  return Math.max(0, state.directory.membersOf(deptId).indexOf(user));
}
