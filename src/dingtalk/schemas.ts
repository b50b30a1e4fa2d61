import { z } from 'zod';

// Field names are DingTalk's own (camelCase on api, snake_case on oapi) and never leave src/dingtalk/.
// Only what we rely on is required; whatever DingTalk documents as conditional (permission-gated,
// "only if set") is optional, and unknown fields are stripped, so a new upstream field never breaks a
// login.

/** A string field that DingTalk sometimes sends as a number (ids, codes) — normalised to string. */
const stringish = z.union([z.string(), z.number()]).transform((value) => String(value));

// ---------------------------------------------------------------------------------------------
// Error envelopes (§0, §1.5, §2.5)
// ---------------------------------------------------------------------------------------------

/** api.dingtalk.com failure body: HTTP 4xx/5xx, `code` is a **string** (§0, §6.2 gotcha 7). */
export const apiErrorSchema = z.object({
  code: stringish,
  requestid: z.string().optional(),
  message: z.string().optional(),
  /** Present on permission errors, e.g. `{ requiredScopes: ['Contact.User.Read'] }` (§1.4). */
  accessdenieddetail: z.record(z.string(), z.unknown()).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/**
 * oapi.dingtalk.com envelope: always HTTP 200; `errcode` 0 means success. Auth failures come as
 * `errcode: 88` with a **string** `sub_code` (§2.5), so `sub_code` is normalised to a string.
 */
export const oapiEnvelopeSchema = z.object({
  errcode: z.coerce.number().int(),
  errmsg: z.string().optional(),
  sub_code: stringish.optional(),
  sub_msg: z.string().optional(),
  request_id: z.string().optional(),
});
export type OapiEnvelope = z.infer<typeof oapiEnvelopeSchema>;

// ---------------------------------------------------------------------------------------------
// api.dingtalk.com (§1.3, §1.4, §2.1)
// ---------------------------------------------------------------------------------------------

/** `POST /v1.0/oauth2/userAccessToken` (§1.3). Note `expireIn`, not `expires_in`. */
export const userAccessTokenSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().optional(),
  expireIn: z.number(),
  /** Only with scope `openid corpid`: the organisation the user picked at login. */
  corpId: z.string().optional(),
});
export type UserAccessTokenResponse = z.infer<typeof userAccessTokenSchema>;

/** `POST /v1.0/oauth2/accessToken` (§2.1). */
export const appAccessTokenSchema = z.object({
  accessToken: z.string().min(1),
  expireIn: z.number(),
});
export type AppAccessTokenResponse = z.infer<typeof appAccessTokenSchema>;

/** `GET /v1.0/contact/users/me` (§1.4). `mobile`/`stateCode` need `Contact.User.mobile`. */
export const contactUserSchema = z.object({
  nick: z.string(),
  unionId: z.string().min(1),
  openId: z.string().optional(),
  avatarUrl: z.string().optional(),
  mobile: z.string().optional(),
  stateCode: z.string().optional(),
  /** The *personal* email, often empty — never treated as verified. */
  email: z.string().optional(),
  loginEmail: z.string().optional(),
  visitor: z.boolean().optional(),
});
export type ContactUser = z.infer<typeof contactUserSchema>;

// ---------------------------------------------------------------------------------------------
// oapi.dingtalk.com (§2.1–§2.4, §4)
// ---------------------------------------------------------------------------------------------

/** Legacy `GET /gettoken` (§2.1); the client uses the /v1.0 form, the emulator serves both. */
export const gettokenSchema = z.object({
  errcode: z.literal(0),
  access_token: z.string().min(1),
  expires_in: z.number(),
});

/** `result` of `POST /topapi/user/getbyunionid` (§2.2). `contact_type` 0 = employee, 1 = external. */
export const userByUnionIdSchema = z.object({
  contact_type: z.number().optional(),
  userid: z.string().min(1),
});
export type UserByUnionId = z.infer<typeof userByUnionIdSchema>;

const roleSchema = z.object({
  id: z.number().optional(),
  name: z.string(),
  group_name: z.string().optional(),
});

