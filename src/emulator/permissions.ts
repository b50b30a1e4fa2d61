/**
 * The app's permissions as the developer console grants them (§1.4, §11.2). Names are DingTalk's
 * codes; `fieldMobile` / `fieldEmail` are the codes one connector gives for the field permissions
 * (§11.8: not confirmed).
 */
export const PERMISSION = {
  /** 通讯录个人信息读权限: users/me (a user token). */
  userRead: 'Contact.User.Read',
  /** The user-delegated mobile field: users/me `mobile` / `stateCode`. */
  userMobile: 'Contact.User.mobile',
  /** 通讯录部门信息读权限: listsub, listsubid, listparentbydept, listparentbyuser, department/get. */
  departmentList: 'qyapi_get_department_list',
  /** 通讯录部门成员读权限: user/listsimple, v2/user/list. */
  departmentMember: 'qyapi_get_department_member',
  /** 成员信息读权限: user/listid, user/count, v2/user/get, getbyunionid. */
  member: 'qyapi_get_member',
  /** 企业员工手机号信息: `mobile` / `state_code` in the member reads (absent without it, §11.7). */
  fieldMobile: 'fieldMobile',
  /** 邮箱等个人信息: `email` in the member reads (absent without it, §11.7). */
  fieldEmail: 'fieldEmail',
} as const;

/** Granted by default: everything, so that only a test that turns one off sees its effect. */
export const DEFAULT_PERMISSIONS: readonly string[] = Object.values(PERMISSION);