/** `result` of `POST /topapi/v2/user/get` (§2.3). */
export const userDetailSchema = z.object({
  userid: z.string().min(1),
  unionid: z.string().optional(),
  name: z.string(),
  avatar: z.string().optional(),
  state_code: z.string().optional(),
  mobile: z.string().optional(),
  hide_mobile: z.boolean().optional(),
  telephone: z.string().optional(),
  job_number: z.string().optional(),
  title: z.string().optional(),
  email: z.string().optional(),
  org_email: z.string().optional(),
  org_email_type: z.string().optional(),
  work_place: z.string().optional(),
  remark: z.string().optional(),
  manager_userid: z.string().optional(),
  dept_id_list: z.array(z.number()).default([]),
  dept_order_list: z.array(z.object({ dept_id: z.number(), order: z.number() })).optional(),
  extension: z.string().optional(),
  hired_date: z.number().optional(),
  active: z.boolean().optional(),
  real_authed: z.boolean().optional(),
  senior: z.boolean().optional(),
  admin: z.boolean().optional(),
  boss: z.boolean().optional(),
  exclusive_account: z.boolean().optional(),
  exclusive_account_type: z.string().optional(),
  login_id: z.string().optional(),
  leader_in_dept: z.array(z.object({ dept_id: z.number(), leader: z.boolean() })).optional(),
  role_list: z.array(roleSchema).optional(),
});
export type UserDetail = z.infer<typeof userDetailSchema>;

/** `result` of `POST /topapi/v2/department/get` (§2.4); only the fields we read are declared. */
export const departmentSchema = z.object({
  dept_id: z.number(),
  name: z.string(),
  parent_id: z.number().optional(),
  order: z.number().optional(),
  source_identifier: z.string().optional(),
  hide_dept: z.boolean().optional(),
  outer_dept: z.boolean().optional(),
  dept_manager_userid_list: z.array(z.string()).optional(),
});
export type Department = z.infer<typeof departmentSchema>;

/** `result` of `POST /topapi/v2/department/listsub` (§11.3): the next level only, an **array**. */
export const subDepartmentsSchema = z.array(
  z.object({
    dept_id: z.number(),
    name: z.string(),
    parent_id: z.number().optional(),
  }),
);
export type SubDepartment = z.infer<typeof subDepartmentsSchema>[number];

/**
 * `result` of `POST /topapi/v2/user/list` (§11.4): one page of a department's direct members. An item
 * has the person fields of user/get except the get-only ones (`manager_userid`, `role_list`, §11.5).
 */
export const userListPageSchema = z.object({
  has_more: z.boolean(),
  next_cursor: z.number().optional(),
  list: z.array(userDetailSchema),
});
export type UserListPage = z.infer<typeof userListPageSchema>;

/** `result` of `POST /topapi/user/count` (§11.4). */
export const userCountSchema = z.object({ count: z.number().int().min(0) });

/** `result` of `POST /topapi/v2/user/getuserinfo` (free login, §4). */
export const freeLoginUserInfoSchema = z.object({
  userid: z.string().min(1),
  unionid: z.string().optional(),
  associated_unionid: z.string().optional(),
  name: z.string().optional(),
  device_id: z.string().optional(),
  sys: z.boolean().optional(),
  /** 1 main admin, 2 sub-admin, 100 boss, 0 other. */
  sys_level: z.number().optional(),
});
export type FreeLoginUserInfo = z.infer<typeof freeLoginUserInfoSchema>;

// ---------------------------------------------------------------------------------------------
// Event subscription (§5.1)
// ---------------------------------------------------------------------------------------------

/** Body DingTalk POSTs to the event URL. */
export const eventRequestBodySchema = z.object({ encrypt: z.string().min(1) });

/** The encrypted reply DingTalk expects (an encryption of the literal `success`). */
export const eventReplySchema = z.object({
  msg_signature: z.string(),
  timeStamp: stringish,
  nonce: z.string(),
  encrypt: z.string(),
});
